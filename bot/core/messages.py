"""Every sentence the bot says in its own words, in Norwegian (nb) and English (en).

Quoted passages come from the knowledge base; everything else a resident reads comes
from this one table, so a new sentence or a change of tone is made here.
"""

from __future__ import annotations

MUNICIPALITY_URL = "https://www.lillestrom.kommune.no"

EXAMPLE_QUESTIONS = (
    "Blir legevakten på Sørumsand beholdt?",
    "Hva skjer med eiendomsskatten?",
    "Når ble Fet, Skedsmo og Sørum slått sammen?",
)

_REPLIES: dict[str, dict[str, str]] = {
    "nb": {
        "source": "Kilde",
        "unsure": "Jeg er ikke helt sikker på hva du mener. Mente du …?",
        "pick": "Svar med nummeret, eller spør på en annen måte.",
        # {documents}: the short titles of the documents the bot answers from (front matter).
        "decline": (
            "Beklager, det finner jeg ikke noe svar på i dokumentene jeg kjenner: "
            "{documents}. Prøv gjerne å spørre på en annen måte, eller "
            f"kontakt Lillestrøm kommune på {MUNICIPALITY_URL}."
        ),
        "greeting": (
            "Hei! Jeg svarer på spørsmål om Lillestrøm kommune ut fra {documents}. "
            "Spør for eksempel: «{example}»"
        ),
        "and": "og",
        "no_documents": "ingen dokumenter ennå",
        "thanks": "Bare hyggelig! Spør gjerne om mer.",
        "bye": "Ha det bra!",
        "help": (
            "Jeg svarer på spørsmål om Lillestrøm kommune ut fra {documents}. "
            "Svaret er alltid sitert ordrett, med kilde.\n"
            "Jeg vet ikke noe om åpningstider, rutetider, saksbehandling eller hvem som "
            f"har vervene i dag; da er {MUNICIPALITY_URL} rett sted.\n"
            "Eksempler:\n{examples}"
        ),
        "see_also": "Se også",
        "related": "Dokumentene sier ikke noe om {what}. Dette står der om temaet:",
        "about": "Om «{question}»:",
        # Before an answer found through the story around the question, not its own words.
        "inferred": "Jeg forstår det slik at du spør om «{topic}».",
        "unsure_short": "Jeg er ikke sikker på hva du mener. Mente du {options}?",
        "decline_part": "Det finner jeg ikke noe svar på i dokumentene.",
        "missing_time": "når",
        "missing_duration": "hvor lenge",
        "missing_place": "hvor",
        "missing_person": "hvem",
        "missing_amount": "hvor mye eller hvor mange",
        "missing_reason": "hvorfor",
        "missing_outcome": "hvordan det gikk",
        "missing_contact": "telefonnummer, adresser eller e-post",
        "missing_hours": "åpningstider",
        "missing_price": "priser",
        "missing_deadline": "frister",
        "missing_timetable": "rutetider",
        "missing_now": "hvordan det er i dag",
        "missing_service": "hvordan du bruker tjenesten",
        "missing_weather": "været",
        "missing_howto": "hvordan du går fram",
        "missing_detail": "akkurat det du spør om",
        "missing_name": "hvilke det gjelder",
    },
    "en": {
        "source": "Source",
        "unsure": "I'm not quite sure what you mean. Did you mean …?",
        "pick": "Reply with the number, or ask in another way.",
        "decline": (
            "Sorry, I can't find an answer to that in the documents I know: {documents}. "
            "Try asking in another way, or contact Lillestrøm kommune at "
            f"{MUNICIPALITY_URL}."
        ),
        "greeting": (
            "Hi! I answer questions about Lillestrøm kommune from {documents} (quoted in "
            "Norwegian). Try: «{example}»"
        ),
        "and": "and",
        "no_documents": "no documents yet",
        "thanks": "You're welcome! Ask me anything else.",
        "bye": "Goodbye!",
        "help": (
            "I answer questions about Lillestrøm kommune from {documents}. Answers are quoted "
            "word for word, in Norwegian, with their source.\nI know nothing about opening "
            "hours, timetables, case "
            f"handling or who holds an office today; {MUNICIPALITY_URL} is the place for "
            "that.\nExamples:\n{examples}"
        ),
        "see_also": "See also",
        "related": "The documents say nothing about {what}. This is what they say on the subject:",
        "about": "About «{question}»:",
        "inferred": "I take it you are asking about «{topic}».",
        "unsure_short": "I'm not sure what you mean. Did you mean {options}?",
        "decline_part": "I can't find an answer to that in the documents.",
        "missing_time": "when",
        "missing_duration": "how long",
        "missing_place": "where",
        "missing_person": "who",
        "missing_amount": "how much or how many",
        "missing_reason": "why",
        "missing_outcome": "how it turned out",
        "missing_contact": "phone numbers, addresses or e-mail",
        "missing_hours": "opening hours",
        "missing_price": "prices",
        "missing_deadline": "deadlines",
        "missing_timetable": "timetables",
        "missing_now": "how things are today",
        "missing_service": "how to use the service",
        "missing_weather": "the weather",
        "missing_howto": "how to go about it",
        "missing_detail": "exactly what you ask",
        "missing_name": "which ones",
    },
}


_TELEGRAM: dict[str, dict[str, str]] = {
    "nb": {
        "welcome": (
            "Hei! Jeg svarer på spørsmål om Lillestrøm kommune ut fra {documents}. "
            "Svarene er sitater, med kilde.\n\n"
            "Jeg vet ikke noe om åpningstider, rutetider, saksbehandling eller hvem som har "
            f"vervene i dag – da er {MUNICIPALITY_URL} rett sted.\n\n"
            "Skriv spørsmålet ditt, for eksempel:"
        ),
        "commands": (
            "/kilder viser dokumentene jeg svarer ut fra. I grupper svarer jeg når du nevner "
            "meg (@{bot}), svarer på en melding fra meg eller skriver /spor og spørsmålet. "
            "I andre chatter kan du skrive @{bot} og spørsmålet."
        ),
        "console_commands": (
            "/kilder viser dokumentene jeg svarer ut fra, og /start begynner samtalen på nytt. "
            "«exit» eller Ctrl-D avslutter."
        ),
        "banner": (
            "Lillestrøm kommune – spør om det som står i {documents}.\n"
            "Skriv et spørsmål og trykk Enter; /help forklarer. Ctrl-D eller «exit» avslutter."
        ),
        "sources": "Jeg svarer bare ut fra disse dokumentene:",
        "not_text": (
            "Jeg leser bare tekst. Skriv spørsmålet ditt med ord, for eksempel: «{example}»"
        ),
        "unknown_command": "Den kommandoen kjenner jeg ikke. Skriv /help.",
        "rate_limited": (
            "Du har stilt mange spørsmål på kort tid. Vent et minutt, så svarer jeg igjen."
        ),
        "apology": "Beklager, noe gikk galt hos meg. Prøv igjen om litt.",
        "vote_up": "Takk for tilbakemeldingen!",
        "vote_down": "Takk! Vi bruker tilbakemeldingen til å gjøre svarene bedre.",
        "stale": "Denne knappen virker ikke lenger. Skriv spørsmålet på nytt.",
        "spor_usage": "Skriv spørsmålet etter /spor, for eksempel: /spor {example}",
        "no_answer": "Fant ikke noe svar",
        # The command menu Telegram shows beside the text field.
        "menu_start": "Kom i gang, med eksempler",
        "menu_help": "Hva jeg kan svare på",
        "menu_kilder": "Dokumentene svarene kommer fra",
        "menu_spor": "Still et spørsmål (nyttig i grupper)",
    },
    "en": {
        "welcome": (
            "Hi! I answer questions about Lillestrøm kommune from {documents}. Answers are "
            "quotes, in Norwegian, with their source.\n\nI know nothing about opening hours, "
            "timetables, case handling or who "
            f"holds an office today – {MUNICIPALITY_URL} is the place for that.\n\n"
            "Type your question, for example:"
        ),
        "commands": (
            "/kilder shows the documents I answer from. In groups I answer when you mention "
            "me (@{bot}), reply to a message of mine or type /spor and the question. In other "
            "chats you can type @{bot} and the question."
        ),
        "console_commands": (
            "/kilder shows the documents I answer from, and /start begins the conversation "
            "afresh. «exit» or Ctrl-D ends the chat."
        ),
        "banner": (
            "Lillestrøm kommune – ask about what {documents} say.\n"
            "Type a question and press Enter; /help explains. Ctrl-D or «exit» ends the chat."
        ),
        "sources": "I only answer from these documents:",
        "not_text": "I only read text. Type your question in words, for example: «{example}»",
        "unknown_command": "I don't know that command. Type /help.",
        "rate_limited": (
            "You have asked a lot of questions in a short time. Wait a minute and I will "
            "answer again."
        ),
        "apology": "Sorry, something went wrong on my side. Please try again in a moment.",
        "vote_up": "Thanks for the feedback!",
        "vote_down": "Thanks! We use the feedback to improve the answers.",
        "stale": "This button no longer works. Please ask again.",
        "spor_usage": "Type the question after /spor, for example: /spor {example}",
        "no_answer": "No answer found",
        "menu_start": "Get started, with examples",
        "menu_help": "What I can answer",
        "menu_kilder": "The documents the answers come from",
        "menu_spor": "Ask a question (useful in groups)",
    },
}


# Handing a question over to a person: what residents read, and what staff read in
# their group (staff are Norwegian municipal employees: their lines are Norwegian).
_STAFF: dict[str, str] = {
    "staff_case": (
        "📨 Sak {case}\nSpørsmål fra en innbygger:\n«{question}»\n\nBoten svarte:\n{reply}\n\n"
        "Svar ved å svare på denne meldingen; svaret sendes til innbyggeren. "
        "Send /lukk som svar på den for å lukke saken."
    ),
    "staff_delivered": "✅ Svaret er sendt til innbyggeren (sak {case}).",
    "staff_closed": "Sak {case} er lukket.",
    "staff_not_relayed": (
        "⚠️ Svaret kom ikke fram til innbyggeren (sak {case}): Telegram avviste det eller "
        "svarte ikke. Prøv igjen, gjerne kortere."
    ),
    "staff_gone": "Sak {case} er lukket eller slettet; svaret ble ikke sendt.",
    "staff_blocked": (
        "⚠️ Svaret kom ikke fram: innbyggeren har blokkert boten eller slettet chatten "
        "(sak {case}). Saken er lukket."
    ),
    "staff_waiting": "Åpne saker som har ventet mer enn {days} dager:",
    "staff_waiting_line": "• Sak {case} ({date}): «{question}»",
}
_HANDOVER: dict[str, dict[str, str]] = {
    "nb": {
        "handover_button": "Snakk med et menneske",
        "handover_confirm": (
            "Vil du sende spørsmålet ditt til en ansatt i Lillestrøm kommune?\n\n«{question}»\n\n"
            "Bare spørsmålet sendes, ikke navnet ditt eller noe annet om deg. Svaret kommer "
            "her i chatten, vanligvis innen {days} virkedager."
        ),
        "handover_send": "Send spørsmålet",
        "handover_cancel": "Avbryt",
        "handover_sent": (
            "Sendt! Saksnummeret ditt er {case}. En ansatt svarer her i chatten, vanligvis "
            "innen {days} virkedager."
        ),
        "handover_cancelled": "Greit, ingenting er sendt.",
        "handover_already": "Dette spørsmålet er allerede sendt til en ansatt.",
        "handover_answer": "💬 Svar fra Lillestrøm kommune (sak {case}):\n\n{answer}",
        "handover_answer_named": (
            "💬 Svar fra {name} i Lillestrøm kommune (sak {case}):\n\n{answer}"
        ),
        "handover_failed": "Beklager, spørsmålet kunne ikke sendes nå. Prøv igjen om litt.",
    },
    "en": {
        "handover_button": "Talk to a person",
        "handover_confirm": (
            "Do you want to send your question to a member of staff at Lillestrøm "
            "municipality?\n\n«{question}»\n\nOnly the question is sent, not your name or "
            "anything else about you. The answer comes here in this chat, usually within "
            "{days} working days."
        ),
        "handover_send": "Send the question",
        "handover_cancel": "Cancel",
        "handover_sent": (
            "Sent! Your case number is {case}. A member of staff will answer here in this "
            "chat, usually within {days} working days."
        ),
        "handover_cancelled": "All right, nothing was sent.",
        "handover_already": "This question has already been sent to a member of staff.",
        "handover_answer": "💬 Answer from Lillestrøm municipality (case {case}):\n\n{answer}",
        "handover_answer_named": (
            "💬 Answer from {name} at Lillestrøm municipality (case {case}):\n\n{answer}"
        ),
        "handover_failed": "Sorry, the question could not be sent just now. Please try again.",
    },
}

# What admins read in Telegram: the chart, the weekly digest, the review, statistics,
# teaching and reloading (in Norwegian, like the staff's lines). {problems} and {error}
# are the knowledge check's and the log's own lines, left as they are.
_ADMIN: dict[str, str] = {
    "admin_no_log": "Boten har ingen spørsmålslogg akkurat nå, så det er ingenting å vise.",
    "admin_log_failed": "Spørsmålsloggen kunne ikke leses: {error}",
    "admin_no_question": "Fant ikke noe lagret spørsmål med ref {ref}.",
    "admin_unanswered_usage": "Bruk: /unanswered [dager], for eksempel /unanswered 30",
    "admin_unanswered_none": "Ingen ubesvarte spørsmål de siste {days} dagene.",
    "admin_unanswered_title": "<b>Ubesvarte spørsmål, siste {days} dager</b> ({groups} grupper)",
    "admin_unanswered_users": ", {users} brukere",
    "admin_unanswered_hint": (
        "Lær boten et spørsmål med /teach REF OPPFØRING-ID, eller trykk deg fram med /teach. "
        "Riktig avslått eller håndtert på annen måte: /dismiss REF [declined|handled]."
    ),
    # How the review names each kind of failure (the chart's and the digest's words).
    "admin_outcome_declined": "ikke besvart",
    "admin_outcome_ambiguous": "«mente du»",
    "admin_outcome_related": "delvis svar",
    "admin_outcome_voted_down": "👎",
    "admin_outcome_answered": "besvart",
    "admin_stats_usage": (
        "Bruk: /stats [dager], for eksempel /stats 7. Uten tall: alle lagrede spørsmål."
    ),
    "admin_stats_title": "<b>Statistikk, {period}</b>",
    "admin_stats_days": "siste {days} dager",
    "admin_stats_all": "alle lagrede spørsmål",
    "admin_stats_questions": "Spørsmål: {questions} ({users} brukere)",
    "admin_stats_answered": "Besvart: {count} ({rate})",
    "admin_stats_declined": "Ikke besvart: {count} ({rate})",
    "admin_stats_other": (
        "«Mente du»: {ambiguous} · delvis svar: {related} · småprat: {smalltalk}"
    ),
    "admin_stats_votes": "Tilbakemeldinger: 👍 {up} 👎 {down} (andel 👎: {rate} av {votes})",
    "admin_stats_top": "Oppføringene som oftest ble brukt i svar:",
    "admin_dismiss_usage": (
        "Bruk: /dismiss REF [declined|handled] [only]\n"
        "• declined (standard): riktig avslått, dokumentene har ikke svaret\n"
        "• handled: tatt hånd om på annen måte\n"
        "• only: bare dette spørsmålet, ikke de like spørsmålene i samme gruppe\n"
        "De norske ordene avslått, håndtert og bare virker også."
    ),
    "admin_dismissed_declined": (
        "{count} spørsmål er merket som riktig avslått og er tatt ut av /unanswered."
    ),
    "admin_dismissed_handled": (
        "{count} spørsmål er merket som håndtert og er tatt ut av /unanswered."
    ),
    "admin_reloaded": "Lastet inn på nytt: {count} oppføringer.",
    "admin_reload_failed": (
        "Kunne ikke laste inn kunnskapsbasen på nytt. Boten svarer fortsatt fra siste "
        "versjon som virket. Dette må rettes:\n{problems}"
    ),
    "admin_knowledge_broken": (
        "⚠️ Filene i kunnskapsbasen er endret, men kan ikke lastes inn. Boten svarer "
        "fortsatt fra siste versjon som virket. Rett feilene under og lagre på nytt "
        "(eller send /reload):\n{problems}"
    ),
    "admin_teach_pick_question": "Hvilket spørsmål skal boten lære?",
    "admin_teach_pick_entry": "Hvilken oppføring svarer på «{question}»?",
    "admin_teach_no_entry_close": (
        "Ingen oppføring ligner på «{question}». Bruk /teach REF OPPFØRING-ID."
    ),
    "admin_teach_refused": "Ikke lært: {reason}.",
    "admin_teach_refused_anyway": (
        "Ikke lært: {reason}.\nEr du sikker på at oppføringen svarer likevel? Trykk "
        "«Lær likevel», eller send /teach {ref} {entry} likevel"
    ),
    "admin_teach_anyway_button": "Lær likevel",
    "admin_teaching": "Lærer …",
    "admin_taught": "Lært: «{question}» er lagt til i oppføringen {entry} i {file}.",
    "admin_taught_reload_failed": (
        "«{question}» er lagt til i oppføringen {entry} i {file}, men kunnskapsbasen "
        "kunne ikke lastes inn på nytt:\n{problems}"
    ),
    # Why teaching refuses (the CLI's `teach` shows the same reasons). {phrasing} is the
    # question, {entry} and {other} entry ids, {what} a missing_* phrase or a name.
    "teach_empty": "spørsmålet er tomt",
    "teach_too_long": "spørsmålet er lengre enn 300 tegn; gjør det kortere",
    "teach_unknown_entry": (
        "det finnes ingen oppføring med id-en {entry} (id-ene står i /unanswered og i "
        "`python -m bot entries`)"
    ),
    "teach_duplicate": "«{phrasing}» er allerede et spørsmål i oppføringen {entry}",
    "teach_redacted": (
        "«{phrasing}» inneholder fortsatt plassholderen {label}, der boten har fjernet "
        "personopplysninger. Det er én innbyggers melding, ikke et spørsmål andre vil "
        "stille; skriv heller inn spørsmålet uten plassholderen i oppføringen selv"
    ),
    "teach_answered_elsewhere": (
        "«{phrasing}» passer bedre til en annen oppføring enn {entry}: boten svarer "
        "allerede på det med oppføringen {other}. Lær det til den oppføringen, eller "
        "endre spørsmålene i {other} hvis svaret derfra er feil"
    ),
    "teach_lacks": (
        "«{phrasing}» spør om {what}, men avsnittet i oppføringen {entry} sier ikke noe om "
        "det. Lærer boten spørsmålet, svarer den som om avsnittet gjorde det. Her er det "
        "riktig at boten avslår eller bare svarer delvis"
    ),
    # "spør om akkurat det du spør om" says nothing: the staff's word for a cue of its own.
    "teach_missing_detail": "noe bestemt",
    "teach_breaks": "endringen ville ødelagt kunnskapsbasen: {error}",
    "teach_taken": (
        "«{phrasing}» passer bedre til en annen oppføring enn {entry}: {problem}. Lær det "
        "til den oppføringen, eller skriv det om"
    ),
    "teach_not_in_file": "fant ikke oppføringen {entry} i filen sin",
    "teach_force_hint": "{reason}. Er du sikker likevel? Legg til --force",
    "chart_title": "Spørsmål per dag, siste {days} dager",
    "chart_answered": "besvart",
    "chart_ambiguous": "«mente du»",
    "chart_related": "delvis svar",
    "chart_declined": "ikke besvart",
    "chart_handed_over": "til en person",
    "chart_questions": "spørsmål",
    "chart_rate": "andel besvart",
    "chart_empty": "Ingen spørsmål i perioden",
    "digest_title": "📊 <b>Ukerapport fra boten, {start}–{end}</b>",
    "digest_questions": (
        "Spørsmål: {now} fra {users} brukere (uka før: {before} fra {users_before})"
    ),
    "digest_answered": "Besvart: {now} ({rate}); uka før: {before} ({rate_before})",
    "digest_outcomes": (
        "«Mente du»: {ambiguous} · delvis svar: {related} · ikke besvart: {declined} "
        "(uka før: {ambiguous_before} · {related_before} · {declined_before})"
    ),
    "digest_votes": "👍 {up} 👎 {down} (uka før: 👍 {up_before} 👎 {down_before})",
    "digest_topics": "<b>Mest spurt om</b>",
    "digest_unanswered": "<b>Oftest ubesvart</b>",
    "digest_line": "{count}× {what}",
    "digest_none": "ingen",
    "digest_cases": "Åpne saker hos en person: {count}",
}

# One table: the answering core's sentences and the channels' own.
MESSAGES: dict[str, dict[str, str]] = {
    language: {
        **_REPLIES[language],
        **_TELEGRAM[language],
        **_HANDOVER[language],
        **_STAFF,
        **_ADMIN,
    }
    for language in _REPLIES
}


def phrase(key: str, language: str, **values: str) -> str:
    """Returns one of the bot's own sentences in the resident's language, filled in."""
    template = MESSAGES.get(language, MESSAGES["nb"])[key]
    return template.format(**values) if values else template

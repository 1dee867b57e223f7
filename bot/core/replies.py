"""The bot's words: answers, clarifications, declines and small talk, in Norwegian or English.

The same ``Reply`` renders as plain text for the console and as Telegram HTML, so
both channels say the same thing. Quoted passages stay exactly as the source wrote
them; everything that comes from text is escaped for HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.core.knowledge import Entry, KnowledgeBase
from bot.core.matcher import AMBIGUOUS, ANSWERED, DECLINED, SMALLTALK, Candidate, MatchResult
from bot.core.sources import SourceMeta

MUNICIPALITY_URL = "https://www.lillestrom.kommune.no"
TELEGRAM_LIMIT = 4096

EXAMPLE_QUESTIONS = (
    "Blir legevakten på Sørumsand beholdt?",
    "Hva skjer med eiendomsskatten?",
    "Når ble Fet, Skedsmo og Sørum slått sammen?",
)

_T = {
    "nb": {
        "source": "Kilde",
        "unsure": "Jeg er ikke helt sikker på hva du mener. Mente du …?",
        "pick": "Svar med nummeret, eller spør på en annen måte.",
        "decline": (
            "Beklager, det finner jeg ikke noe svar på i dokumentene jeg kjenner: "
            "nettsiden om sammenslåingen av Fet, Skedsmo og Sørum, og den politiske "
            "plattformen for 2019–2023. Prøv gjerne å spørre på en annen måte, eller "
            f"kontakt Lillestrøm kommune på {MUNICIPALITY_URL}."
        ),
        "greeting": (
            "Hei! Jeg svarer på spørsmål om Lillestrøm kommune: sammenslåingen av Fet, "
            "Skedsmo og Sørum i 2020, og den politiske plattformen for 2019–2023. "
            "Spør for eksempel: «{example}»"
        ),
        "thanks": "Bare hyggelig! Spør gjerne om mer.",
        "bye": "Ha det bra!",
        "help": (
            "Jeg svarer på spørsmål om Lillestrøm kommune ut fra to dokumenter: nettsiden om "
            "sammenslåingen av Fet, Skedsmo og Sørum (2018), og den politiske plattformen "
            "for kommunestyreperioden 2019–2023. Svaret er alltid sitert ordrett, med kilde.\n"
            "Jeg vet ikke noe om åpningstider, rutetider, saksbehandling eller hvem som "
            f"har vervene i dag; da er {MUNICIPALITY_URL} rett sted.\n"
            "Eksempler:\n{examples}"
        ),
        "see_also": "Se også",
    },
    "en": {
        "source": "Source",
        "unsure": "I'm not quite sure what you mean. Did you mean …?",
        "pick": "Reply with the number, or ask in another way.",
        "decline": (
            "Sorry, I can't find an answer to that in the documents I know: the web page "
            "on the merger of Fet, Skedsmo and Sørum, and the political platform for "
            "2019–2023. Try asking in another way, or contact Lillestrøm kommune at "
            f"{MUNICIPALITY_URL}."
        ),
        "greeting": (
            "Hi! I answer questions about Lillestrøm kommune: the 2020 merger of Fet, "
            "Skedsmo and Sørum, and the political platform for 2019–2023 (quoted in "
            "Norwegian). Try: «{example}»"
        ),
        "thanks": "You're welcome! Ask me anything else.",
        "bye": "Goodbye!",
        "help": (
            "I answer questions about Lillestrøm kommune from two documents: the web page on "
            "the merger of Fet, Skedsmo and Sørum (2018), and the political platform for "
            "the council period 2019–2023. Answers are quoted word for word, in Norwegian, "
            "with their source.\nI know nothing about opening hours, timetables, case "
            f"handling or who holds an office today; {MUNICIPALITY_URL} is the place for "
            "that.\nExamples:\n{examples}"
        ),
        "see_also": "See also",
    },
}


def phrase(key: str, language: str) -> str:
    """Returns one of the bot's own sentences in the resident's language."""
    return _T.get(language, _T["nb"])[key]


@dataclass(frozen=True)
class Reply:
    """What the bot says to one question, before it is rendered for a channel."""

    result: MatchResult
    entry: Entry | None = None
    source: SourceMeta | None = None
    alternatives: tuple[tuple[Candidate, Entry], ...] = ()

    @property
    def language(self) -> str:
        return self.result.language

    @property
    def outcome(self) -> str:
        return self.result.outcome

    def citation(self) -> str:
        """Returns the source line: document, its date or period, and section."""
        if self.entry is None or self.source is None:
            return ""
        return (
            f"{phrase('source', self.language)}: {self.source.title} "
            f"({self.source.when}) › {self.entry.section}"
        )

    def as_text(self) -> str:
        """Renders the reply as plain text, for the console."""
        lang = self.language
        if self.outcome == ANSWERED and self.entry:
            return f"«{self.entry.answer}»\n\n— {self.citation()}"
        if self.outcome == AMBIGUOUS:
            options = "\n".join(
                f"  {i}. {cand.question}" for i, (cand, _) in enumerate(self.alternatives, 1)
            )
            return f"{phrase('unsure', lang)}\n{options}\n{phrase('pick', lang)}"
        if self.outcome == SMALLTALK:
            return smalltalk_text(self.result.smalltalk or "greeting", lang)
        return phrase("decline", lang)

    def as_html(self) -> str:
        """Renders the reply as Telegram HTML, within Telegram's length limit."""
        lang = self.language
        if self.outcome == ANSWERED and self.entry:
            quote = fit(self.entry.answer, TELEGRAM_LIMIT - 600)
            return f"<blockquote>{esc(quote)}</blockquote>\n<i>{esc(self.citation())}</i>"
        if self.outcome == AMBIGUOUS:
            return esc(phrase("unsure", lang))
        if self.outcome == SMALLTALK:
            return esc(smalltalk_text(self.result.smalltalk or "greeting", lang))
        return esc(phrase("decline", lang))


def smalltalk_text(kind: str, language: str) -> str:
    """Returns the short friendly reply to a greeting, thanks, goodbye or help request."""
    examples = "\n".join(f"• {q}" for q in EXAMPLE_QUESTIONS)
    return phrase(kind, language).format(example=EXAMPLE_QUESTIONS[0], examples=examples)


def esc(text: str) -> str:
    """Returns text escaped for Telegram HTML."""
    return html.escape(text, quote=False)


def fit(text: str, limit: int) -> str:
    """Returns text cut to a limit at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + " …"


def compose(kb: KnowledgeBase, result: MatchResult) -> Reply:
    """Builds the reply for a match result."""
    if result.outcome == ANSWERED and result.best is not None:
        entry = kb.by_id[result.best.entry_id]
        return Reply(result, entry=entry, source=kb.source_of(entry))
    if result.outcome == AMBIGUOUS:
        alts = tuple((c, kb.by_id[c.entry_id]) for c in result.alternatives)
        return Reply(result, alternatives=alts)
    return Reply(result)


def answer_entry(kb: KnowledgeBase, entry_id: str, *, language: str = "nb") -> Reply | None:
    """Builds the reply for a chosen entry (a tapped "mente du" option), or None."""
    entry = kb.by_id.get(entry_id)
    if entry is None:
        return None
    result = MatchResult(
        question=entry.questions[0],
        outcome=ANSWERED,
        best=Candidate(entry.id, 100.0, entry.questions[0]),
        language=language,
    )
    return Reply(result, entry=entry, source=kb.source_of(entry))


__all__ = [
    "AMBIGUOUS",
    "ANSWERED",
    "DECLINED",
    "SMALLTALK",
    "Reply",
    "answer_entry",
    "compose",
    "esc",
    "smalltalk_text",
]

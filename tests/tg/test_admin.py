"""Admins: commands hidden from others, reports, teaching and reloading."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.service import Answerer

from .support import (
    ADMIN,
    DECLINED,
    LEGEVAKT,
    OTHER,
    UNKNOWN_COMMAND,
    USER,
    Harness,
    HarnessFactory,
    blockquotes,
)


async def test_admin_commands_look_unknown_to_everyone_else(bot: Harness) -> None:
    await bot.ask(DECLINED)
    unknown = await bot.command(USER, "nosuchcommand")
    assert unknown.text == UNKNOWN_COMMAND
    for command in ("stats", "unanswered", "teach", "reload", "dismiss"):
        reply = await bot.command(USER, command)
        assert reply.text == UNKNOWN_COMMAND
        assert reply.buttons == []
    reply = await bot.command(USER, "teach", "abcdefghij legevakt-sorumsand")
    assert reply.text == UNKNOWN_COMMAND


async def test_admin_sees_unanswered_questions_and_stats(bot: Harness) -> None:
    await bot.ask(DECLINED)
    await bot.ask("hvem vant fotball-VM i 1994", user=OTHER)
    await bot.ask("Hva koster parkering ved rådhuset?")
    answer = await bot.ask(LEGEVAKT)
    await bot.press(USER, answer, answer.callback_data[1])
    refs = {r["question"]: r["ref"] for r in await bot.rows()}

    unanswered = await bot.command(ADMIN, "unanswered")
    lines = unanswered.text.splitlines()
    assert lines[1].startswith("2× «")  # most asked first
    assert refs[DECLINED] in lines[1]
    groups = [line for line in lines if re.match(r"\d+× «", line)]
    assert len(groups) == 3
    # The 👎-voted answer is reviewed too (most recent first among single ones).
    assert refs[LEGEVAKT] in groups[1]
    assert lines[lines.index(groups[1]) + 1].strip() == "👎 1"
    assert refs["Hva koster parkering ved rådhuset?"] in groups[2]
    # Each group offers the entries that may answer it, with their scores.
    suggested = lines[lines.index(groups[1]) + 2]
    assert suggested.lstrip().startswith("→ legevakt-sorumsand «")
    assert lines[0].startswith("Ubesvarte spørsmål, siste 7 dager (3 grupper)")
    assert ", 2 brukere — " in lines[1]
    assert "Lær boten et spørsmål med /teach REF OPPFØRING-ID" in unanswered.text
    assert "/dismiss REF" in unanswered.text

    stats = await bot.command(ADMIN, "stats")
    assert stats.text.startswith("Statistikk, alle lagrede spørsmål")
    assert "Spørsmål: 4 (2 brukere)" in stats.text
    assert "Besvart: 1 (25 %)" in stats.text
    assert "Ikke besvart: 3 (75 %)" in stats.text
    assert "Tilbakemeldinger: 👍 0 👎 1 (andel 👎: 100 % av 1)" in stats.text
    assert "legevakt-sorumsand" in stats.text
    usage = await bot.command(ADMIN, "unanswered", "abc")
    assert usage.text == "Bruk: /unanswered [dager], for eksempel /unanswered 30"
    assert (await bot.command(ADMIN, "stats", "abc")).text.startswith("Bruk: /stats [dager]")


# A long id (the format allows up to 60 characters): "te:REF:ID" would exceed 64 bytes.
LONG_ID = "skolebiblioteket-skal-styrkes-ved-alle-skolene-i-nordby"  # too long for te:REF:ID


async def test_admin_teaches_a_question_and_it_is_answered_at_once(
    make_bot: HarnessFactory, tiny_knowledge: Path
) -> None:
    (tiny_knowledge / "long.yaml").write_text(
        f"source: demo\nentries:\n  - id: {LONG_ID}\n    section: Oppvekst › Skole\n"
        "    answer: Skolebiblioteket skal styrkes.\n"
        "    questions:\n      - Blir skolebiblioteket styrket?\n",
        encoding="utf-8",
    )
    bot = await make_bot(Answerer(tiny_knowledge))
    question = "Hva skjer med akuttmottaket i bygda?"
    assert (await bot.ask(question)).buttons == []
    ref = (await bot.rows())[-1]["ref"]

    taught = await bot.command(ADMIN, "teach", f"{ref} legevakt-nordby")
    assert taught.text == (
        "Lært: «Hva skjer med akuttmottaket i bygda?» er lagt til i oppføringen "
        "legevakt-nordby i demo.yaml."
    )
    assert question in (tiny_knowledge / "demo.yaml").read_text(encoding="utf-8")
    answer = await bot.ask(question)
    assert any("Legevakten på Nordby skal beholdes" in q for q in blockquotes(answer))

    refused = await bot.command(ADMIN, "teach", f"{ref} no-such-entry")
    assert refused.text.startswith("Ikke lært: det finnes ingen oppføring med id-en no-such-entry")
    assert refused.buttons == []  # not a refusal an admin can override
    missing = await bot.command(ADMIN, "teach", f"zzzzzzzzzz {LONG_ID}")
    assert missing.text == "Fant ikke noe lagret spørsmål med ref zzzzzzzzzz."

    # The same by buttons: pick the question, then the entry (whose data needs a short key).
    library = "Hva med bibliotek på skolen?"
    await bot.ask(library)
    offer = await bot.command(ADMIN, "teach")
    assert offer.text == "Hvilket spørsmål skal boten lære?"
    [pick] = [b for b in offer.buttons if "bibliotek" in b["text"]]
    choices = await bot.reply_to(
        lambda: bot.standin.push_callback(ADMIN, offer, pick["callback_data"]), ADMIN
    )
    assert choices.text.startswith(f"Hvilken oppføring svarer på «{library}»?")
    assert LONG_ID in choices.text
    [long_button] = [b for b in choices.buttons if b["text"].startswith("2.")]
    assert long_button["callback_data"].startswith("k:")
    await bot.press(ADMIN, choices, long_button["callback_data"])
    assert bot.standin.answered_callbacks[-1]["text"] == "Lærer …"
    await bot.standin.wait_for(
        lambda: (
            bot.standin.sent_messages[-1].text
            == f"Lært: «{library}» er lagt til i oppføringen {LONG_ID} i long.yaml."
        )
    )
    assert bot.answerer.answer(library).reply.entry.id == LONG_ID


async def test_broken_knowledge_keeps_the_last_good_version_and_tells_admins(
    make_bot: HarnessFactory, tiny_knowledge: Path
) -> None:
    bot = await make_bot(Answerer(tiny_knowledge))
    bot.standin.add_user(ADMIN)
    broken = tiny_knowledge / "zz-broken.yaml"
    broken.write_text("source: demo\nentries:\n  - id: ok\n    questions: [unclosed\n")

    # The hot-reload job notices the change and tells the admin once.
    [warning] = await bot.standin.wait_for_messages(1, chat_id=ADMIN, timeout=10)
    assert warning.text.startswith(
        "⚠️ Filene i kunnskapsbasen er endret, men kan ikke lastes inn. Boten svarer "
        "fortsatt fra siste versjon som virket."
    )
    assert "zz-broken.yaml:" in warning.text
    assert str(tiny_knowledge) not in warning.text

    reloaded = await bot.command(ADMIN, "reload")
    assert reloaded.text.startswith(
        "Kunne ikke laste inn kunnskapsbasen på nytt. Boten svarer fortsatt fra siste "
        "versjon som virket. Dette må rettes:\n"
    )
    assert re.search(r"zz-broken\.yaml:\d+: error", reloaded.text)
    legevakt = await bot.ask("Blir legevakten på Nordby beholdt?")
    assert any("Legevakten på Nordby" in q for q in blockquotes(legevakt))

    broken.unlink()
    fixed = await bot.command(ADMIN, "reload")
    assert fixed.text == "Lastet inn på nytt: 4 oppføringer."
    assert len([m for m in bot.standin.sent_messages if m.chat_id == ADMIN]) == 3


async def test_residents_get_answers_while_the_knowledge_reloads(
    make_bot: HarnessFactory, tiny_knowledge: Path
) -> None:
    answerer = Answerer(tiny_knowledge)
    bot = await make_bot(answerer)
    bot.standin.add_user(ADMIN)
    # Hold the reload at its start, as a slow load of a large knowledge base would.
    answerer._reloading.acquire()
    try:
        bot.standin.push_command(ADMIN, "reload")
        legevakt = await bot.ask("Blir legevakten på Nordby beholdt?")
        assert any("Legevakten på Nordby" in q for q in blockquotes(legevakt))
        assert not [m for m in bot.standin.sent_messages if m.chat_id == ADMIN]
    finally:
        answerer._reloading.release()
    [done] = await bot.standin.wait_for_messages(1, chat_id=ADMIN, timeout=10)
    assert done.text == "Lastet inn på nytt: 4 oppføringer."


async def test_teach_refuses_a_right_decline_and_an_admin_can_teach_it_anyway(
    make_bot: HarnessFactory, tiny_knowledge: Path
) -> None:
    bot = await make_bot(Answerer(tiny_knowledge))
    entries = tiny_knowledge / "demo.yaml"
    when = "Når åpner helsehuset?"
    phone = "ring meg på 12345678 om helsehuset"
    await bot.ask(when)
    await bot.ask(phone)
    refs = [row["ref"] for row in await bot.rows()]

    refused = await bot.command(ADMIN, "teach", f"{refs[0]} helsehus")
    assert refused.text.startswith(
        f"Ikke lært: «{when}» spør om når, men avsnittet i oppføringen helsehus sier ikke "
        "noe om det."
    )
    assert refused.text.endswith(
        "Er du sikker på at oppføringen svarer likevel? Trykk «Lær likevel», eller send "
        f"/teach {refs[0]} helsehus likevel"
    )
    [anyway] = refused.buttons
    assert anyway["text"] == "Lær likevel"
    assert when not in entries.read_text(encoding="utf-8")
    await bot.press(ADMIN, refused, anyway["callback_data"])
    await bot.standin.wait_for(
        lambda: bot.standin.sent_messages[-1].text.startswith(f"Lært: «{when}» er lagt til i")
    )
    assert when in entries.read_text(encoding="utf-8")

    # The log holds the question redacted: its label is refused, "force" overrides.
    labelled = await bot.command(ADMIN, "teach", f"{refs[1]} helsehus")
    assert "inneholder fortsatt plassholderen [telefon]" in labelled.text
    forced = await bot.command(ADMIN, "teach", f"{refs[1]} helsehus force")
    assert forced.text.startswith(
        "Lært: «ring meg på [telefon] om helsehuset» er lagt til i oppføringen helsehus"
    )


async def test_admin_dismisses_a_group_and_a_taught_question_leaves_the_review(
    make_bot: HarnessFactory, tiny_knowledge: Path
) -> None:
    bot = await make_bot(Answerer(tiny_knowledge))
    await bot.ask(DECLINED)
    await bot.ask("hvem vant fotball-vm i 1994", user=OTHER)
    question = "Hva skjer med akuttmottaket i bygda?"
    await bot.ask(question)
    refs = {r["question"]: r["ref"] for r in await bot.rows()}

    review = await bot.command(ADMIN, "unanswered")
    assert refs[DECLINED] in review.text
    assert refs[question] in review.text

    done = await bot.command(ADMIN, "dismiss", f"{refs[DECLINED]} handled")
    assert done.text == "2 spørsmål er merket som håndtert og er tatt ut av /unanswered."
    rows = {r["question"]: r["dismissed"] for r in await bot.rows()}
    assert rows[DECLINED] == rows["hvem vant fotball-vm i 1994"] == "handled"
    assert rows[question] is None
    review = await bot.command(ADMIN, "unanswered")
    assert refs[DECLINED] not in review.text
    assert refs[question] in review.text

    taught = await bot.command(ADMIN, "teach", f"{refs[question]} legevakt-nordby")
    assert taught.text.startswith("Lært:")
    after = await bot.command(ADMIN, "unanswered")
    assert after.text == "Ingen ubesvarte spørsmål de siste 7 dagene."

    assert (await bot.command(ADMIN, "dismiss")).text.startswith("Bruk: /dismiss REF")
    # A word /dismiss does not know (a typo) dismisses nothing rather than the default.
    typo = await bot.command(ADMIN, "dismiss", f"{refs[question]} handeld")
    assert typo.text.startswith("Bruk: /dismiss REF [declined|handled] [only]")
    assert {r["question"]: r["dismissed"] for r in await bot.rows()}[question] is None
    missing = await bot.command(ADMIN, "dismiss", "zzzzzzzzzz")
    assert missing.text == "Fant ikke noe lagret spørsmål med ref zzzzzzzzzz."


async def test_dismiss_takes_norwegian_words(
    make_bot: HarnessFactory, tiny_knowledge: Path
) -> None:
    bot = await make_bot(Answerer(tiny_knowledge))
    await bot.ask(DECLINED)
    await bot.ask("hvem vant fotball-vm i 1994", user=OTHER)
    refs = {r["question"]: r["ref"] for r in await bot.rows()}

    done = await bot.command(ADMIN, "dismiss", f"{refs[DECLINED]} avslått bare")
    assert done.text == "1 spørsmål er merket som riktig avslått og er tatt ut av /unanswered."
    rows = {r["question"]: r["dismissed"] for r in await bot.rows()}
    assert rows[DECLINED] == "declined"
    assert rows["hvem vant fotball-vm i 1994"] is None

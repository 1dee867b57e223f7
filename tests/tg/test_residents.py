"""What residents get: answers, commands, groups, other content, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.core.messages import EXAMPLE_QUESTIONS
from bot.devtools.standin import SentMessage

from .support import (
    ADMIN,
    DECLINED,
    GROUP,
    LEGEVAKT,
    LEGEVAKT_PASSAGE,
    OTHER,
    UNKNOWN_COMMAND,
    USER,
    Harness,
    HarnessFactory,
    blockquotes,
)


async def test_answer_quotes_the_passage_with_source_and_vote_buttons(bot: Harness) -> None:
    reply = await bot.ask(LEGEVAKT)

    assert reply.parse_mode == "HTML"
    assert any(LEGEVAKT_PASSAGE in quote for quote in blockquotes(reply))
    assert "Helse og mestring" in reply.text
    [up, down] = reply.callback_data
    ref = up.split(":")[1]
    assert (up, down) == (f"v:{ref}:1", f"v:{ref}:-1")

    await bot.press(USER, reply, down)
    assert bot.standin.answered_callbacks[-1]["text"].startswith("Takk")
    [row] = await bot.rows()
    assert (row["ref"], row["vote"], row["outcome"]) == (ref, -1, "answered")
    assert row["entry_id"] == "legevakt-sorumsand"
    assert row["channel"] == "private"
    assert row["user_key"]
    assert str(USER) not in row["user_key"]
    # The buttons go once used, so the vote counts once.
    assert bot.standin.message(USER, reply.message_id).get("reply_markup") is None


async def test_start_offers_examples_that_answer_when_tapped(bot: Harness) -> None:
    welcome = await bot.command(USER, "start")

    assert "sammenslåingen" in welcome.text
    assert "2019–2023" in welcome.text
    assert "lillestrom.kommune.no" in welcome.text
    assert welcome.callback_data == ["q:0", "q:1", "q:2"]
    assert [b["text"] for b in welcome.buttons] == list(EXAMPLE_QUESTIONS)

    answer = await bot.reply_to(lambda: bot.standin.push_callback(USER, welcome, "q:0"))
    assert any(LEGEVAKT_PASSAGE in quote for quote in blockquotes(answer))
    await bot.standin.wait_for(lambda: bot.standin.answered_callbacks)
    [row] = await bot.rows()
    assert row["question"] == EXAMPLE_QUESTIONS[0]


async def test_help_and_sources(bot: Harness) -> None:
    help_reply = await bot.command(USER, "help")
    assert EXAMPLE_QUESTIONS[1] in help_reply.text
    assert "/kilder" in help_reply.text
    assert len(help_reply.callback_data) == 3

    sources = await bot.command(USER, "kilder")
    assert "Politisk plattform for Lillestrøm kommune" in sources.text
    assert "2019–2023" in sources.text
    assert "sammenslåingen" in sources.text
    assert "2018" in sources.text


async def test_decline_points_to_the_municipality(bot: Harness) -> None:
    reply = await bot.ask(DECLINED)

    assert "lillestrom.kommune.no" in reply.text
    assert reply.buttons == []
    [row] = await bot.rows()
    assert row["outcome"] == "declined"


async def test_english_questions_get_english_framing(bot: Harness) -> None:
    answer = await bot.ask("Will nursing homes be run by the municipality or private companies?")
    assert "Source:" in answer.text
    assert "Kilde" not in answer.text

    unsure = await bot.ask("What happens to the property tax?")
    assert "Did you mean" in unsure.text
    await bot.press(USER, unsure, unsure.callback_data[0])
    assert "Source:" in bot.standin.sent_messages[-1].text

    welcome = await bot.command(OTHER, "start", language_code="en-GB")
    assert welcome.text.startswith("Hi!")
    note = await bot.reply_to(lambda: bot.standin.push_sticker(OTHER, language_code="en"), OTHER)
    assert note.text.startswith("I only read text")


async def test_non_text_messages_get_a_note(bot: Harness) -> None:
    s = bot.standin
    for push in (s.push_photo, s.push_sticker, s.push_voice, s.push_location, s.push_document):
        note = await bot.reply_to(lambda push=push: push(USER))
        assert note.text.startswith("Jeg leser bare tekst")
    note = await bot.reply_to(lambda: s.push_contact(USER, contact_user_id=USER))
    assert note.text.startswith("Jeg leser bare tekst")
    assert await bot.rows() == []  # nothing to record


async def test_edited_messages_and_channel_posts_never_crash(bot: Harness) -> None:
    original = bot.standin.push_message(USER, "hvem vant VM?")
    await bot.standin.wait_for_messages(1, chat_id=USER)
    edited = await bot.reply_to(lambda: bot.standin.push_edited_message(original, LEGEVAKT))
    assert blockquotes(edited)
    assert edited.message["reply_to_message"]["message_id"] == original["message"]["message_id"]

    post = bot.standin.push_channel_post("Nyheter fra kommunen")
    bot.standin.push_edited_message(post, "Nyheter fra kommunen (oppdatert)")
    await bot.ask("hei")  # processed after the posts, so they were handled or skipped by now
    assert all(m.chat_id != post["channel_post"]["chat"]["id"] for m in bot.standin.sent_messages)


async def test_groups_get_answers_only_when_the_bot_is_addressed(bot: Harness) -> None:
    s = bot.standin
    username = s.bot_user["username"]

    async def in_group(push: Callable[[], Any]) -> SentMessage:
        return await bot.reply_to(push, chat_id=GROUP)

    # Not addressed: nothing. The next, addressed message proves these were processed.
    s.push_message(USER, LEGEVAKT, chat_type="supergroup")
    s.push_photo(USER, chat_type="supergroup")
    s.push_command(USER, "spor", LEGEVAKT, chat_type="supergroup", address_bot=False)
    s.push_message(USER, f"/spor@another_bot {LEGEVAKT}", chat_type="supergroup")
    s.push_message(USER, "/ukjent", chat_type="supergroup")

    # "/spor" without @ is a command to every bot in the group, so it is answered too.
    mentioned = await bot.reply_to(lambda: s.push_mention(USER, LEGEVAKT), GROUP, count=2)
    assert any(LEGEVAKT_PASSAGE in q for q in blockquotes(mentioned))
    assert mentioned.message["reply_to_message"]["text"].startswith(f"@{username}")
    assert len([m for m in s.sent_messages if m.chat_id == GROUP]) == 2

    replied = await in_group(
        lambda: s.push_message(OTHER, DECLINED, chat_type="supergroup", reply_to_bot=True)
    )
    assert "lillestrom.kommune.no" in replied.text

    asked = await in_group(lambda: s.push_command(OTHER, "spor", LEGEVAKT, chat_type="supergroup"))
    assert blockquotes(asked)
    usage = await in_group(lambda: s.push_command(OTHER, "spor", chat_type="supergroup"))
    assert "/spor" in usage.text
    unknown = await in_group(lambda: s.push_command(OTHER, "ukjent", chat_type="supergroup"))
    assert unknown.text == UNKNOWN_COMMAND

    rows = await bot.rows()
    assert {r["channel"] for r in rows} == {"group"}
    assert all(username not in r["question"] for r in rows)


FET = "og hva med Fet?"
NOT_ABOUT_FET = "Dokumentene sier ikke noe om Fet."


async def test_a_follow_up_leans_on_its_chats_last_topic_until_start(bot: Harness) -> None:
    await bot.ask(LEGEVAKT)
    # The passage on Sørumsand's clinic says nothing about Fet: an honest partial answer.
    related = await bot.ask(FET)
    assert related.text.startswith(NOT_ABOUT_FET)
    assert any(LEGEVAKT_PASSAGE in q for q in blockquotes(related))
    assert [data[:2] for data in related.callback_data] == ["v:", "v:"]  # votes, as answers
    # Another chat has no topic to lean on.
    assert LEGEVAKT_PASSAGE not in (await bot.ask(FET, user=OTHER)).text
    await bot.command(USER, "start")
    assert LEGEVAKT_PASSAGE not in (await bot.ask(FET)).text
    rows = await bot.rows()
    assert [r["outcome"] for r in rows][:2] == ["answered", "related"]
    assert rows[1]["question"] == FET  # the resident's words, not the topic added


async def test_in_a_group_each_user_has_a_topic_of_their_own(bot: Harness) -> None:
    s = bot.standin

    async def mention(user: int, question: str) -> SentMessage:
        return await bot.reply_to(lambda: s.push_mention(user, question), GROUP)

    await mention(USER, LEGEVAKT)
    assert LEGEVAKT_PASSAGE not in (await mention(OTHER, FET)).text
    assert (await mention(USER, FET)).text.startswith(NOT_ABOUT_FET)


async def test_an_answer_found_through_the_story_says_how_it_read_the_question(
    bot: Harness,
) -> None:
    reply = await bot.ask(
        "Far min er 84. Han har falt to ganger i vinter, men vil så gjerne bo hjemme. "
        "Skal han kunne det?"
    )
    assert reply.text.startswith("Jeg forstår det slik at du spør om «")
    assert blockquotes(reply)


HOSTILE = [
    "<b>&</b><script>alert(1)</script>",
    ("legevakt " * 12_000)[:100_000],
    "a\x00b\x01c\x07d\x1b[31m\x7f",
    "\u200b\u200c\u200d\ufeff\u2060",
    "\u202eevom\u202c هل سيبقى المستشفى؟ \u05e9\u05dc\u05d5\u05dd",
    "🙂🙂🙂🎉",
    "'; DROP TABLE questions; -- \" OR 1=1",
    "&amp; &lt;b&gt; &#x27; &#0; &#99999999;",
    "</blockquote><i>",
]


async def test_hostile_text_gets_a_reply_telegram_accepts(bot: Harness) -> None:
    for text in HOSTILE:
        reply = await bot.ask(text)
        assert reply.text
        assert "<script>" not in reply.text
        assert "alert(1)" not in reply.text
    rows = await bot.rows()
    assert len(rows) == len(HOSTILE)
    assert max(len(r["question"]) for r in rows) <= 2000


async def test_rate_limit_sends_one_notice_then_stays_silent(make_bot: HarnessFactory) -> None:
    bot = await make_bot(bot_rate_limit=3)
    for _ in range(6):
        bot.standin.push_message(USER, LEGEVAKT)
    await bot.ask(LEGEVAKT, user=OTHER)  # processed after all six
    replies = [m for m in bot.standin.sent_messages if m.chat_id == USER]
    assert len(replies) == 4
    assert all(blockquotes(m) for m in replies[:3])
    assert "mange spørsmål" in replies[3].text
    assert len(await bot.rows()) == 4  # three from USER, one from OTHER


async def test_the_bot_answers_without_recording_when_the_log_cannot_open(
    make_bot: HarnessFactory, tmp_path: Path
) -> None:
    not_a_database = tmp_path / "a-directory"
    not_a_database.mkdir()
    bot = await make_bot(bot_database=not_a_database)
    reply = await bot.ask(LEGEVAKT)
    assert blockquotes(reply)
    assert reply.buttons == []  # nothing logged, so nothing to vote on
    no_log = "Boten har ingen spørsmålslogg akkurat nå, så det er ingenting å vise."
    assert (await bot.command(ADMIN, "stats")).text == no_log


async def test_a_reply_telegram_refuses_is_logged_as_not_delivered(bot: Harness) -> None:
    await bot.ask(LEGEVAKT)
    bot.standin.block_user(USER)
    bot.standin.push_message(USER, LEGEVAKT)
    await bot.standin.wait_for(lambda: any(e.status == 403 for e in bot.standin.errors))

    async def both_logged() -> list:
        rows = await bot.rows()
        return rows if len(rows) == 2 and rows[1]["delivered"] == 0 else []

    rows = []
    for _ in range(50):
        rows = await both_logged()
        if rows:
            break
        await asyncio.sleep(0.05)
    assert [r["delivered"] for r in rows] == [1, 0]
    stats = await bot.log.stats()
    assert stats.undelivered == 1
    bot.standin.errors.clear()  # the 403 was the point

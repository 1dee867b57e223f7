"""End-to-end tests of the Telegram bot: the real PTB Application, over HTTP, against the stand-in.

Nothing inside PTB is patched and no Bot object is faked: the Application polls the
stand-in (or receives webhook posts from it), sends real requests that the stand-in
validates as Telegram does, and records into a real SQLite question log in tmp_path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram.ext import Application

from bot import logsetup
from bot.core.messages import EXAMPLE_QUESTIONS
from bot.core.service import Answerer
from bot.devtools.standin import BotApiStandIn, SentMessage
from bot.questionlog.store import Pseudonymizer, QuestionLog
from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, WEBHOOK_PATH, api_urls, build_application

ROOT = Path(__file__).resolve().parents[1]
USER = 1001
OTHER = 1002
ADMIN = 9001
GROUP = -1001000000001
LEGEVAKT = "blir legevakten på Sørumsand beholdt?"
LEGEVAKT_PASSAGE = "Legevakttjenesten på Sørumsand skal beholdes i perioden."
DECLINED = "Hvem vant fotball-VM i 1994?"
AMBIGUOUS = "eiendomsskatt"
UNKNOWN_COMMAND = "Den kommandoen kjenner jeg ikke. Skriv /help."


# --------------------------------------------------------------------------- fixtures


def copy_knowledge(target: Path) -> Path:
    """Copies the repository's knowledge into target, so tests may edit it."""
    return Path(shutil.copytree(ROOT / "knowledge", target / "knowledge"))


@pytest.fixture(scope="module")
def shared_answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    """Loads one knowledge copy for the tests that only read it (loading takes a second)."""
    return Answerer(copy_knowledge(tmp_path_factory.mktemp("shared")))


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    """Serves a Bot API stand-in; afterwards, nothing the bot sent may have been refused."""
    async with BotApiStandIn() as server:
        yield server
    refused = [e for e in server.errors if not e.injected]
    assert refused == [], [f"{e.method}: {e.description}" for e in refused]


@dataclass
class Harness:
    """A running bot with its stand-in, question log and knowledge."""

    app: Application
    standin: BotApiStandIn
    log: QuestionLog
    answerer: Answerer
    database: Path

    async def reply_to(
        self, push: Callable[[], Any], chat_id: int = USER, count: int = 1
    ) -> SentMessage:
        """Pushes an update and returns the count-th new message the bot sends to the chat."""
        before = len([m for m in self.standin.sent_messages if m.chat_id == chat_id])
        push()
        sent = await self.standin.wait_for_messages(before + count, chat_id=chat_id, timeout=10)
        return sent[before + count - 1]

    async def ask(self, question: str, user: int = USER, **kwargs: Any) -> SentMessage:
        """Sends a private text message and returns the bot's reply."""
        return await self.reply_to(
            lambda: self.standin.push_message(user, question, **kwargs), chat_id=user
        )

    async def command(self, user: int, command: str, args: str = "", **kwargs: Any) -> SentMessage:
        """Sends a command in the user's private chat and returns the bot's reply."""
        return await self.reply_to(
            lambda: self.standin.push_command(user, command, args, **kwargs), chat_id=user
        )

    async def press(self, user: int, message: SentMessage, data: str, **kwargs: Any) -> None:
        """Presses a button and waits until the bot has answered the callback query."""
        update = self.standin.push_callback(user, message, data, **kwargs)
        query_id = update["callback_query"]["id"]
        await self.standin.wait_for(
            lambda: any(a["callback_query_id"] == query_id for a in self.standin.answered_callbacks)
        )

    async def rows(self) -> list[sqlite3.Row]:
        """Returns the log's rows after its queued writes have landed."""
        assert await self.log.flush()
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM questions ORDER BY id").fetchall()


def make_settings(standin: BotApiStandIn, tmp_path: Path, **overrides: Any) -> Settings:
    """Returns settings pointing at the stand-in, ignoring any .env file."""
    values: dict[str, Any] = {
        "telegram_bot_token": standin.token,
        "telegram_base_url": standin.base_url,
        "bot_admin_ids": frozenset({ADMIN}),
        "bot_database": tmp_path / "questions.sqlite3",
        "bot_rate_limit": 20,
    }
    return Settings(_env_file=None, **{**values, **overrides})


def make_log(path: Path) -> QuestionLog:
    """Creates a question log with a fixed test secret."""
    return QuestionLog(path, pseudonymizer=Pseudonymizer(b"t" * 32), auto_purge=False)


@contextlib.asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """Runs the Application as run_polling does (hooks included), inside the test's loop."""
    async with app:
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
    await app.post_shutdown(app)


BotFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_bot(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> AsyncIterator[BotFactory]:
    """Starts bots on demand (with setting overrides or their own knowledge) and stops them."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(answerer: Answerer | None = None, **overrides: Any) -> Harness:
            settings = make_settings(standin, tmp_path, **overrides)
            log = make_log(settings.bot_database)
            answerer = answerer or shared_answerer
            app = build_application(settings, answerer, log)
            await stack.enter_async_context(polling(app))
            return Harness(app, standin, log, answerer, settings.bot_database)

        yield start


@pytest.fixture
async def bot(make_bot: BotFactory) -> Harness:
    """A running bot with default settings and the shared knowledge."""
    return await make_bot()


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
    """Waits until predicate() is truthy, checking every 50 ms."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return value


def blockquotes(message: SentMessage) -> list[str]:
    """Returns the text of each blockquote entity in a sent message."""
    return [
        message.text[e["offset"] : e["offset"] + e["length"]]
        for e in message.entities
        if e["type"] == "blockquote"
    ]


# --------------------------------------------------------------------------- answers


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


async def test_did_you_mean_buttons_give_the_chosen_answer(bot: Harness) -> None:
    clarification = await bot.ask(AMBIGUOUS)

    assert "Mente du" in clarification.text
    assert clarification.message.get("reply_to_message")  # it quotes the question
    data = clarification.callback_data
    assert data
    assert all(d.startswith("a:eiendomsskatt-") for d in data)
    assert all(len(b["text"]) <= 60 for b in clarification.buttons)

    await bot.press(USER, clarification, data[0])
    edited = bot.standin.sent_messages[-1]
    assert edited.method == "editMessageText"
    assert edited.message_id == clarification.message_id
    assert blockquotes(edited)
    assert edited.callback_data[0].startswith("v:")

    rows = await bot.rows()
    assert [r["outcome"] for r in rows] == ["ambiguous", "answered"]
    assert rows[0]["alternatives"].count("eiendomsskatt-") == len(data)
    assert rows[1]["question"] == AMBIGUOUS
    assert rows[1]["entry_id"] == data[0].removeprefix("a:")
    assert rows[1]["score"] is None  # picked by the resident, not matched


async def test_stale_and_unknown_buttons_are_answered(bot: Harness) -> None:
    welcome = await bot.command(USER, "start")
    stale = ("zzz", "q:99", "a:no-such-entry", "v:bad ref:1", "v:abcdefghij:7", "te:x:y", "k:99")
    for data in stale:
        await bot.press(USER, welcome, data, check_button=False)
        assert "virker ikke lenger" in bot.standin.answered_callbacks[-1]["text"]
    assert len(bot.standin.answered_callbacks) == len(stale)


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


# --------------------------------------------------------------------------- groups


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


# --------------------------------------------------------------------------- inline mode


async def test_inline_queries_get_valid_articles_and_one_log_row(bot: Harness) -> None:
    s = bot.standin
    for partial in ("le", "legevakt", "legevakt sørumsand"):
        s.push_inline_query(USER, partial)
    await s.wait_for(lambda: len(s.inline_answers) == 3)
    answer = s.inline_answers[-1]
    assert answer["is_personal"] in (True, "true", "True")
    assert int(answer["cache_time"]) <= 30
    [result] = answer["results"]
    assert result["type"] == "article"
    assert result["id"] == "legevakt-sorumsand"
    assert LEGEVAKT_PASSAGE[:40] in result["description"]
    assert result["input_message_content"]["parse_mode"] == "HTML"
    assert "<blockquote>" in result["input_message_content"]["message_text"]

    s.push_inline_query(OTHER, "eiendomsskatt")
    s.push_inline_query(OTHER + 1, DECLINED)
    s.push_inline_query(OTHER + 2, "")
    await s.wait_for(lambda: len(s.inline_answers) == 6)
    ambiguous, declined, empty = (a["results"] for a in s.inline_answers[3:])
    assert 2 <= len(ambiguous) <= 3
    assert len(declined) == 1
    assert "lillestrom.kommune.no" in declined[0]["input_message_content"]["message_text"]
    assert [r["title"] for r in empty] == list(EXAMPLE_QUESTIONS)

    # Keystrokes are recorded once per user, after the typing pause; empty queries never.
    rows = await eventually(lambda: len(read_rows(bot)) == 3 and read_rows(bot))
    by_question = {r["question"]: r for r in rows}
    assert set(by_question) == {"legevakt sørumsand", "eiendomsskatt", DECLINED}
    assert {r["channel"] for r in rows} == {"inline"}


def read_rows(bot: Harness) -> list[sqlite3.Row]:
    """Reads the log's rows directly (without waiting for the writer) for polling checks."""
    with contextlib.closing(sqlite3.connect(bot.database)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM questions ORDER BY id").fetchall()


# --------------------------------------------------------------------------- robustness


async def test_commands_are_registered(bot: Harness) -> None:
    commands = {c["command"]: c["description"] for c in bot.standin.commands}
    assert list(commands) == ["start", "help", "kilder", "spor"]
    assert "Dokumentene" in commands["kilder"]
    assert ('{"type": "default"}', "en") in bot.standin.command_sets


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


# PTB itself reads RetryAfter.retry_after while building the error, which warns in v22.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_limits_and_server_errors_are_retried(bot: Harness) -> None:
    bot.standin.inject("sendMessage", status=429, retry_after=1)
    assert blockquotes(await bot.ask(LEGEVAKT))
    bot.standin.inject("sendMessage", status=500)
    assert blockquotes(await bot.ask(LEGEVAKT))
    bot.standin.inject("sendMessage", status=502, times=2)
    assert blockquotes(await bot.ask(LEGEVAKT))
    assert [e.status for e in bot.standin.errors] == [429, 500, 502, 502]


async def test_a_failure_gets_an_apology_and_the_bot_goes_on(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Telegram refusing a message is final (never retried); the error handler takes over.
    bot.standin.inject("sendMessage", status=400, description="Bad Request: simulated")
    apology = await bot.ask(LEGEVAKT)
    assert apology.text.startswith("Beklager, noe gikk galt")
    assert "Traceback" not in apology.text
    assert any(r.exc_info and "simulated" in str(r.exc_info[1]).lower() for r in caplog.records)
    assert blockquotes(await bot.ask(LEGEVAKT))


async def test_the_bot_answers_without_recording_when_the_log_cannot_open(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    not_a_database = tmp_path / "a-directory"
    not_a_database.mkdir()
    bot = await make_bot(bot_database=not_a_database)
    reply = await bot.ask(LEGEVAKT)
    assert blockquotes(reply)
    assert reply.buttons == []  # nothing logged, so nothing to vote on
    assert (await bot.command(ADMIN, "stats")).text == "No question log."


async def test_rate_limit_sends_one_notice_then_stays_silent(make_bot: BotFactory) -> None:
    bot = await make_bot(bot_rate_limit=3)
    for _ in range(6):
        bot.standin.push_message(USER, LEGEVAKT)
    await bot.ask(LEGEVAKT, user=OTHER)  # processed after all six
    replies = [m for m in bot.standin.sent_messages if m.chat_id == USER]
    assert len(replies) == 4
    assert all(blockquotes(m) for m in replies[:3])
    assert "mange spørsmål" in replies[3].text
    assert len(await bot.rows()) == 4  # three from USER, one from OTHER


async def test_a_burst_of_200_questions_from_50_users_is_answered_and_logged(
    make_bot: BotFactory,
) -> None:
    bot = await make_bot()
    questions = [LEGEVAKT, AMBIGUOUS, DECLINED, "Hva skjer med eiendomsskatten?"]
    users = [20_000 + n for n in range(50)]
    for question in questions:
        for user in users:
            bot.standin.push_message(user, question)
    await bot.standin.wait_for(lambda: len(bot.standin.sent_messages) >= 200, timeout=30)
    assert len(bot.standin.sent_messages) == 200
    assert {m.chat_id for m in bot.standin.sent_messages} == set(users)

    await bot.log.close()
    with contextlib.closing(sqlite3.connect(bot.database)) as conn:
        count, keys = conn.execute(
            "SELECT count(*), count(DISTINCT user_key) FROM questions"
        ).fetchone()
    assert (count, keys) == (200, 50)


# --------------------------------------------------------------------------- admins


async def test_admin_commands_look_unknown_to_everyone_else(bot: Harness) -> None:
    await bot.ask(DECLINED)
    unknown = await bot.command(USER, "nosuchcommand")
    assert unknown.text == UNKNOWN_COMMAND
    for command in ("stats", "unanswered", "teach", "reload"):
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
    assert refs["Hva koster parkering ved rådhuset?"] in lines[2]

    stats = await bot.command(ADMIN, "stats")
    assert "Questions: 4 (2 users)" in stats.text
    assert "Answered: 1 (25 %)" in stats.text
    assert "Declined: 3 (75 %)" in stats.text
    assert "👎 rate 100 %" in stats.text
    assert "legevakt-sorumsand" in stats.text
    assert (await bot.command(ADMIN, "unanswered", "abc")).text.startswith("Usage")


# A long id (the format allows up to 60 characters): "te:REF:ID" would exceed 64 bytes.
LONG_ID = "skolebiblioteket-skal-styrkes-ved-alle-skolene-i-nordby"  # too long for te:REF:ID


async def test_admin_teaches_a_question_and_it_is_answered_at_once(
    make_bot: BotFactory, tiny_knowledge: Path
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
    assert taught.text.startswith("Taught «Hva skjer med akuttmottaket i bygda?»")
    assert question in (tiny_knowledge / "demo.yaml").read_text(encoding="utf-8")
    answer = await bot.ask(question)
    assert any("Legevakten på Nordby skal beholdes" in q for q in blockquotes(answer))

    refused = await bot.command(ADMIN, "teach", f"{ref} no-such-entry")
    assert refused.text.startswith("Not taught: no entry with id 'no-such-entry'")
    missing = await bot.command(ADMIN, "teach", f"zzzzzzzzzz {LONG_ID}")
    assert missing.text == "No logged question with ref zzzzzzzzzz."

    # The same by buttons: pick the question, then the entry (whose data needs a short key).
    library = "Hva med bibliotek på skolen?"
    await bot.ask(library)
    offer = await bot.command(ADMIN, "teach")
    [pick] = [b for b in offer.buttons if "bibliotek" in b["text"]]
    choices = await bot.reply_to(
        lambda: bot.standin.push_callback(ADMIN, offer, pick["callback_data"]), ADMIN
    )
    assert LONG_ID in choices.text
    [long_button] = [b for b in choices.buttons if b["text"].startswith("2.")]
    assert long_button["callback_data"].startswith("k:")
    await bot.press(ADMIN, choices, long_button["callback_data"])
    assert bot.standin.answered_callbacks[-1]["text"] == "Teaching …"
    await bot.standin.wait_for(
        lambda: bot.standin.sent_messages[-1].text.startswith(f"Taught «{library}» to {LONG_ID}")
    )
    assert bot.answerer.answer(library).reply.entry.id == LONG_ID


async def test_broken_knowledge_keeps_the_last_good_version_and_tells_admins(
    make_bot: BotFactory, tiny_knowledge: Path
) -> None:
    bot = await make_bot(Answerer(tiny_knowledge))
    bot.standin.add_user(ADMIN)
    broken = tiny_knowledge / "zz-broken.yaml"
    broken.write_text("source: demo\nentries:\n  - id: ok\n    questions: [unclosed\n")

    # The hot-reload job notices the change and tells the admin once.
    [warning] = await bot.standin.wait_for_messages(1, chat_id=ADMIN, timeout=10)
    assert "zz-broken.yaml:" in warning.text
    assert str(tiny_knowledge) not in warning.text

    reloaded = await bot.command(ADMIN, "reload")
    assert reloaded.text.startswith("Reload failed")
    assert re.search(r"zz-broken\.yaml:\d+: error", reloaded.text)
    legevakt = await bot.ask("Blir legevakten på Nordby beholdt?")
    assert any("Legevakten på Nordby" in q for q in blockquotes(legevakt))

    broken.unlink()
    fixed = await bot.command(ADMIN, "reload")
    assert fixed.text == "Reloaded: 4 entries."
    assert len([m for m in bot.standin.sent_messages if m.chat_id == ADMIN]) == 3


async def test_residents_get_answers_while_the_knowledge_reloads(
    make_bot: BotFactory, tiny_knowledge: Path
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
    assert done.text == "Reloaded: 4 entries."


# --------------------------------------------------------------------------- secrets and modes


async def test_the_token_never_reaches_the_logs(
    make_bot: BotFactory,
    standin: BotApiStandIn,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.setattr(logsetup, "_configured", False)
    # Configured while pytest's capture handler is on the root, so it gets the filter too.
    logsetup.configure_logging("DEBUG", secrets=[standin.token])
    caplog.set_level(logging.DEBUG)
    httpx_logger = logging.getLogger("httpx")
    assert httpx_logger.level == logging.WARNING
    # Even with the HTTP library turned up, the filter keeps the token out.
    httpx_logger.setLevel(logging.INFO)
    try:
        bot = await make_bot()
        await bot.ask(LEGEVAKT)
        bot.standin.inject("sendMessage", status=500)
        await bot.ask(DECLINED)
    finally:
        httpx_logger.setLevel(logging.WARNING)
        root.handlers[:] = handlers
        root.setLevel(level)
    assert standin.token in standin.tokens_seen
    assert "[token]" in caplog.text  # httpx did log request URLs, redacted
    assert standin.token not in caplog.text
    assert all(standin.token not in r.getMessage() for r in caplog.records)


def test_log_files_rotate_daily_keep_the_retention_and_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.setattr(logsetup, "_configured", False)
    try:
        logsetup.configure_logging(
            "info", secrets=["123:SECRET"], log_dir=tmp_path / "logs", retention_days=14
        )
        [rotating] = [h for h in root.handlers if isinstance(h, TimedRotatingFileHandler)]
        assert (rotating.when, rotating.backupCount) == ("MIDNIGHT", 14)
        logging.getLogger("bot.test").warning("calling https://x/bot%s/getMe", "123:SECRET")
        rotating.flush()
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    written = (tmp_path / "logs" / "bot.log").read_text(encoding="utf-8")
    assert "https://x/bot[token]/getMe" in written
    assert "SECRET" not in written


def free_port() -> int:
    """Returns a port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_mode_answers_posts_with_the_right_secret_only(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    settings = make_settings(standin, tmp_path)
    log = make_log(settings.bot_database)
    app = build_application(settings, shared_answerer, log)
    port = free_port()
    local = f"http://127.0.0.1:{port}/{WEBHOOK_PATH}"
    async with app:
        await app.post_init(app)
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path=WEBHOOK_PATH,
            webhook_url="https://bot.example.test/telegram",
            secret_token="s3cret",
            allowed_updates=ALLOWED_UPDATES,
        )
        try:
            assert standin.webhook["secret_token"] == "s3cret"
            wrong = standin.push_message(USER, DECLINED)
            assert await standin.post_to_webhook(local, wrong, secret_token="wrong") == 403
            assert await standin.post_to_webhook(local, wrong, secret_token="") == 403
            # Telegram would not send a channel post the bot did not ask for; it must not hurt.
            post = standin.push_channel_post("Nyheter")
            assert await standin.post_to_webhook(local, post) == 200
            update = standin.push_message(USER, LEGEVAKT)
            assert await standin.post_to_webhook(local, update) == 200
            [reply] = await standin.wait_for_messages(1, chat_id=USER)
            assert blockquotes(reply)
        finally:
            await app.updater.stop()
            await app.stop()
    await app.post_shutdown(app)
    assert len(standin.sent_messages) == 1


def test_api_urls_follow_the_local_bot_api_server_layout() -> None:
    assert api_urls("http://localhost:8081/bot") == (
        "http://localhost:8081/bot",
        "http://localhost:8081/file/bot",
    )
    assert api_urls("http://localhost:8081/") == (
        "http://localhost:8081/bot",
        "http://localhost:8081/file/bot",
    )


# --------------------------------------------------------------------------- the real process


def bot_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """Returns a clean environment for `python -m bot run` (no inherited bot settings)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "BOT_")) and k != "PYTHONPATH"
    }
    env.update(PYTHONPATH=str(ROOT), BOT_DATABASE=str(tmp_path / "run.sqlite3"), **values)
    return env


async def test_python_m_bot_run_answers_and_stops_cleanly_on_sigterm(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    env = bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=standin.token,
        TELEGRAM_BASE_URL=standin.base_url,
        BOT_KNOWLEDGE_DIR=str(shared_answerer.directory),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        standin.push_message(USER, LEGEVAKT)
        [reply] = await standin.wait_for_messages(1, chat_id=USER, timeout=30)
        assert blockquotes(reply)
        await standin.wait_for(lambda: standin.commands)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                _, stderr_bytes = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    stderr = stderr_bytes.decode()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert standin.token not in stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "run.sqlite3")) as conn:
        assert conn.execute("SELECT count(*) FROM questions").fetchone() == (1,)


async def test_python_m_bot_run_in_webhook_mode_uses_a_random_secret(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=standin.token,
        TELEGRAM_BASE_URL=standin.base_url,
        BOT_KNOWLEDGE_DIR=str(shared_answerer.directory),
        BOT_WEBHOOK_URL="https://bot.example.test",
        BOT_WEBHOOK_LISTEN="127.0.0.1",
        BOT_WEBHOOK_PORT=str(port),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    local = f"http://127.0.0.1:{port}/{WEBHOOK_PATH}"
    try:
        await standin.wait_for(lambda: standin.webhook.get("url"), timeout=30)
        assert standin.webhook["url"] == "https://bot.example.test/telegram"
        assert len(standin.webhook["secret_token"]) >= 32
        update = standin.push_message(USER, LEGEVAKT)
        status = None
        while status is None:  # setWebhook may come before the server listens
            try:
                status = await standin.post_to_webhook(local, update, secret_token="guess")
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        assert status == 403
        assert await standin.post_to_webhook(local, update) == 200
        [reply] = await standin.wait_for_messages(1, chat_id=USER, timeout=10)
        assert blockquotes(reply)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                _, stderr_bytes = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    assert process.returncode == 0, stderr_bytes.decode()
    assert "Traceback" not in stderr_bytes.decode()


def test_python_m_bot_run_without_a_token_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=bot_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: TELEGRAM_BOT_TOKEN is not set")

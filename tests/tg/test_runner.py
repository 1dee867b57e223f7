"""Nothing lost, nothing twice: the real `python -m bot run` against the stand-in, hurt on
purpose (SIGKILL mid-burst, SIGTERM with a backlog, slow and timed-out sends, a locked
question log and inbox, a poison update, DEBUG logging). Each test is bounded: at most a
couple of hundred questions."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.core.service import Answerer
from bot.devtools.standin import BotApiStandIn
from bot.telegram.runner import chat_key

from .support import LEGEVAKT
from .test_app import bot_env

FIRST_USER = 3001


class Bot:
    """One `python -m bot run` process and its environment (restartable)."""

    def __init__(self, standin: BotApiStandIn, answerer: Answerer, tmp_path: Path, **env: str):
        self.env = bot_env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=standin.token,
            TELEGRAM_BASE_URL=standin.base_url,
            BOT_KNOWLEDGE_DIR=str(answerer.directory),
            **env,
        )
        self.cwd = tmp_path
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = ""

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def stop(self, sig: int = signal.SIGTERM, *, limit: float = 20.0) -> float:
        """Sends a signal and waits for the exit; returns the seconds it took."""
        assert self.process is not None
        started = time.monotonic()
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            async with asyncio.timeout(limit):
                _, err = await self.process.communicate()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise
        self.stderr += err.decode()
        return time.monotonic() - started


@contextlib.asynccontextmanager
async def running(bot: Bot):  # type: ignore[no-untyped-def]
    await bot.start()
    try:
        yield bot
    finally:
        if bot.process is not None and bot.process.returncode is None:
            await bot.stop(signal.SIGKILL)


def answers(standin: BotApiStandIn, users: range) -> Counter[int]:
    """Counts the messages the bot sent to each user's chat (edits not counted)."""
    wanted = set(users)
    return Counter(
        m.chat_id
        for m in standin.sent_messages
        if m.method == "sendMessage" and m.chat_id in wanted
    )


async def answering(standin: BotApiStandIn, *, chat_id: int = FIRST_USER + 999) -> None:
    """Waits until the bot is up and answering: one question asked and answered."""
    standin.push_message(chat_id, LEGEVAKT)
    await standin.wait_for_messages(1, chat_id=chat_id, timeout=30)


def burst(standin: BotApiStandIn, users: range) -> None:
    """Every user asks one question."""
    for user in users:
        standin.push_message(user, LEGEVAKT)


async def test_sigkill_mid_burst_then_restart_loses_nothing(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    users = range(FIRST_USER, FIRST_USER + 200)
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        burst(standin, users)
        await standin.wait_for(lambda: sum(answers(standin, users).values()) >= 40, timeout=30)
        await bot.stop(signal.SIGKILL)
    async with running(bot):
        await standin.wait_for(lambda: len(answers(standin, users)) == len(users), timeout=60)
        await bot.stop()
    counts = answers(standin, users)
    lost = [u for u in users if counts[u] == 0]
    doubled = [u for u in users if counts[u] > 1]
    assert lost == []
    assert len(doubled) <= 5, doubled


async def test_sigterm_with_a_backlog_exits_in_time_and_answers_all_once(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    users = range(FIRST_USER, FIRST_USER + 250)
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        burst(standin, users)
        await standin.wait_for(lambda: sum(answers(standin, users).values()) >= 20, timeout=30)
        seconds = await bot.stop()
    assert bot.process is not None
    assert bot.process.returncode == 0, bot.stderr
    assert seconds < 9.0
    async with running(bot):
        await standin.wait_for(lambda: len(answers(standin, users)) == len(users), timeout=60)
        await bot.stop()
    assert set(answers(standin, users).values()) == {1}
    assert "Traceback" not in bot.stderr


async def test_slow_sends_delay_only_their_own_chats(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    slow = range(FIRST_USER, FIRST_USER + 20)
    others = range(FIRST_USER + 20, FIRST_USER + 120)
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        await answering(standin)
        standin.inject("sendMessage", status=None, delay=3.0, times=len(slow))
        started = time.monotonic()
        burst(standin, slow)
        burst(standin, others)
        await standin.wait_for(lambda: len(answers(standin, others)) == len(others), timeout=30)
        took = time.monotonic() - started
        await standin.wait_for(lambda: len(answers(standin, slow)) == len(slow), timeout=30)
        await bot.stop()
    # 100 answers at Telegram's 30 a second take about 3.5 s; 20 sends of 3 s each, one
    # after another, would add 60 s. Answered side by side, they add about 3 s once.
    assert took < 12.0


async def test_an_outage_is_one_line_going_and_one_coming_back(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        standin.push_message(FIRST_USER, LEGEVAKT)
        await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=30)
        standin.inject("getUpdates", status=502, times=3)
        await standin.wait_for(lambda: len(standin.errors) >= 3, timeout=30)
        standin.push_message(FIRST_USER + 1, LEGEVAKT)
        await standin.wait_for_messages(1, chat_id=FIRST_USER + 1, timeout=30)
        await bot.stop()
    lines = bot.stderr.splitlines()
    assert len([line for line in lines if "unreachable" in line]) == 1
    assert len([line for line in lines if "reachable again" in line]) == 1
    assert not [line for line in lines if " ERROR " in line]
    assert "Traceback" not in bot.stderr


async def test_a_send_slower_than_the_timeout_is_not_sent_twice(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    bot = Bot(standin, shared_answerer, tmp_path, BOT_API_TIMEOUT="1.0")
    async with running(bot):
        await answering(standin)
        standin.inject("sendMessage", status=None, delay=2.5, times=1)
        standin.push_message(FIRST_USER, LEGEVAKT)
        await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=10)
        standin.push_message(FIRST_USER + 1, LEGEVAKT)  # later traffic flows
        await standin.wait_for_messages(1, chat_id=FIRST_USER + 1, timeout=10)
        await asyncio.sleep(1.0)
        await bot.stop()
    assert answers(standin, range(FIRST_USER, FIRST_USER + 1))[FIRST_USER] == 1


def _questions_logged(database: Path) -> int:
    """Counts the questions in the log (WAL: readable while another connection writes)."""
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=0.2)) as conn:
            return int(conn.execute("SELECT count(*) FROM questions").fetchone()[0])
    except sqlite3.Error:
        return 0


def _undone(inbox: Path) -> int:
    """Counts the updates in the inbox not marked answered (WAL: readable while locked)."""
    with contextlib.closing(sqlite3.connect(inbox, timeout=1.0)) as conn:
        return int(conn.execute("SELECT count(*) FROM inbox WHERE done = 0").fetchone()[0])


async def slowly_answering(standin: BotApiStandIn, inbox: Path) -> None:
    """Waits until the bot is answering, then until one more question is stored in the
    inbox with its answer on the way (the send takes 2 s)."""
    await answering(standin)
    await standin.wait_for(lambda: _undone(inbox) == 0, timeout=10)
    standin.inject("sendMessage", status=None, delay=2.0, times=1)
    standin.push_message(FIRST_USER, LEGEVAKT)
    await standin.wait_for(lambda: _undone(inbox) == 1, timeout=10)


@contextlib.contextmanager
def locked(database: Path):  # type: ignore[no-untyped-def]
    """Holds an exclusive write lock on a SQLite file, as another process might."""
    conn = sqlite3.connect(database, timeout=5.0, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_a_locked_question_log_holds_up_no_answer_and_loses_no_record(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    users = range(FIRST_USER, FIRST_USER + 30)
    bot = Bot(standin, shared_answerer, tmp_path)
    database = tmp_path / "run.sqlite3"
    async with running(bot):
        await answering(standin)
        await standin.wait_for(lambda: _questions_logged(database) == 1, timeout=30)
        with locked(database):
            burst(standin, users)
            # Well inside the log's 5 s busy timeout: no reply waits for the disk.
            await standin.wait_for(lambda: len(answers(standin, users)) == len(users), timeout=4)
            # Past it: the log's writes fail and are kept for later.
            await asyncio.sleep(6.0)
        await standin.wait_for(lambda: _questions_logged(database) == 1 + len(users), timeout=30)
        await bot.stop()
    assert set(answers(standin, users).values()) == {1}
    assert "cannot write" in bot.stderr
    assert "Traceback" not in bot.stderr


async def test_a_locked_inbox_stores_nothing_then_answers_each_update_once(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    users = range(FIRST_USER, FIRST_USER + 20)
    inbox = tmp_path / "run-inbox.sqlite3"
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        await answering(standin)
        await standin.wait_for(lambda: _undone(inbox) == 0, timeout=10)
        with locked(inbox):
            burst(standin, users)
            # The inbox's busy timeout is 2 s: confirming the last batch to Telegram and
            # storing the new one fail, so nothing is answered, and the updates are
            # fetched again once the lock goes.
            await asyncio.sleep(6.0)
            assert not answers(standin, users)
        await standin.wait_for(lambda: len(answers(standin, users)) == len(users), timeout=30)
        await asyncio.sleep(1.0)
        await bot.stop()
    assert set(answers(standin, users).values()) == {1}
    assert "database is locked" in bot.stderr  # confirming or storing failed, and was said
    assert "Traceback" not in bot.stderr


async def test_an_answer_the_inbox_could_not_mark_is_marked_at_the_stop_not_repeated(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    inbox = tmp_path / "run-inbox.sqlite3"
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        await slowly_answering(standin, inbox)
        with locked(inbox):
            # The answer goes out; marking it done fails after the 2 s busy timeout.
            await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=10)
            await asyncio.sleep(3.0)
        # Nothing else is answered, so only the stop's last batch can mark it.
        seconds = await bot.stop()
    assert seconds < 9.0
    assert "could not be marked so yet" in bot.stderr
    assert _undone(inbox) == 0  # nothing left to answer again
    async with running(bot):
        await answering(standin, chat_id=FIRST_USER + 998)
        await asyncio.sleep(1.0)
        await bot.stop()
    assert answers(standin, range(FIRST_USER, FIRST_USER + 1))[FIRST_USER] == 1


async def test_a_stop_with_the_inbox_locked_ends_within_dockers_grace(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    inbox = tmp_path / "run-inbox.sqlite3"
    bot = Bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        await slowly_answering(standin, inbox)
        with locked(inbox):
            await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=10)
            seconds = await bot.stop()
    assert seconds < 9.0  # Docker sends SIGKILL after 10 s
    assert "will be answered again at the next start" in bot.stderr


async def test_a_poison_update_is_skipped_and_debug_logs_name_no_one(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    bot = Bot(standin, shared_answerer, tmp_path, BOT_LOG_LEVEL="DEBUG")
    names = ("Kari", "Nordmann", "kari_nordmann_77", str(FIRST_USER))
    async with running(bot):
        standin.push_message(FIRST_USER, LEGEVAKT, first_name="Kari", username="kari_nordmann_77")
        await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=30)
        standin.push_raw(
            {
                "message": {
                    "message_id": 99,
                    "date": 1,
                    "chat": "not an object",
                    "from": {"id": FIRST_USER, "is_bot": False, "first_name": "Kari"},
                    "text": "hei",
                }
            }
        )
        standin.push_message(FIRST_USER + 1, LEGEVAKT, first_name="Kari")
        await standin.wait_for_messages(1, chat_id=FIRST_USER + 1, timeout=10)
        await bot.stop()
    assert "skipped update" in bot.stderr
    for name in names:
        assert name not in bot.stderr, name


@pytest.mark.parametrize(
    ("update", "key"),
    [
        ({"update_id": 1, "message": {"chat": {"id": 5}}}, ("chat", 5)),
        (
            {"update_id": 2, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 5}}}},
            ("chat", 5),
        ),
        ({"update_id": 3, "inline_query": {"from": {"id": 7}}}, ("user", 7)),
        ({"update_id": 4, "message": {"chat": "bad"}}, ("update", 4)),
    ],
)
def test_updates_wait_for_their_own_chat(update: dict, key: tuple) -> None:
    assert chat_key(update) == key


def webhook_bot(standin: BotApiStandIn, answerer: Answerer, tmp_path: Path) -> tuple[Bot, str]:
    """Returns the bot run as a webhook on a free local port, and the URL it listens on."""
    from bot.telegram.app import WEBHOOK_PATH

    from .test_app import free_port

    port = free_port()
    bot = Bot(
        standin,
        answerer,
        tmp_path,
        BOT_WEBHOOK_URL="https://bot.example.test",
        BOT_WEBHOOK_LISTEN="127.0.0.1",
        BOT_WEBHOOK_PORT=str(port),
    )
    return bot, f"http://127.0.0.1:{port}/{WEBHOOK_PATH}"


async def test_webhook_stores_updates_and_refuses_malformed_bodies(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    import aiohttp

    bot, local = webhook_bot(standin, shared_answerer, tmp_path)
    async with running(bot):
        await standin.wait_for(lambda: standin.webhook.get("url"), timeout=30)
        secret = {"X-Telegram-Bot-Api-Secret-Token": standin.webhook["secret_token"]}
        statuses = []
        async with aiohttp.ClientSession() as session:
            for body in (b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "x"}'):
                async with session.post(local, data=body, headers=secret) as response:
                    statuses.append(response.status)
        assert statuses == [400, 400, 400, 400]
        update = standin.push_message(FIRST_USER, LEGEVAKT)
        assert await standin.post_to_webhook(local, update) == 200
        assert await standin.post_to_webhook(local, update) == 200  # Telegram's retry
        await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=10)
        await asyncio.sleep(0.5)
        await bot.stop()
    assert answers(standin, range(FIRST_USER, FIRST_USER + 1))[FIRST_USER] == 1
    assert "Traceback" not in bot.stderr


async def test_a_webhook_update_the_locked_inbox_cannot_store_is_refused_then_answered_once(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> None:
    bot, local = webhook_bot(standin, shared_answerer, tmp_path)
    inbox = tmp_path / "run-inbox.sqlite3"
    async with running(bot):
        await standin.wait_for(lambda: standin.webhook.get("url"), timeout=30)
        update = standin.push_message(FIRST_USER, LEGEVAKT)
        with locked(inbox):
            # Not stored within the inbox's 2 s busy timeout: a 500, so Telegram sends
            # the update again; answering it unstored could lose it in a crash.
            assert await standin.post_to_webhook(local, update) == 500
            await asyncio.sleep(0.5)
            assert not answers(standin, range(FIRST_USER, FIRST_USER + 1))
        assert await standin.post_to_webhook(local, update) == 200  # Telegram's retry
        await standin.wait_for_messages(1, chat_id=FIRST_USER, timeout=10)
        assert await standin.post_to_webhook(local, update) == 200  # and once more
        await asyncio.sleep(0.5)
        await bot.stop()
    assert answers(standin, range(FIRST_USER, FIRST_USER + 1))[FIRST_USER] == 1
    assert "cannot store an update; Telegram will send it again" in bot.stderr
    assert "Traceback" not in bot.stderr

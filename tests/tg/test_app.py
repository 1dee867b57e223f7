"""The Application: command menu, flood limits, secrets, webhook, and the real process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path

import aiohttp
import pytest

from bot import logsetup
from bot.core.service import Answerer
from bot.devtools.standin import BotApiStandIn
from bot.telegram.app import ALLOWED_UPDATES, WEBHOOK_PATH, api_urls

from .support import AMBIGUOUS, DECLINED, LEGEVAKT, USER, Harness, HarnessFactory, blockquotes

ROOT = Path(__file__).resolve().parents[2]


async def test_commands_are_registered(bot: Harness) -> None:
    commands = {c["command"]: c["description"] for c in bot.standin.commands}
    assert list(commands) == ["start", "help", "kilder", "spor"]
    assert "Dokumentene" in commands["kilder"]
    assert ('{"type": "default"}', "en") in bot.standin.command_sets


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


async def test_a_burst_of_200_questions_from_50_users_is_answered_and_logged(
    make_bot: HarnessFactory,
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


async def test_the_token_never_reaches_the_logs(
    make_bot: HarnessFactory,
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
    # httpx did log its request lines, their URLs (token and all) reduced to their type.
    assert "HTTP Request: POST <" in caplog.text
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
    standin: BotApiStandIn, make_app: Callable[..., Harness]
) -> None:
    app = make_app().app
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

"""Fixtures for the Telegram tests: the real PTB Application, over HTTP, against the stand-in.

Nothing inside PTB is patched and no Bot object is faked: the Application polls the
stand-in (or receives webhook posts from it), sends real requests that the stand-in
validates as Telegram does, and records into a real SQLite question log in tmp_path.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.core.dialogue import Conversations
from bot.core.service import Answerer
from bot.devtools.standin import BotApiStandIn
from bot.questionlog import Pseudonymizer, QuestionLog
from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, build_application

from .support import ADMIN, Harness, HarnessFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def shared_answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    """Loads one knowledge copy for the tests that only read it (loading takes a second)."""
    target = tmp_path_factory.mktemp("shared") / "knowledge"
    return Answerer(Path(shutil.copytree(ROOT / "knowledge", target)))


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    """Serves a Bot API stand-in; afterwards, nothing the bot sent may have been refused."""
    async with BotApiStandIn() as server:
        yield server
    refused = [e for e in server.errors if not e.injected]
    assert refused == [], [f"{e.method}: {e.description}" for e in refused]


@pytest.fixture
def make_app(
    standin: BotApiStandIn, shared_answerer: Answerer, tmp_path: Path
) -> Callable[..., Harness]:
    """Builds bots (not yet running) on the stand-in, with setting overrides or own knowledge."""

    def build(answerer: Answerer | None = None, **overrides: Any) -> Harness:
        values: dict[str, Any] = {
            "telegram_bot_token": standin.token,
            "telegram_base_url": standin.base_url,
            "bot_admin_ids": frozenset({ADMIN}),
            "bot_database": tmp_path / "questions.sqlite3",
            "bot_rate_limit": 20,
        }
        settings = Settings(_env_file=None, **{**values, **overrides})  # ignore any .env
        log = QuestionLog(settings.bot_database, pseudonymizer=Pseudonymizer(b"t" * 32))
        if answerer is None:
            # A new bot remembers no conversation (topics live in memory only), though
            # the tests share the loaded knowledge.
            shared_answerer.conversations = Conversations()
            answerer = shared_answerer
        app = build_application(settings, answerer, log)
        return Harness(app, standin, log, answerer, settings.bot_database)

    return build


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


@pytest.fixture
async def make_bot(make_app: Callable[..., Harness]) -> AsyncIterator[HarnessFactory]:
    """Starts bots on demand (with setting overrides or their own knowledge) and stops them."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(answerer: Answerer | None = None, **overrides: Any) -> Harness:
            harness = make_app(answerer, **overrides)
            await stack.enter_async_context(polling(harness.app))
            return harness

        yield start


@pytest.fixture
async def bot(make_bot: HarnessFactory) -> Harness:
    """A running bot with default settings and the shared knowledge."""
    return await make_bot()

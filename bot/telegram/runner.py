"""Receiving updates: the durable inbox, answering in parallel with each chat in order,
and a stop that fits Docker.

python-telegram-bot's own Updater confirms updates to Telegram as soon as it fetches
them and queues them in memory, so a crash loses every question not yet answered, and
an update its types cannot read stops polling for good. Here each update is written to
the inbox (SQLite) first; only the next ``getUpdates`` confirms it, and it is marked
done once its reply has been sent. Updates are handed to the Application's own
``process_update`` (handlers, error handler and all), several chats at a time, one
update at a time per chat; how many are fetched ahead is bounded, so memory and the
time a stop takes stay bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.questionlog import StoreError
from bot.questionlog.inbox import Inbox

logger = logging.getLogger(__name__)

# The raw getUpdates is on purpose: Bot.get_updates parses every update of a batch, and
# one it cannot parse makes it fail the whole batch again and again.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

# Updates answered at the same time (each chat still one at a time).
CONCURRENCY = 64
# Updates fetched but not yet answered, at most: bounds memory and the drain at a stop.
AHEAD = 96
POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open when there is nothing new
# A stop finishes the replies in flight for at most this long (Docker waits 10 s).
DRAIN_SECONDS = 5.0
OUTAGE_FIRST_DELAY = 0.5
OUTAGE_MAX_DELAY = 30.0


def inbox_path(database: Path) -> Path:
    """Returns the inbox's database file: its own file beside the question log."""
    return database.with_name(f"{database.stem}-inbox.sqlite3")


def chat_key(update: dict[str, Any]) -> Hashable:
    """Returns whose turn an update waits for: its chat, else its sender, else itself."""
    for kind, body in update.items():
        if not isinstance(body, dict) or kind == "update_id":
            continue
        for holder in (body.get("message"), body):
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return ("chat", chat["id"])
        sender = body.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return ("user", sender["id"])
    return ("update", update.get("update_id"))


class Dispatcher:
    """Answers updates concurrently, one at a time per chat, and marks each done."""

    def __init__(self, app: Application, inbox: Inbox, *, concurrency: int = CONCURRENCY) -> None:
        self.app = app
        self.inbox = inbox
        self._slots = asyncio.Semaphore(concurrency)
        self._last: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._room.set()
        # Answered updates not yet marked done in the inbox. One marker task marks them
        # together, batch after batch (the answers that finish during a batch go in the
        # next); while the inbox cannot be written they are kept, for the next answer's
        # batch or the last one at a stop, so a restart does not answer them twice.
        self._unmarked: set[int] = set()
        self._marker: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        """Returns how many updates are being answered or wait their turn."""
        return len(self._tasks)

    def submit(self, update: dict[str, Any]) -> None:
        """Queues an update behind the ones before it in the same chat."""
        key = chat_key(update)
        before = self._last.get(key)
        task = asyncio.get_running_loop().create_task(self._answer(before, update))
        self._last[key] = task
        self._tasks.add(task)
        if len(self._tasks) >= AHEAD:
            self._room.clear()

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            if self._last.get(key) is done:
                del self._last[key]
            if len(self._tasks) < AHEAD:
                self._room.set()

        task.add_done_callback(finished)

    async def room(self) -> int:
        """Waits until more updates may be fetched; returns how many."""
        await self._room.wait()
        return max(1, AHEAD - len(self._tasks))

    async def _answer(self, before: asyncio.Task[None] | None, raw: dict[str, Any]) -> None:
        """Answers one update after its chat's previous one, then has it marked done."""
        if before is not None:
            await asyncio.wait([before])
        update_id = int(raw["update_id"])
        async with self._slots:
            try:
                update = Update.de_json(raw, self.app.bot)
            except Exception as exc:  # Telegram sent something its own types cannot read
                update = None
                # Logged once, without its content: it may name a person.
                logger.warning(
                    "skipped update %d: it cannot be read (%s)", update_id, type(exc).__name__
                )
            if update is not None:
                await self.app.process_update(update)
        self._unmarked.add(update_id)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.get_running_loop().create_task(self._mark())

    async def _mark(self) -> None:
        """Marks the answered updates done in the inbox, batch after batch, until none is
        left or the inbox cannot be written (they are kept for the next try)."""
        while self._unmarked:
            batch = sorted(self._unmarked)
            try:
                await self.inbox.done(*batch)
            except StoreError as exc:
                logger.error(
                    "%d answered updates could not be marked so yet (%s); trying again later",
                    len(batch),
                    exc,
                )
                return
            self._unmarked.difference_update(batch)

    async def settle(self, seconds: float) -> int:
        """Marks what was answered, for at most ``seconds`` (at a stop); returns how many
        answered updates are left unmarked (they will be answered again at the start)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.5)):
                if self._marker is not None and not self._marker.done():
                    await asyncio.wait([self._marker])
                await self._mark()
        if self._marker is not None and not self._marker.done():
            self._marker.cancel()
            await asyncio.wait([self._marker])
        return len(self._unmarked)

    async def drain(self, seconds: float) -> int:
        """Waits up to ``seconds`` for the updates in flight; returns how many were left."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
            return len(pending)
        return 0


class Outage:
    """Says once that the Bot API is unreachable and once that it is back."""

    def __init__(self) -> None:
        self.down = False
        self.delay = OUTAGE_FIRST_DELAY

    def failed(self, exc: Exception) -> float:
        """Notes a failure; returns how long to wait before the next try."""
        if not self.down:
            self.down = True
            logger.warning(
                "the Telegram Bot API is unreachable (%s); retrying quietly until it answers",
                type(exc).__name__,
            )
        delay, self.delay = self.delay, min(2 * self.delay, OUTAGE_MAX_DELAY)
        return delay

    def succeeded(self) -> None:
        """Notes a success: says the API is back if it was down."""
        if self.down:
            logger.info("the Telegram Bot API is reachable again")
        self.down, self.delay = False, OUTAGE_FIRST_DELAY


async def poll(
    app: Application,
    inbox: Inbox,
    dispatcher: Dispatcher,
    *,
    allowed_updates: list[str],
    hold: int = POLL_TIMEOUT,
) -> None:
    """Fetches updates until cancelled: stored first, then confirmed by the next fetch."""
    offset = await inbox.next_offset()
    outage = Outage()
    while True:
        limit = min(100, await dispatcher.room())
        try:
            raw = await app.bot.do_api_request(
                "getUpdates",
                api_kwargs={
                    "offset": offset,
                    "limit": limit,
                    "timeout": hold,
                    "allowed_updates": allowed_updates,
                },
                read_timeout=hold + 10,
            )
        except InvalidToken:
            raise
        except (NetworkError, TelegramError) as exc:
            await asyncio.sleep(outage.failed(exc))
            continue
        outage.succeeded()
        updates = [u for u in raw if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        if offset is not None:
            try:
                await inbox.confirmed(offset)
            except StoreError as exc:  # only tidying: the next poll tries again
                logger.warning("could not tidy the inbox: %s", exc)
        if not updates:
            continue
        fresh = await _store(inbox, updates)
        if fresh is None:
            continue  # not stored, so not confirmed: fetched again after the pause
        offset = max(u["update_id"] for u in updates) + 1
        for update in fresh:
            dispatcher.submit(update)


async def _store(inbox: Inbox, updates: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Stores fetched updates; on a database fault waits a moment and returns None."""
    try:
        return await inbox.add(updates)
    except StoreError as exc:
        logger.error("cannot store updates, fetching them again shortly: %s", exc)
        await asyncio.sleep(1.0)
        return None


async def _tidy(inbox: Inbox) -> None:
    """Hourly: forgets the numbers of answered updates older than a day."""
    while True:
        await asyncio.sleep(3600)
        try:
            await inbox.tidy()
        except StoreError as exc:
            logger.warning("could not tidy the inbox: %s", exc)


class Stop:
    """SIGTERM and SIGINT: set once, and the time it came."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.at: float | None = None

    def install(self) -> None:
        """Listens for the stop signals on the running loop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.set)

    def set(self) -> None:
        if self.at is None:
            self.at = time.monotonic()
        self.event.set()


async def serve(
    app: Application,
    *,
    database: Path,
    allowed_updates: list[str],
    webhook: WebhookConfig | None = None,
    stop: Stop | None = None,
) -> None:
    """Runs the Application on the inbox until a stop signal, then stops within the drain."""
    stop = stop or Stop()
    stop.install()
    inbox = Inbox(inbox_path(database))
    await inbox.open()
    try:
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        dispatcher = Dispatcher(app, inbox)
        waiting = await inbox.undone()
        if waiting:
            logger.info("answering %d updates received before the last stop", len(waiting))
        for update in waiting:
            dispatcher.submit(update)
        if webhook is None:
            receiving: asyncio.Task[None] | None = asyncio.create_task(
                poll(app, inbox, dispatcher, allowed_updates=allowed_updates)
            )
            server = None
        else:
            receiving = None
            server = await start_webhook(app, inbox, dispatcher, webhook, allowed_updates)
        tidying = asyncio.create_task(_tidy(inbox))
        waiter = asyncio.create_task(stop.event.wait())
        watched = {waiter} | ({receiving} if receiving else set())
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if receiving is not None and receiving.done() and not receiving.cancelled():
            waiter.cancel()
            receiving.result()  # raises what stopped polling (a rejected token)
        logger.info("stopping: finishing %d replies in flight", dispatcher.in_flight)
        if receiving is not None:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
        if server is not None:
            server.stop()
        tidying.cancel()
        stopping = time.monotonic()
        left = await dispatcher.drain(DRAIN_SECONDS)
        unmarked = await dispatcher.settle(DRAIN_SECONDS - (time.monotonic() - stopping))
        if left:
            logger.warning("%d updates wait in the inbox for the next start", left)
        if unmarked:
            logger.warning(
                "%d answered updates could not be marked done; they will be answered again "
                "at the next start",
                unmarked,
            )
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
    finally:
        await inbox.close()


# --------------------------------------------------------------------------- webhook


class WebhookConfig:
    """Where the webhook listens, the public URL Telegram posts to, and its secret."""

    def __init__(self, *, listen: str, port: int, path: str, url: str, secret: str) -> None:
        self.listen = listen
        self.port = port
        self.path = path
        self.url = url
        self.secret = secret


async def start_webhook(
    app: Application,
    inbox: Inbox,
    dispatcher: Dispatcher,
    config: WebhookConfig,
    allowed_updates: list[str],
) -> Any:
    """Serves the webhook (each update stored before the 200) and registers it with Telegram."""
    import tornado.httpserver
    import tornado.web

    class Receive(tornado.web.RequestHandler):
        """Takes one update from Telegram: 403 without the secret, 400 if malformed."""

        async def post(self) -> None:
            if self.request.headers.get("X-Telegram-Bot-Api-Secret-Token") != config.secret:
                self.set_status(403)
                return
            try:
                body = json.loads(self.request.body)
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
                self.set_status(400)
                return
            try:
                fresh = await inbox.add([body])
            except StoreError as exc:
                logger.error("cannot store an update; Telegram will send it again: %s", exc)
                self.set_status(500)
                return
            for update in fresh:
                dispatcher.submit(update)
            self.set_status(200)

        def log_exception(self, *args: Any) -> None:
            """Keeps tornado's tracebacks of requests (with their bodies) out of the log."""

    web = tornado.web.Application([(f"/{config.path}", Receive)], log_function=lambda _: None)
    server = tornado.httpserver.HTTPServer(web, max_body_size=1_000_000)
    server.listen(config.port, address=config.listen)
    outage = Outage()
    while True:
        try:
            await app.bot.set_webhook(
                url=config.url,
                secret_token=config.secret,
                allowed_updates=allowed_updates,
                max_connections=40,
            )
            break
        except InvalidToken:
            server.stop()
            raise
        except NetworkError as exc:
            await asyncio.sleep(outage.failed(exc))
    outage.succeeded()
    return server

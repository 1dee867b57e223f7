"""What the handlers share: settings, the core, the log, and limits kept in memory only."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from telegram import User
from telegram.ext import ContextTypes

from bot.core.events import Channel, QuestionEvent
from bot.core.replies import Reply
from bot.core.service import Answerer, log_event
from bot.questionlog import QuestionLog
from bot.questionlog.handover import HandoverDesk
from bot.settings import Settings

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

STATE_KEY = "lillestrom"
MAX_CALLBACK_BYTES = 64
INLINE_DEBOUNCE_SECONDS = 2.0
RATE_WINDOW_SECONDS = 60.0
LOG_WAIT_SECONDS = 2.0

Verdict = Literal["ok", "notify", "drop"]


class QuestionLimiter:
    """Allows each user a number of questions per minute and tells them once when they exceed it.

    Kept in memory only, keyed by Telegram user id; nothing of it is ever stored.
    """

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._asked: dict[int, deque[float]] = {}
        self._told: set[int] = set()

    def check(self, user_id: int) -> Verdict:
        """Returns "ok" (answer), "notify" (tell them once) or "drop" (stay silent)."""
        now = time.monotonic()
        if len(self._asked) > 10_000:
            self._forget_idle(now)
        asked = self._asked.setdefault(user_id, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) < self.limit:
            asked.append(now)
            self._told.discard(user_id)
            return "ok"
        if user_id in self._told:
            return "drop"
        self._told.add(user_id)
        return "notify"

    def _forget_idle(self, now: float) -> None:
        """Drops users who asked nothing within the window, so memory stays bounded."""
        idle = [
            u for u, asked in self._asked.items() if not asked or asked[-1] <= now - self.window
        ]
        for user_id in idle:
            del self._asked[user_id]
            self._told.discard(user_id)


class InlineRecorder:
    """Records a user's inline query only once they pause, so keystrokes are not each a row."""

    def __init__(self, record: Callable[[QuestionEvent], object], delay: float) -> None:
        self._record = record
        self._delay = delay
        self._pending: dict[int, tuple[QuestionEvent, asyncio.TimerHandle]] = {}

    def offer(self, user_id: int, event: QuestionEvent) -> None:
        """Replaces the user's pending query with this one and restarts the pause timer."""
        previous = self._pending.pop(user_id, None)
        if previous is not None:
            previous[1].cancel()
        handle = asyncio.get_running_loop().call_later(self._delay, self._fire, user_id)
        self._pending[user_id] = (event, handle)

    def _fire(self, user_id: int) -> None:
        """Records the user's pending query, if it is still waiting."""
        pending = self._pending.pop(user_id, None)
        if pending is not None:
            self._record(pending[0])

    def flush(self) -> None:
        """Records every pending query now (at shutdown)."""
        for user_id in list(self._pending):
            self._pending[user_id][1].cancel()
            self._fire(user_id)


def fits(data: str) -> bool:
    """Tells whether callback data fits Telegram's 64-byte limit."""
    return 0 < len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES


class CallbackKeys:
    """Stands in short keys ("k:N") for button data longer than Telegram's 64 bytes.

    Entry ids may be long enough that "a:ID" or "te:REF:ID" does not fit. The full data
    is kept in memory only, for the most recent buttons; after a restart such a button
    is answered as stale, like any other button the bot no longer knows.

    PTB's ``arbitrary_callback_data`` would do this for every button, but it replaces
    all callback data with cache keys: the buttons under answers sent before a restart
    (votes, examples) would go stale, and every keyboard would cost cache memory. Only
    the rare long data needs a key, so the self-contained data stays on the buttons.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._data: OrderedDict[str, str] = OrderedDict()
        self._numbers = itertools.count(1)

    def fit(self, data: str) -> str:
        """Returns the data itself if it fits, else a short key that stands for it."""
        if fits(data):
            return data
        key = str(next(self._numbers))
        self._data[key] = data
        while len(self._data) > self._capacity:
            self._data.popitem(last=False)
        return f"k:{key}"

    def resolve(self, key: str) -> str | None:
        """Returns the data behind a short key, or None if it is unknown or forgotten."""
        return self._data.get(key)

    def expand(self, data: object) -> str:
        """Returns a button's full data: short keys resolved, "" for anything unknown."""
        if not isinstance(data, str):
            return ""
        if data.startswith("k:"):
            return self.resolve(data[2:]) or ""
        return data

    def kind(self, kind: str) -> Callable[[object], bool]:
        """Returns a CallbackQueryHandler pattern matching one button kind (its prefix)."""

        def matches(data: object) -> bool:
            return self.expand(data).partition(":")[0] == kind

        return matches


@dataclass
class BotState:
    """Everything the handlers share: settings, the core, the log and in-memory limits."""

    settings: Settings
    answerer: Answerer
    log: QuestionLog | None
    limiter: QuestionLimiter = field(init=False)
    inline: InlineRecorder = field(init=False)
    keys: CallbackKeys = field(default_factory=CallbackKeys)
    # Teaching edits YAML files read-modify-write; one at a time keeps every change.
    teaching: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Handover cases (only with BOT_STAFF_CHAT_ID set).
    desk: HandoverDesk | None = None

    def __post_init__(self) -> None:
        self.limiter = QuestionLimiter(self.settings.bot_rate_limit)
        self.inline = InlineRecorder(self.store, INLINE_DEBOUNCE_SECONDS)

    def is_admin(self, user: User | None) -> bool:
        """Tells whether a Telegram user is one of the configured admins."""
        return user is not None and user.id in self.settings.bot_admin_ids

    def event(
        self,
        question: str,
        channel: Channel,
        reply: Reply,
        latency_ms: float,
        user: User | None,
        *,
        chosen: bool = False,
    ) -> QuestionEvent | None:
        """Builds the log event for a reply, or None when there is no log."""
        if self.log is None:
            return None
        try:
            return log_event(
                reply,
                question=question,
                channel=channel,
                latency_ms=latency_ms,
                user_key=self.log.user_key_for(user.id if user else None),
                chosen=chosen,
            )
        except Exception:  # recording must never cost the resident the answer
            logger.exception("could not build a question-log event")
            return None

    def record(
        self,
        question: str,
        channel: Channel,
        reply: Reply,
        latency_ms: float,
        user: User | None,
        *,
        chosen: bool = False,
    ) -> str | None:
        """Queues a question for the log and returns its ref (None without a log)."""
        event = self.event(question, channel, reply, latency_ms, user, chosen=chosen)
        return None if event is None else self.store(event)

    def store(self, event: QuestionEvent) -> str | None:
        """Queues an event for the log; returns its ref, or None if that failed."""
        if self.log is None:
            return None
        try:
            return self.log.record(event)
        except Exception:  # the log is queue-based, but a bug there must not break answers
            logger.exception("could not record a question")
            return None

    def undelivered(self, ref: str | None) -> None:
        """Marks a logged question whose reply never reached the resident."""
        if self.log is None or ref is None:
            return
        try:
            self.log.undelivered(ref)
        except Exception:
            logger.exception("could not mark a reply undelivered")

    def vote(self, ref: str, value: int) -> None:
        """Queues a vote on a logged answer."""
        if self.log is None:
            return
        try:
            self.log.vote(ref, value)
        except Exception:
            logger.exception("could not record a vote")

    async def settled_log(self) -> QuestionLog | None:
        """Returns the log after a short wait for queued writes, so admins see fresh rows."""
        if self.log is None:
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOG_WAIT_SECONDS):
                await self.log.flush()
        return self.log


def state_of(context: Context) -> BotState:
    """Returns the shared bot state stored in the application's bot_data."""
    state = context.bot_data[STATE_KEY]
    if not isinstance(state, BotState):
        raise TypeError(f"bot_data[{STATE_KEY!r}] is not the bot state")
    return state

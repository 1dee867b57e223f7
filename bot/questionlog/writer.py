"""The question log's background writer: an in-memory queue drained into SQLite in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NamedTuple

import aiosqlite

from bot.core.events import QuestionEvent
from bot.questionlog.errors import StoreError
from bot.questionlog.schema import (
    INSERT_SQL,
    PERMANENT_ERRORS,
    UNDELIVERED_SQL,
    VOTE_SQL,
    Undelivered,
    Vote,
    insert_row,
    vote_row,
)

logger = logging.getLogger(__name__)


class _Item(NamedTuple):
    seq: int
    payload: QuestionEvent | Vote | Undelivered


class Writer:
    """Queues events and votes and writes them from one task, retrying while SQLite fails."""

    # enqueue() is synchronous and must be called on the event loop's thread; it only
    # appends to the queue, so the answer path never waits for the disk.

    def __init__(
        self,
        path: Path,
        lock: asyncio.Lock,
        *,
        max_pending: int,
        batch_size: int,
        retry_initial: float,
        retry_max: float,
    ) -> None:
        self.path = path
        self._lock = lock  # shared with the log's deletions: one write transaction at a time
        self._max_pending = max_pending
        self._batch_size = min(batch_size, max_pending)
        self._retry_initial = retry_initial
        self._retry_max = retry_max

        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._queue: deque[_Item] = deque()
        self._inflight: list[_Item] = []
        self._seq = 0
        self._dropped = 0
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._progress = asyncio.Event()
        self._closing = False
        self._failing = False
        self.failed_attempts = 0
        self._overflow_warned = False
        self._closed_warned = False
        self._reopen: Callable[[], Awaitable[aiosqlite.Connection]] | None = None
        self._file: tuple[int, int] | None = None
        self._replaced_warned = False

    @property
    def pending(self) -> int:
        """Counts queued items (events and votes) not yet written."""
        return len(self._queue) + len(self._inflight)

    @property
    def dropped(self) -> int:
        """Counts items given up on: queue overflow, rejected data, or unwritten at close."""
        return self._dropped

    def start(
        self,
        conn: aiosqlite.Connection,
        *,
        reopen: Callable[[], Awaitable[aiosqlite.Connection]] | None = None,
    ) -> None:
        """Starts the task that writes the queue through conn (reopened by ``reopen``)."""
        self._conn = conn
        self._reopen = reopen
        self._file = _identity(self.path)
        self._task = asyncio.create_task(self._run(), name="question-log-writer")

    async def _heal(self, exc: BaseException) -> None:
        """Reopens the database after a failure that a fresh connection may cure.

        SQLite keeps a read-only connection read-only after the file becomes writable,
        and keeps writing to a deleted file that no one will ever read.
        """
        message = str(exc).lower()
        replaced = "deleted or replaced" in message
        # Read-only: every third failed attempt tries a fresh connection (cheap).
        readonly = "readonly" in message and self.failed_attempts % 3 == 0
        if self._reopen is None or not (replaced or readonly):
            return
        try:
            self._conn = await self._reopen()
        except Exception as failure:  # still broken: the next attempt tries again
            logger.debug("question log could not be reopened yet: %s", type(failure).__name__)
            return
        self._file = _identity(self.path)
        logger.info("question log %s reopened after %s", self.path, type(exc).__name__)

    async def stop(self, grace: float) -> int:
        """Refuses new items, writes for at most grace seconds, returns how many were given up."""
        self._closing = True
        self._stop.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self.flush()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        unwritten = self.pending
        if unwritten:
            self._dropped += unwritten
            self._queue.clear()
            self._inflight = []
            logger.warning(
                "question log closed with %d events that could not be written to %s",
                unwritten,
                self.path,
            )
        self._notify_progress()
        self._conn = None
        return unwritten

    def enqueue(self, payload: QuestionEvent | Vote | Undelivered) -> None:
        """Queues an event or a vote; when full, drops the oldest queued item instead."""
        if self._closing:
            self._dropped += 1
            if not self._closed_warned:
                self._closed_warned = True
                logger.warning("question log %s is closed; discarding new events", self.path)
            return
        if self.pending >= self._max_pending:
            self._dropped += 1
            if self._queue:
                # The newest events are the most useful; the in-flight batch stays intact.
                self._queue.popleft()
                self._queue.append(self._next_item(payload))
            if not self._overflow_warned:
                self._overflow_warned = True
                logger.warning(
                    "question log queue is full (%d items); dropping the oldest", self._max_pending
                )
            self._notify_progress()
        else:
            self._queue.append(self._next_item(payload))
        self._wakeup.set()

    def discard_events_of(self, user_key: str) -> int:
        """Removes one user's unwritten events (call it holding the lock); returns the count."""
        before = self.pending
        self._queue = deque(i for i in self._queue if not _belongs_to(i, user_key))
        self._inflight = [i for i in self._inflight if not _belongs_to(i, user_key)]
        self._notify_progress()
        return before - self.pending

    async def flush(self) -> bool:
        """Waits until everything queued so far is written or given up; False if no writer runs."""
        # No timeout parameter: while the database stays locked this keeps waiting, so
        # callers that need a bound wrap it in `asyncio.timeout()` (stop() does).
        target = self._seq
        while self._oldest_outstanding() <= target:
            if self._task is None or self._task.done():
                return False
            await self._progress.wait()
        return True

    def _next_item(self, payload: QuestionEvent | Vote | Undelivered) -> _Item:
        self._seq += 1
        return _Item(self._seq, payload)

    def _oldest_outstanding(self) -> float:
        if self._inflight:
            return self._inflight[0].seq
        if self._queue:
            return self._queue[0].seq
        return math.inf

    def _notify_progress(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def _run(self) -> None:
        delay = self._retry_initial
        while True:
            try:
                if not self._inflight and not self._queue:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._write_pending()
            except asyncio.CancelledError:
                raise
            except sqlite3.Error as exc:
                self._on_failure(exc)
                await self._pause(delay)
                delay = min(delay * 2, self._retry_max)
                await self._heal(exc)
            except Exception:
                # A bug must not kill the writer silently and strand every later event.
                logger.exception("question log writer failed unexpectedly")
                await self._pause(delay)
                delay = min(delay * 2, self._retry_max)
            else:
                delay = self._retry_initial
                self._on_success()

    async def _pause(self, delay: float) -> None:
        if self._closing:
            # stop() has a deadline; keep trying at a short, steady pace.
            await asyncio.sleep(min(delay, 0.05))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    def _on_failure(self, exc: BaseException) -> None:
        self.failed_attempts += 1
        if not self._failing:
            self._failing = True
            logger.error(
                "question log cannot write to %s (%s: %s); keeping %d items and retrying",
                self.path,
                type(exc).__name__,
                exc,
                self.pending,
            )

    def _on_success(self) -> None:
        if self._failing:
            logger.info(
                "question log writes to %s again after %d failed attempts",
                self.path,
                self.failed_attempts,
            )
        self._failing = False
        self.failed_attempts = 0
        self._overflow_warned = False

    async def _write_pending(self) -> None:
        if self._conn is None:
            raise StoreError("question log is not open")
        if self._reopen is not None and _identity(self.path) != self._file:
            if not self._replaced_warned:
                self._replaced_warned = True
                logger.warning(
                    "question log file %s was deleted or replaced; starting it afresh", self.path
                )
            raise sqlite3.OperationalError("the database file was deleted or replaced")
        conn = self._conn
        async with self._lock:
            while self._queue and len(self._inflight) < self._batch_size:
                self._inflight.append(self._queue.popleft())
            if not self._inflight:
                return
            try:
                await _write_items(conn, self._inflight)
            except PERMANENT_ERRORS:
                await self._write_one_by_one(conn)
            else:
                self._inflight = []
        self._notify_progress()

    async def _write_one_by_one(self, conn: aiosqlite.Connection) -> None:
        # Something in the batch is unstorable; isolate it so the rest still lands.
        while self._inflight:
            item = self._inflight[0]
            try:
                await _write_items(conn, [item])
            except PERMANENT_ERRORS as exc:
                self._dropped += 1
                ref = item.payload.ref
                logger.error("question log rejected item %s: %s: %s", ref, type(exc).__name__, exc)
            self._inflight.pop(0)


def _identity(path: Path) -> tuple[int, int] | None:
    """Returns what identifies a file on disk (device, inode), or None if it is gone."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _belongs_to(item: _Item, user_key: str) -> bool:
    return isinstance(item.payload, QuestionEvent) and item.payload.user_key == user_key


async def _write_items(conn: aiosqlite.Connection, items: list[_Item]) -> None:
    inserts = [insert_row(i.payload) for i in items if isinstance(i.payload, QuestionEvent)]
    # Votes always follow the event they refer to, so applying them after the inserts
    # of the same batch keeps their order.
    votes = [vote_row(i.payload) for i in items if isinstance(i.payload, Vote)]
    undelivered = [(i.payload.ref,) for i in items if isinstance(i.payload, Undelivered)]
    await conn.execute("BEGIN IMMEDIATE")
    try:
        if inserts:
            cur = await conn.executemany(INSERT_SQL, inserts)
            if 0 <= cur.rowcount < len(inserts):
                logger.warning(
                    "question log ignored %d events with duplicate refs",
                    len(inserts) - cur.rowcount,
                )
        if votes:
            await conn.executemany(VOTE_SQL, votes)
        if undelivered:
            await conn.executemany(UNDELIVERED_SQL, undelivered)
        await conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await conn.execute("ROLLBACK")
        raise

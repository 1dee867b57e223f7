"""The question log: a pseudonymous, non-blocking SQLite record of what residents ask."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiosqlite

from bot.core.events import Channel, Outcome, QuestionEvent, as_utc, utcnow
from bot.questionlog.daily import DayCounts, count_by_day, first_moment
from bot.questionlog.errors import StoreError
from bot.questionlog.privacy import Pseudonymizer, load_or_create_secret
from bot.questionlog.reports import AskedQuestion, Stats, UnansweredGroup, group_questions, rate
from bot.questionlog.schema import (
    DISMISS_REASONS,
    SCHEMA_VERSION,
    SELECT_COLUMNS,
    StoredQuestion,
    Undelivered,
    Vote,
    iso,
    migrate,
    stored_question,
)
from bot.questionlog.writer import Writer

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["QuestionLog", "open_question_log"]

logger = logging.getLogger(__name__)


class QuestionLog:
    """Stores question events in SQLite through a background writer that never blocks answers."""

    # record() and vote() are synchronous and must be called on the event loop's thread;
    # they only append to an in-memory queue that one writer task drains in batches.
    # Old rows go only when purge() is called (the Telegram app runs it daily).

    def __init__(
        self,
        path: Path,
        *,
        pseudonymizer: Pseudonymizer,
        retention_days: int = 180,
        max_pending: int = 50_000,
        batch_size: int = 500,
        busy_timeout_ms: int = 5_000,
        retry_initial: float = 0.1,
        retry_max: float = 30.0,
        close_timeout: float = 5.0,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if max_pending < 1 or batch_size < 1:
            raise ValueError("max_pending and batch_size must be positive")
        self.path = Path(path)
        self.pseudonymizer = pseudonymizer
        self.retention_days = retention_days
        self._busy_timeout_ms = busy_timeout_ms
        self._close_timeout = close_timeout
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()  # one write transaction at a time on the shared connection
        self._writer = Writer(
            self.path,
            self._lock,
            max_pending=max_pending,
            batch_size=batch_size,
            retry_initial=retry_initial,
            retry_max=retry_max,
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"QuestionLog({str(self.path)!r}, pending={self.pending}, dropped={self.dropped})"

    # ----------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Opens the database, applies migrations and starts the background writer."""
        if self._conn is not None:
            return
        if self._closed:
            raise StoreError("question log is closed")
        self._conn = await self._connect()
        self._writer.start(self._conn, reopen=self._reopen)
        logger.info("question log open at %s (schema v%d)", self.path, SCHEMA_VERSION)

    async def _connect(self) -> aiosqlite.Connection:
        """Creates (if needed) and opens the database file, migrated to the current schema."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # SQLite gives the -wal and -shm files the database's mode, so this
                # keeps all three private.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create question log {self.path}: {exc}") from exc

        conn: aiosqlite.Connection | None = None
        try:
            # Autocommit mode: transactions are explicit, so a failed batch leaves nothing open.
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            async with conn.execute("PRAGMA journal_mode = WAL") as cur:
                row = await cur.fetchone()
            mode = None if row is None else row[0]
            if str(mode).lower() != "wal":
                logger.warning("question log %s is not in WAL mode (%s)", self.path, mode)
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Erased rows (forget, purge) are overwritten, not left in free pages.
            await conn.execute("PRAGMA secure_delete = ON")
            await migrate(conn, self.path)
        except BaseException as exc:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise StoreError(f"cannot open question log {self.path}: {exc}") from exc
            raise
        return conn

    async def _reopen(self) -> aiosqlite.Connection:
        """Opens the database afresh (after it became writable, or was deleted or replaced)."""
        conn = await self._connect()
        old, self._conn = self._conn, conn
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        return conn

    async def close(self) -> int:
        """Flushes pending writes for at most close_timeout seconds, closes, returns unwritten."""
        if self._closed:
            return 0
        unwritten = await self._writer.stop(self._close_timeout)
        self._closed = True
        if self._conn is not None:
            try:
                await self._conn.close()
            except sqlite3.Error as exc:
                logger.warning("closing question log %s failed: %s", self.path, exc)
            self._conn = None
        return unwritten

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ----------------------------------------------------------------- writing

    @property
    def pending(self) -> int:
        """Counts queued items (events and votes) not yet written."""
        return self._writer.pending

    @property
    def dropped(self) -> int:
        """Counts items given up on: queue overflow, rejected data, or unwritten at close."""
        return self._writer.dropped

    def user_key_for(self, user_id: int | None) -> str | None:
        """Returns the pseudonymous key for a Telegram user id, or None without one."""
        return None if user_id is None else self.pseudonymizer.key(user_id)

    def record(self, event: QuestionEvent) -> str:
        """Queues an event for writing and returns its ref; never blocks or raises on I/O."""
        self._writer.enqueue(event)
        return event.ref

    def vote(self, ref: str, value: int) -> None:
        """Queues a 👍 (+1) or 👎 (-1) for the row with ref; 0 withdraws the vote."""
        if value not in (-1, 0, 1):
            raise ValueError("vote must be +1, -1 or 0")
        if value == 0:
            self._writer.enqueue(Vote(ref, None, None))
        else:
            self._writer.enqueue(Vote(ref, value, utcnow()))

    def undelivered(self, ref: str) -> None:
        """Queues a note that the reply to the row with ref never reached the resident."""
        self._writer.enqueue(Undelivered(ref))

    async def flush(self) -> bool:
        """Waits until everything queued so far is written or given up; False if no writer runs."""
        # No timeout parameter: while the database stays locked this keeps waiting, so
        # callers that need a bound wrap it in `asyncio.timeout()` (close() does).
        return await self._writer.flush()

    # ----------------------------------------------------------------- queries

    def _require_conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreError("question log is not open")
        return self._conn

    async def _fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = self._require_conn()
        try:
            async with conn.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"question log query failed: {exc}") from exc

    async def get(self, ref: str) -> StoredQuestion | None:
        """Returns the stored row for ref, or None (events still queued are not visible)."""
        rows = await self._fetchall(f"SELECT {SELECT_COLUMNS} FROM questions WHERE ref = ?", (ref,))
        return stored_question(rows[0]) if rows else None

    async def unanswered(
        self,
        *,
        days: int = 7,
        now: datetime | None = None,
        include_ambiguous: bool = False,
        score_cutoff: float = 80.0,
    ) -> list[UnansweredGroup]:
        """Returns declined questions of the last days, similar ones grouped, most asked first."""
        now = utcnow() if now is None else as_utc(now, "now")
        outcomes = [str(Outcome.DECLINED)]
        if include_ambiguous:
            outcomes.append(str(Outcome.AMBIGUOUS))
        marks = ", ".join("?" for _ in outcomes)
        rows = await self._fetchall(
            f"SELECT ref, question, asked_at, user_key FROM questions "
            f"WHERE outcome IN ({marks}) AND asked_at >= ? AND asked_at <= ? "
            f"ORDER BY asked_at, id",
            (*outcomes, iso(now - timedelta(days=days)), iso(now)),
        )
        asked = [
            (
                AskedQuestion(r["ref"], r["question"], datetime.fromisoformat(r["asked_at"])),
                r["user_key"],
            )
            for r in rows
        ]
        return group_questions(asked, score_cutoff=score_cutoff)

    async def failures(
        self, *, days: int = 7, now: datetime | None = None
    ) -> list[tuple[AskedQuestion, str | None]]:
        """Returns the questions to review of the last days, oldest first, with user keys.

        Declined, "mente du", related (honest partial answers) and 👎-voted ones, less
        those an admin dismissed.
        """
        now = utcnow() if now is None else as_utc(now, "now")
        rows = await self._fetchall(
            "SELECT ref, question, asked_at, user_key, outcome, vote, entry_id FROM questions"
            " WHERE (outcome IN (?, ?, ?) OR vote = -1) AND dismissed IS NULL"
            " AND asked_at >= ? AND asked_at <= ? ORDER BY asked_at, id",
            (
                str(Outcome.DECLINED),
                str(Outcome.AMBIGUOUS),
                str(Outcome.RELATED),
                iso(now - timedelta(days=days)),
                iso(now),
            ),
        )
        return [
            (
                AskedQuestion(
                    r["ref"],
                    r["question"],
                    datetime.fromisoformat(r["asked_at"]),
                    r["outcome"],
                    r["vote"],
                    r["entry_id"],
                ),
                r["user_key"],
            )
            for r in rows
        ]

    async def review(
        self, *, days: int = 7, now: datetime | None = None, score_cutoff: float = 80.0
    ) -> list[UnansweredGroup]:
        """Returns the failures of the last days (see failures), similar ones grouped."""
        asked = await self.failures(days=days, now=now)
        return group_questions(asked, score_cutoff=score_cutoff)

    async def dismiss(self, refs: list[str], reason: str) -> int:
        """Takes questions out of the review as correctly declined or handled; returns how many."""
        if reason not in DISMISS_REASONS:
            raise ValueError(f"reason must be one of {', '.join(DISMISS_REASONS)}")
        if not refs:
            return 0
        marks = ", ".join("?" for _ in refs)
        conn = self._require_conn()
        async with self._lock:
            try:
                cur = await conn.execute(
                    "UPDATE questions SET dismissed = ?, dismissed_at = ?"
                    f" WHERE ref IN ({marks}) AND dismissed IS NULL",
                    (reason, iso(utcnow()), *refs),
                )
            except sqlite3.Error as exc:
                raise StoreError(f"question log update failed: {exc}") from exc
        return cur.rowcount

    async def stats(
        self, *, days: int | None = None, now: datetime | None = None, top: int = 10
    ) -> Stats:
        """Returns counts and rates for the last days (all time when days is None)."""
        now = utcnow() if now is None else as_utc(now, "now")
        since = None if days is None else now - timedelta(days=days)
        totals: Mapping[str, int] | sqlite3.Row
        if since is None:
            totals, top_rows, channel_rows = await self._all_time(top)
        else:
            where, params = "asked_at >= ? AND asked_at <= ?", [iso(since), iso(now)]
            totals = (
                await self._fetchall(
                    "SELECT count(*) AS questions,"
                    " coalesce(sum(outcome = 'answered'), 0) AS answered,"
                    " coalesce(sum(outcome = 'declined'), 0) AS declined,"
                    " coalesce(sum(outcome = 'ambiguous'), 0) AS ambiguous,"
                    " coalesce(sum(outcome = 'smalltalk'), 0) AS smalltalk,"
                    " coalesce(sum(outcome = 'related'), 0) AS related,"
                    " count(DISTINCT user_key) AS distinct_users,"
                    " coalesce(sum(vote = 1), 0) AS votes_up,"
                    " coalesce(sum(vote = -1), 0) AS votes_down,"
                    " coalesce(sum(delivered = 0), 0) AS undelivered"
                    f" FROM questions WHERE {where}",
                    tuple(params),
                )
            )[0]
            top_rows = await self._fetchall(
                f"SELECT entry_id, count(*) AS n FROM questions WHERE {where}"
                " AND outcome = 'answered' AND entry_id IS NOT NULL"
                " GROUP BY entry_id ORDER BY n DESC, entry_id LIMIT ?",
                (*params, top),
            )
            channel_rows = await self._fetchall(
                f"SELECT channel, count(*) AS n FROM questions WHERE {where} GROUP BY channel",
                tuple(params),
            )
        by_channel = {str(c): 0 for c in Channel}
        by_channel.update({r["channel"]: r["n"] for r in channel_rows})
        real = totals["questions"] - totals["smalltalk"]
        votes = totals["votes_up"] + totals["votes_down"]
        return Stats(
            questions=totals["questions"],
            answered=totals["answered"],
            declined=totals["declined"],
            ambiguous=totals["ambiguous"],
            smalltalk=totals["smalltalk"],
            related=totals["related"],
            answer_rate=rate(totals["answered"], real),
            decline_rate=rate(totals["declined"], real),
            distinct_users=totals["distinct_users"],
            top_entries=[(r["entry_id"], r["n"]) for r in top_rows],
            votes_up=totals["votes_up"],
            votes_down=totals["votes_down"],
            thumbs_down_rate=rate(totals["votes_down"], votes),
            undelivered=totals["undelivered"],
            by_channel=by_channel,
            since=since,
        )

    async def _all_time(
        self, top: int
    ) -> tuple[dict[str, int], list[sqlite3.Row], list[sqlite3.Row]]:
        """Returns all-time totals, top entries and channels, each read from an index that
        holds it (a million-row log answers in a fraction of a second)."""
        totals: dict[str, int] = dict.fromkeys(
            ("questions", "answered", "declined", "ambiguous", "smalltalk", "related"), 0
        )
        for row in await self._fetchall(
            "SELECT outcome, count(*) AS n FROM questions GROUP BY outcome"
        ):
            totals["questions"] += row["n"]
            if row["outcome"] in totals:
                totals[row["outcome"]] = row["n"]
        users = await self._fetchall("SELECT count(DISTINCT user_key) AS n FROM questions")
        totals["distinct_users"] = users[0]["n"]
        votes = {
            row["vote"]: row["n"]
            for row in await self._fetchall(
                "SELECT vote, count(*) AS n FROM questions WHERE vote IS NOT NULL GROUP BY vote"
            )
        }
        totals["votes_up"], totals["votes_down"] = votes.get(1, 0), votes.get(-1, 0)
        lost = await self._fetchall("SELECT count(*) AS n FROM questions WHERE delivered = 0")
        totals["undelivered"] = lost[0]["n"]
        top_rows = await self._fetchall(
            "SELECT entry_id, count(*) AS n FROM questions"
            " WHERE outcome = 'answered' AND entry_id IS NOT NULL"
            " GROUP BY entry_id ORDER BY n DESC, entry_id LIMIT ?",
            (top,),
        )
        channel_rows = await self._fetchall(
            "SELECT channel, count(*) AS n FROM questions GROUP BY channel"
        )
        return totals, top_rows, channel_rows

    async def daily(
        self, *, days: int = 30, now: datetime | None = None, zone: tzinfo = UTC
    ) -> list[DayCounts]:
        """Returns each of the last days' counts by outcome (local days in zone), oldest first."""
        now = utcnow() if now is None else as_utc(now, "now")
        rows = await self._fetchall(
            "SELECT substr(asked_at, 1, 13) AS hour, outcome, count(*) AS n FROM questions"
            " WHERE asked_at >= ? AND asked_at <= ? GROUP BY hour, outcome",
            (iso(first_moment(days, now, zone)), iso(now)),
        )
        hourly = ((r["hour"], r["outcome"], r["n"]) for r in rows)
        return count_by_day(hourly, days=days, now=now, zone=zone)

    # ----------------------------------------------------------------- deletion

    async def purge(
        self, *, older_than_days: int | None = None, now: datetime | None = None
    ) -> int:
        """Deletes rows older than the retention period and returns how many went."""
        days = self.retention_days if older_than_days is None else older_than_days
        now = utcnow() if now is None else as_utc(now, "now")
        cutoff = iso(now - timedelta(days=days))
        async with self._lock:
            deleted = await self._delete("DELETE FROM questions WHERE asked_at < ?", (cutoff,))
        if deleted:
            logger.info("question log purged %d rows older than %d days", deleted, days)
        return deleted

    async def forget(self, user_key: str) -> int:
        """Deletes every stored and queued row of one user (right to erasure); returns the count."""
        async with self._lock:
            # Queued events would otherwise be written right after the erasure.
            removed = self._writer.discard_events_of(user_key)
            deleted = await self._delete("DELETE FROM questions WHERE user_key = ?", (user_key,))
        logger.info("question log forgot a user: %d rows", deleted + removed)
        return deleted + removed

    async def _delete(self, sql: str, params: tuple[Any, ...]) -> int:
        # The caller holds self._lock.
        conn = self._require_conn()
        try:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                cur = await conn.execute(sql, params)
                await conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"question log delete failed: {exc}") from exc
        if cur.rowcount > 0:
            # Old page images of erased rows live on in the WAL until it is checkpointed.
            try:
                await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                logger.warning("question log checkpoint failed: %s", exc)
        return cur.rowcount

    async def _test_pragma(self, statement: str) -> None:
        """Runs a PRAGMA on the writer's connection (test hook for read-only and full disks)."""
        # Tests may run as root, where chmod cannot make a file read-only, so read-only and
        # full databases are simulated with `PRAGMA query_only = ON` / `PRAGMA max_page_count`.
        if not statement.lstrip().upper().startswith("PRAGMA "):
            raise ValueError("only PRAGMA statements are allowed")
        async with self._lock:
            await self._require_conn().execute(statement)


def open_question_log(
    settings: Settings, *, database: Path | None = None, create: bool = True
) -> QuestionLog:
    """Returns the (unopened) question log at database or the settings' one, with its secret."""
    path = settings.bot_database if database is None else Path(database)
    if not create and not path.exists():
        raise StoreError(f"no question log at {path}; set BOT_DATABASE or pass --database")
    env_secret = settings.bot_log_secret.get_secret_value() if settings.bot_log_secret else None
    try:
        secret = load_or_create_secret(path, env_secret=env_secret)
    except OSError as exc:
        raise StoreError(f"cannot create the question-log secret beside {path}: {exc}") from exc
    return QuestionLog(
        path,
        pseudonymizer=Pseudonymizer.from_secret(secret),
        retention_days=settings.bot_retention_days,
    )

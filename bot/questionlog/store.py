"""Question log: a pseudonymous, non-blocking SQLite record of what residents ask."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import hmac
import io
import json
import logging
import math
import os
import re
import secrets
import sqlite3
import stat
import time
import unicodedata
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self

import aiosqlite
from rapidfuzz import fuzz, process

from bot.core.errors import BotError
from bot.core.events import Channel, Outcome, QuestionEvent, new_ref
from bot.core.events import as_utc as _as_utc
from bot.core.events import utcnow as _utcnow

__all__ = [
    "AskedQuestion",
    "Channel",
    "Outcome",
    "Pseudonymizer",
    "QuestionEvent",
    "QuestionLog",
    "Stats",
    "StoreError",
    "StoredQuestion",
    "UnansweredGroup",
    "format_unanswered",
    "load_or_create_secret",
    "new_ref",
    "normalise_question",
    "redact_personal_data",
]

logger = logging.getLogger(__name__)

SECRET_ENV_VAR = "BOT_LOG_SECRET"
_MIN_SECRET_BYTES = 16
_KEY_CHARS = 32
_MAX_QUESTION_CHARS = 2000


class StoreError(BotError):
    """Signals a question-log failure the caller must act on."""


def _iso(value: datetime) -> str:
    # One fixed format so that text comparison in SQL orders like time does.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


@dataclass(frozen=True)
class StoredQuestion:
    """Represents one row of the question log."""

    id: int
    ref: str
    asked_at: datetime
    channel: Channel
    user_key: str | None
    question: str
    outcome: Outcome
    entry_id: str | None
    score: float | None
    alternatives: tuple[str, ...]
    latency_ms: float | None
    vote: int | None
    voted_at: datetime | None


class AskedQuestion(NamedTuple):
    """Identifies one asked question inside an unanswered group."""

    ref: str
    question: str
    asked_at: datetime


@dataclass(frozen=True)
class UnansweredGroup:
    """Groups similar questions the bot could not answer."""

    count: int
    users: int
    example: str
    questions: list[AskedQuestion]
    last_asked: datetime

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return {
            "count": self.count,
            "users": self.users,
            "example": self.example,
            "last_asked": _iso(self.last_asked),
            "questions": [
                {"ref": q.ref, "question": q.question, "asked_at": _iso(q.asked_at)}
                for q in self.questions
            ],
        }


@dataclass(frozen=True)
class Stats:
    """Summarises the question log; rates are None when there is nothing to divide by."""

    questions: int
    answered: int
    declined: int
    ambiguous: int
    smalltalk: int
    # Rates are relative to real questions (smalltalk excluded) so greetings do not
    # flatter or hurt the answer rate.
    answer_rate: float | None
    decline_rate: float | None
    distinct_users: int
    top_entries: list[tuple[str, int]]
    votes_up: int
    votes_down: int
    thumbs_down_rate: float | None
    by_channel: dict[str, int]
    since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return {
            "questions": self.questions,
            "answered": self.answered,
            "declined": self.declined,
            "ambiguous": self.ambiguous,
            "smalltalk": self.smalltalk,
            "answer_rate": self.answer_rate,
            "decline_rate": self.decline_rate,
            "distinct_users": self.distinct_users,
            "top_entries": [{"entry_id": e, "count": n} for e, n in self.top_entries],
            "votes_up": self.votes_up,
            "votes_down": self.votes_down,
            "thumbs_down_rate": self.thumbs_down_rate,
            "by_channel": dict(self.by_channel),
            "since": None if self.since is None else _iso(self.since),
        }


# --------------------------------------------------------------------------- privacy


class Pseudonymizer:
    """Derives stable, non-reversible user keys from Telegram user ids."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise StoreError(f"pseudonymisation secret must be at least {_MIN_SECRET_BYTES} bytes")
        self._secret = bytes(secret)

    @classmethod
    def from_secret(cls, secret: bytes) -> Self:
        """Builds a pseudonymizer from a secret."""
        return cls(secret)

    def key(self, user_id: int) -> str:
        """Returns HMAC-SHA256(secret, str(user_id)) as 32 hex characters."""
        digest = hmac.new(self._secret, str(int(user_id)).encode("ascii"), hashlib.sha256)
        return digest.hexdigest()[:_KEY_CHARS]

    def __repr__(self) -> str:
        return "Pseudonymizer(<secret>)"


def _secret_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".secret")


def load_or_create_secret(db_path: Path, *, env_secret: str | None) -> bytes:
    """Returns the pseudonymisation secret from the environment value or the file beside the db."""
    if env_secret is not None and env_secret.strip():
        secret = env_secret.strip().encode("utf-8")
        if len(secret) < _MIN_SECRET_BYTES:
            raise StoreError(f"{SECRET_ENV_VAR} must be at least {_MIN_SECRET_BYTES} characters")
        return secret

    path = _secret_path(Path(db_path))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL makes creation race-free; the mode keeps the key private from the start.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        # Hex text, so the file's content can be moved into BOT_LOG_SECRET unchanged.
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_bytes(32).hex() + "\n")
        logger.info("created question-log secret %s", path)

    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise StoreError(f"cannot read question-log secret {path}: {exc}") from exc
    if mode & 0o077:
        logger.warning("question-log secret %s is readable by others (mode %o)", path, mode)
    if len(secret) < _MIN_SECRET_BYTES:
        # Silently replacing it would split every user into two keys; ask a human instead.
        raise StoreError(f"question-log secret {path} is empty or too short")
    return secret


_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[e-post]"),
    # Fødselsnummer / D-nummer, and bank account numbers, which are also 11 digits.
    (re.compile(r"(?<!\d)(?:\d{6}\s?\d{5}|\d{4}[. ]\d{2}[. ]\d{5})(?!\d)"), "[id-nummer]"),
    (
        re.compile(
            r"(?<![\w+])(?:(?:\+|00)47[\s-]?)?"
            r"(?:\d{8}|\d{4}[\s-]\d{4}|\d{3}[\s-]\d{2}[\s-]\d{3}|\d{2}(?:[\s-]\d{2}){3})(?!\d)"
        ),
        "[telefon]",
    ),
)


def redact_personal_data(text: str) -> str:
    """Replaces e-mail addresses, 11-digit id/account numbers and phone numbers with labels."""
    for pattern, label in _REDACTIONS:
        text = pattern.sub(label, text)
    return text


_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})
_NON_WORD = re.compile(r"[\W_]+")


def normalise_question(text: str) -> str:
    """Returns text lower-cased, with æøå folded and punctuation/emoji removed."""
    text = text.casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


# --------------------------------------------------------------------------- schema

# Append-only: a released migration must never change, or existing databases diverge.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the original log.
    (
        """
        CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            ref TEXT NOT NULL UNIQUE,
            asked_at TEXT NOT NULL,
            channel TEXT NOT NULL,
            user_key TEXT,
            question TEXT NOT NULL,
            outcome TEXT NOT NULL,
            entry_id TEXT,
            score REAL,
            latency_ms REAL
        )
        """,
        "CREATE INDEX ix_questions_asked_at ON questions (asked_at)",
        "CREATE INDEX ix_questions_outcome ON questions (outcome)",
        "CREATE INDEX ix_questions_user_key ON questions (user_key)",
    ),
    # 2: feedback votes and the alternatives offered for ambiguous questions.
    (
        "ALTER TABLE questions ADD COLUMN alternatives TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE questions ADD COLUMN vote INTEGER CHECK (vote IN (-1, 1))",
        "ALTER TABLE questions ADD COLUMN voted_at TEXT",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_INSERT_SQL = """
    INSERT INTO questions (ref, asked_at, channel, user_key, question, outcome,
                           entry_id, score, alternatives, latency_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (ref) DO NOTHING
"""
_VOTE_SQL = "UPDATE questions SET vote = ?, voted_at = ? WHERE ref = ?"
_SELECT_COLUMNS = (
    "id, ref, asked_at, channel, user_key, question, outcome, entry_id, score, "
    "alternatives, latency_ms, vote, voted_at"
)

# Errors that retrying the same data cannot fix; everything else from SQLite (locked,
# read-only, disk full, I/O) is treated as an episode that may pass.
_PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
    TypeError,
    ValueError,
    OverflowError,
)


class _Vote(NamedTuple):
    ref: str
    value: int | None
    voted_at: datetime | None


class _Item(NamedTuple):
    seq: int
    payload: QuestionEvent | _Vote


def _insert_row(event: QuestionEvent) -> tuple[Any, ...]:
    question = redact_personal_data(event.question.strip())[:_MAX_QUESTION_CHARS]
    return (
        event.ref,
        _iso(event.asked_at),
        str(event.channel),
        event.user_key,
        question,
        str(event.outcome),
        event.entry_id,
        event.score,
        json.dumps(list(event.alternatives), ensure_ascii=False),
        event.latency_ms,
    )


def _vote_row(vote: _Vote) -> tuple[Any, ...]:
    return (vote.value, None if vote.voted_at is None else _iso(vote.voted_at), vote.ref)


def _stored(row: sqlite3.Row) -> StoredQuestion:
    return StoredQuestion(
        id=row["id"],
        ref=row["ref"],
        asked_at=datetime.fromisoformat(row["asked_at"]).astimezone(UTC),
        channel=Channel(row["channel"]),
        user_key=row["user_key"],
        question=row["question"],
        outcome=Outcome(row["outcome"]),
        entry_id=row["entry_id"],
        score=row["score"],
        alternatives=tuple(json.loads(row["alternatives"] or "[]")),
        latency_ms=row["latency_ms"],
        vote=row["vote"],
        voted_at=_parse_iso(row["voted_at"]),
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --------------------------------------------------------------------------- the log


class QuestionLog:
    """Stores question events in SQLite through a background writer that never blocks answers."""

    # record() and vote() are synchronous and must be called on the event loop's thread;
    # they only append to an in-memory queue that one writer task drains in batches.

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
        auto_purge: bool = True,
        purge_interval: float = 24 * 3600.0,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if max_pending < 1 or batch_size < 1:
            raise ValueError("max_pending and batch_size must be positive")
        self.path = Path(path)
        self.pseudonymizer = pseudonymizer
        self.retention_days = retention_days
        self._max_pending = max_pending
        self._batch_size = min(batch_size, max_pending)
        self._busy_timeout_ms = busy_timeout_ms
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._close_timeout = close_timeout
        self._auto_purge = auto_purge
        self._purge_interval = purge_interval

        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one write transaction at a time on the shared connection
        self._queue: deque[_Item] = deque()
        self._inflight: list[_Item] = []
        self._seq = 0
        self._dropped = 0
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._progress = asyncio.Event()
        self._closing = False
        self._closed = False
        self._failing = False
        self._failed_attempts = 0
        self._overflow_warned = False
        self._closed_warned = False
        self._next_purge = math.inf

    def __repr__(self) -> str:
        return f"QuestionLog({str(self.path)!r}, pending={self.pending}, dropped={self.dropped})"

    # ----------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Opens the database, applies migrations and starts the background writer."""
        if self._conn is not None:
            return
        if self._closed:
            raise StoreError("question log is closed")
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
                mode = (await cur.fetchone())[0]
            if str(mode).lower() != "wal":
                logger.warning("question log %s is not in WAL mode (%s)", self.path, mode)
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Erased rows (forget, purge) are overwritten, not left in free pages.
            await conn.execute("PRAGMA secure_delete = ON")
            await self._migrate(conn)
        except BaseException as exc:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise StoreError(f"cannot open question log {self.path}: {exc}") from exc
            raise
        self._conn = conn

        if self._auto_purge:
            await self._purge_quietly()
        self._task = asyncio.create_task(self._run(), name="question-log-writer")
        logger.info("question log open at %s (schema v%d)", self.path, SCHEMA_VERSION)

    async def close(self) -> int:
        """Flushes pending writes for at most close_timeout seconds, closes, returns unwritten."""
        if self._closed:
            return 0
        self._closing = True
        self._stop.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._close_timeout):
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
        self._closed = True
        self._notify_progress()
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
        return len(self._queue) + len(self._inflight)

    @property
    def dropped(self) -> int:
        """Counts items given up on: queue overflow, rejected data, or unwritten at close."""
        return self._dropped

    def user_key_for(self, user_id: int | None) -> str | None:
        """Returns the pseudonymous key for a Telegram user id, or None without one."""
        return None if user_id is None else self.pseudonymizer.key(user_id)

    def record(self, event: QuestionEvent) -> str:
        """Queues an event for writing and returns its ref; never blocks or raises on I/O."""
        self._enqueue(event)
        return event.ref

    def vote(self, ref: str, value: int) -> None:
        """Queues a 👍 (+1) or 👎 (-1) for the row with ref; 0 withdraws the vote."""
        if value not in (-1, 0, 1):
            raise ValueError("vote must be +1, -1 or 0")
        if value == 0:
            self._enqueue(_Vote(ref, None, None))
        else:
            self._enqueue(_Vote(ref, value, _utcnow()))

    def _enqueue(self, payload: QuestionEvent | _Vote) -> None:
        if self._closing or self._closed:
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

    def _next_item(self, payload: QuestionEvent | _Vote) -> _Item:
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

    async def flush(self) -> bool:
        """Waits until everything queued so far is written or given up; False if no writer runs."""
        # No timeout parameter: while the database stays locked this keeps waiting, so
        # callers that need a bound wrap it in `asyncio.timeout()` (close() does).
        target = self._seq
        while self._oldest_outstanding() <= target:
            if self._task is None or self._task.done():
                return False
            await self._progress.wait()
        return True

    async def _run(self) -> None:
        delay = self._retry_initial
        while True:
            try:
                if not self._inflight and not self._queue:
                    if self._closing:
                        return
                    await self._idle()
                    continue
                await self._write_pending()
            except asyncio.CancelledError:
                raise
            except sqlite3.Error as exc:
                self._on_failure(exc)
                await self._pause(delay)
                delay = min(delay * 2, self._retry_max)
            except Exception:
                # A bug must not kill the writer silently and strand every later event.
                logger.exception("question log writer failed unexpectedly")
                await self._pause(delay)
                delay = min(delay * 2, self._retry_max)
            else:
                delay = self._retry_initial
                self._on_success()

    async def _idle(self) -> None:
        self._wakeup.clear()
        timeout = None
        if self._auto_purge:
            timeout = max(0.0, self._next_purge - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        if self._auto_purge and time.monotonic() >= self._next_purge:
            await self._purge_quietly()

    async def _pause(self, delay: float) -> None:
        if self._closing:
            # close() has a deadline; keep trying at a short, steady pace.
            await asyncio.sleep(min(delay, 0.05))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    def _on_failure(self, exc: BaseException) -> None:
        self._failed_attempts += 1
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
                self._failed_attempts,
            )
        self._failing = False
        self._failed_attempts = 0
        self._overflow_warned = False

    async def _write_pending(self) -> None:
        conn = self._require_conn()
        async with self._lock:
            while self._queue and len(self._inflight) < self._batch_size:
                self._inflight.append(self._queue.popleft())
            if not self._inflight:
                return
            try:
                await self._write_items(conn, self._inflight)
            except _PERMANENT_ERRORS:
                await self._write_one_by_one(conn)
            else:
                self._inflight = []
        self._notify_progress()

    async def _write_one_by_one(self, conn: aiosqlite.Connection) -> None:
        # Something in the batch is unstorable; isolate it so the rest still lands.
        while self._inflight:
            item = self._inflight[0]
            try:
                await self._write_items(conn, [item])
            except _PERMANENT_ERRORS as exc:
                self._dropped += 1
                ref = item.payload.ref
                logger.error("question log rejected item %s: %s: %s", ref, type(exc).__name__, exc)
            self._inflight.pop(0)

    @staticmethod
    async def _write_items(conn: aiosqlite.Connection, items: list[_Item]) -> None:
        inserts = [_insert_row(i.payload) for i in items if isinstance(i.payload, QuestionEvent)]
        # Votes always follow the event they refer to, so applying them after the inserts
        # of the same batch keeps their order.
        votes = [_vote_row(i.payload) for i in items if isinstance(i.payload, _Vote)]
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if inserts:
                cur = await conn.executemany(_INSERT_SQL, inserts)
                if 0 <= cur.rowcount < len(inserts):
                    logger.warning(
                        "question log ignored %d events with duplicate refs",
                        len(inserts) - cur.rowcount,
                    )
            if votes:
                await conn.executemany(_VOTE_SQL, votes)
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

    # ----------------------------------------------------------------- schema

    @staticmethod
    async def _user_version(conn: aiosqlite.Connection) -> int:
        async with conn.execute("PRAGMA user_version") as cur:
            return int((await cur.fetchone())[0])

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        version = await self._user_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"question log {self.path} has schema v{version}; this code knows v{SCHEMA_VERSION}"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            await conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process (the CLI next to the bot) may have migrated meanwhile.
                if await self._user_version(conn) >= target:
                    await conn.execute("ROLLBACK")
                    continue
                for statement in _MIGRATIONS[target - 1]:
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {target}")
                await conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
            logger.info("question log %s migrated to schema v%d", self.path, target)

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
        rows = await self._fetchall(
            f"SELECT {_SELECT_COLUMNS} FROM questions WHERE ref = ?", (ref,)
        )
        return _stored(rows[0]) if rows else None

    async def unanswered(
        self,
        *,
        days: int = 7,
        now: datetime | None = None,
        include_ambiguous: bool = False,
        score_cutoff: float = 80.0,
    ) -> list[UnansweredGroup]:
        """Returns declined questions of the last days, similar ones grouped, most asked first."""
        now = _utcnow() if now is None else _as_utc(now, "now")
        outcomes = [str(Outcome.DECLINED)]
        if include_ambiguous:
            outcomes.append(str(Outcome.AMBIGUOUS))
        marks = ", ".join("?" for _ in outcomes)
        rows = await self._fetchall(
            f"SELECT ref, question, asked_at, user_key FROM questions "
            f"WHERE outcome IN ({marks}) AND asked_at >= ? AND asked_at <= ? "
            f"ORDER BY asked_at, id",
            (*outcomes, _iso(now - timedelta(days=days)), _iso(now)),
        )
        return _group_questions(rows, score_cutoff=score_cutoff)

    async def stats(
        self, *, days: int | None = None, now: datetime | None = None, top: int = 10
    ) -> Stats:
        """Returns counts and rates for the last days (all time when days is None)."""
        now = _utcnow() if now is None else _as_utc(now, "now")
        since = None if days is None else now - timedelta(days=days)
        where, params = "asked_at <= ?", [_iso(now)]
        if since is not None:
            where += " AND asked_at >= ?"
            params.append(_iso(since))
        totals = (
            await self._fetchall(
                "SELECT count(*) AS questions,"
                " coalesce(sum(outcome = 'answered'), 0) AS answered,"
                " coalesce(sum(outcome = 'declined'), 0) AS declined,"
                " coalesce(sum(outcome = 'ambiguous'), 0) AS ambiguous,"
                " coalesce(sum(outcome = 'smalltalk'), 0) AS smalltalk,"
                " count(DISTINCT user_key) AS distinct_users,"
                " coalesce(sum(vote = 1), 0) AS votes_up,"
                " coalesce(sum(vote = -1), 0) AS votes_down"
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
            answer_rate=_rate(totals["answered"], real),
            decline_rate=_rate(totals["declined"], real),
            distinct_users=totals["distinct_users"],
            top_entries=[(r["entry_id"], r["n"]) for r in top_rows],
            votes_up=totals["votes_up"],
            votes_down=totals["votes_down"],
            thumbs_down_rate=_rate(totals["votes_down"], votes),
            by_channel=by_channel,
            since=since,
        )

    # ----------------------------------------------------------------- deletion

    async def purge(
        self, *, older_than_days: int | None = None, now: datetime | None = None
    ) -> int:
        """Deletes rows older than the retention period and returns how many went."""
        days = self.retention_days if older_than_days is None else older_than_days
        now = _utcnow() if now is None else _as_utc(now, "now")
        cutoff = _iso(now - timedelta(days=days))
        deleted = await self._delete("DELETE FROM questions WHERE asked_at < ?", (cutoff,))
        if deleted:
            logger.info("question log purged %d rows older than %d days", deleted, days)
        return deleted

    async def forget(self, user_key: str) -> int:
        """Deletes every stored and queued row of one user (right to erasure); returns the count."""
        async with self._lock:
            # Queued events would otherwise be written right after the erasure.
            before = self.pending
            self._queue = deque(i for i in self._queue if not _belongs_to(i, user_key))
            self._inflight = [i for i in self._inflight if not _belongs_to(i, user_key)]
            removed = before - self.pending
            deleted = await self._delete_locked(
                "DELETE FROM questions WHERE user_key = ?", (user_key,)
            )
        self._notify_progress()
        logger.info("question log forgot a user: %d rows", deleted + removed)
        return deleted + removed

    async def _delete(self, sql: str, params: tuple[Any, ...]) -> int:
        async with self._lock:
            return await self._delete_locked(sql, params)

    async def _delete_locked(self, sql: str, params: tuple[Any, ...]) -> int:
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

    async def _purge_quietly(self) -> None:
        self._next_purge = time.monotonic() + self._purge_interval
        try:
            await self.purge()
        except StoreError as exc:
            logger.warning("question log retention purge failed: %s", exc)

    async def _test_pragma(self, statement: str) -> None:
        """Runs a PRAGMA on the writer's connection (test hook for read-only and full disks)."""
        # Tests may run as root, where chmod cannot make a file read-only, so read-only and
        # full databases are simulated with `PRAGMA query_only = ON` / `PRAGMA max_page_count`.
        if not statement.lstrip().upper().startswith("PRAGMA "):
            raise ValueError("only PRAGMA statements are allowed")
        async with self._lock:
            await self._require_conn().execute(statement)


def _belongs_to(item: _Item, user_key: str) -> bool:
    return isinstance(item.payload, QuestionEvent) and item.payload.user_key == user_key


def _group_questions(rows: list[sqlite3.Row], *, score_cutoff: float) -> list[UnansweredGroup]:
    # Greedy single pass in time order: each question joins the most similar group
    # (compared with the group's first member) or starts a new one.
    keys: list[str] = []
    members: list[list[sqlite3.Row]] = []
    exact: dict[str, int] = {}
    for row in rows:
        norm = normalise_question(row["question"])
        index = exact.get(norm)
        if index is None and norm:
            match = process.extractOne(
                norm, keys, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=score_cutoff
            )
            if match is not None:
                index = match[2]
        if index is None:
            index = len(keys)
            keys.append(norm)
            members.append([])
        exact.setdefault(norm, index)
        members[index].append(row)

    groups = []
    for group_rows in members:
        texts = Counter(r["question"].strip() for r in group_rows)
        asked = [
            AskedQuestion(r["ref"], r["question"], datetime.fromisoformat(r["asked_at"]))
            for r in group_rows
        ]
        groups.append(
            UnansweredGroup(
                count=len(group_rows),
                users=len({r["user_key"] for r in group_rows if r["user_key"] is not None}),
                example=texts.most_common(1)[0][0],
                questions=asked,
                last_asked=max(q.asked_at for q in asked),
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return groups


# --------------------------------------------------------------------------- formatting

_TABLE_EXAMPLE_WIDTH = 60
_TABLE_REFS = 3


def format_unanswered(groups: list[UnansweredGroup], fmt: Literal["table", "csv", "json"]) -> str:
    """Renders unanswered groups as an aligned table, CSV with a header, or JSON."""
    if fmt == "json":
        return json.dumps([g.to_dict() for g in groups], ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["count", "users", "last_asked", "example", "refs"])
        for g in groups:
            refs = " ".join(q.ref for q in g.questions)
            writer.writerow([g.count, g.users, _iso(g.last_asked), g.example, refs])
        return out.getvalue()
    if fmt == "table":
        return _format_table(groups)
    raise ValueError(f"unknown format {fmt!r}; use table, csv or json")


def _format_table(groups: list[UnansweredGroup]) -> str:
    if not groups:
        return "No unanswered questions."
    header = ("count", "users", "last asked (UTC)", "example", "refs")
    rows = []
    for g in groups:
        example = " ".join(g.example.split())
        if len(example) > _TABLE_EXAMPLE_WIDTH:
            example = example[: _TABLE_EXAMPLE_WIDTH - 1] + "…"
        refs = ", ".join(q.ref for q in g.questions[:_TABLE_REFS])
        if len(g.questions) > _TABLE_REFS:
            refs += f" (+{len(g.questions) - _TABLE_REFS})"
        last = g.last_asked.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        rows.append((str(g.count), str(g.users), last, example, refs))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        count, users, last, example, refs = cells
        return (
            f"{count:>{widths[0]}}  {users:>{widths[1]}}  {last:<{widths[2]}}  "
            f"{example:<{widths[3]}}  {refs}"
        ).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])

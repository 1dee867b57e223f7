"""The question log's table: migrations, SQL statements, and rows to and from Python values."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import aiosqlite

from bot.core.events import Channel, Outcome, QuestionEvent
from bot.questionlog.errors import StoreError
from bot.questionlog.privacy import redact_personal_data

# The log keeps at most this much of a message: enough to review it, bounded storage.
MAX_QUESTION_CHARS = 2000

__all__ = ["SCHEMA_VERSION", "StoredQuestion"]

logger = logging.getLogger(__name__)


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
    # 3: questions an admin took out of the review: correctly declined, or handled.
    (
        "ALTER TABLE questions ADD COLUMN dismissed TEXT"
        " CHECK (dismissed IN ('declined', 'handled'))",
        "ALTER TABLE questions ADD COLUMN dismissed_at TEXT",
    ),
    # 4: indexes that fit the admin queries at a large municipality's volume: the review
    # reads a few outcomes over a recent range, and the (outcome) index alone made it
    # read every declined row ever logged before filtering by date.
    # All-time figures are read from indexes that hold them (outcome and entry, channel,
    # votes), not by scanning a million rows.
    (
        "CREATE INDEX ix_questions_outcome_asked_at ON questions (outcome, asked_at)",
        "CREATE INDEX ix_questions_outcome_entry ON questions (outcome, entry_id)",
        "CREATE INDEX ix_questions_channel ON questions (channel)",
        "CREATE INDEX ix_questions_vote ON questions (vote) WHERE vote IS NOT NULL",
        "DROP INDEX ix_questions_outcome",
    ),
    # 5: whether the reply reached the resident: a send Telegram refused or that failed
    # is marked, so the log records what residents were actually given.
    (
        "ALTER TABLE questions ADD COLUMN delivered INTEGER NOT NULL DEFAULT 1"
        " CHECK (delivered IN (0, 1))",
        "CREATE INDEX ix_questions_undelivered ON questions (asked_at) WHERE delivered = 0",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

INSERT_SQL = """
    INSERT INTO questions (ref, asked_at, channel, user_key, question, outcome,
                           entry_id, score, alternatives, latency_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (ref) DO NOTHING
"""
VOTE_SQL = "UPDATE questions SET vote = ?, voted_at = ? WHERE ref = ?"
UNDELIVERED_SQL = "UPDATE questions SET delivered = 0 WHERE ref = ?"
SELECT_COLUMNS = (
    "id, ref, asked_at, channel, user_key, question, outcome, entry_id, score, "
    "alternatives, latency_ms, vote, voted_at, dismissed, dismissed_at"
)
# Why an admin took a question out of the review.
DISMISS_REASONS = ("declined", "handled")

# Errors that retrying the same data cannot fix; everything else from SQLite (locked,
# read-only, disk full, I/O) is treated as an episode that may pass.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
    TypeError,
    ValueError,
    OverflowError,
)


def iso(value: datetime) -> str:
    """Returns a datetime as UTC ISO text with microseconds."""
    # One fixed format so that text comparison in SQL orders like time does.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(value: str | None) -> datetime | None:
    """Returns the UTC datetime stored as ISO text, or None for NULL."""
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
    dismissed: str | None = None
    dismissed_at: datetime | None = None


class Vote(NamedTuple):
    """A queued 👍/👎 for the row with ref; value None withdraws it."""

    ref: str
    value: int | None
    voted_at: datetime | None


class Undelivered(NamedTuple):
    """A queued note that the reply to the row with ref never reached the resident."""

    ref: str


def insert_row(event: QuestionEvent) -> tuple[Any, ...]:
    """Returns the INSERT_SQL parameters for an event, its question redacted and cut."""
    question = redact_personal_data(event.question.strip())[:MAX_QUESTION_CHARS]
    return (
        event.ref,
        iso(event.asked_at),
        str(event.channel),
        event.user_key,
        question,
        str(event.outcome),
        event.entry_id,
        event.score,
        json.dumps(list(event.alternatives), ensure_ascii=False),
        event.latency_ms,
    )


def vote_row(vote: Vote) -> tuple[Any, ...]:
    """Returns the VOTE_SQL parameters for a vote."""
    return (vote.value, None if vote.voted_at is None else iso(vote.voted_at), vote.ref)


def stored_question(row: sqlite3.Row) -> StoredQuestion:
    """Returns the StoredQuestion for a row selected with SELECT_COLUMNS."""
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
        voted_at=parse_iso(row["voted_at"]),
        dismissed=row["dismissed"],
        dismissed_at=parse_iso(row["dismissed_at"]),
    )


async def _user_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def migrate(conn: aiosqlite.Connection, path: Path) -> None:
    """Brings the database at path up to SCHEMA_VERSION, one transaction per migration."""
    version = await _user_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"question log {path} has schema v{version}; this code knows v{SCHEMA_VERSION}"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process (the CLI next to the bot) may have migrated meanwhile.
            if await _user_version(conn) >= target:
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
        logger.info("question log %s migrated to schema v%d", path, target)

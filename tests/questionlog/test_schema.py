"""Tests for the schema: migrations keep every row, roll back whole, refuse newer schemas."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.questionlog import SCHEMA_VERSION, Pseudonymizer, QuestionLog, StoreError

from .helpers import FAST, event, rows

V1_SCHEMA = """
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
);
CREATE INDEX ix_questions_asked_at ON questions (asked_at);
CREATE INDEX ix_questions_outcome ON questions (outcome);
CREATE INDEX ix_questions_user_key ON questions (user_key);
PRAGMA user_version = 1;
"""


def make_v1_database(db_path: Path, *, extra_sql: str = "") -> list[tuple[object, ...]]:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    asked = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="microseconds")
    old_rows = [
        ("oldref0001", asked, "private", "a" * 32, "Når er det søppeltømming?", "answered",
         "avfall", 93.0, 4.0),
        ("oldref0002", asked, "group", None, "Hva koster parkering?", "declined", None, None, 2.5),
        ("oldref0003", asked, "console", "b" * 32, "hei", "smalltalk", None, None, 0.1),
    ]  # fmt: skip
    conn = sqlite3.connect(db_path)
    conn.executescript(V1_SCHEMA + extra_sql)
    conn.executemany(
        "INSERT INTO questions (ref, asked_at, channel, user_key, question, outcome, entry_id,"
        " score, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        old_rows,
    )
    conn.commit()
    conn.close()
    return old_rows


async def test_migration_from_v1_keeps_every_row(
    db_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    old_rows = make_v1_database(db_path)

    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST) as log:
        for ref, _asked, channel, user_key, question, outcome, entry_id, score, latency in old_rows:
            stored = await log.get(ref)
            assert stored is not None
            assert (stored.channel, stored.user_key, stored.question) == (
                channel,
                user_key,
                question,
            )
            assert (stored.outcome, stored.entry_id, stored.score) == (outcome, entry_id, score)
            assert stored.latency_ms == latency
            assert (stored.alternatives, stored.vote, stored.voted_at) == ((), None, None)
        log.vote("oldref0001", +1)
        log.record(event(alternatives=("x", "y")))
        await log.flush()
        assert (await log.get("oldref0001")).vote == 1

    (version,) = rows(db_path, "PRAGMA user_version")[0]
    assert version == SCHEMA_VERSION == 5
    columns = {r["name"] for r in rows(db_path, "PRAGMA table_info(questions)")}
    assert {"alternatives", "vote", "voted_at", "dismissed", "dismissed_at", "delivered"} <= columns
    indexes = {r["name"] for r in rows(db_path, "PRAGMA index_list(questions)")}
    assert "ix_questions_outcome_asked_at" in indexes
    assert "ix_questions_outcome" not in indexes
    assert len(rows(db_path)) == 4

    # Reopening an up-to-date database changes nothing.
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST):
        pass
    assert len(rows(db_path)) == 4


async def test_failed_migration_rolls_back_completely(
    db_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    # A stray "vote" column makes the second ALTER of v2 fail after the first succeeded.
    make_v1_database(db_path, extra_sql="ALTER TABLE questions ADD COLUMN vote INTEGER;")
    with pytest.raises(StoreError, match="duplicate column"):
        await QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST).open()
    (version,) = rows(db_path, "PRAGMA user_version")[0]
    columns = {r["name"] for r in rows(db_path, "PRAGMA table_info(questions)")}
    assert version == 1
    assert "alternatives" not in columns
    assert len(rows(db_path)) == 3


async def test_newer_schema_is_refused(db_path: Path, pseudonymizer: Pseudonymizer) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="schema"):
        await QuestionLog(db_path, pseudonymizer=pseudonymizer).open()

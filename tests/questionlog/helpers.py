"""Helpers the question-log tests share: events, raw rows, waiting, log records."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.questionlog import Channel, Outcome, QuestionEvent

SECRET = b"test-secret-test-secret-test-secret"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FAST = {"busy_timeout_ms": 20, "retry_initial": 0.01, "retry_max": 0.04, "close_timeout": 2.0}


def event(question: str = "Når åpner biblioteket?", **kwargs: object) -> QuestionEvent:
    """Builds an event with test defaults (private chat, answered, 3.5 ms)."""
    kwargs.setdefault("channel", Channel.PRIVATE)
    kwargs.setdefault("outcome", Outcome.ANSWERED)
    kwargs.setdefault("latency_ms", 3.5)
    channel = kwargs.pop("channel")
    outcome = kwargs.pop("outcome")
    return QuestionEvent(question, channel, outcome, **kwargs)  # type: ignore[arg-type]


def rows(db_path: Path, sql: str = "SELECT * FROM questions ORDER BY id") -> list[sqlite3.Row]:
    """Reads rows straight from the database file, bypassing the log."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def wait_until(predicate: Callable[[], bool], within: float = 2.0) -> None:
    """Waits until predicate() is true; fails the test after within seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def set_modes(db_path: Path, *, file_mode: int, dir_mode: int) -> None:
    """Sets the permissions of the database file and its directory."""
    db_path.chmod(file_mode)
    db_path.parent.chmod(dir_mode)


def file_bytes(db_path: Path) -> dict[str, bytes]:
    """Returns the content of every file beside the database, by name."""
    return {p.name: p.read_bytes() for p in db_path.parent.iterdir() if p.is_file()}


def store_records(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    """Returns the question log's log messages at level that contain text."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("bot.questionlog") and r.levelno == level and text in r.getMessage()
    ]

"""Tests for the background writer: batching, failures and recovery, overflow, close."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest

from bot.questionlog import Pseudonymizer, QuestionLog, StoreError

from .helpers import FAST, event, rows, set_modes, store_records, wait_until


async def test_thousand_concurrent_records_all_land(
    db_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    log = QuestionLog(db_path, pseudonymizer=pseudonymizer, batch_size=64, **FAST)
    await log.open()

    async def asker(n: int) -> list[str]:
        refs = []
        for i in range(20):
            refs.append(log.record(event(f"spørsmål {n}-{i}", user_key=log.user_key_for(n))))
            await asyncio.sleep(0)
        return refs

    results = await asyncio.gather(*(asker(n) for n in range(50)))
    assert await log.close() == 0

    refs = {ref for batch in results for ref in batch}
    assert len(refs) == 1000
    stored = rows(db_path, "SELECT ref FROM questions")
    assert {r["ref"] for r in stored} == refs
    assert log.dropped == 0


class _Failure:
    """Puts the database into one failure mode and takes it out again."""

    def __init__(self, kind: str, log: QuestionLog, db_path: Path) -> None:
        self.kind, self.log, self.db_path = kind, log, db_path
        self.other: sqlite3.Connection | None = None

    async def start(self) -> None:
        if self.kind == "locked":
            self.other = sqlite3.connect(self.db_path, isolation_level=None)
            self.other.execute("BEGIN EXCLUSIVE")
        elif self.kind == "read-only":
            # Tests run as root, where chmod 0444 does not stop writes; query_only makes
            # SQLite refuse them the same way (SQLITE_READONLY).
            await self.log._test_pragma("PRAGMA query_only = ON")
        elif self.kind == "disk-full":
            (pages,) = rows(self.db_path, "PRAGMA page_count")[0]
            await self.log._test_pragma(f"PRAGMA max_page_count = {pages}")

    async def stop(self) -> None:
        if self.kind == "locked":
            assert self.other is not None
            self.other.execute("ROLLBACK")
            self.other.close()
        elif self.kind == "read-only":
            await self.log._test_pragma("PRAGMA query_only = OFF")
        elif self.kind == "disk-full":
            await self.log._test_pragma("PRAGMA max_page_count = 1073741823")


@pytest.mark.parametrize("kind", ["locked", "read-only", "disk-full"])
async def test_write_failure_keeps_events_logs_once_and_recovers(
    kind: str, qlog: QuestionLog, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.questionlog")
    qlog.record(event("før feilen"))
    await qlog.flush()
    failure = _Failure(kind, qlog, db_path)

    for episode in (1, 2):
        await failure.start()
        started = time.perf_counter()
        # Long questions so the disk-full case needs new pages.
        refs = [qlog.record(event(f"spørsmål {i} " + "x" * 300)) for i in range(40)]
        qlog.vote(refs[0], -1)
        assert time.perf_counter() - started < 0.1  # the answer path never waits

        await wait_until(lambda: qlog._writer.failed_attempts >= 3)
        assert len(store_records(caplog, logging.ERROR, "cannot write")) == episode
        assert qlog.pending == 41
        # Reads, and the answer path, keep working while writes fail.
        assert (await qlog.stats()).questions == 1 + 40 * (episode - 1)

        await failure.stop()
        async with asyncio.timeout(2):
            assert await qlog.flush()
        assert qlog.pending == 0
        assert (await qlog.get(refs[0])).vote == -1
        assert len(store_records(caplog, logging.INFO, "again after")) == episode

    assert len(rows(db_path)) == 81
    assert qlog.dropped == 0


async def test_unstorable_event_is_isolated_and_the_rest_lands(
    qlog: QuestionLog, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON questions WHEN NEW.question = 'gift'"
        " BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
    )
    conn.commit()
    conn.close()

    refs = [qlog.record(event(text)) for text in ("en", "to", "gift", "tre")]
    assert await qlog.flush()
    assert [r["question"] for r in rows(db_path)] == ["en", "to", "tre"]
    assert (qlog.pending, qlog.dropped) == (0, 1)
    assert store_records(caplog, logging.ERROR, f"rejected item {refs[2]}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
async def test_read_only_file_at_startup_is_reported(
    db_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST):
        pass
    set_modes(db_path, file_mode=0o444, dir_mode=0o555)
    try:
        log = QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST)
        with pytest.raises(StoreError):
            await log.open()
        log.record(event())  # still never raises; nothing can be written
        assert await log.close() == 1
    finally:
        set_modes(db_path, file_mode=0o644, dir_mode=0o755)


async def test_queue_overflow_drops_oldest_and_warns_once(
    db_path: Path, pseudonymizer: Pseudonymizer, caplog: pytest.LogCaptureFixture
) -> None:
    log = QuestionLog(db_path, pseudonymizer=pseudonymizer, max_pending=10, **FAST)
    # Recorded before open(): nothing drains the queue yet.
    refs = [log.record(event(f"q{i}")) for i in range(25)]
    assert (log.pending, log.dropped) == (10, 15)
    assert len(store_records(caplog, logging.WARNING, "queue is full")) == 1

    async with log:
        await log.flush()
    assert [r["ref"] for r in rows(db_path)] == refs[15:]


async def test_close_reports_unwritten_and_later_records_are_dropped(
    db_path: Path, pseudonymizer: Pseudonymizer, caplog: pytest.LogCaptureFixture
) -> None:
    log = QuestionLog(db_path, pseudonymizer=pseudonymizer, **{**FAST, "close_timeout": 0.2})
    await log.open()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(5):
            log.record(event(f"q{i}"))
        assert await log.close() == 5
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert log.dropped == 5
    assert store_records(caplog, logging.WARNING, "5 events that could not be written")

    log.record(event("etter close"))  # must not raise
    assert log.dropped == 6
    assert await log.close() == 0
    assert rows(db_path) == []


async def test_a_deleted_database_file_is_noticed_once_and_started_afresh(
    qlog: QuestionLog, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.questionlog")
    qlog.record(event("før"))
    assert await qlog.flush()
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{db_path}{suffix}")

    for i in range(3):
        qlog.record(event(f"etter {i}"))
    async with asyncio.timeout(5):
        assert await qlog.flush()
    assert [r[0] for r in rows(db_path, "SELECT question FROM questions")] == [
        "etter 0",
        "etter 1",
        "etter 2",
    ]
    assert len(store_records(caplog, logging.WARNING, "deleted or replaced")) == 1

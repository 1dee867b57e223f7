"""Tests for the question log: real SQLite files, no mocks."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.questionlog.store import (
    SCHEMA_VERSION,
    Channel,
    Outcome,
    Pseudonymizer,
    QuestionEvent,
    QuestionLog,
    StoreError,
    format_unanswered,
    load_or_create_secret,
    normalise_question,
    redact_personal_data,
)

SECRET = b"test-secret-test-secret-test-secret"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FAST = {"busy_timeout_ms": 20, "retry_initial": 0.01, "retry_max": 0.04, "close_timeout": 2.0}


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer.from_secret(SECRET)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "questions.db"


@pytest.fixture
async def qlog(db_path: Path, pseudonymizer: Pseudonymizer) -> AsyncIterator[QuestionLog]:
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, auto_purge=False, **FAST) as log:
        yield log


def event(question: str = "Når åpner biblioteket?", **kwargs: object) -> QuestionEvent:
    kwargs.setdefault("channel", Channel.PRIVATE)
    kwargs.setdefault("outcome", Outcome.ANSWERED)
    kwargs.setdefault("latency_ms", 3.5)
    channel = kwargs.pop("channel")
    outcome = kwargs.pop("outcome")
    return QuestionEvent(question, channel, outcome, **kwargs)  # type: ignore[arg-type]


def rows(db_path: Path, sql: str = "SELECT * FROM questions ORDER BY id") -> list[sqlite3.Row]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def wait_until(predicate: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def set_modes(db_path: Path, *, file_mode: int, dir_mode: int) -> None:
    db_path.chmod(file_mode)
    db_path.parent.chmod(dir_mode)


def file_bytes(db_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in db_path.parent.iterdir() if p.is_file()}


def store_records(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.questionlog.store" and r.levelno == level and text in r.getMessage()
    ]


# --------------------------------------------------------------------------- writing


async def test_record_flush_round_trip(qlog: QuestionLog, pseudonymizer: Pseudonymizer) -> None:
    ev = event(
        "Hvor kan jeg levere hageavfall?",
        outcome=Outcome.AMBIGUOUS,
        channel=Channel.GROUP,
        user_key=qlog.user_key_for(42),
        entry_id="avfall-hage",
        score=71.5,
        alternatives=("avfall-hage", "gjenvinning"),
        latency_ms=12.25,
    )
    ref = qlog.record(ev)
    assert ref == ev.ref
    assert len(ref) == 10
    assert set(ref) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert await qlog.get(ref) is None  # not written yet: record() only enqueues
    assert qlog.pending == 1

    assert await qlog.flush()
    stored = await qlog.get(ref)
    assert stored is not None
    assert qlog.pending == 0
    assert (stored.ref, stored.question, stored.channel, stored.outcome) == (
        ref,
        "Hvor kan jeg levere hageavfall?",
        Channel.GROUP,
        Outcome.AMBIGUOUS,
    )
    assert stored.user_key == pseudonymizer.key(42)
    assert (stored.entry_id, stored.score, stored.latency_ms) == ("avfall-hage", 71.5, 12.25)
    assert stored.alternatives == ("avfall-hage", "gjenvinning")
    assert stored.asked_at == ev.asked_at
    assert (stored.vote, stored.voted_at) == (None, None)
    assert await qlog.get("nosuchref") is None
    assert qlog.user_key_for(None) is None


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


async def test_votes_apply_including_before_row_is_written(qlog: QuestionLog) -> None:
    written = qlog.record(event("Skrevet først"))
    await qlog.flush()
    qlog.vote(written, +1)

    queued = qlog.record(event("Fortsatt i køen"))
    qlog.vote(queued, -1)  # the row is still only in the queue
    changed = qlog.record(event("Ombestemt seg"))
    qlog.vote(changed, -1)
    qlog.vote(changed, +1)
    withdrawn = qlog.record(event("Angret"))
    qlog.vote(withdrawn, +1)
    qlog.vote(withdrawn, 0)
    qlog.vote("unknownref1", +1)  # a vote for a purged or unknown row is harmless

    await qlog.flush()
    votes = {ref: (await qlog.get(ref)).vote for ref in (written, queued, changed, withdrawn)}
    assert votes == {written: 1, queued: -1, changed: 1, withdrawn: None}
    voted = await qlog.get(queued)
    assert voted.voted_at is not None
    assert voted.voted_at.tzinfo is not None

    with pytest.raises(ValueError, match="vote"):
        qlog.vote(written, 2)


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
    caplog.set_level(logging.INFO, logger="bot.questionlog.store")
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

        await wait_until(lambda: qlog._failed_attempts >= 3)
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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_key": "123456789"}, "user_key"),
        ({"user_key": "Kari Nordmann"}, "user_key"),
        ({"asked_at": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"ref": ""}, "ref"),
    ],
)
def test_event_validation_rejects_identifying_or_ambiguous_data(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        event(**kwargs)


def test_event_coerces_strings_and_utc() -> None:
    oslo = timedelta(hours=2)
    ev = event(
        channel="inline",
        outcome="declined",
        alternatives=["a"],
        asked_at=datetime(2024, 6, 1, 14, 0, tzinfo=timezone(oslo)),
    )
    assert (ev.channel, ev.outcome, ev.alternatives) == (Channel.INLINE, Outcome.DECLINED, ("a",))
    assert ev.asked_at == NOW
    assert ev.asked_at.tzinfo == UTC


# --------------------------------------------------------------------------- schema

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
    assert version == SCHEMA_VERSION == 2
    columns = {r["name"] for r in rows(db_path, "PRAGMA table_info(questions)")}
    assert {"alternatives", "vote", "voted_at"} <= columns
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


# --------------------------------------------------------------------------- deletion


@pytest.mark.parametrize(
    ("older_than_days", "expected_left"),
    [
        (None, ["d0", "d10", "d29"]),  # retention_days=30
        (7, ["d0"]),
        (365, ["d0", "d10", "d29", "d31", "d200"]),
    ],
)
async def test_purge_by_date(
    db_path: Path,
    pseudonymizer: Pseudonymizer,
    older_than_days: int | None,
    expected_left: list[str],
) -> None:
    async with QuestionLog(
        db_path, pseudonymizer=pseudonymizer, retention_days=30, auto_purge=False, **FAST
    ) as log:
        for age in (0, 10, 29, 31, 200):
            log.record(event(f"d{age}", asked_at=NOW - timedelta(days=age)))
        await log.flush()
        deleted = await log.purge(older_than_days=older_than_days, now=NOW)
    assert [r["question"] for r in rows(db_path)] == expected_left
    assert deleted == 5 - len(expected_left)


async def test_retention_purge_runs_at_open(db_path: Path, pseudonymizer: Pseudonymizer) -> None:
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, auto_purge=False) as log:
        log.record(event("gammel", asked_at=datetime.now(UTC) - timedelta(days=181)))
        log.record(event("ny"))
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer):  # retention_days=180
        pass
    assert [r["question"] for r in rows(db_path)] == ["ny"]


async def test_forget_deletes_only_that_user_including_queued(
    qlog: QuestionLog, db_path: Path
) -> None:
    kari, ola = qlog.user_key_for(1001), qlog.user_key_for(1002)
    qlog.record(event("kari 1", user_key=kari))
    qlog.record(event("ola 1", user_key=ola))
    qlog.record(event("anonym"))
    qlog.record(event("kari 2", user_key=kari))
    await qlog.flush()
    qlog.record(event("kari 3, fortsatt i køen", user_key=kari))

    assert await qlog.forget(kari) == 3
    await qlog.flush()
    assert [r["question"] for r in rows(db_path)] == ["ola 1", "anonym"]
    assert await qlog.forget(kari) == 0


# --------------------------------------------------------------------------- privacy


async def test_no_telegram_id_or_name_reaches_the_files(
    db_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    telegram_id, full_name = 123456789, "Kari Nordmann"  # what a Telegram update carries
    log = QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST)
    await log.open()
    key = log.user_key_for(telegram_id)
    for i, outcome in enumerate(Outcome):
        ref = log.record(event(f"Når åpner biblioteket {i}?", outcome=outcome, user_key=key))
        log.vote(ref, +1)
    await log.flush()

    files = file_bytes(db_path)
    assert set(files) == {"questions.db", "questions.db-wal", "questions.db-shm"}
    assert files["questions.db-wal"]
    for data in [b"".join(files.values()), files["questions.db-wal"]]:
        assert b"biblioteket" in data  # the right files are being read
        assert str(telegram_id).encode() not in data
        assert b"Kari" not in data
        assert full_name.encode() not in data
    await log.close()
    files = file_bytes(db_path)
    assert str(telegram_id).encode() not in files["questions.db"]
    assert b"Kari" not in files["questions.db"]
    assert key.encode() in files["questions.db"]  # counting repeat askers still works


def test_pseudonymizer_keys() -> None:
    a = Pseudonymizer.from_secret(SECRET)
    b = Pseudonymizer.from_secret(b"another-secret-another-secret")
    key = a.key(123456789)
    assert len(key) == 32
    assert set(key) <= set("0123456789abcdef")
    assert key == a.key(123456789)
    assert key != a.key(123456788)
    assert key != b.key(123456789)
    assert "secret" not in repr(a).replace("<secret>", "")
    with pytest.raises(StoreError):
        Pseudonymizer.from_secret(b"short")


def test_secret_file_created_private_and_reused(db_path: Path) -> None:
    secret = load_or_create_secret(db_path, env_secret=None)
    path = db_path.with_name("questions.db.secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 32
    assert load_or_create_secret(db_path, env_secret=None) == secret
    assert load_or_create_secret(db_path, env_secret="") == secret  # empty variable = unset
    # The file's text works unchanged as BOT_LOG_SECRET.
    assert load_or_create_secret(db_path, env_secret=path.read_text()) == secret


def test_env_secret_wins_and_creates_no_file(db_path: Path) -> None:
    assert load_or_create_secret(db_path, env_secret=" from-the-environment-123 ") == (
        b"from-the-environment-123"
    )
    assert not db_path.with_name("questions.db.secret").exists()
    with pytest.raises(StoreError, match="BOT_LOG_SECRET"):
        load_or_create_secret(db_path, env_secret="too-short")


async def test_database_file_is_private(qlog: QuestionLog, db_path: Path) -> None:
    qlog.record(event())
    await qlog.flush()
    for path in (db_path, db_path.with_name("questions.db-wal")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Send svar til kari.nordmann@example.no takk", "Send svar til [e-post] takk"),
        ("Fødselsnummeret mitt er 01019012345.", "Fødselsnummeret mitt er [id-nummer]."),
        ("fnr 010190 12345", "fnr [id-nummer]"),
        ("konto 1234.56.78901", "konto [id-nummer]"),
        ("Ring meg på 91234567", "Ring meg på [telefon]"),
        ("ring +47 912 34 567 i dag", "ring [telefon] i dag"),
        ("tlf 22 33 44 55", "tlf [telefon]"),
        # Ordinary numbers stay.
        ("Hva skjer i 2024 for 3 barn?", "Hva skjer i 2024 for 3 barn?"),
        ("Orgnr 123456789", "Orgnr 123456789"),
        ("Gnr 12 bnr 345", "Gnr 12 bnr 345"),
    ],
)
def test_redact_personal_data(text: str, expected: str) -> None:
    assert redact_personal_data(text) == expected


async def test_recorded_questions_are_redacted(qlog: QuestionLog) -> None:
    ref = qlog.record(event("Kan dere ringe 91234567?"))
    await qlog.flush()
    assert (await qlog.get(ref)).question == "Kan dere ringe [telefon]?"


# --------------------------------------------------------------------------- queries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Åpningstider for biblioteket? 📚", "apningstider for biblioteket"),
        ("Ærlig talt, ØKONOMI!!", "aerlig talt okonomi"),
        ("Café   crème_brûlée", "cafe creme brulee"),
        ("🙂🙂", ""),
    ],
)
def test_normalise_question(text: str, expected: str) -> None:
    assert normalise_question(text) == expected


async def test_unanswered_groups_similar_questions(qlog: QuestionLog) -> None:
    a, b, c = (qlog.user_key_for(n) for n in (1, 2, 3))
    asked: list[tuple[str, str | None, int, Outcome]] = [
        ("åpningstider biblioteket", a, 60, Outcome.DECLINED),
        ("apningstider biblioteket?", b, 50, Outcome.DECLINED),
        ("Åpningstider for biblioteket", a, 40, Outcome.DECLINED),
        ("åpningstider biblioteket", None, 30, Outcome.DECLINED),
        ("Hvordan søker jeg barnehageplass?", b, 55, Outcome.DECLINED),
        ("hvordan søke barnehageplass", c, 20, Outcome.DECLINED),
        ("Kan jeg grille i parken?", c, 45, Outcome.DECLINED),
        ("Hvem vant kommunevalget?", a, 10, Outcome.DECLINED),
        ("Hvor ligger svømmehallen?", b, 15, Outcome.AMBIGUOUS),
        ("åpningstider biblioteket", a, 5, Outcome.ANSWERED),  # answered: not listed
        ("åpningstider biblioteket", a, 60 * 24 * 8, Outcome.DECLINED),  # outside the window
    ]
    refs = {}
    for text, user, minutes_ago, outcome in asked:
        when = NOW - timedelta(minutes=minutes_ago)
        ev = event(text, outcome=outcome, user_key=user, asked_at=when)
        refs.setdefault(text, []).append(qlog.record(ev))
    await qlog.flush()

    groups = await qlog.unanswered(now=NOW)
    summary = [(g.count, g.users, g.example, g.last_asked) for g in groups]
    assert summary == [
        (4, 2, "åpningstider biblioteket", NOW - timedelta(minutes=30)),
        (2, 2, "Hvordan søker jeg barnehageplass?", NOW - timedelta(minutes=20)),
        (1, 1, "Hvem vant kommunevalget?", NOW - timedelta(minutes=10)),  # later first on ties
        (1, 1, "Kan jeg grille i parken?", NOW - timedelta(minutes=45)),
    ]
    library = groups[0].questions
    assert [q.question for q in library] == [
        "åpningstider biblioteket",
        "apningstider biblioteket?",
        "Åpningstider for biblioteket",
        "åpningstider biblioteket",
    ]
    assert library[1].ref == refs["apningstider biblioteket?"][0]
    assert library[0].asked_at == NOW - timedelta(minutes=60)

    with_ambiguous = await qlog.unanswered(now=NOW, include_ambiguous=True)
    assert "Hvor ligger svømmehallen?" in {g.example for g in with_ambiguous}
    month = await qlog.unanswered(now=NOW, days=30)
    assert month[0].count == 5
    assert await qlog.unanswered(now=NOW - timedelta(days=30)) == []


async def test_stats_counts(qlog: QuestionLog) -> None:
    empty = await qlog.stats(now=NOW)
    assert (empty.questions, empty.answer_rate, empty.thumbs_down_rate) == (0, None, None)

    plan = [
        # (outcome, channel, entry, user, vote, days ago)
        (Outcome.ANSWERED, Channel.PRIVATE, "avfall", 1, +1, 0),
        (Outcome.ANSWERED, Channel.PRIVATE, "avfall", 2, -1, 1),
        (Outcome.ANSWERED, Channel.GROUP, "bibliotek", 1, +1, 2),
        (Outcome.ANSWERED, Channel.INLINE, "avfall", None, None, 3),
        (Outcome.DECLINED, Channel.PRIVATE, None, 3, None, 4),
        (Outcome.AMBIGUOUS, Channel.CONSOLE, None, None, None, 5),
        (Outcome.SMALLTALK, Channel.PRIVATE, None, 1, None, 6),
        (Outcome.ANSWERED, Channel.PRIVATE, "parkering", 4, -1, 40),  # outside a 30-day window
    ]
    for outcome, channel, entry, user, vote, days_ago in plan:
        ref = qlog.record(
            event(
                "spørsmål",
                outcome=outcome,
                channel=channel,
                entry_id=entry,
                user_key=qlog.user_key_for(user),
                asked_at=NOW - timedelta(days=days_ago, hours=1),
            )
        )
        if vote:
            qlog.vote(ref, vote)
    await qlog.flush()

    stats = await qlog.stats(days=30, now=NOW)
    assert (stats.questions, stats.answered, stats.declined) == (7, 4, 1)
    assert (stats.ambiguous, stats.smalltalk, stats.distinct_users) == (1, 1, 3)
    assert stats.answer_rate == pytest.approx(4 / 6)  # smalltalk is not a question
    assert stats.decline_rate == pytest.approx(1 / 6)
    assert stats.top_entries == [("avfall", 3), ("bibliotek", 1)]
    assert (stats.votes_up, stats.votes_down) == (2, 1)
    assert stats.thumbs_down_rate == pytest.approx(1 / 3)
    assert stats.by_channel == {"private": 4, "group": 1, "inline": 1, "console": 1}

    everything = await qlog.stats(now=NOW)
    assert (everything.questions, everything.votes_down, everything.distinct_users) == (8, 2, 4)
    data = json.loads(json.dumps(stats.to_dict()))
    assert data["top_entries"][0] == {"entry_id": "avfall", "count": 3}
    assert data["since"] == "2024-05-02T12:00:00.000000+00:00"


# --------------------------------------------------------------------------- formatting


async def _some_groups(qlog: QuestionLog) -> list:
    user = qlog.user_key_for(7)
    for minutes, text in [(3, "Når tømmes søpla?"), (2, "når tømmes søpla"), (1, 'Hva er "NAV"?')]:
        qlog.record(
            event(
                text,
                outcome=Outcome.DECLINED,
                user_key=user,
                asked_at=NOW - timedelta(minutes=minutes),
            )
        )
    await qlog.flush()
    return await qlog.unanswered(now=NOW)


async def test_format_unanswered_csv_and_json_parse(qlog: QuestionLog) -> None:
    groups = await _some_groups(qlog)

    parsed = list(csv.DictReader(io.StringIO(format_unanswered(groups, "csv"))))
    assert [(r["count"], r["users"], r["example"]) for r in parsed] == [
        ("2", "1", "Når tømmes søpla?"),
        ("1", "1", 'Hva er "NAV"?'),
    ]
    assert parsed[0]["refs"].split() == [q.ref for q in groups[0].questions]
    assert parsed[0]["last_asked"] == "2024-06-01T11:58:00.000000+00:00"

    data = json.loads(format_unanswered(groups, "json"))
    assert (data[0]["count"], data[0]["users"]) == (2, 1)
    assert data[0]["example"] == "Når tømmes søpla?"
    assert data[0]["questions"][1] == {
        "ref": groups[0].questions[1].ref,
        "question": "når tømmes søpla",
        "asked_at": "2024-06-01T11:58:00.000000+00:00",
    }

    assert list(csv.reader(io.StringIO(format_unanswered([], "csv")))) == [
        ["count", "users", "last_asked", "example", "refs"]
    ]
    assert json.loads(format_unanswered([], "json")) == []
    with pytest.raises(ValueError, match="format"):
        format_unanswered(groups, "xml")  # type: ignore[arg-type]


async def test_format_unanswered_table_is_aligned(qlog: QuestionLog) -> None:
    groups = await _some_groups(qlog)
    lines = format_unanswered(groups, "table").splitlines()
    assert lines[0].split()[:3] == ["count", "users", "last"]
    example_column = lines[0].index("example")
    assert lines[1][example_column:].startswith("Når tømmes søpla?")
    assert lines[2][example_column:].startswith('Hva er "NAV"?')
    assert "2024-06-01 11:58" in lines[1]
    assert groups[0].questions[0].ref in lines[1]
    assert format_unanswered([], "table") == "No unanswered questions."

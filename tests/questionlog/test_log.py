"""Tests for QuestionLog: recording, votes, purge, forget, and opening it from the settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.core.errors import BotError
from bot.questionlog import (
    Channel,
    Outcome,
    Pseudonymizer,
    QuestionLog,
    StoreError,
    open_question_log,
)
from bot.settings import Settings

from .helpers import FAST, NOW, SECRET, event, rows


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
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, retention_days=30, **FAST) as log:
        for age in (0, 10, 29, 31, 200):
            log.record(event(f"d{age}", asked_at=NOW - timedelta(days=age)))
        await log.flush()
        deleted = await log.purge(older_than_days=older_than_days, now=NOW)
    assert [r["question"] for r in rows(db_path)] == expected_left
    assert deleted == 5 - len(expected_left)


async def test_purge_deletes_what_the_retention_period_no_longer_covers(
    db_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer) as log:
        log.record(event("gammel", asked_at=datetime.now(UTC) - timedelta(days=181)))
        log.record(event("ny"))
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer) as log:  # retention_days=180
        # Opening deletes nothing: the caller decides when to purge (Telegram: a daily job).
        assert len(rows(db_path)) == 2
        assert await log.purge() == 1
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


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, bot_database=tmp_path / "bot.sqlite3", **values)


async def test_open_question_log_from_the_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, bot_retention_days=30)
    log = open_question_log(settings)
    assert (log.path, log.retention_days) == (tmp_path / "bot.sqlite3", 30)
    assert log.pseudonymizer.key(1) == open_question_log(settings).pseudonymizer.key(1)
    assert not log.path.exists()  # not opened yet
    async with log:
        log.record(event("hei"))
    assert [r["question"] for r in rows(log.path)] == ["hei"]

    with_env = open_question_log(_settings(tmp_path, bot_log_secret=SECRET.decode()))
    assert with_env.pseudonymizer.key(1) == Pseudonymizer(SECRET).key(1)
    other = open_question_log(settings, database=tmp_path / "other" / "log.sqlite3")
    assert other.path == tmp_path / "other" / "log.sqlite3"


def test_open_question_log_refuses_a_missing_database_unless_create(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite3"
    with pytest.raises(StoreError, match="no question log") as caught:
        open_question_log(_settings(tmp_path), database=missing, create=False)
    assert isinstance(caught.value, BotError)  # the command line reports it in one line
    assert not missing.exists()
    assert not missing.with_name("missing.sqlite3.secret").exists()
    with pytest.raises(StoreError, match="BOT_LOG_SECRET"):
        open_question_log(_settings(tmp_path, bot_log_secret="too-short"))


def test_a_missing_secret_beside_a_log_with_rows_is_refused(tmp_path: Path) -> None:
    import sqlite3

    from bot.questionlog.privacy import SecretMissingError, load_or_create_secret

    db = tmp_path / "bot.sqlite3"
    load_or_create_secret(db, env_secret=None)  # a fresh log gets a new secret
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE questions (user_key TEXT)")
        conn.execute("INSERT INTO questions VALUES ('abc')")
    conn.close()
    (tmp_path / "bot.sqlite3.secret").unlink()
    with pytest.raises(SecretMissingError, match="BOT_LOG_SECRET"):
        load_or_create_secret(db, env_secret=None)
    assert not (tmp_path / "bot.sqlite3.secret").exists()

"""Tests for privacy: no Telegram id or name on disk, keys, the secret, redaction."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.questionlog import (
    Outcome,
    Pseudonymizer,
    QuestionLog,
    StoreError,
    load_or_create_secret,
    redact_personal_data,
)

from .helpers import FAST, SECRET, event, file_bytes


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

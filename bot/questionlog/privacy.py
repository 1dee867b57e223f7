"""Privacy of the question log: pseudonymous user keys, their secret, and redaction."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import stat
from pathlib import Path
from typing import Self

from bot.questionlog.errors import StoreError

__all__ = [
    "REDACTION_LABELS",
    "SECRET_ENV_VAR",
    "Pseudonymizer",
    "load_or_create_secret",
    "redact_personal_data",
    "redaction_in",
]

logger = logging.getLogger(__name__)

SECRET_ENV_VAR = "BOT_LOG_SECRET"
_MIN_SECRET_BYTES = 16
_KEY_CHARS = 32


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


class SecretMissingError(StoreError):
    """The log holds pseudonymised rows but the secret that made them is gone."""


def _has_rows(db_path: Path) -> bool:
    """Tells whether a question log exists and holds any logged question."""
    if not db_path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT 1 FROM questions WHERE user_key IS NOT NULL LIMIT 1")
            return row.fetchone() is not None
    except sqlite3.Error:
        return False  # no table yet, or not a database: nothing a secret made


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
    if not path.exists() and _has_rows(Path(db_path)):
        # A new secret would give every person a new key: their older rows could no
        # longer be counted with the new ones, nor found by `forget`.
        raise SecretMissingError(
            f"the question log {db_path} holds questions but its secret {path} is missing; "
            f"restore that file, or set {SECRET_ENV_VAR} to the secret it held"
        )
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


REDACTION_LABELS = tuple(label for _, label in _REDACTIONS)


def redaction_in(text: str) -> str | None:
    """Returns the first redaction label ("[telefon]" …) a text still contains, or None."""
    return next((label for label in REDACTION_LABELS if label in text), None)


def redact_personal_data(text: str) -> str:
    """Replaces e-mail addresses, 11-digit id/account numbers and phone numbers with labels."""
    for pattern, label in _REDACTIONS:
        text = pattern.sub(label, text)
    return text

"""The vocabulary the edges share: how a message was handled, where it came from, and
the event the question log records (no Telegram identifiers)."""

from __future__ import annotations

import re
import secrets
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

_KEY_RE = re.compile(r"[0-9a-f]{32}")
_REF_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # lower-case RFC 4648 base32
_REF_LENGTH = 10


class Outcome(StrEnum):
    """Lists how the bot dealt with a message."""

    ANSWERED = "answered"
    DECLINED = "declined"
    AMBIGUOUS = "ambiguous"
    SMALLTALK = "smalltalk"
    # The documents hold only part of what was asked: the bot says so and quotes the
    # nearest passage.
    RELATED = "related"


class Channel(StrEnum):
    """Lists where a message came from."""

    PRIVATE = "private"
    GROUP = "group"
    INLINE = "inline"
    CONSOLE = "console"


def new_ref() -> str:
    """Returns a short random reference (10 lower-case base32 characters, 50 bits)."""
    return "".join(secrets.choice(_REF_ALPHABET) for _ in range(_REF_LENGTH))


def utcnow() -> datetime:
    """Returns the current time in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime, name: str) -> datetime:
    """Returns an aware datetime in UTC; raises ValueError for a naive one."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class QuestionEvent:
    """Describes one handled message as it will be logged (no Telegram identifiers)."""

    question: str
    channel: Channel
    outcome: Outcome
    _: KW_ONLY
    latency_ms: float
    user_key: str | None = None
    entry_id: str | None = None
    score: float | None = None
    alternatives: tuple[str, ...] = ()
    asked_at: datetime = field(default_factory=utcnow)
    ref: str = field(default_factory=new_ref)

    def __post_init__(self) -> None:
        # Validation happens here, in the caller's code path, so that the background
        # writer never meets an event it cannot store.
        if not isinstance(self.question, str):
            raise TypeError("question must be a str")
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        if self.user_key is not None and not _KEY_RE.fullmatch(self.user_key):
            # A raw Telegram id or a username here would defeat pseudonymity.
            raise ValueError("user_key must come from Pseudonymizer.key(), not a raw identifier")
        if self.entry_id is not None and not isinstance(self.entry_id, str):
            raise TypeError("entry_id must be a str or None")
        if self.score is not None:
            object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "latency_ms", float(self.latency_ms))
        alternatives = tuple(self.alternatives)
        if not all(isinstance(a, str) for a in alternatives):
            raise TypeError("alternatives must be entry ids (str)")
        object.__setattr__(self, "alternatives", alternatives)
        object.__setattr__(self, "asked_at", as_utc(self.asked_at, "asked_at"))
        if not isinstance(self.ref, str) or not 0 < len(self.ref) <= 64:
            raise ValueError("ref must be a non-empty str of at most 64 characters")

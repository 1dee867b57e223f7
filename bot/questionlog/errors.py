"""The question log's one error type."""

from __future__ import annotations

from bot.core.errors import BotError


class StoreError(BotError):
    """Signals a question-log failure the caller must act on."""

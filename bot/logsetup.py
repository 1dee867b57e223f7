"""Logging for the Telegram bot: one root configuration, quiet HTTP libraries, no secrets.

The bot token is part of every Bot API URL, so the HTTP libraries' request lines would
print it. They are kept at WARNING, and every handler also carries a filter that
replaces secrets with a placeholder, in case a URL reaches a log line another way.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_NAME = "bot.log"
PLACEHOLDER = "[token]"

# Libraries whose INFO lines are either secret-bearing (request URLs) or pure noise
# (the scheduler reports every run of the 2-second reload check).
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiosqlite")

_configured = False


class RedactingFilter(logging.Filter):
    """Replaces secrets (the bot token, the webhook secret) in log records with a placeholder."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("")
        self.secrets: set[str] = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts the record's message and traceback text in place; never drops a record."""
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not lose the record
            return True
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Handlers cache the formatted traceback here, so redacting it once covers all.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, PLACEHOLDER)
        return text


_redactor = RedactingFilter()


# Libraries whose log lines may carry raw updates, request bodies or replies: who wrote,
# their name, what they asked. Their lines keep their shape, not their content.
_LIBRARIES = ("telegram", "httpx", "httpcore", "tornado", "apscheduler", "aiosqlite", "asyncio")
# Library loggers whose tracebacks describe an expected network error, not a bug.
_EXPECTED = ("telegram.request", "httpx", "httpcore")
_PLAIN_ARG = re.compile(r"[A-Za-z_][\w.:/-]{0,60}")


class StructureOnlyFilter(logging.Filter):
    """Replaces the arguments of library log lines with their type, at every level.

    "Calling Bot API endpoint `sendMessage` with parameters `{...}`" keeps the endpoint
    (a plain word) and loses the parameters (the resident's chat, name and text).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrites a library record's arguments in place; never drops a record."""
        if not record.name.startswith(_LIBRARIES):
            return True
        if record.name.startswith(_EXPECTED) and record.exc_info:
            # A 502 page or a dropped connection is expected: one line, no traceback.
            record.exc_info, record.exc_text = None, None
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_shape(a) for a in args)
        return True


def _shape(value: object) -> object:
    """Returns a log argument if it cannot name a person, else its type in brackets."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str) and _PLAIN_ARG.fullmatch(value):
        return value
    return f"<{type(value).__name__}>"


_structure = StructureOnlyFilter()


def add_secret(secret: str | None) -> None:
    """Adds a value that must never appear in the logs."""
    if secret:
        _redactor.secrets.add(secret)


def protect_handlers(logger: logging.Logger | None = None) -> None:
    """Attaches the redacting filter to every handler of a logger (the root by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if _structure not in handler.filters:
            handler.addFilter(_structure)
        if _redactor not in handler.filters:
            handler.addFilter(_redactor)


def configure_logging(
    level: str = "INFO",
    *,
    secrets: Iterable[str | None] = (),
    log_dir: Path | None = None,
    retention_days: int = 30,
) -> None:
    """Configures root logging once: stderr, an optional daily-rotated file, and redaction."""
    global _configured
    for secret in secrets:
        add_secret(secret)
    root = logging.getLogger()
    if not _configured:
        _configured = True
        formatter = logging.Formatter(FORMAT)
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            # One file per day, kept for the retention period, then deleted by the handler.
            rotating = logging.handlers.TimedRotatingFileHandler(
                log_dir / LOG_FILE_NAME,
                when="midnight",
                backupCount=retention_days,
                encoding="utf-8",
            )
            rotating.setFormatter(formatter)
            root.addHandler(rotating)
        try:
            root.setLevel(level.upper())
        except ValueError:
            root.setLevel(logging.INFO)
            logging.getLogger(__name__).warning("unknown BOT_LOG_LEVEL %r; using INFO", level)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        # PTB logs every unparseable answer (a 502 page) as an error of its own; the
        # failure reaches the bot as an exception, which says it once.
        logging.getLogger("telegram.request").setLevel(logging.CRITICAL)
    protect_handlers(root)

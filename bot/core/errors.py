"""Domain errors raised by the core and translated at the edges (CLI, Telegram, chat)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Problem:
    """One thing wrong with the knowledge base, located as precisely as it can be."""

    message: str
    file: Path | str | None = None
    line: int | None = None
    entry: str | None = None
    field: str | None = None
    fix: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        parts = []
        if self.entry:
            parts.append(f"entry '{self.entry}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        subject = (", ".join(parts) + ": ") if parts else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}{self.severity}: {subject}{self.message.rstrip('.')}.{fix}"


class BotError(Exception):
    """Base class of the errors the bot raises on purpose."""


@dataclass
class KnowledgeError(BotError):
    """Raised when the knowledge base cannot be loaded; carries every problem found."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        return f"{len(self.problems)} problems in the knowledge base; first: {self.problems[0]}"


class UsageError(BotError):
    """Raised when a command is called with arguments that do not fit together."""

    usage = True


class ConfigError(BotError):
    """Raised when the settings are missing or invalid."""

    usage = True  # the command line exits 2, as for a missing TELEGRAM_BOT_TOKEN

"""What every command shares: where the knowledge is, loading it, and the exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.knowledge import KnowledgeBase
    from bot.core.matcher import Matcher

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def knowledge_dir(args: argparse.Namespace) -> Path:
    """Returns the knowledge directory: --knowledge, else the settings (BOT_KNOWLEDGE_DIR)."""
    from bot.settings import load_settings

    if getattr(args, "knowledge", None):
        return Path(args.knowledge)
    return load_settings().knowledge_path


def load(args: argparse.Namespace) -> tuple[KnowledgeBase, Matcher]:
    """Loads the knowledge base the command names and its matcher (from the cache when
    nothing changed)."""
    from bot.core.cache import load_answering

    return load_answering(knowledge_dir(args))

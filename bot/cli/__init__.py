"""The command line: ``python -m bot COMMAND``."""

from bot.cli.main import main

__all__ = ["main"]

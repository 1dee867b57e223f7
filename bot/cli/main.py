"""The ``python -m bot`` command line: ask, chat, check, import, eval, bench, run and admin tools.

Each command imports only what it needs, so ``ask`` starts fast and never loads
``telegram``. Domain errors become one clear line on stderr and a non-zero exit code:
this is the one place they are translated.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, knowledge_dir
from bot.cli.resident import cmd_ask, cmd_chat
from bot.cli.staff import cmd_check, cmd_entries, cmd_eval, cmd_import
from bot.core.errors import BotError, KnowledgeError

# --- bench -------------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.devtools.bench import run_bench

    return run_bench(
        knowledge_dir=knowledge_dir(args),
        quick=args.quick,
        telegram=args.telegram,
        full=args.full,
    )


# --- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from bot.telegram.app import run_bot

    return run_bot(knowledge_dir=knowledge_dir(args))


# --- parser ------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser with every command and its help."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Lillestrøm kommune's resident bot: answers questions by quoting sources.",
    )
    knowledge_help = (
        "knowledge directory (default: $BOT_KNOWLEDGE_DIR or the repository's knowledge/)"
    )
    parser.add_argument("--knowledge", metavar="DIR", help=knowledge_help)
    # The global options work after the command too; SUPPRESS keeps one given before it.
    global_options = argparse.ArgumentParser(add_help=False)
    global_options.add_argument(
        "--knowledge", metavar="DIR", default=argparse.SUPPRESS, help=knowledge_help
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[global_options])
        p.set_defaults(handler=handler)
        return p

    p = add("ask", cmd_ask, "answer a question (or one per line from stdin) as a resident sees it")
    p.add_argument("question", nargs="*", help="the question; omit to read stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.add_argument(
        "--conversation",
        action="store_true",
        help='read JSON lines {"conversation": ID, "question": TEXT} from stdin and keep '
        "the context per conversation id, as the bot keeps it per chat (implies --json)",
    )

    p = add("check", cmd_check, "validate the knowledge base and report source coverage")
    p.add_argument("--strict", action="store_true", help="treat uncovered source text as an error")

    p = add("import", cmd_import, "draft a clean source and entries from a document")
    p.add_argument("file", help="a PDF, web page (.html), Word file (.docx) or plain text")
    p.add_argument(
        "--id", required=True, help="document id, e.g. sykkelplan (made lowercase a-z, 0-9, -)"
    )
    p.add_argument("--title", help="document title (default: its first heading)")
    p.add_argument(
        "--short-title",
        help="how the bot names the document in its own sentences, e.g. 'sykkelplanen for "
        "2024–2028' (default: the title)",
    )
    p.add_argument("--description", help="what the document is")
    p.add_argument("--date", required=True, help="date or period of the document")
    p.add_argument("--period", help="period the document covers, e.g. 2019–2023")
    p.add_argument("--url", help="where the document can be read")
    p.add_argument(
        "--subheading",
        action="append",
        default=[],
        metavar="HEADING",
        help="plain text only: a heading to nest under the one before it (repeatable)",
    )
    p.add_argument("--output", metavar="DIR", help="write sources/ID.md and ID-draft.yaml here")
    p.add_argument("--force", action="store_true", help="overwrite existing files")

    p = add("eval", cmd_eval, "measure answer quality on an evaluation set")
    p.add_argument("file", nargs="?", help="YAML list of {q, expect, kind}")
    p.add_argument(
        "--leave-out",
        action="store_true",
        help="instead, ask each phrasing with it hidden, and each entry's with the entry "
        "hidden: how well the phrasings generalise, and which entries need more",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--quiet", action="store_true", help="leave out the list of failures")

    add("chat", cmd_chat, "chat in the console with the same replies as Telegram gives")

    p = add("entries", cmd_entries, "list the entries' ids and titles, or search them")
    p.add_argument("search", nargs="*", help="words the id, title or section must hold")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = add("bench", cmd_bench, "measure start-up, index build, memory and latency")
    p.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
    p.add_argument("--full", action="store_true", help="also a base of 50,000 entries")
    p.add_argument(
        "--no-telegram",
        dest="telegram",
        action="store_false",
        help="skip the Telegram throughput figure",
    )

    add("run", cmd_run, "run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")

    from bot.cli.admin import register as register_admin

    register_admin(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line and returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KnowledgeError as exc:
        first = exc.problems[0] if exc.problems else exc
        more = len(exc.problems) - 1
        tail = f" ({more} more; run `python -m bot check`)" if more > 0 else ""
        print(f"error: {first}{tail}", file=sys.stderr)
        return EXIT_ERROR
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if getattr(exc, "usage", False) else EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK

"""Admin commands on the question log: unanswered, stats, teach, purge, forget."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.cli.common import EXIT_OK
from bot.core.errors import BotError

if TYPE_CHECKING:
    from bot.questionlog import QuestionLog

T = TypeVar("T")


async def _with_log(args: argparse.Namespace, work: Callable[[QuestionLog], Awaitable[T]]) -> T:
    """Opens the question log named by --database or the settings, runs work, closes it."""
    # Imported here so that commands which never touch the log start without aiosqlite.
    from bot.questionlog import open_question_log
    from bot.settings import load_settings

    database = Path(args.database) if args.database else None
    log = open_question_log(load_settings(), database=database, create=args.create)
    await log.open()
    try:
        return await work(log)
    finally:
        await log.close()


def cmd_unanswered(args: argparse.Namespace) -> int:
    from bot.questionlog import format_unanswered

    async def work(log: QuestionLog) -> int:
        groups = await log.unanswered(days=args.days)
        print(format_unanswered(groups, args.format), end="")
        return EXIT_OK

    return asyncio.run(_with_log(args, work))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def cmd_stats(args: argparse.Namespace) -> int:
    async def work(log: QuestionLog) -> int:
        stats = await log.stats(days=args.days)
        data = stats.to_dict()
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
            return EXIT_OK
        print(f"questions:      {data['questions']}")
        print(f"answered:       {data['answered']} ({_percent(data['answer_rate'])})")
        print(f"declined:       {data['declined']} ({_percent(data['decline_rate'])})")
        print(f"ambiguous:      {data['ambiguous']}")
        print(f"related:        {data['related']}")
        print(f"small talk:     {data['smalltalk']}")
        print(f"distinct users: {data['distinct_users']}")
        print(
            f"votes:          👍 {data['votes_up']}  👎 {data['votes_down']} "
            f"({_percent(data['thumbs_down_rate'])} 👎)"
        )
        for top in data["top_entries"]:
            print(f"  {top['count']:>5}  {top['entry_id']}")
        return EXIT_OK

    return asyncio.run(_with_log(args, work))


def cmd_teach(args: argparse.Namespace) -> int:
    from bot.authoring.teach import add_phrasing
    from bot.cli.common import knowledge_dir

    async def work(log: QuestionLog) -> str:
        stored = await log.get(args.question_ref)
        if stored is None:
            raise BotError(
                f"no logged question with ref '{args.question_ref}'; "
                "see `python -m bot unanswered` for refs"
            )
        return stored.question

    question = asyncio.run(_with_log(args, work))
    directory = knowledge_dir(args)
    path = add_phrasing(directory, args.entry_id, question)
    print(f"taught '{question}' to entry '{args.entry_id}' in {path}")
    return EXIT_OK


def cmd_purge(args: argparse.Namespace) -> int:
    async def work(log: QuestionLog) -> int:
        removed = await log.purge(older_than_days=args.days)
        print(f"deleted {removed} question(s) older than the retention period")
        return EXIT_OK

    return asyncio.run(_with_log(args, work))


def cmd_forget(args: argparse.Namespace) -> int:
    async def work(log: QuestionLog) -> int:
        removed = await log.forget(log.pseudonymizer.key(args.telegram_user_id))
        print(f"deleted {removed} question(s) asked by that Telegram user")
        return EXIT_OK

    return asyncio.run(_with_log(args, work))


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds the admin commands to the command line."""

    def database(p: argparse.ArgumentParser, *, create: bool = False) -> None:
        p.add_argument("--database", metavar="FILE", help="question log (default: $BOT_DATABASE)")
        p.set_defaults(create=create)

    p = add("unanswered", cmd_unanswered, "list questions the bot declined, grouped and counted")
    p.add_argument("--days", type=int, default=7, help="look back this many days (default 7)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    database(p)

    p = add("stats", cmd_stats, "show question counts, answer and decline rates, votes")
    p.add_argument("--days", type=int, default=None, help="only the last N days")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    database(p)

    p = add("teach", cmd_teach, "add a logged question as a new phrasing of an entry")
    p.add_argument("question_ref", metavar="QUESTION_REF", help="ref shown by `unanswered`")
    p.add_argument("entry_id", metavar="ENTRY_ID", help="id of the entry that answers it")
    database(p)

    p = add("purge", cmd_purge, "delete logged questions older than the retention period")
    p.add_argument(
        "--days", type=int, default=None, help="retention in days (default $BOT_RETENTION_DAYS)"
    )
    database(p, create=True)

    p = add("forget", cmd_forget, "delete every logged question of one Telegram user")
    p.add_argument("telegram_user_id", metavar="TELEGRAM_USER_ID", type=int)
    database(p, create=True)

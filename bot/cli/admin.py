"""Admin commands on the question log: unanswered, dismiss, stats, teach, purge, forget."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.cli.common import EXIT_OK
from bot.core.errors import BotError, UsageError

if TYPE_CHECKING:
    from bot.questionlog import QuestionLog
    from bot.questionlog.daily import DayCounts

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


def _run(work: Awaitable[T]) -> T:
    """Runs a log command's coroutine (asyncio is imported here: ``ask`` never needs it)."""
    import asyncio

    async def main() -> T:
        return await work

    return asyncio.run(main())


def cmd_unanswered(args: argparse.Namespace) -> int:
    from bot.authoring.review import build_review
    from bot.cli.common import load
    from bot.questionlog import format_unanswered

    _, matcher = load(args)

    async def work(log: QuestionLog) -> int:
        groups = build_review(await log.failures(days=args.days), matcher)
        text = format_unanswered(groups, args.format)
        print(text, end="" if text.endswith("\n") else "\n")
        if args.format == "table":
            if groups:
                print(
                    "Teach one: `python -m bot teach REF ENTRY_ID`; ids: `python -m bot entries`."
                )
                print("Leave one out: `python -m bot dismiss REF --reason declined|handled`.")
            from bot.questionlog.handover import HandoverDesk, handled_lines

            # Questions staff answered by handover: material for the knowledge base.
            async with HandoverDesk(log.path, days=1) as desk:
                handled = await desk.handled()
            for line in handled_lines(handled):
                print(line)
        return EXIT_OK

    return _run(_with_log(args, work))


def cmd_dismiss(args: argparse.Namespace) -> int:
    from bot.authoring.review import build_review, group_of
    from bot.cli.common import load

    _, matcher = load(args)

    async def work(log: QuestionLog) -> int:
        groups = build_review(await log.failures(days=args.days), matcher)
        refs: list[str] = []
        for ref in dict.fromkeys(r.lower() for r in args.refs):
            if await log.get(ref) is None:
                raise BotError(
                    f"no logged question with ref '{ref}'; see `python -m bot unanswered` for refs"
                )
            group = None if args.only else group_of(groups, ref)
            refs += [q.ref for q in group.questions] if group else [ref]
        marked = await log.dismiss(list(dict.fromkeys(refs)), args.reason)
        what = "correctly declined" if args.reason == "declined" else "handled"
        print(f"marked {marked} question(s) as {what}; they leave `python -m bot unanswered`")
        return EXIT_OK

    return _run(_with_log(args, work))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _write_chart(
    path: Path, days: list[DayCounts], handed_over: dict[date, int] | None = None
) -> None:
    """Draws the chart of days and writes it as a PNG file; a bad path is a BotError."""
    from bot.questionlog.chart import render_chart

    png = render_chart(days, handed_over=handed_over)
    try:
        path.write_bytes(png)
    except OSError as exc:
        raise BotError(f"cannot write the chart to {path}: {exc.strerror or exc}") from None


def cmd_stats(args: argparse.Namespace) -> int:
    from bot.core.events import Outcome
    from bot.questionlog.chart import CHART_DAYS
    from bot.settings import load_settings

    zone = load_settings().zone

    async def work(log: QuestionLog) -> int:
        stats = await log.stats(days=args.days)
        days = await log.daily(days=CHART_DAYS, zone=zone)
        data = stats.to_dict()
        data["by_outcome"] = {
            str(outcome): data[str(outcome)] for outcome in Outcome if str(outcome) in data
        }
        data["by_day"] = [day.to_dict() for day in days]
        # Questions residents handed over to a person (the handover cases' own table).
        from bot.questionlog.handover import HandoverDesk

        async with HandoverDesk(log.path, days=1) as desk:
            data["handover"] = await desk.counts()
            since = datetime.now(UTC) - timedelta(days=CHART_DAYS + 1)
            handed = await desk.per_day(zone=zone, since=since)
        data["handover"]["by_day"] = {day.isoformat(): n for day, n in sorted(handed.items())}
        if args.chart:
            import asyncio

            await asyncio.to_thread(_write_chart, Path(args.chart), days, handed)
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
            return EXIT_OK
        print(f"questions:      {data['questions']}")
        print(f"answered:       {data['answered']} ({_percent(data['answer_rate'])})")
        print(f"declined:       {data['declined']} ({_percent(data['decline_rate'])})")
        print(f"ambiguous:      {data['ambiguous']}")
        print(f"related:        {data['related']}")
        print(f"small talk:     {data['smalltalk']}")
        print(f"handed over:    {data['handover']['cases']} ({data['handover']['open']} open)")
        print(f"distinct users: {data['distinct_users']}")
        print(
            f"votes:          👍 {data['votes_up']}  👎 {data['votes_down']} "
            f"({_percent(data['thumbs_down_rate'])} 👎)"
        )
        for top in data["top_entries"]:
            print(f"  {top['count']:>5}  {top['entry_id']}")
        if args.chart:
            print(f"chart of the last {CHART_DAYS} days written to {args.chart}")
        return EXIT_OK

    return _run(_with_log(args, work))


def cmd_teach(args: argparse.Namespace) -> int:
    from bot.authoring.teach import TeachError, add_phrasing
    from bot.cli.common import knowledge_dir
    from bot.core.messages import phrase

    async def work(log: QuestionLog) -> str:
        stored = await log.get(args.question_ref)
        if stored is None:
            raise BotError(
                f"no logged question with ref '{args.question_ref}'; "
                "see `python -m bot unanswered` for refs"
            )
        return stored.question

    question = _run(_with_log(args, work))
    directory = knowledge_dir(args)
    try:
        path = add_phrasing(directory, args.entry_id, question, force=args.force)
    except TeachError as exc:
        if not exc.overridable:
            raise
        hint = phrase("teach_force_hint", "nb", reason=str(exc))
        raise TeachError(hint, overridable=True) from None
    print(f"taught '{question}' to entry '{args.entry_id}' in {path}")
    return EXIT_OK


def _confirmed(question: str) -> bool:
    """Asks a yes/no question on the terminal (or reads the answer from stdin); True for yes."""
    if sys.stdin.isatty():
        print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().casefold() in {"y", "yes", "j", "ja"}


def cmd_purge(args: argparse.Namespace) -> int:
    if args.days is not None and args.days < 1:
        raise UsageError(f"--days must be at least 1, not {args.days}")

    async def work(log: QuestionLog) -> int:
        days = log.retention_days if args.days is None else args.days
        if not args.yes and not _confirmed(f"Delete every logged question older than {days} days?"):
            raise BotError("not confirmed, nothing deleted (add --yes to purge without asking)")
        removed = await log.purge(older_than_days=days)
        print(f"deleted {removed} question(s) older than the retention period")
        return EXIT_OK

    return _run(_with_log(args, work))


def cmd_forget(args: argparse.Namespace) -> int:
    async def work(log: QuestionLog) -> int:
        from bot.questionlog.handover import HandoverDesk

        key = log.pseudonymizer.key(args.telegram_user_id)
        removed = await log.forget(key)
        # Handover cases keep the way back to a resident: they go too.
        async with HandoverDesk(log.path, days=1) as desk:
            cases = await desk.forget(key)
        print(f"deleted {removed} question(s) and {cases} handover case(s) of that Telegram user")
        return EXIT_OK

    return _run(_with_log(args, work))


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Adds the admin commands to the command line."""

    def database(p: argparse.ArgumentParser, *, create: bool = False) -> None:
        p.add_argument("--database", metavar="FILE", help="question log (default: $BOT_DATABASE)")
        p.set_defaults(create=create)

    p = add(
        "unanswered",
        cmd_unanswered,
        "list the questions the bot failed (declined, 'mente du', related, thumbs down), "
        "grouped and counted, with the entries that may answer them",
    )
    p.add_argument("--days", type=int, default=7, help="look back this many days (default 7)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    database(p)

    p = add(
        "dismiss",
        cmd_dismiss,
        "take a question and those grouped with it out of `unanswered`: "
        "correctly declined, or handled",
    )
    p.add_argument("refs", metavar="REF", nargs="+", help="ref shown by `unanswered`")
    p.add_argument(
        "--reason",
        choices=("declined", "handled"),
        default="declined",
        help="declined: the bot was right not to answer (default); handled: dealt with",
    )
    p.add_argument(
        "--only", action="store_true", help="only the question itself, not those grouped with it"
    )
    p.add_argument(
        "--days", type=int, default=30, help="the review the groups come from (default 30 days)"
    )
    database(p)

    p = add("stats", cmd_stats, "show question counts, answer and decline rates, votes")
    p.add_argument("--days", type=int, default=None, help="only the last N days")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.add_argument(
        "--chart",
        metavar="FILE.png",
        help="also draw questions per day over the last 30 days (by outcome) as a PNG file",
    )
    database(p)

    p = add("teach", cmd_teach, "add a logged question as a new phrasing of an entry")
    p.add_argument("question_ref", metavar="QUESTION_REF", help="ref shown by `unanswered`")
    p.add_argument("entry_id", metavar="ENTRY_ID", help="id of the entry that answers it")
    p.add_argument(
        "--force",
        action="store_true",
        help="teach it even though the passage lacks what it asks, it holds a redaction "
        "label, or another entry answers it",
    )
    database(p)

    p = add("purge", cmd_purge, "delete logged questions older than the retention period")
    p.add_argument(
        "--days", type=int, default=None, help="retention in days (default $BOT_RETENTION_DAYS)"
    )
    p.add_argument("--yes", action="store_true", help="delete without asking for confirmation")
    database(p, create=True)

    p = add("forget", cmd_forget, "delete every logged question of one Telegram user")
    p.add_argument("telegram_user_id", metavar="TELEGRAM_USER_ID", type=int)
    database(p, create=True)

"""The ``python -m bot`` command line: ask, chat, check, import, eval, bench, run and admin tools.

Each command imports only what it needs, so ``ask`` starts fast and never loads
``telegram``. Domain errors become one clear line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.core.errors import BotError, KnowledgeError, UsageError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _knowledge_dir(args: argparse.Namespace) -> Path | None:
    value = args.knowledge or os.environ.get("BOT_KNOWLEDGE_DIR")
    return Path(value) if value else None


def _load(args: argparse.Namespace):
    from bot.core.knowledge import load_knowledge
    from bot.core.matcher import Matcher

    kb = load_knowledge(_knowledge_dir(args))
    return kb, Matcher(kb)


# --- ask ---------------------------------------------------------------------------------


def ask_payload(kb, matcher, question: str) -> dict:
    """Returns the JSON object ``ask --json`` prints for one question."""
    from bot.core.replies import compose

    result = matcher.match(question)
    reply = compose(kb, result)
    entry = reply.entry
    return {
        "question": question,
        "answered": result.answered,
        "outcome": result.outcome,
        "entry_id": entry.id if entry else None,
        "answer": entry.answer if entry else None,
        "document": reply.source.title if reply.source else None,
        "date": reply.source.when if reply.source else None,
        "section": entry.section if entry else None,
        "score": result.best.score if result.best else 0.0,
        "alternatives": [
            {"entry_id": c.entry_id, "question": c.question, "score": c.score}
            for c in result.alternatives
        ],
        "reply": reply.as_text(),
    }


def cmd_ask(args: argparse.Namespace) -> int:
    kb, matcher = _load(args)

    def one(question: str) -> str:
        if args.json:
            return json.dumps(ask_payload(kb, matcher, question), ensure_ascii=False)
        from bot.core.replies import compose

        return compose(kb, matcher.match(question)).as_text()

    if args.question:
        print(one(" ".join(args.question)))
        return EXIT_OK
    for line in sys.stdin:
        question = line.rstrip("\n")
        if not question.strip():
            continue
        print(one(question) if args.json else one(question) + "\n", flush=True)
    return EXIT_OK


# --- check -------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from bot.authoring.checks import coverage_gaps, phrasing_problems

    try:
        kb, matcher = _load(args)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"check failed: {len(exc.problems)} error(s)", file=sys.stderr)
        return EXIT_ERROR
    errors = phrasing_problems(kb, matcher)
    for problem in errors:
        print(problem, file=sys.stderr)
    gaps, covered, total = coverage_gaps(kb)
    for gap in gaps:
        doc = kb.sources[gap.source]
        print(
            f"{doc.path}:{gap.line}: {'error' if args.strict else 'warning'}: "
            f'no entry quotes this text in {gap.source} › {gap.section}: "{gap.text}". '
            "Fix: add an entry whose answer quotes it.",
            file=sys.stderr,
        )
    phrasings = sum(len(e.questions) for e in kb.entries)
    pct = 100.0 * covered / total if total else 100.0
    print(
        f"{len(kb.entries)} entries, {phrasings} phrasings, {len(kb.sources)} sources, "
        f"{len(kb.synonyms)} synonym groups; coverage {covered}/{total} sentences ({pct:.1f}%)"
    )
    failed = bool(errors) or (args.strict and bool(gaps))
    if failed:
        count = len(errors) + (len(gaps) if args.strict else 0)
        print(f"check failed: {count} error(s)", file=sys.stderr)
        return EXIT_ERROR
    print("ok")
    return EXIT_OK


# --- import ------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from bot.authoring.importer import draft_entries
    from bot.core.sources import SourceMeta, parse_raw, render_clean

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BotError(f"cannot read {path}: {exc}") from exc
    doc = parse_raw(text, subheadings=args.subheading)
    if not doc.sections:
        raise BotError(f"{path}: found no paragraphs to import")
    meta = SourceMeta(
        id=args.id,
        title=args.title or doc.title or args.id,
        description=args.description or (doc.title or args.id),
        date=args.date,
        period=args.period,
        url=args.url,
        origin=str(path),
    )
    clean = render_clean(doc, meta)
    drafts = draft_entries(doc, source_id=meta.id)
    if args.output:
        out = Path(args.output)
        (out / "sources").mkdir(parents=True, exist_ok=True)
        source_file = out / "sources" / f"{meta.id}.md"
        draft_file = out / f"{meta.id}-draft.yaml"
        for target in (source_file, draft_file):
            if target.exists() and not args.force:
                raise BotError(f"{target} exists; pass --force to overwrite it")
        source_file.write_text(clean, encoding="utf-8")
        draft_file.write_text(drafts, encoding="utf-8")
        paragraphs = sum(len(p) for _, p in doc.sections)
        print(
            f"wrote {source_file} ({len(doc.sections)} sections, {paragraphs} paragraphs) "
            f"and {draft_file}; add resident phrasings, then run `python -m bot check`"
        )
    else:
        print(drafts, end="")
    return EXIT_OK


# --- eval --------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.authoring.evaluate import (
        BASELINE_CUTOFF,
        baseline,
        evaluate,
        format_leave_out,
        format_report,
        leave_out,
        load_eval_set,
    )

    if (args.file is None) == (not args.leave_out):
        raise UsageError("give an evaluation FILE or --leave-out (not both)")
    kb, matcher = _load(args)
    if args.leave_out:
        held = leave_out(kb)
        if args.json:
            print(json.dumps(held.summary(), ensure_ascii=False, indent=2))
        else:
            print(format_leave_out(held))
        return EXIT_OK
    items = load_eval_set(Path(args.file))
    report = evaluate(matcher, items)
    plain = baseline(kb, items, score_cutoff=BASELINE_CUTOFF)
    if args.json:
        print(json.dumps({**report.summary(), "baseline": plain}, ensure_ascii=False, indent=2))
    else:
        print(format_report(report, show_failures=not args.quiet, plain=plain))
    return EXIT_OK


# --- chat --------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.cli.console import run_chat

    return run_chat(knowledge_dir=_knowledge_dir(args))


# --- bench -------------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.devtools.bench import run_bench

    return run_bench(knowledge_dir=_knowledge_dir(args), quick=args.quick, telegram=args.telegram)


# --- run ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from bot.telegram.app import run_bot

    return run_bot(knowledge_dir=_knowledge_dir(args))


# --- parser ------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser with every command and its help."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Lillestrøm kommune's resident bot: answers questions by quoting sources.",
    )
    parser.add_argument(
        "--knowledge",
        metavar="DIR",
        help="knowledge directory (default: $BOT_KNOWLEDGE_DIR or the repository's knowledge/)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    p = add("ask", cmd_ask, "answer a question (or one per line from stdin) as a resident sees it")
    p.add_argument("question", nargs="*", help="the question; omit to read stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")

    p = add("check", cmd_check, "validate the knowledge base and report source coverage")
    p.add_argument("--strict", action="store_true", help="treat uncovered source text as an error")

    p = add("import", cmd_import, "draft a clean source and entries from a raw source text")
    p.add_argument("file", help="raw text (PDF extract or web page)")
    p.add_argument("--id", required=True, help="document id, e.g. plattform")
    p.add_argument("--title", help="document title (default: its first heading)")
    p.add_argument("--description", help="what the document is")
    p.add_argument("--date", required=True, help="date or period of the document")
    p.add_argument("--period", help="period the document covers, e.g. 2019–2023")
    p.add_argument("--url", help="where the document can be read")
    p.add_argument(
        "--subheading",
        action="append",
        default=[],
        metavar="HEADING",
        help="a heading to nest under the one before it (repeatable)",
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

    p = add("bench", cmd_bench, "measure start-up, index build, memory and latency")
    p.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke run")
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

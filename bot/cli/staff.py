"""Staff commands: ``check`` the knowledge base, ``import`` a document, ``eval`` quality."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from bot.cli.common import EXIT_ERROR, EXIT_OK, knowledge_dir, load
from bot.core.errors import BotError, KnowledgeError, UsageError


def cmd_entries(args: argparse.Namespace) -> int:
    """Lists the entries (those whose id, title or section hold the search words): id, label."""
    from bot.core.knowledge import load_knowledge, search_entries

    kb = load_knowledge(knowledge_dir(args))
    search = " ".join(args.search)
    found = search_entries(kb, search) if search else kb.entries
    if not found:
        raise BotError(f"no entry's id, title or section holds '{search}'")
    if args.json:
        rows = [
            {
                "id": e.id,
                "title": e.title or None,
                "label": e.label,
                "section": e.section,
                "source": e.source,
                "file": e.file.name,
                "questions": len(e.questions),
            }
            for e in found
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    width = max(len(e.id) for e in found)
    for e in found:
        print(f"{e.id:<{width}}  {e.label}  ({e.section})")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from bot.authoring.checks import coverage_gaps, phrasing_problems

    try:
        kb, matcher = load(args)
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
    if kb.drafts:
        files = Counter(entry.file.name for entry in kb.drafts)
        where = ", ".join(f"{name} ({count})" for name, count in sorted(files.items()))
        print(
            f"{len(kb.drafts)} draft entries wait to be published (not answered from until "
            f"their 'status: draft' line is deleted): {where}"
        )
    failed = bool(errors) or (args.strict and bool(gaps))
    if failed:
        count = len(errors) + (len(gaps) if args.strict else 0)
        print(f"check failed: {count} error(s)", file=sys.stderr)
        return EXIT_ERROR
    print("ok")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Drafts a clean source and draft entries from a PDF, web page, Word or text file."""
    from bot.authoring.importer import draft_entries, existing_ids, source_id
    from bot.authoring.readers import read_document
    from bot.core.sources import SourceMeta, render_clean

    path = Path(args.file)
    if not path.is_file():
        raise BotError(f"cannot read {path}: no such file")
    doc_id = source_id(args.id)
    doc = read_document(path, subheadings=args.subheading)
    if not doc.sections:
        raise BotError(f"{path}: found no paragraphs to import")
    title = args.title or doc.title or doc_id
    meta = SourceMeta(
        id=doc_id,
        title=title,
        short_title=args.short_title,
        description=args.description or doc.subtitle or title,
        date=args.date,
        period=args.period,
        url=args.url,
        origin=path.name,
        notes=[
            f"Laget av `python -m bot import` fra {path.name}: sjekk overskrifter, avsnitt "
            "og lister mot originalen."
        ],
    )
    clean = render_clean(doc, meta)
    if doc_id != args.id:
        print(f"the id '{args.id}' is written '{doc_id}'")
    if not args.output:
        print(draft_entries(doc, source_id=doc_id), end="")
        return EXIT_OK
    out = Path(args.output)
    source_file = out / "sources" / f"{doc_id}.md"
    draft_file = out / f"{doc_id}-draft.yaml"
    for target in (source_file, draft_file):
        if target.exists() and not args.force:
            raise BotError(f"{target} exists; pass --force to overwrite it")
    drafts = draft_entries(doc, source_id=doc_id, taken=existing_ids(out, skip=[draft_file]))
    try:
        source_file.parent.mkdir(parents=True, exist_ok=True)
        source_file.write_text(clean, encoding="utf-8")
        draft_file.write_text(drafts, encoding="utf-8")
    except OSError as exc:
        raise BotError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    paragraphs = sum(len(p) for _, p in doc.sections)
    print(
        f"wrote {source_file} ({len(doc.sections)} sections, {paragraphs} paragraphs) "
        f"and {draft_file} ({paragraphs} entries with 'status: draft': not answered from "
        "until published); add resident phrasings, run `python -m bot check`, then delete "
        "each 'status: draft' line to publish"
    )
    return EXIT_OK


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
    kb, matcher = load(args)
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

"""Resident-facing commands: ``ask`` (one reply or JSON lines) and ``chat`` (the console)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from bot.cli.common import EXIT_OK, knowledge_dir, load

if TYPE_CHECKING:
    from bot.core.knowledge import KnowledgeBase
    from bot.core.matcher import Matcher


def ask_payload(kb: KnowledgeBase, matcher: Matcher, question: str) -> dict[str, Any]:
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
    kb, matcher = load(args)

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


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.cli.console import run_chat

    return run_chat(knowledge_dir=knowledge_dir(args))

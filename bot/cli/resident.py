"""Resident-facing commands: ``ask`` (one reply or JSON lines) and ``chat`` (the console)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from bot.cli.common import EXIT_OK, knowledge_dir, load
from bot.core.dialogue import Conversations, Topic, respond
from bot.core.errors import UsageError
from bot.core.matcher import ANSWERED, RELATED
from bot.core.replies import Reply

if TYPE_CHECKING:
    from bot.core.knowledge import KnowledgeBase
    from bot.core.matcher import Matcher


def _part_payload(reply: Reply) -> dict[str, Any]:
    """Returns the JSON fields of one part of a reply (one question of the message)."""
    result, entry = reply.result, reply.entry
    answered = reply.outcome == ANSWERED
    related = None
    if reply.outcome == RELATED and entry is not None:
        related = {
            "entry_id": entry.id,
            "answer": entry.answer,
            "document": reply.source.title if reply.source else None,
            "section": entry.section,
            "missing": result.missing,
        }
    return {
        "question": result.question,
        "answered": answered,
        "outcome": str(result.outcome),
        "entry_id": entry.id if entry and answered else None,
        "answer": entry.answer if entry and answered else None,
        "document": reply.source.title if reply.source and answered else None,
        "date": reply.source.when if reply.source and answered else None,
        "section": entry.section if entry and answered else None,
        "score": result.best.score if result.best else 0.0,
        # Found through the story around the question: the reply says how it was read.
        "inferred": answered and result.inferred,
        "alternatives": [
            {"entry_id": c.entry_id, "question": c.question, "score": c.score}
            for c in result.alternatives
        ],
        "related": related,
    }


def ask_payload(
    kb: KnowledgeBase, matcher: Matcher, question: str, *, topic: Topic | None = None
) -> tuple[dict[str, Any], Topic | None]:
    """Returns the JSON object ``ask --json`` prints for one message, and the new topic."""
    turn = respond(kb, matcher, question, topic=topic)
    payload = {**_part_payload(turn.reply), "question": question}
    payload["parts"] = [_part_payload(part) for part in turn.reply.parts]
    payload["reply"] = turn.reply.as_text()
    return payload, turn.topic


def cmd_ask(args: argparse.Namespace) -> int:
    """Answers a question (or each line of stdin), as text or JSON lines."""
    kb, matcher = load(args)
    if args.conversation:
        return _conversations(kb, matcher)

    def one(question: str) -> str:
        if args.json:
            return json.dumps(ask_payload(kb, matcher, question)[0], ensure_ascii=False)
        return respond(kb, matcher, question).reply.as_text()

    if args.question:
        print(one(" ".join(args.question)))
        return EXIT_OK
    for line in sys.stdin:
        question = line.rstrip("\n")
        if not question.strip():
            continue
        print(one(question) if args.json else one(question) + "\n", flush=True)
    return EXIT_OK


def _conversations(kb: KnowledgeBase, matcher: Matcher) -> int:
    """Reads {"conversation": ID, "question": TEXT} lines; keeps context per id, as the bot."""
    conversations = Conversations()
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        expected = f'line {number}: expected {{"conversation": ID, "question": TEXT}}'
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{expected} ({exc})") from None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("question"), str)
            or isinstance(item.get("conversation"), bool)
            or not isinstance(item.get("conversation"), str | int)
        ):
            raise UsageError(f"{expected}, the id a string or a number, the question text")
        key, question = str(item["conversation"]), item["question"]
        payload, topic = ask_payload(kb, matcher, question, topic=conversations.get(key))
        conversations.remember(key, topic)
        print(json.dumps({"conversation": key, **payload}, ensure_ascii=False), flush=True)
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.cli.console import run_chat

    return run_chat(knowledge_dir=knowledge_dir(args))

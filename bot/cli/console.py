"""The console chat: the same answering pipeline and replies as Telegram, as plain text."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from bot.core.matcher import AMBIGUOUS
from bot.core.service import Answerer, log_event

logger = logging.getLogger(__name__)

BANNER = (
    "Lillestrøm kommune – spør om sammenslåingen eller den politiske plattformen 2019–2023.\n"
    "Skriv et spørsmål og trykk Enter. Ctrl-D eller «exit» avslutter."
)


def run_chat(*, knowledge_dir: Path) -> int:
    """Runs the console chat until end of input; returns the exit code."""
    answerer = Answerer(knowledge_dir)
    return asyncio.run(_chat(answerer))


async def _open_log():
    """Opens the question log, or returns None (the chat works without it)."""
    try:
        from bot.questionlog.store import Pseudonymizer, QuestionLog, load_or_create_secret
        from bot.settings import load_settings

        settings = load_settings()
        secret = load_or_create_secret(
            settings.bot_database,
            env_secret=settings.bot_log_secret.get_secret_value()
            if settings.bot_log_secret
            else None,
        )
        log = QuestionLog(
            settings.bot_database,
            pseudonymizer=Pseudonymizer.from_secret(secret),
            retention_days=settings.bot_retention_days,
        )
        await log.open()
        return log
    except Exception as exc:  # the chat must work without a log
        logger.warning("question log unavailable, chatting without it: %s", exc)
        return None


async def _chat(answerer: Answerer) -> int:
    from bot.questionlog.store import Channel

    log = await _open_log()
    interactive = sys.stdin.isatty()
    print(BANNER, flush=True)
    pending_choices: list[str] = []
    language = "nb"
    try:
        while True:
            if interactive:
                print("> ", end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            question = line.strip()
            if not question:
                continue
            if question.lower() in {"exit", "quit", "avslutt"}:
                break
            if (
                pending_choices
                and question.isdigit()
                and 1 <= int(question) <= len(pending_choices)
            ):
                reply = answerer.answer_entry(pending_choices[int(question) - 1], language=language)
                pending_choices = []
                if reply is not None:
                    print(reply.as_text() + "\n", flush=True)
                continue
            answered = answerer.answer(question)
            reply = answered.reply
            language = reply.language
            pending_choices = (
                [cand.entry_id for cand, _ in reply.alternatives]
                if reply.outcome == AMBIGUOUS
                else []
            )
            print(reply.as_text() + "\n", flush=True)
            if log is not None:
                log.record(
                    log_event(
                        reply,
                        question=question,
                        channel=Channel.CONSOLE,
                        latency_ms=answered.latency_ms,
                        user_key=None,
                    )
                )
    finally:
        if log is not None:
            await log.close()
    return 0

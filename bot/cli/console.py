"""The console chat: the same answering pipeline and replies as Telegram, as plain text."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.matcher import AMBIGUOUS
from bot.core.service import Answerer, log_event

if TYPE_CHECKING:
    from bot.questionlog import QuestionLog

logger = logging.getLogger(__name__)

BANNER = (
    "Lillestrøm kommune – spør om sammenslåingen eller den politiske plattformen 2019–2023.\n"
    "Skriv et spørsmål og trykk Enter. Ctrl-D eller «exit» avslutter."
)


def run_chat(*, knowledge_dir: Path) -> int:
    """Runs the console chat until end of input; returns the exit code."""
    answerer = Answerer(knowledge_dir)
    return asyncio.run(_chat(answerer))


async def _open_log() -> QuestionLog | None:
    """Opens the question log and purges expired rows, or returns None if it is unusable."""
    try:
        from bot.questionlog import StoreError, open_question_log
        from bot.settings import load_settings

        log = open_question_log(load_settings())
        await log.open()
    except Exception as exc:  # the chat must work without a log
        logger.warning("question log unavailable, chatting without it: %s", exc)
        return None
    # The Telegram app purges daily; a chat session is short, so once at the start suffices.
    try:
        await log.purge()
    except StoreError as exc:
        logger.warning("question log retention purge failed: %s", exc)
    return log


async def _chat(answerer: Answerer) -> int:
    from bot.core.events import Channel

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
            answered = answerer.answer(question, conversation="console")
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

"""The console chat: the same answering pipeline, replies and commands as Telegram, as text.

/start, /help (/hjelp), /kilder and /spor say what they say in Telegram; a number picks an
option only while a "Mente du …?" menu is open, and is otherwise a question, as in Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.matcher import AMBIGUOUS
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.replies import (
    banner_text,
    examples_text,
    smalltalk_text,
    sources_lines,
    welcome_text,
)
from bot.core.service import Answerer, log_event

if TYPE_CHECKING:
    from bot.questionlog import QuestionLog

logger = logging.getLogger(__name__)


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


CONVERSATION = "console"
EXIT_WORDS = frozenset({"exit", "quit", "avslutt"})


class Console:
    """One console session: its language, its open "mente du" menu and the question log."""

    def __init__(self, answerer: Answerer, log: QuestionLog | None) -> None:
        self.answerer = answerer
        self.log = log
        self.language = "nb"
        self.choices: list[str] = []  # entry ids of the open "mente du" menu

    def command(self, line: str) -> str:
        """Returns the reply to a /command, as Telegram gives it (commands are not logged)."""
        name, _, rest = line[1:].partition(" ")
        name = name.partition("@")[0].casefold()
        lang = self.language
        if name == "start":
            self.answerer.forget(CONVERSATION)
            return f"{welcome_text(self.answerer.kb, lang)}\n{examples_text()}"
        if name in ("help", "hjelp"):
            help_text = smalltalk_text("help", lang, self.answerer.kb.known_sources)
            return f"{help_text}\n\n{phrase('console_commands', lang)}"
        if name == "kilder":
            return "\n".join(sources_lines(self.answerer.kb, lang, html=False)).strip()
        if name == "spor":
            if rest.strip():
                return self.ask(rest.strip())
            return phrase("spor_usage", lang, example=EXAMPLE_QUESTIONS[0])
        return phrase("unknown_command", lang)

    def pick(self, number: int) -> str | None:
        """Returns the answer of an option of the open "mente du" menu, or None if none is."""
        if not 1 <= number <= len(self.choices):
            return None
        reply = self.answerer.answer_entry(self.choices[number - 1], language=self.language)
        self.choices = []
        return reply.as_text() if reply is not None else None

    def ask(self, question: str) -> str:
        """Answers a question in the light of the conversation, records it, returns the reply."""
        from bot.core.events import Channel

        answered = self.answerer.answer(question, conversation=CONVERSATION)
        reply = answered.reply
        self.language = reply.language
        self.choices = (
            [cand.entry_id for cand, _ in reply.alternatives] if reply.outcome == AMBIGUOUS else []
        )
        if self.log is not None:
            self.log.record(
                log_event(
                    reply,
                    question=question,
                    channel=Channel.CONSOLE,
                    latency_ms=answered.latency_ms,
                    user_key=None,
                )
            )
        return reply.as_text()

    def reply(self, line: str) -> str:
        """Returns the reply to one line: a command, a menu pick, or a question."""
        if line.startswith("/"):
            self.choices = []
            return self.command(line)
        if line.isdigit() and self.choices:
            picked = self.pick(int(line))
            if picked is not None:
                return picked
        return self.ask(line)


async def _chat(answerer: Answerer) -> int:
    log = await _open_log()
    console = Console(answerer, log)
    interactive = sys.stdin.isatty()
    print(banner_text(answerer.kb), flush=True)
    try:
        while True:
            if interactive:
                print("> ", end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text.casefold() in EXIT_WORDS:
                break
            print(console.reply(text) + "\n", flush=True)
    finally:
        if log is not None:
            await log.close()
    return 0

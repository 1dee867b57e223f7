"""The answering pipeline shared by Telegram and the console: knowledge, matcher, reply.

It keeps the last good knowledge base: a reload that fails leaves the bot answering
as before and hands back the problems for the admins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from bot.core.cache import load_answering
from bot.core.dialogue import Conversations, respond
from bot.core.errors import KnowledgeError, Problem
from bot.core.events import Channel, Outcome, QuestionEvent
from bot.core.knowledge import KnowledgeBase, fingerprint
from bot.core.matcher import Matcher
from bot.core.replies import Reply, answer_entry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answered:
    """A reply with how long the core took to produce it."""

    reply: Reply
    latency_ms: float


class Answerer:
    """Answers questions from the current knowledge base and reloads it on demand."""

    def __init__(self, knowledge_dir: Path) -> None:
        self.directory = Path(knowledge_dir)
        self._fingerprint = fingerprint(self.directory)
        # Knowledge and matcher are swapped together, as one reference, so a reload in
        # another thread never pairs a new base with an old index.
        self._current: tuple[KnowledgeBase, Matcher] = load_answering(self.directory)
        self.last_problems: list[Problem] = []
        self.conversations = Conversations()
        self._reloading = threading.Lock()

    @property
    def kb(self) -> KnowledgeBase:
        return self._current[0]

    @property
    def matcher(self) -> Matcher:
        return self._current[1]

    def answer(self, question: str, *, conversation: Hashable | None = None) -> Answered:
        """Answers a message; with a conversation key, in the light of its last topic.

        The topic is kept in memory only, per key (a chat, or a user in a group), and
        forgotten after ten minutes, on ``forget`` and on a restart.
        """
        started = time.perf_counter()
        kb, matcher = self._current
        topic = self.conversations.get(conversation) if conversation is not None else None
        turn = respond(kb, matcher, question, topic=topic)
        if conversation is not None:
            self.conversations.remember(conversation, turn.topic)
        return Answered(turn.reply, (time.perf_counter() - started) * 1000.0)

    def forget(self, conversation: Hashable) -> None:
        """Forgets a conversation's topic (on /start)."""
        self.conversations.forget(conversation)

    def warm_up(self) -> None:
        """Builds what the matcher otherwise builds on first use (for long-running bots)."""
        _ = self.matcher.wording

    def answer_entry(self, entry_id: str, *, language: str = "nb") -> Reply | None:
        """Returns the reply for a chosen entry, or None if it no longer exists."""
        return answer_entry(self.kb, entry_id, language=language)

    def changed_on_disk(self) -> bool:
        """Tells whether any knowledge file changed since the last (attempted) load."""
        return fingerprint(self.directory) != self._fingerprint

    def reload(self) -> list[Problem]:
        """Reloads the knowledge; on failure keeps the last good one and returns the problems.

        Safe to call from worker threads: reloads run one at a time, and answering goes
        on from the current knowledge until the new one is swapped in whole.
        """
        with self._reloading:
            self._fingerprint = fingerprint(self.directory)
            try:
                kb, matcher = load_answering(self.directory)
                _ = matcher.wording  # built here, in the reloading thread, not on first use
            except KnowledgeError as exc:
                self.last_problems = exc.problems
                logger.warning(
                    "knowledge reload failed, still answering from the last good version: %s",
                    exc,
                )
                return exc.problems
            self._current, self.last_problems = (kb, matcher), []
        logger.info("knowledge reloaded: %d entries", len(kb.entries))
        return []


def log_event(
    reply: Reply,
    *,
    question: str,
    channel: Channel,
    latency_ms: float,
    user_key: str | None,
    chosen: bool = False,
) -> QuestionEvent:
    """Builds the question-log event for a reply, the same for every channel."""
    # An entry the resident picked from "Mente du …?" has no match score of its own.
    best = None if chosen else reply.result.best
    return QuestionEvent(
        question=question,
        channel=channel,
        outcome=Outcome(reply.outcome),
        latency_ms=latency_ms,
        user_key=user_key,
        entry_id=reply.entry.id if reply.entry else None,
        score=best.score if best else None,
        alternatives=tuple(cand.entry_id for cand, _ in reply.alternatives),
    )

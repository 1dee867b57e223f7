"""What the Telegram tests share besides fixtures: users, questions, the harness, quotes."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.core.service import Answerer
from bot.devtools.standin import BotApiStandIn, SentMessage
from bot.questionlog import QuestionLog

USER = 1001
OTHER = 1002
ADMIN = 9001
GROUP = -1001000000001
LEGEVAKT = "blir legevakten på Sørumsand beholdt?"
LEGEVAKT_PASSAGE = "Legevakttjenesten på Sørumsand skal beholdes i perioden."
DECLINED = "Hvem vant fotball-VM i 1994?"
AMBIGUOUS = "eiendomsskatt"
UNKNOWN_COMMAND = "Den kommandoen kjenner jeg ikke. Skriv /help."


def blockquotes(message: SentMessage) -> list[str]:
    """Returns the text of each blockquote entity in a sent message."""
    return [
        message.text[e["offset"] : e["offset"] + e["length"]]
        for e in message.entities
        if e["type"] == "blockquote"
    ]


@dataclass
class Harness:
    """A bot with its stand-in, question log and knowledge (running once started)."""

    app: Application
    standin: BotApiStandIn
    log: QuestionLog
    answerer: Answerer
    database: Path

    async def reply_to(
        self, push: Callable[[], Any], chat_id: int = USER, count: int = 1
    ) -> SentMessage:
        """Pushes an update and returns the count-th new message the bot sends to the chat."""
        before = len([m for m in self.standin.sent_messages if m.chat_id == chat_id])
        push()
        sent = await self.standin.wait_for_messages(before + count, chat_id=chat_id, timeout=10)
        return sent[before + count - 1]

    async def ask(self, question: str, user: int = USER, **kwargs: Any) -> SentMessage:
        """Sends a private text message and returns the bot's reply."""
        return await self.reply_to(
            lambda: self.standin.push_message(user, question, **kwargs), chat_id=user
        )

    async def command(self, user: int, command: str, args: str = "", **kwargs: Any) -> SentMessage:
        """Sends a command in the user's private chat and returns the bot's reply."""
        return await self.reply_to(
            lambda: self.standin.push_command(user, command, args, **kwargs), chat_id=user
        )

    async def press(self, user: int, message: SentMessage, data: str, **kwargs: Any) -> None:
        """Presses a button and waits until the bot has answered the callback query."""
        update = self.standin.push_callback(user, message, data, **kwargs)
        query_id = update["callback_query"]["id"]
        await self.standin.wait_for(
            lambda: any(a["callback_query_id"] == query_id for a in self.standin.answered_callbacks)
        )

    async def rows(self) -> list[sqlite3.Row]:
        """Returns the log's rows after its queued writes have landed."""
        assert await self.log.flush()
        return self.rows_now()

    def rows_now(self) -> list[sqlite3.Row]:
        """Reads the log's rows directly (without waiting for the writer) for polling checks."""
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM questions ORDER BY id").fetchall()


HarnessFactory = Callable[..., Awaitable[Harness]]

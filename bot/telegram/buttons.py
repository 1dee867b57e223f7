"""Button presses: example questions, "Mente du …?" choices and 👍/👎 votes.

Each kind of button has its own CallbackQueryHandler, chosen by the data's prefix
("q:", "a:", "v:"; "t:" and "te:" are the admins' teach buttons). Every press is
answered once: with the action's note here, or with the apology by the error handler
when the action fails. A press no handler claims is answered as stale.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.telegram.render import (
    channel_of,
    edit_or_send,
    handover_button,
    render,
    user_language,
)
from bot.telegram.residents import ask, bot_username, private, question_text
from bot.telegram.state import Context, state_of

REF_RE = re.compile(r"[a-z2-7]{4,32}")


@dataclass(frozen=True)
class Press:
    """A button press: its update and query, and the button's data after the kind."""

    update: Update
    query: CallbackQuery
    rest: str

    @property
    def language(self) -> str:
        """Returns the language of the person who pressed."""
        return user_language(self.query.from_user)

    @property
    def stale(self) -> str:
        """Returns the note for a button the bot can no longer act on."""
        return phrase("stale", self.language)

    @property
    def message(self) -> Message | None:
        """Returns the button's message if the bot can still act on it."""
        message = self.query.message
        if isinstance(message, Message) and message.is_accessible:
            return message
        return None


ButtonAction = Callable[[Press, Context], Awaitable[str | None]]
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def button(action: ButtonAction) -> Handler:
    """Makes a button action a handler callback that answers the press with the action's note."""

    @functools.wraps(action)
    async def handle(update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        data = state_of(context).keys.expand(query.data)
        note = await action(Press(update, query, data.partition(":")[2]), context)
        with contextlib.suppress(BadRequest):  # only "query is too old" after a slow action
            await query.answer(note)

    return handle


@button
async def on_example_button(press: Press, context: Context) -> str | None:
    """Answers the example question behind a /start or /help button."""
    message, rest = press.message, press.rest
    if message is None or not rest.isdigit() or int(rest) >= len(EXAMPLE_QUESTIONS):
        return press.stale
    question = EXAMPLE_QUESTIONS[int(rest)]
    await ask(context, message=message, question=question, user=press.query.from_user, quote=False)
    return None


@button
async def on_alternative_button(press: Press, context: Context) -> str | None:
    """Turns a "Mente du …?" message into the chosen entry's answer, with vote buttons."""
    state, message = state_of(context), press.message
    # The clarification was written in the question's language; keep it for the answer.
    english = message is not None and message.text == phrase("unsure", "en")
    started = time.perf_counter()
    reply = state.answerer.answer_entry(press.rest, language="en" if english else "nb")
    if message is None or reply is None:
        return press.stale
    asked = message.reply_to_message
    question = (question_text(asked, bot_username(context)) if asked else "") or (
        reply.result.question
    )
    latency = (time.perf_counter() - started) * 1000.0
    user = press.query.from_user
    ref = state.record(question, channel_of(message), reply, latency, user, chosen=True)
    await edit_or_send(message, **render(reply, ref, state.keys))
    return None


@button
async def on_vote_button(press: Press, context: Context) -> str | None:
    """Records a 👍/👎 on an answer and removes the buttons so it counts once."""
    ref, _, value = press.rest.partition(":")
    if not REF_RE.fullmatch(ref) or value not in ("1", "-1"):
        return press.stale
    state = state_of(context)
    state.vote(ref, int(value))
    message = press.message
    if message is not None and message.reply_markup is not None:
        # After a 👎 a resident in a private chat may ask a person instead.
        markup = None
        if value == "-1" and state.desk is not None and private(message):
            markup = InlineKeyboardMarkup([[handover_button(ref, press.language)]])
        with contextlib.suppress(BadRequest):
            await message.edit_reply_markup(reply_markup=markup)
    return phrase("vote_up" if value == "1" else "vote_down", press.language)


@button
async def on_stale_button(press: Press, context: Context) -> str | None:
    """Answers a press no other handler claims: unknown data or a forgotten short key."""
    return press.stale

"""How the core's replies look on Telegram: the resident's language, labels, keyboards, HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest

from bot.core.events import Channel, Outcome
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.replies import AMBIGUOUS, ANSWERED, Reply
from bot.telegram.state import CallbackKeys

DECLINED = Outcome.DECLINED
RELATED = Outcome.RELATED
BUTTON_LABEL_CHARS = 60
ADMIN_MESSAGE_CHARS = 3500  # well inside Telegram's 4096, leaving room for markup

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def user_language(user: User | None) -> str:
    """Returns "en" for users whose Telegram is set to English, else "nb"."""
    code = (user.language_code or "") if user else ""
    return "en" if code.lower().startswith("en") else "nb"


def label(value: str, fallback: str = "…", limit: int = BUTTON_LABEL_CHARS) -> str:
    """Returns text fit for a button or a one-line listing: no control characters, short."""
    value = " ".join(_CONTROL_RE.sub(" ", value).split())
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value or fallback


def join_within(lines: Iterable[str], limit: int = ADMIN_MESSAGE_CHARS) -> str:
    """Joins whole lines up to a length limit, so escaped HTML is never cut mid-tag."""
    out: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit:
            out.append("…")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def channel_of(message: Message | None) -> Channel:
    """Returns the log channel for a message's chat."""
    if message is not None and message.chat.type == ChatType.PRIVATE:
        return Channel.PRIVATE
    return Channel.GROUP


def vote_keyboard(ref: str | None) -> InlineKeyboardMarkup | None:
    """Returns the 👍/👎 buttons under an answer (none when the answer was not logged)."""
    if ref is None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("👍", callback_data=f"v:{ref}:1"),
                InlineKeyboardButton("👎", callback_data=f"v:{ref}:-1"),
            ]
        ]
    )


def alternatives_keyboard(reply: Reply, keys: CallbackKeys) -> InlineKeyboardMarkup | None:
    """Returns one "Mente du …?" button per alternative entry."""
    rows = [
        [
            InlineKeyboardButton(
                label(cand.question, entry.id), callback_data=keys.fit(f"a:{entry.id}")
            )
        ]
        for cand, entry in reply.alternatives
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def examples_keyboard() -> InlineKeyboardMarkup:
    """Returns the example questions as buttons."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label(question), callback_data=f"q:{index}")]
            for index, question in enumerate(EXAMPLE_QUESTIONS)
        ]
    )


def render(
    reply: Reply, ref: str | None, keys: CallbackKeys, *, person: str | None = None
) -> dict[str, Any]:
    """Returns the send arguments for a reply: HTML with buttons where it quotes a
    passage or offers options, else plain text.

    With ``person`` (the resident's language), a reply that declines or answers only in
    part offers a person ("Snakk med et menneske"), when the question was logged.
    """
    quotes = any(p.entry is not None and p.outcome in (ANSWERED, RELATED) for p in reply.parts)
    if quotes and reply.outcome != AMBIGUOUS:
        # An answer, or an honest partial one: the passage in a quote, and votes.
        sent: dict[str, Any] = {
            "text": reply.as_html(),
            "parse_mode": ParseMode.HTML,
            "reply_markup": vote_keyboard(ref),
        }
    elif reply.outcome == AMBIGUOUS:
        sent = {
            "text": reply.as_html(),
            "parse_mode": ParseMode.HTML,
            "reply_markup": alternatives_keyboard(reply, keys),
        }
    else:
        sent = {"text": reply.as_text()}
    if (
        person is not None
        and ref is not None
        and any(part.outcome in (DECLINED, RELATED) for part in reply.parts)
    ):
        markup = sent.get("reply_markup")
        rows = [list(row) for row in markup.inline_keyboard] if markup else []
        sent["reply_markup"] = InlineKeyboardMarkup([*rows, [handover_button(ref, person)]])
    return sent


def handover_button(ref: str, language: str) -> InlineKeyboardButton:
    """Returns the "Snakk med et menneske" button for a logged question."""
    return InlineKeyboardButton(phrase("handover_button", language), callback_data=f"h:{ref}")


async def edit_or_send(message: Message, **kwargs: Any) -> None:
    """Edits the bot's message; sends a new one if it can no longer be edited."""
    try:
        await message.edit_text(**kwargs)
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return
        await message.reply_text(**kwargs, do_quote=False)

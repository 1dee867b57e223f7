"""What residents send: commands, questions in private and in groups, and everything else.

Each handler reads the message, asks the core, replies and records. The bot's own words
follow the resident: the question's language decides an answer, and the Telegram
language setting decides everything else (Norwegian unless it is English).
"""

from __future__ import annotations

import logging
import re

from telegram import Message, Update, User
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError, TimedOut

from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.replies import AMBIGUOUS, smalltalk_text, sources_lines, welcome_text
from bot.core.understand import MAX_MESSAGE_CHARS as MAX_QUESTION_CHARS
from bot.telegram.render import (
    channel_of,
    examples_keyboard,
    join_within,
    render,
    user_language,
)
from bot.telegram.state import BotState, Context, state_of

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- addressing


def bot_username(context: Context) -> str:
    """Returns the bot's @username without the @."""
    return context.bot.username or ""


def mention_pattern(username: str) -> re.Pattern[str] | None:
    """Returns a pattern matching "@username" as a whole word, case-insensitively."""
    if not username:
        return None
    return re.compile(rf"(?<![\w@])@{re.escape(username)}(?!\w)", re.IGNORECASE)


def question_text(message: Message, username: str) -> str:
    """Returns a message's text without a leading /command and without mentions of the bot."""
    body = message.text or ""
    if body.startswith("/"):
        body = body.partition(" ")[2]
    pattern = mention_pattern(username)
    return (pattern.sub(" ", body) if pattern else body).strip()


def addressed_question(message: Message, username: str, bot_id: int) -> str | None:
    """Returns the question a group message puts to the bot, or None if it is not for the bot."""
    body = message.text or ""
    pattern = mention_pattern(username)
    if pattern is not None and pattern.search(body):
        return " ".join(pattern.sub(" ", body).split())
    if replies_to(message, bot_id):
        return body.strip()
    return None


def replies_to(message: Message, bot_id: int) -> bool:
    """Tells whether a message is a reply to one of the bot's messages."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


# --------------------------------------------------------------------------- the answer flow


def conversation_key(message: Message, user: User | None) -> tuple[int, int | None]:
    """Returns whose conversation a message continues: the chat, and in groups the user.

    Kept in memory only (the answerer's topic memory), never written to the log.
    """
    private = message.chat.type == ChatType.PRIVATE
    return (message.chat.id, None if private or user is None else user.id)


async def ask(
    context: Context,
    *,
    message: Message,
    question: str,
    user: User | None,
    quote: bool | None = None,
) -> None:
    """Answers a question in the message's chat, records it and adds the right buttons.

    ``quote`` None replies to the question in groups and for clarifications, where it
    matters which question is meant.
    """
    state = state_of(context)
    if user is not None and not await within_rate_limit(state, message, user):
        return
    question = question[:MAX_QUESTION_CHARS]
    answered = state.answerer.answer(question, conversation=conversation_key(message, user))
    reply = answered.reply
    ref = state.record(question, channel_of(message), reply, answered.latency_ms, user)
    if quote is None:
        quote = message.chat.type != ChatType.PRIVATE or reply.outcome == AMBIGUOUS
    person = user_language(user) if state.desk is not None and private(message) else None
    try:
        await message.reply_text(
            **render(reply, ref, state.keys, person=person),
            do_quote=quote,
            allow_sending_without_reply=True,
        )
    except TimedOut:
        raise  # it may well have arrived: the log keeps it as given
    except TelegramError:
        # The log records what residents were actually given: this reply was not.
        state.undelivered(ref)
        raise


def private(message: Message) -> bool:
    """Tells whether a message is in a private chat with the bot."""
    return message.chat.type == ChatType.PRIVATE


async def within_rate_limit(state: BotState, message: Message, user: User) -> bool:
    """Applies the per-user question limit; sends the one notice when it is first exceeded."""
    verdict = state.limiter.check(user.id)
    if verdict == "notify":
        logger.info("a user exceeded %d questions per minute", state.limiter.limit)
        await message.reply_text(phrase("rate_limited", user_language(user)))
    return verdict == "ok"


# --------------------------------------------------------------------------- commands


async def on_start(update: Update, context: Context) -> None:
    """Welcomes the resident: what the bot knows, what it does not, and examples to tap."""
    message = update.effective_message
    if message is None:
        return
    lang = user_language(update.effective_user)
    answerer = state_of(context).answerer
    answerer.forget(conversation_key(message, update.effective_user))
    await message.reply_text(
        welcome_text(answerer.kb, lang), reply_markup=examples_keyboard(), do_quote=False
    )


async def on_help(update: Update, context: Context) -> None:
    """Explains what the bot answers, how to ask it in groups and inline, with examples."""
    message = update.effective_message
    if message is None:
        return
    lang = user_language(update.effective_user)
    commands = phrase("commands", lang, bot=bot_username(context))
    known = state_of(context).answerer.kb.known_sources
    body = smalltalk_text("help", lang, known) + "\n\n" + commands
    await message.reply_text(body, reply_markup=examples_keyboard(), do_quote=False)


async def on_sources(update: Update, context: Context) -> None:
    """Lists the source documents the answers come from, with their dates."""
    message = update.effective_message
    if message is None:
        return
    kb, lang = state_of(context).answerer.kb, user_language(update.effective_user)
    lines = sources_lines(kb, lang, html=True)
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML, do_quote=False)


async def on_ask_command(update: Update, context: Context) -> None:
    """Answers "/spor question", the way to ask in a group without a mention."""
    message, user = update.effective_message, update.effective_user
    if message is None:
        return
    question = " ".join(context.args or [])
    if not question:
        example = EXAMPLE_QUESTIONS[0]
        await message.reply_text(phrase("spor_usage", user_language(user), example=example))
        return
    await ask(context, message=message, question=question, user=user)


async def on_unknown_command(update: Update, context: Context) -> None:
    """Says the command is unknown; in groups only when the command names this bot.

    Admin commands from anyone else end up here too (their handlers filter on the
    admins' ids), so to everyone else they look like any unknown command.
    """
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        parts = (message.text or "").split(maxsplit=1)
        command = parts[0] if parts else ""
        username = bot_username(context)
        if not username or not command.lower().endswith(f"@{username.lower()}"):
            return
    await message.reply_text(phrase("unknown_command", user_language(update.effective_user)))


# --------------------------------------------------------------------------- messages


async def on_text(update: Update, context: Context) -> None:
    """Answers a text question; in groups only when the bot is mentioned or replied to."""
    message, user = update.effective_message, update.effective_user
    if message is None:
        return
    if message.via_bot is not None and message.via_bot.id == context.bot.id:
        return  # an inline answer the resident shared: already an answer, not a question
    question: str | None = message.text or ""
    if message.chat.type != ChatType.PRIVATE:
        question = addressed_question(message, bot_username(context), context.bot.id)
    if question is None:
        return
    if not question.strip():
        await on_help(update, context)
        return
    # An edited question gets a fresh answer, quoting it so it is clear which one.
    edited = True if update.edited_message is not None else None
    await ask(context, message=message, question=question, user=user, quote=edited)


async def on_not_text(update: Update, context: Context) -> None:
    """Tells the resident the bot reads text; in groups only when they reply to the bot."""
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != ChatType.PRIVATE and not replies_to(message, context.bot.id):
        return
    lang = user_language(update.effective_user)
    await message.reply_text(phrase("not_text", lang, example=EXAMPLE_QUESTIONS[0]))

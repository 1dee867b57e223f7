"""The one error handler: logs every failure with its traceback and apologises to the resident."""

from __future__ import annotations

import contextlib
import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError, TimedOut

from bot.core.messages import phrase
from bot.telegram.render import user_language
from bot.telegram.residents import addressed_question, bot_username
from bot.telegram.state import Context

logger = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    """Logs a failure with its traceback and apologises to the resident if there is a chat."""
    kind = f"update {update.update_id}" if isinstance(update, Update) else "no update"
    logger.error("handling %s failed", kind, exc_info=context.error)
    if not isinstance(update, Update) or isinstance(context.error, Forbidden | TimedOut):
        # Blocked: nothing can reach them. Timed out: the answer may well have reached
        # them, and an apology after it would say the opposite.
        return
    apology = phrase("apology", user_language(update.effective_user))
    query = update.callback_query
    # A task started by a button runs after its press was answered; a press is answered once.
    if query is not None and context.coroutine is None:
        with contextlib.suppress(TelegramError):
            await query.answer(apology)
        return
    message = update.message or update.edited_message
    if message is None or not waits_for_the_bot(message, context):
        return
    with contextlib.suppress(TelegramError):
        await message.reply_text(apology)


def waits_for_the_bot(message: Message, context: Context) -> bool:
    """Tells whether the message's sender waits for a reply: private chats, or addressed."""
    if message.chat.type == ChatType.PRIVATE or (message.text or "").startswith("/"):
        return True
    try:
        return addressed_question(message, bot_username(context), context.bot.id) is not None
    except Exception:  # the apology must not fail on the message that made the bot fail
        return False

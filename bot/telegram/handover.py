"""Handover to a person: a resident sends a question the bot could not answer to the
municipality's staff group, and a staff member's reply there is relayed back.

Only with ``BOT_STAFF_CHAT_ID`` set, and only in private chats. The resident is told
what will be shared (the question, nothing else) before anything is sent; the staff
chat sees the question, the bot's reply and a case number, never who asked. The way
back to the resident (their chat) is kept in the handover table only (see
``bot.questionlog.handover``), forgotten when the case is closed.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.core.messages import phrase
from bot.questionlog import StoreError
from bot.questionlog.handover import Case
from bot.questionlog.privacy import redact_personal_data
from bot.telegram.buttons import REF_RE, Press, button
from bot.telegram.render import label
from bot.telegram.state import BotState, Context, state_of

logger = logging.getLogger(__name__)

# Telegram's limit on a message; a longer staff answer is cut to it.
MAX_MESSAGE_CHARS = 4096
# How much of the bot's reply the staff chat is shown.
REPLY_PREVIEW_CHARS = 600


def offered(state: BotState, chat_type: str) -> bool:
    """Tells whether residents in this kind of chat are offered a person."""
    return state.desk is not None and chat_type == ChatType.PRIVATE


async def _logged_question(state: BotState, ref: str) -> str | None:
    """Returns a logged question's text (personal data redacted), or None."""
    log = await state.settled_log()
    if log is None:
        return None
    stored = await log.get(ref)
    return None if stored is None else stored.question


@button
async def on_handover_button(press: Press, context: Context) -> str | None:
    """Asks the resident to confirm, showing exactly what will be sent."""
    state, message, ref = state_of(context), press.message, press.rest
    if message is None or not REF_RE.fullmatch(ref) or not offered(state, message.chat.type):
        return press.stale
    question = await _logged_question(state, ref)
    if question is None:
        return press.stale
    lang = press.language
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(phrase("handover_send", lang), callback_data=f"hc:{ref}"),
                InlineKeyboardButton(phrase("handover_cancel", lang), callback_data=f"hx:{ref}"),
            ]
        ]
    )
    days = str(state.settings.bot_handover_wait_days)
    await message.reply_text(
        phrase("handover_confirm", lang, question=question, days=days),
        reply_markup=keyboard,
        do_quote=True,
    )
    return None


@button
async def on_handover_confirm(press: Press, context: Context) -> str | None:
    """Sends the confirmed question to the staff chat and tells the resident its case number."""
    state, message, ref, lang = state_of(context), press.message, press.rest, press.language
    desk, staff_chat = state.desk, state.settings.bot_staff_chat_id
    if (
        message is None
        or desk is None
        or staff_chat is None
        or not REF_RE.fullmatch(ref)
        or not offered(state, message.chat.type)
    ):
        return press.stale
    question = await _logged_question(state, ref)
    if question is None:
        return press.stale
    answered = message.reply_to_message
    # The reply may quote the resident's own words ("Om «…»:"): only what the resident
    # was told would be shared leaves the chat, with personal data redacted like the log.
    bot_reply = redact_personal_data(answered.text or "") if answered is not None else ""
    user = press.query.from_user
    try:
        case = await desk.open_case(
            ref=ref,
            chat_id=message.chat.id,
            user_key=state.log.user_key_for(user.id) if state.log is not None else None,
            question=question,
            bot_reply=bot_reply,
            language=lang,
        )
        if case is None:
            await _edit(message, phrase("handover_already", lang))
            return None
        posted = await context.bot.send_message(
            staff_chat,
            phrase(
                "staff_case",
                "nb",
                case=str(case.case_no),
                question=case.question,
                reply=label(bot_reply, "–", REPLY_PREVIEW_CHARS),
            ),
        )
        await desk.sent_to_staff(case.case_no, posted.message_id)
    except (StoreError, TelegramError) as exc:
        logger.error("a handover could not be sent to the staff chat: %s", exc)
        await _edit(message, phrase("handover_failed", lang))
        return None
    logger.info("handover case %d sent to the staff chat", case.case_no)
    days = str(state.settings.bot_handover_wait_days)
    await _edit(message, phrase("handover_sent", lang, case=str(case.case_no), days=days))
    return None


@button
async def on_handover_cancel(press: Press, context: Context) -> str | None:
    """Drops the confirmation: nothing is sent."""
    if press.message is not None:
        await _edit(press.message, phrase("handover_cancelled", press.language))
    return None


async def _edit(message: Message, text: str) -> None:
    """Replaces the confirmation's text and removes its buttons."""
    with contextlib.suppress(BadRequest):
        await message.edit_text(text, reply_markup=None)


# --------------------------------------------------------------------------- the staff side


async def _case_replied_to(update: Update, context: Context) -> Case | None:
    """Returns the case a staff message replies to, or None for any other message."""
    state, message = state_of(context), update.effective_message
    if state.desk is None or message is None or message.reply_to_message is None:
        return None
    replied = message.reply_to_message
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    return await state.desk.by_staff_message(replied.message_id)


async def on_staff_reply(update: Update, context: Context) -> None:
    """Relays a staff member's reply to a case back to the resident who asked."""
    state, message = state_of(context), update.effective_message
    case = await _case_replied_to(update, context)
    if case is None or message is None or state.desk is None:
        return  # a reply to anything else in the staff chat is staff talk, not an answer
    number = str(case.case_no)
    if not case.open or case.chat_id is None:
        await message.reply_text(phrase("staff_gone", "nb", case=number))
        return
    answer = message.text or ""
    staff = update.effective_user
    if state.settings.bot_handover_staff_names and staff is not None and staff.first_name:
        text = phrase(
            "handover_answer_named",
            case.language,
            case=number,
            answer=answer,
            name=staff.first_name,
        )
    else:
        text = phrase("handover_answer", case.language, case=number, answer=answer)
    try:
        await context.bot.send_message(case.chat_id, text[:MAX_MESSAGE_CHARS])
    except Forbidden:
        # Blocked or deleted: the answer cannot arrive, and the way back is useless.
        await state.desk.close_case(case.case_no)
        await message.reply_text(phrase("staff_blocked", "nb", case=number))
        return
    except TelegramError as exc:
        # Refused (too long, a chat that is gone) or timed out: staff must know.
        logger.warning("a staff answer to case %d was not relayed: %s", case.case_no, exc)
        await message.reply_text(phrase("staff_not_relayed", "nb", case=number))
        return
    await state.desk.answered(case.case_no, answer)
    logger.info("a staff answer to handover case %d was relayed", case.case_no)
    await message.reply_text(phrase("staff_delivered", "nb", case=number))


async def on_close(update: Update, context: Context) -> None:
    """Closes the case the /lukk command replies to, forgetting the way back."""
    state, message = state_of(context), update.effective_message
    case = await _case_replied_to(update, context)
    if case is None or message is None or state.desk is None:
        return
    await state.desk.close_case(case.case_no)
    await message.reply_text(phrase("staff_closed", "nb", case=str(case.case_no)))


async def remind_and_purge(context: Context) -> None:
    """Daily: lists open cases that have waited too long, and deletes expired cases."""
    state = state_of(context)
    desk, staff_chat = state.desk, state.settings.bot_staff_chat_id
    if desk is None or staff_chat is None:
        return
    try:
        await desk.purge()
        days = state.settings.bot_handover_remind_days
        waiting = await desk.waiting(older_than=timedelta(days=days))
    except StoreError as exc:
        logger.warning("handover cases could not be checked: %s", exc)
        return
    if not waiting:
        return
    lines = [phrase("staff_waiting", "nb", days=str(days))]
    lines += [
        phrase(
            "staff_waiting_line",
            "nb",
            case=str(c.case_no),
            date=c.created_at.date().isoformat(),
            question=label(c.question, "…", 120),
        )
        for c in waiting[:30]
    ]
    try:
        await context.bot.send_message(staff_chat, "\n".join(lines))
    except TelegramError as exc:
        logger.warning("could not list waiting handover cases to the staff chat: %s", exc)

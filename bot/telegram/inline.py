"""Inline mode: "@bot question" typed in any chat, answered with up to three quoted passages."""

from __future__ import annotations

import logging

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.core.events import Channel
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.replies import AMBIGUOUS, ANSWERED, SMALLTALK, TELEGRAM_LIMIT, Reply, esc
from bot.core.understand import MAX_MESSAGE_CHARS as MAX_QUESTION_CHARS
from bot.telegram.render import label
from bot.telegram.state import BotState, Context, state_of

logger = logging.getLogger(__name__)

INLINE_RESULTS = 3
INLINE_CACHE_SECONDS = 10


async def on_inline_query(update: Update, context: Context) -> None:
    """Answers "@bot question" typed in any chat with up to three quoted answers."""
    query = update.inline_query
    if query is None:
        return
    state = state_of(context)
    question = query.query.strip()[:MAX_QUESTION_CHARS]
    if question:
        answered = state.answerer.answer(question)
        results = inline_results(state, answered.reply)
        event = state.event(
            question, Channel.INLINE, answered.reply, answered.latency_ms, query.from_user
        )
        if event is not None:
            state.inline.offer(query.from_user.id, event)
    else:
        results = [example_article(state, i, q) for i, q in enumerate(EXAMPLE_QUESTIONS)]
    try:
        await query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=True)
    except BadRequest as exc:
        # The resident typed on; Telegram no longer wants this query's results.
        logger.debug("inline answer not delivered: %s", exc)


def inline_results(state: BotState, reply: Reply) -> list[InlineQueryResultArticle]:
    """Builds the inline results for a reply: its answer, its alternatives, or a decline."""
    if reply.outcome == ANSWERED and reply.entry is not None:
        title = reply.result.best.question if reply.result.best else reply.entry.section
        return [article(reply.entry.id, title, reply)]
    if reply.outcome == AMBIGUOUS:
        out = []
        for cand, entry in reply.alternatives[:INLINE_RESULTS]:
            chosen = state.answerer.answer_entry(entry.id, language=reply.language)
            if chosen is not None:
                out.append(article(entry.id, cand.question or entry.section, chosen))
        if out:
            return out
    plain = reply.as_text()
    title = label(plain) if reply.outcome == SMALLTALK else phrase("no_answer", reply.language)
    return [
        InlineQueryResultArticle(
            id=reply.outcome,
            title=title,
            description=label(plain, limit=100),
            input_message_content=InputTextMessageContent(
                reply.as_html(), parse_mode=ParseMode.HTML
            ),
        )
    ]


def article(result_id: str, title: str, reply: Reply) -> InlineQueryResultArticle:
    """Builds one inline result quoting an entry, headed by the question it answers."""
    description = label(reply.entry.answer, limit=100) if reply.entry is not None else None
    heading = esc(label(title, limit=200))
    body = f"<b>{heading}</b>\n{reply.as_html(limit=TELEGRAM_LIMIT - len(heading) - 1)}"
    return InlineQueryResultArticle(
        id=result_id[:64],
        title=label(title, limit=100),
        description=description,
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
    )


def example_article(state: BotState, index: int, question: str) -> InlineQueryResultArticle:
    """Builds the inline result for an example question (shown before anything is typed)."""
    reply = state.answerer.answer(question).reply
    if reply.entry is None:
        return InlineQueryResultArticle(
            id=f"ex{index}",
            title=question,
            input_message_content=InputTextMessageContent(reply.as_text()),
        )
    return article(f"ex{index}", question, reply)

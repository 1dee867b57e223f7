"""Telegram handlers: what residents and admins see, wired to the answering core and the log.

Each handler reads the update, asks the core, replies and records. The bot's own words
follow the resident: the question's language decides an answer, and the Telegram
language setting decides everything else (Norwegian unless it is English).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.authoring.teach import TeachError, add_phrasing
from bot.core.errors import Problem
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.replies import (
    AMBIGUOUS,
    ANSWERED,
    SMALLTALK,
    Reply,
    esc,
    smalltalk_text,
)
from bot.core.service import Answerer, log_event
from bot.questionlog.store import Channel, QuestionEvent, QuestionLog, StoredQuestion, StoreError
from bot.settings import Settings

logger = logging.getLogger(__name__)

STATE_KEY = "lillestrom"
MAX_QUESTION_CHARS = 1000  # longer texts are not questions; this bounds matching time
MAX_CALLBACK_BYTES = 64
BUTTON_LABEL_CHARS = 60
ADMIN_MESSAGE_CHARS = 3500  # well inside Telegram's 4096, leaving room for markup
INLINE_RESULTS = 3
INLINE_CACHE_SECONDS = 10
INLINE_DEBOUNCE_SECONDS = 2.0
RATE_WINDOW_SECONDS = 60.0
TEACH_CHOICES = 5
TEACH_LIST = 8
TEACH_LOOKBACK_DAYS = 30
LOG_WAIT_SECONDS = 2.0

_REF_RE = re.compile(r"[a-z2-7]{4,32}")
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


def fits(data: str) -> bool:
    """Tells whether callback data fits Telegram's 64-byte limit."""
    return 0 < len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES


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


# --------------------------------------------------------------------------- state


class QuestionLimiter:
    """Allows each user a number of questions per minute and tells them once when they exceed it.

    Kept in memory only, keyed by Telegram user id; nothing of it is ever stored.
    """

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._asked: dict[int, deque[float]] = {}
        self._told: set[int] = set()

    def check(self, user_id: int) -> str:
        """Returns "ok" (answer), "notify" (tell them once) or "drop" (stay silent)."""
        now = time.monotonic()
        if len(self._asked) > 10_000:
            self._forget_idle(now)
        asked = self._asked.setdefault(user_id, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) < self.limit:
            asked.append(now)
            self._told.discard(user_id)
            return "ok"
        if user_id in self._told:
            return "drop"
        self._told.add(user_id)
        return "notify"

    def _forget_idle(self, now: float) -> None:
        idle = [
            u for u, asked in self._asked.items() if not asked or asked[-1] <= now - self.window
        ]
        for user_id in idle:
            del self._asked[user_id]
            self._told.discard(user_id)


class InlineRecorder:
    """Records a user's inline query only once they pause, so keystrokes are not each a row."""

    def __init__(self, record: Callable[[QuestionEvent], object], delay: float) -> None:
        self._record = record
        self._delay = delay
        self._pending: dict[int, tuple[QuestionEvent, asyncio.TimerHandle]] = {}

    def offer(self, user_id: int, event: QuestionEvent) -> None:
        """Replaces the user's pending query with this one and restarts the pause timer."""
        previous = self._pending.pop(user_id, None)
        if previous is not None:
            previous[1].cancel()
        handle = asyncio.get_running_loop().call_later(self._delay, self._fire, user_id)
        self._pending[user_id] = (event, handle)

    def _fire(self, user_id: int) -> None:
        pending = self._pending.pop(user_id, None)
        if pending is not None:
            self._record(pending[0])

    def flush(self) -> None:
        """Records every pending query now (at shutdown)."""
        for user_id in list(self._pending):
            self._pending[user_id][1].cancel()
            self._fire(user_id)


class CallbackKeys:
    """Stands in short keys ("k:N") for button data longer than Telegram's 64 bytes.

    Entry ids may be long enough that "a:ID" or "te:REF:ID" does not fit. The full data
    is kept in memory only, for the most recent buttons; after a restart such a button
    is answered as stale, like any other button the bot no longer knows.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._data: OrderedDict[str, str] = OrderedDict()
        self._numbers = itertools.count(1)

    def fit(self, data: str) -> str:
        """Returns the data itself if it fits, else a short key that stands for it."""
        if fits(data):
            return data
        key = str(next(self._numbers))
        self._data[key] = data
        while len(self._data) > self._capacity:
            self._data.popitem(last=False)
        return f"k:{key}"

    def resolve(self, key: str) -> str | None:
        """Returns the data behind a short key, or None if it is unknown or forgotten."""
        return self._data.get(key)


@dataclass
class BotState:
    """Everything the handlers share: settings, the core, the log and in-memory limits."""

    settings: Settings
    answerer: Answerer
    log: QuestionLog | None
    limiter: QuestionLimiter = field(init=False)
    inline: InlineRecorder = field(init=False)
    keys: CallbackKeys = field(default_factory=CallbackKeys)
    # Teaching edits YAML files read-modify-write; one at a time keeps every change.
    teaching: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.limiter = QuestionLimiter(self.settings.bot_rate_limit)
        self.inline = InlineRecorder(self._store, INLINE_DEBOUNCE_SECONDS)

    def is_admin(self, user: User | None) -> bool:
        """Tells whether a Telegram user is one of the configured admins."""
        return user is not None and user.id in self.settings.bot_admin_ids

    def event(
        self,
        question: str,
        channel: Channel,
        reply: Reply,
        latency_ms: float,
        user: User | None,
        *,
        chosen: bool = False,
    ) -> QuestionEvent | None:
        """Builds the log event for a reply, or None when there is no log."""
        if self.log is None:
            return None
        try:
            return log_event(
                reply,
                question=question,
                channel=channel,
                latency_ms=latency_ms,
                user_key=self.log.user_key_for(user.id if user else None),
                chosen=chosen,
            )
        except Exception:  # recording must never cost the resident the answer
            logger.exception("could not build a question-log event")
            return None

    def record(
        self,
        question: str,
        channel: Channel,
        reply: Reply,
        latency_ms: float,
        user: User | None,
        *,
        chosen: bool = False,
    ) -> str | None:
        """Queues a question for the log and returns its ref (None without a log)."""
        event = self.event(question, channel, reply, latency_ms, user, chosen=chosen)
        return None if event is None else self._store(event)

    def _store(self, event: QuestionEvent) -> str | None:
        if self.log is None:
            return None
        try:
            return self.log.record(event)
        except Exception:  # the log is queue-based, but a bug there must not break answers
            logger.exception("could not record a question")
            return None

    def vote(self, ref: str, value: int) -> None:
        """Queues a vote on a logged answer."""
        if self.log is None:
            return
        try:
            self.log.vote(ref, value)
        except Exception:
            logger.exception("could not record a vote")

    async def settled_log(self) -> QuestionLog | None:
        """Returns the log after a short wait for queued writes, so admins see fresh rows."""
        if self.log is None:
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOG_WAIT_SECONDS):
                await self.log.flush()
        return self.log


def state_of(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    """Returns the shared bot state stored in the application's bot_data."""
    return context.bot_data[STATE_KEY]


# --------------------------------------------------------------------------- rendering


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


def render(reply: Reply, ref: str | None, keys: CallbackKeys) -> dict[str, Any]:
    """Returns the send arguments for a reply: HTML with buttons, or plain text."""
    if reply.outcome == ANSWERED and reply.entry is not None:
        return {
            "text": reply.as_html(),
            "parse_mode": ParseMode.HTML,
            "reply_markup": vote_keyboard(ref),
        }
    if reply.outcome == AMBIGUOUS:
        return {
            "text": reply.as_html(),
            "parse_mode": ParseMode.HTML,
            "reply_markup": alternatives_keyboard(reply, keys),
        }
    return {"text": reply.as_text()}


def bot_username(context: ContextTypes.DEFAULT_TYPE) -> str:
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
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return body.strip()
    return None


# --------------------------------------------------------------------------- the answer flow


async def ask(
    context: ContextTypes.DEFAULT_TYPE,
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
    answered = state.answerer.answer(question)
    reply = answered.reply
    ref = state.record(question, channel_of(message), reply, answered.latency_ms, user)
    if quote is None:
        quote = message.chat.type != ChatType.PRIVATE or reply.outcome == AMBIGUOUS
    await message.reply_text(
        **render(reply, ref, state.keys), do_quote=quote, allow_sending_without_reply=True
    )


async def within_rate_limit(state: BotState, message: Message, user: User) -> bool:
    """Applies the per-user question limit; sends the one notice when it is first exceeded."""
    verdict = state.limiter.check(user.id)
    if verdict == "notify":
        logger.info("a user exceeded %d questions per minute", state.limiter.limit)
        await message.reply_text(phrase("rate_limited", user_language(user)))
    return verdict == "ok"


# --------------------------------------------------------------------------- commands


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Welcomes the resident: what the bot knows, what it does not, and examples to tap."""
    lang = user_language(update.effective_user)
    await update.effective_message.reply_text(
        phrase("welcome", lang), reply_markup=examples_keyboard(), do_quote=False
    )


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explains what the bot answers, how to ask it in groups and inline, with examples."""
    lang = user_language(update.effective_user)
    body = (
        smalltalk_text("help", lang) + "\n\n" + phrase("commands", lang, bot=bot_username(context))
    )
    await update.effective_message.reply_text(
        body, reply_markup=examples_keyboard(), do_quote=False
    )


async def on_sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists the source documents the answers come from, with their dates."""
    lang = user_language(update.effective_user)
    lines = [esc(phrase("sources", lang))]
    for source in state_of(context).answerer.kb.sources.values():
        meta = source.meta
        lines.append(f"\n• <b>{esc(meta.title)}</b> ({esc(meta.when)})\n{esc(meta.description)}")
        if meta.url:
            lines.append(esc(meta.url))
    await update.effective_message.reply_text(
        join_within(lines), parse_mode=ParseMode.HTML, do_quote=False
    )


async def on_ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers "/spor question", the way to ask in a group without a mention."""
    message, user = update.effective_message, update.effective_user
    question = " ".join(context.args or [])
    if not question:
        example = EXAMPLE_QUESTIONS[0]
        await message.reply_text(phrase("spor_usage", user_language(user), example=example))
        return
    await ask(context, message=message, question=question, user=user)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Says the command is unknown; in groups only when the command names this bot."""
    message = update.effective_message
    if message.chat.type != ChatType.PRIVATE:
        parts = (message.text or "").split(maxsplit=1)
        command = parts[0] if parts else ""
        username = bot_username(context)
        if not username or not command.lower().endswith(f"@{username.lower()}"):
            return
    await message.reply_text(phrase("unknown_command", user_language(update.effective_user)))


# --------------------------------------------------------------------------- messages


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers a text question; in groups only when the bot is mentioned or replied to."""
    message, user = update.effective_message, update.effective_user
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


async def on_not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tells the resident the bot reads text; in groups only when they reply to the bot."""
    message = update.effective_message
    if message.chat.type != ChatType.PRIVATE:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
            return
    lang = user_language(update.effective_user)
    await message.reply_text(phrase("not_text", lang, example=EXAMPLE_QUESTIONS[0]))


# --------------------------------------------------------------------------- buttons


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Dispatches a button press by its prefix; every press is answered, also stale ones."""
    query = update.callback_query
    data = query.data or ""
    if data.startswith("k:"):
        data = state_of(context).keys.resolve(data[2:]) or ""
    kind, _, rest = data.partition(":")
    action = CALLBACKS.get(kind)
    stale = phrase("stale", user_language(query.from_user))
    try:
        note = await action(update, context, rest) if action else stale
    except Exception:
        with contextlib.suppress(TelegramError):
            await query.answer(phrase("apology", user_language(query.from_user)))
        raise
    with contextlib.suppress(BadRequest):  # only "query is too old" after a slow action
        await query.answer(note)


def accessible(query_message: Any) -> Message | None:
    """Returns the button's message if the bot can still act on it."""
    if isinstance(query_message, Message) and query_message.is_accessible:
        return query_message
    return None


async def on_example_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, rest: str
) -> str | None:
    """Answers the example question behind a /start or /help button."""
    query = update.callback_query
    message = accessible(query.message)
    if message is None or not rest.isdigit() or int(rest) >= len(EXAMPLE_QUESTIONS):
        return phrase("stale", user_language(query.from_user))
    question = EXAMPLE_QUESTIONS[int(rest)]
    await ask(context, message=message, question=question, user=query.from_user, quote=False)
    return None


async def on_alternative_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, entry_id: str
) -> str | None:
    """Turns a "Mente du …?" message into the chosen entry's answer, with vote buttons."""
    query, state = update.callback_query, state_of(context)
    message = accessible(query.message)
    # The clarification was written in the question's language; keep it for the answer.
    english = message is not None and message.text == phrase("unsure", "en")
    started = time.perf_counter()
    reply = state.answerer.answer_entry(entry_id, language="en" if english else "nb")
    if message is None or reply is None:
        return phrase("stale", user_language(query.from_user))
    asked = message.reply_to_message
    question = (question_text(asked, bot_username(context)) if asked else "") or (
        reply.result.question
    )
    latency = (time.perf_counter() - started) * 1000.0
    ref = state.record(question, channel_of(message), reply, latency, query.from_user, chosen=True)
    await edit_or_send(message, **render(reply, ref, state.keys))
    return None


async def on_vote_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, rest: str
) -> str | None:
    """Records a 👍/👎 on an answer and removes the buttons so it counts once."""
    query = update.callback_query
    lang = user_language(query.from_user)
    ref, _, value = rest.partition(":")
    if not _REF_RE.fullmatch(ref) or value not in ("1", "-1"):
        return phrase("stale", lang)
    state_of(context).vote(ref, int(value))
    message = accessible(query.message)
    if message is not None and message.reply_markup is not None:
        with contextlib.suppress(BadRequest):
            await message.edit_reply_markup(reply_markup=None)
    return phrase("vote_up" if value == "1" else "vote_down", lang)


async def edit_or_send(message: Message, **kwargs: Any) -> None:
    """Edits the bot's message; sends a new one if it can no longer be edited."""
    try:
        await message.edit_text(**kwargs)
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return
        await message.reply_text(**kwargs, do_quote=False)


# --------------------------------------------------------------------------- inline mode


async def on_inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers "@bot question" typed in any chat with up to three quoted answers."""
    state, query = state_of(context), update.inline_query
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
    assert reply.entry is not None
    body = f"<b>{esc(label(title, limit=200))}</b>\n{reply.as_html()}"
    return InlineQueryResultArticle(
        id=result_id[:64],
        title=label(title, limit=100),
        description=label(reply.entry.answer, limit=100),
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


# --------------------------------------------------------------------------- admin commands


async def admin_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Tells whether the sender is an admin; everyone else gets the unknown-command reply."""
    if state_of(context).is_admin(update.effective_user):
        return True
    await on_unknown_command(update, context)
    return False


def int_arg(args: list[str], default: int, *, low: int = 1, high: int = 3650) -> int | None:
    """Parses an optional day count; None when it is not a number."""
    if not args:
        return default
    try:
        return min(max(int(args[0]), low), high)
    except ValueError:
        return None


async def on_unanswered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Lists recent declined questions, similar ones grouped, most asked first, with refs."""
    if not await admin_only(update, context):
        return
    message, state = update.effective_message, state_of(context)
    days = int_arg(context.args or [], 7)
    log = await state.settled_log()
    if days is None or log is None:
        await message.reply_text("Usage: /unanswered [days]" if log else "No question log.")
        return
    try:
        groups = await log.unanswered(days=days)
    except StoreError as exc:
        await message.reply_text(f"The question log failed: {exc}")
        return
    if not groups:
        await message.reply_text(f"No unanswered questions in the last {days} days.")
        return
    lines = [f"<b>Unanswered questions, last {days} days</b> ({len(groups)} groups)"]
    for group in groups:
        refs = ", ".join(f"<code>{q.ref}</code>" for q in group.questions[-3:])
        more = f" (+{len(group.questions) - 3})" if len(group.questions) > 3 else ""
        users = f", {group.users} users" if group.users > 1 else ""
        example = esc(label(group.example, limit=120))
        lines.append(f"{group.count}× «{example}»{users} — {refs}{more}")
    lines.append("Teach one with /teach REF ENTRY_ID, or tap through /teach.")
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML)


def percent(value: float | None) -> str:
    """Formats a rate as a percentage, or a dash when there was nothing to count."""
    return "–" if value is None else f"{100 * value:.0f} %"


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Shows question counts, answer and decline rates, top entries and the 👎 rate."""
    if not await admin_only(update, context):
        return
    message, state = update.effective_message, state_of(context)
    days = int_arg(context.args or [], 0, low=0)
    log = await state.settled_log()
    if days is None or log is None:
        await message.reply_text("Usage: /stats [days]" if log else "No question log.")
        return
    try:
        stats = await log.stats(days=days or None)
    except StoreError as exc:
        await message.reply_text(f"The question log failed: {exc}")
        return
    period = f"last {days} days" if days else "all time"
    votes = stats.votes_up + stats.votes_down
    lines = [
        f"<b>Statistics, {period}</b>",
        f"Questions: {stats.questions} ({stats.distinct_users} users)",
        f"Answered: {stats.answered} ({percent(stats.answer_rate)})",
        f"Declined: {stats.declined} ({percent(stats.decline_rate)})",
        f"Ambiguous: {stats.ambiguous} · small talk: {stats.smalltalk}",
        f"Votes: 👍 {stats.votes_up} 👎 {stats.votes_down} "
        f"(👎 rate {percent(stats.thumbs_down_rate)} of {votes})",
    ]
    if stats.top_entries:
        lines.append("Top entries:")
        lines += [f"{n:>4}  <code>{esc(entry)}</code>" for entry, n in stats.top_entries]
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML)


async def on_teach(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Teaches a logged question to an entry; without arguments offers recent questions."""
    if not await admin_only(update, context):
        return
    message, state = update.effective_message, state_of(context)
    args = context.args or []
    if len(args) >= 2:
        await message.reply_text(await teach(state, args[0].lower(), args[1]))
    elif len(args) == 1:
        await message.reply_text(**await teach_choices(state, args[0].lower()))
    else:
        await message.reply_text(**await teach_list(state))


async def teach_list(state: BotState) -> dict[str, Any]:
    """Returns a message offering recent unanswered questions as buttons."""
    log = await state.settled_log()
    if log is None:
        return {"text": "No question log."}
    try:
        groups = await log.unanswered(days=TEACH_LOOKBACK_DAYS)
    except StoreError as exc:
        return {"text": f"The question log failed: {exc}"}
    rows = []
    for group in groups[:TEACH_LIST]:
        ref = group.questions[-1].ref
        caption = f"{group.count}× {label(group.example, ref, limit=50)}"
        rows.append([InlineKeyboardButton(caption, callback_data=f"t:{ref}")])
    if not rows:
        return {"text": f"No unanswered questions in the last {TEACH_LOOKBACK_DAYS} days."}
    return {"text": "Which question should I learn?", "reply_markup": InlineKeyboardMarkup(rows)}


async def teach_choices(state: BotState, ref: str) -> dict[str, Any]:
    """Returns a message offering the entries closest to a logged question as buttons."""
    stored = await logged_question(state, ref)
    if stored is None:
        return {"text": f"No logged question with ref {ref}."}
    candidates = state.answerer.matcher.rank(stored.question, limit=TEACH_CHOICES)
    if not candidates:
        return {"text": f"No entry comes close to «{label(stored.question)}»; use /teach REF ID."}
    lines = [f"Which entry answers «{label(stored.question, limit=200)}»?"]
    rows = []
    for number, cand in enumerate(candidates, 1):
        lines.append(f"{number}. {cand.entry_id} — «{label(cand.question)}» ({cand.score:.0f})")
        data = state.keys.fit(f"te:{ref}:{cand.entry_id}")
        rows.append([InlineKeyboardButton(f"{number}. {label(cand.entry_id)}", callback_data=data)])
    return {"text": "\n".join(lines), "reply_markup": InlineKeyboardMarkup(rows)}


async def logged_question(state: BotState, ref: str) -> StoredQuestion | None:
    """Returns the logged question with a ref, or None (also when the log is unavailable)."""
    log = await state.settled_log()
    if log is None or not _REF_RE.fullmatch(ref):
        return None
    try:
        return await log.get(ref)
    except StoreError as exc:
        logger.warning("question log lookup failed: %s", exc)
        return None


async def teach(state: BotState, ref: str, entry_id: str) -> str:
    """Adds a logged question as a phrasing of an entry and reloads; returns the outcome."""
    stored = await logged_question(state, ref)
    if stored is None:
        return f"No logged question with ref {ref}."
    async with state.teaching:
        try:
            # The trial load takes seconds on the full knowledge; the loop keeps answering.
            path = await asyncio.to_thread(
                add_phrasing, state.answerer.directory, entry_id, stored.question
            )
        except TeachError as exc:
            return f"Not taught: {exc}"
        problems = await asyncio.to_thread(state.answerer.reload)
    if problems:
        return f"Taught to {entry_id} in {path.name}, but the reload failed:\n" + describe(
            state, problems
        )
    logger.info("taught question %s to entry %s", ref, entry_id)
    return f"Taught «{label(stored.question, limit=200)}» to {entry_id} in {path.name}."


async def on_teach_pick_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str
) -> str | None:
    """Shows the candidate entries for the question an admin tapped."""
    query, state = update.callback_query, state_of(context)
    message = accessible(query.message)
    if not state.is_admin(query.from_user) or message is None:
        return phrase("stale", user_language(query.from_user))
    await message.reply_text(**await teach_choices(state, ref), do_quote=False)
    return None


async def on_teach_pick_entry(
    update: Update, context: ContextTypes.DEFAULT_TYPE, rest: str
) -> str | None:
    """Teaches the tapped entry (te:REF:ENTRY) and shows the outcome in place of the choices."""
    ref, _, entry_id = rest.partition(":")
    return await _teach_button(update, context, ref, entry_id)


async def _teach_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE, ref: str, entry_id: str
) -> str | None:
    query, state = update.callback_query, state_of(context)
    message = accessible(query.message)
    if not state.is_admin(query.from_user) or message is None or not entry_id:
        return phrase("stale", user_language(query.from_user))

    async def work() -> None:
        await edit_or_send(message, text=await teach(state, ref, entry_id))

    # Updates are handled one at a time; residents must not wait for a teach to finish.
    context.application.create_task(work(), update=update)
    return "Teaching …"


def describe(state: BotState, problems: list[Problem]) -> str:
    """Lists knowledge problems as "file:line: text" lines, paths relative to the directory."""
    prefix = str(state.answerer.directory) + "/"
    lines = [f"• {label(str(p).replace(prefix, ''), limit=400)}" for p in problems]
    return join_within(lines)


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reloads the knowledge now and reports the entries loaded or the problems found."""
    if not await admin_only(update, context):
        return
    state = state_of(context)
    problems = await asyncio.to_thread(state.answerer.reload)
    if problems:
        reply = "Reload failed; still answering from the last good knowledge:\n" + describe(
            state, problems
        )
    else:
        reply = f"Reloaded: {len(state.answerer.kb.entries)} entries."
    await update.effective_message.reply_text(reply)


# --------------------------------------------------------------------------- errors


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs a failure with its traceback and apologises to the resident if there is a chat."""
    kind = "no update"
    if isinstance(update, Update):
        kind = f"update {update.update_id}"
    logger.error("handling %s failed", kind, exc_info=context.error)
    if not isinstance(update, Update) or isinstance(context.error, Forbidden):
        return
    message = update.message or update.edited_message
    if message is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        try:
            addressed = addressed_question(message, bot_username(context), context.bot.id)
        except Exception:
            addressed = None
        if addressed is None and not (message.text or "").startswith("/"):
            return
    with contextlib.suppress(TelegramError):
        await message.reply_text(phrase("apology", user_language(update.effective_user)))


CALLBACKS = {
    "q": on_example_button,
    "a": on_alternative_button,
    "v": on_vote_button,
    "t": on_teach_pick_question,
    "te": on_teach_pick_entry,
}

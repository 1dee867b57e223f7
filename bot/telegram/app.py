"""The Telegram bot: builds the PTB Application around the answering core and runs it.

``run_bot`` is what ``python -m bot run`` calls: long polling by default, a webhook
when BOT_WEBHOOK_URL is set. ``build_application`` is shared with the tests, which
drive the real Application over HTTP against a Bot API stand-in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import questionlog
from bot.core.errors import ConfigError
from bot.core.messages import phrase
from bot.core.service import Answerer
from bot.logsetup import configure_logging
from bot.questionlog import QuestionLog, StoreError
from bot.questionlog.handover import HandoverDesk
from bot.questionlog.privacy import SecretMissingError
from bot.settings import Settings, load_settings
from bot.telegram import admin, buttons, handover, inline, residents
from bot.telegram.digest import schedule_digest
from bot.telegram.errors import on_error
from bot.telegram.runner import Stop, WebhookConfig, serve
from bot.telegram.state import STATE_KEY, BotState, Context, state_of

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2

WEBHOOK_PATH = "telegram"
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
]
RELOAD_CHECK_SECONDS = 2.0
PURGE_INTERVAL = dt.timedelta(days=1)
PURGE_FIRST = dt.timedelta(minutes=1)
# Bot API calls that put something new in a chat (repeating one may show it twice).
CHANGES_A_CHAT = ("send", "copyMessage", "forwardMessage")
# Transport failures that mean the request never reached Telegram.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
LOG_RETRY_SECONDS = 30.0
RETRY_AFTER_RETRIES = 3
NETWORK_RETRIES = 3
NETWORK_BACKOFF_SECONDS = 0.5
REACH_FIRST_DELAY = 1.0  # waiting for an unreachable Bot API at start: 1, 2, 4 … 60 s
REACH_MAX_DELAY = 60.0

# The command menu, in Norwegian (the default) and English; the words are in messages.py.
MENU_COMMANDS = ("start", "help", "kilder", "spor")
MENU_LANGUAGES = ("nb", "en")

# Message content that is not text: the bot explains it reads text questions.
NOT_TEXT = (
    filters.PHOTO
    | filters.Sticker.ALL
    | filters.VOICE
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.AUDIO
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.CONTACT
    | filters.POLL
    | filters.Dice.ALL
    | filters.STORY
)


class RetryingRateLimiter(AIORateLimiter):
    """Keeps to Telegram's flood limits and also retries calls that failed in transit.

    AIORateLimiter retries after a 429 (RetryAfter). This adds a few retries with
    backoff for server errors and timeouts, so a passing Telegram hiccup does not cost a
    resident their answer. Refusals (BadRequest, Forbidden) are final and never retried.
    """

    def __init__(
        self,
        *,
        network_retries: int = NETWORK_RETRIES,
        backoff: float = NETWORK_BACKOFF_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.network_retries = network_retries
        self._backoff = backoff

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Runs the request through the flood limiter, retrying transient failures."""
        delay = self._backoff
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:  # a subclass of NetworkError, but Telegram's final word
                raise
            except NetworkError as exc:  # 5xx, 502 pages, connection errors, TimedOut
                if attempt == self.network_retries or not may_retry(endpoint, exc):
                    raise
                logger.warning(
                    "Bot API %s failed (%s); retry %d of %d in %.1f s",
                    endpoint,
                    exc,
                    attempt + 1,
                    self.network_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def may_retry(endpoint: str, exc: NetworkError) -> bool:
    """Tells whether a failed Bot API call can be repeated without doing it twice.

    A call that never left (connection refused, no connection in time) or that Telegram
    answered with a server error did nothing and is repeated. A call that timed out or
    broke off while waiting for the answer may have been done: a send is then not
    repeated, since the resident would get the message twice. The poller backs off on
    its own, so ``getUpdates`` is never repeated here.
    """
    if endpoint == "getUpdates":
        return False
    cause = exc.__cause__
    if not isinstance(cause, httpx.HTTPError) or isinstance(cause, NOT_SENT):
        return True  # an answer came back (a server error), or nothing left
    return not endpoint.startswith(CHANGES_A_CHAT)


def api_urls(base_url: str) -> tuple[str, str]:
    """Returns PTB's base_url and base_file_url for a Bot API server URL ending in /bot."""
    parts = urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/bot"):
        path += "/bot"
    file_path = path[: -len("bot")] + "file/bot"
    return urlunsplit(parts._replace(path=path)), urlunsplit(parts._replace(path=file_path))


def webhook_url(configured: str) -> str:
    """Returns the public webhook URL; a bare host gets the bot's fixed path appended."""
    parts = urlsplit(configured.strip())
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=f"/{WEBHOOK_PATH}"))
    return configured.strip()


def build_application(
    settings: Settings, answerer: Answerer, log: QuestionLog | None
) -> Application:
    """Builds the bot: handlers, flood limits and retries, jobs, and start/stop hooks."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .rate_limiter(
            RetryingRateLimiter(
                max_retries=RETRY_AFTER_RETRIES, overall_max_rate=settings.bot_flood_limit
            )
        )
        .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
        # Long enough for a slow Telegram; a send that still times out is not repeated.
        .read_timeout(settings.bot_api_timeout)
        .write_timeout(settings.bot_api_timeout)
        .media_write_timeout(max(settings.bot_api_timeout, 20.0))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram_base_url:
        base_url, base_file_url = api_urls(settings.telegram_base_url)
        builder = builder.base_url(base_url).base_file_url(base_file_url)
    app = builder.build()
    state = BotState(settings=settings, answerer=answerer, log=log)
    if settings.bot_staff_chat_id is not None:
        state.desk = HandoverDesk(settings.bot_database, days=settings.bot_handover_days)
    app.bot_data[STATE_KEY] = state
    add_handlers(app, state)
    if app.job_queue is None:  # the job-queue extra is a dependency; without it, no reloads
        raise RuntimeError("python-telegram-bot[job-queue] is not installed")
    app.job_queue.run_repeating(
        _watch_knowledge, interval=RELOAD_CHECK_SECONDS, first=RELOAD_CHECK_SECONDS
    )
    app.job_queue.run_repeating(_purge_log, interval=PURGE_INTERVAL, first=PURGE_FIRST)
    schedule_digest(app.job_queue, settings)
    if state.desk is not None:
        app.job_queue.run_repeating(
            handover.remind_and_purge, interval=PURGE_INTERVAL, first=PURGE_FIRST
        )
    return app


def add_handlers(app: Application, state: BotState) -> None:
    """Registers the handlers: residents', admins', buttons, inline mode and errors."""
    new = filters.UpdateType.MESSAGE
    for name, callback in (
        ("start", residents.on_start),
        ("help", residents.on_help),
        ("kilder", residents.on_sources),
        ("spor", residents.on_ask_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=new))
    # Only admins match these; anyone else falls through to the unknown-command reply.
    admins = new & filters.User(user_id=state.settings.bot_admin_ids)
    app.add_handler(CommandHandler("unanswered", admin.on_unanswered, filters=admins))
    app.add_handler(CommandHandler("dismiss", admin.on_dismiss, filters=admins))
    # /stats draws a chart (a second or so): residents must not wait for it either.
    app.add_handler(CommandHandler("stats", admin.on_stats, filters=admins, block=False))
    # Teaching and reloading take a second or more (loading and indexing the knowledge):
    # they must not hold up residents' questions, which are handled one at a time.
    app.add_handler(CommandHandler("teach", admin.on_teach, filters=admins, block=False))
    app.add_handler(CommandHandler("reload", admin.on_reload, filters=admins, block=False))
    staff_chat = state.settings.bot_staff_chat_id
    if staff_chat is not None:
        # The staff group: replies to case messages are relayed, /lukk closes a case;
        # nothing else said there is for the bot.
        staff = filters.Chat(chat_id=staff_chat) & new & filters.REPLY
        app.add_handler(CommandHandler("lukk", handover.on_close, filters=staff))
        app.add_handler(
            MessageHandler(staff & filters.TEXT & ~filters.COMMAND, handover.on_staff_reply)
        )
        app.add_handler(MessageHandler(filters.Chat(chat_id=staff_chat), _ignore))
    app.add_handler(MessageHandler(new & filters.COMMAND, residents.on_unknown_command))
    text = filters.TEXT & ~filters.COMMAND & (new | filters.UpdateType.EDITED_MESSAGE)
    app.add_handler(MessageHandler(text, residents.on_text))
    app.add_handler(MessageHandler(new & NOT_TEXT, residents.on_not_text))
    # One handler per kind of button, by the data's prefix (short "k:" keys resolved).
    for kind, on_press in (
        ("q", buttons.on_example_button),
        ("a", buttons.on_alternative_button),
        ("v", buttons.on_vote_button),
        ("t", admin.on_teach_pick_question),
        ("te", admin.on_teach_pick_entry),
        ("tf", admin.on_teach_force),
        ("h", handover.on_handover_button),
        ("hc", handover.on_handover_confirm),
        ("hx", handover.on_handover_cancel),
    ):
        app.add_handler(CallbackQueryHandler(on_press, pattern=state.keys.kind(kind)))
    app.add_handler(CallbackQueryHandler(buttons.on_stale_button))
    app.add_handler(InlineQueryHandler(inline.on_inline_query))
    app.add_error_handler(on_error)


async def _post_init(app: Application) -> None:
    """Opens the question log and registers the command menu, before updates are fetched."""
    state: BotState = app.bot_data[STATE_KEY]
    # The wording model is built on first use; build it now, off the event loop, so
    # the first long message is not the one that waits for it.
    await asyncio.to_thread(state.answerer.warm_up)
    if state.desk is not None:
        try:
            await state.desk.open()
        except StoreError as exc:
            logger.error("handover cases unavailable, not offering a person: %s", exc)
            state.desk = None
    if state.log is not None:
        try:
            await state.log.open()
        except (StoreError, OSError) as exc:
            # Answers matter more than statistics: run on without recording (and without
            # vote buttons, which need a logged question), and try again every half minute.
            logger.error(
                "question log unavailable, answering without recording and retrying: %s", exc
            )
            closed, state.log = state.log, None
            if app.job_queue is not None:
                app.job_queue.run_repeating(
                    _open_log_later, interval=LOG_RETRY_SECONDS, data=closed, name="open-log"
                )
    for language in MENU_LANGUAGES:
        commands = [BotCommand(name, phrase(f"menu_{name}", language)) for name in MENU_COMMANDS]
        try:
            await app.bot.set_my_commands(
                commands, language_code=None if language == "nb" else language
            )
        except TelegramError as exc:
            logger.warning("could not register the %s command menu: %s", language, exc)
    logger.info(
        "bot @%s ready: %d knowledge entries, %d admins",
        app.bot.username,
        len(state.answerer.kb.entries),
        len(state.settings.bot_admin_ids),
    )


async def _open_log_later(context: Context) -> None:
    """Opens the question log that could not be opened at start, once it can be."""
    log = context.job.data if context.job is not None else None
    if not isinstance(log, QuestionLog):
        return
    try:
        await log.open()
    except (StoreError, OSError):
        return  # said once at start; quiet until it works
    state_of(context).log = log
    logger.info("question log open again; recording resumes")
    if context.job is not None:
        context.job.schedule_removal()


async def _ignore(update: Update, context: Context) -> None:
    """Swallows what staff say among themselves in the staff group."""


async def _post_shutdown(app: Application) -> None:
    """Records inline queries still waiting for their pause, then flushes and closes the log."""
    state: BotState = app.bot_data[STATE_KEY]
    state.inline.flush()
    if state.desk is not None:
        await state.desk.close()
    if state.log is not None:
        unwritten = await state.log.close()
        if unwritten:
            logger.warning("%d logged questions could not be written at shutdown", unwritten)


async def _watch_knowledge(context: Context) -> None:
    """Reloads the knowledge when its files change; tells the admins once if it is broken."""
    state = state_of(context)
    if not state.answerer.changed_on_disk():
        return
    # Loading and indexing take most of a second: off the event loop, so residents
    # keep getting answers from the current knowledge meanwhile.
    problems = await asyncio.to_thread(state.answerer.reload)
    if not problems:
        return
    report = admin.say("admin_knowledge_broken", problems=admin.describe(state, problems))
    for admin_id in sorted(state.settings.bot_admin_ids):
        try:
            await context.bot.send_message(admin_id, report)
        except TelegramError as exc:
            logger.warning("could not tell an admin about the broken knowledge: %s", exc)


async def _purge_log(context: Context) -> None:
    """Deletes logged questions older than the retention period."""
    log = state_of(context).log
    if log is None:
        return
    try:
        await log.purge()
    except StoreError as exc:
        logger.warning("question log purge failed: %s", exc)


def open_question_log(settings: Settings) -> QuestionLog | None:
    """Creates the question log from the settings, or None if its secret is unusable."""
    try:
        return questionlog.open_question_log(settings)  # the daily _purge_log job purges
    except SecretMissingError:
        raise  # starting with a new secret would split every person in two: refuse
    except (StoreError, OSError) as exc:
        logger.error("question log unavailable, answering without recording: %s", exc)
        return None


async def _reach(app: Application, delay: float, max_delay: float) -> None:
    """Calls getMe until it answers: one line on the first failure, then quiet backoff."""
    limiter = app.bot.rate_limiter
    quiet = isinstance(limiter, RetryingRateLimiter)
    retries = limiter.network_retries if quiet else 0
    if quiet:
        limiter.network_retries = 0  # this loop backs off; no warning per request meanwhile
    told = False
    try:
        while True:
            try:
                await app.bot.initialize()
                break
            except InvalidToken:
                raise ConfigError(
                    "Telegram rejected TELEGRAM_BOT_TOKEN (or TELEGRAM_BASE_URL is not a Bot "
                    "API); check the token with @BotFather"
                ) from None
            except NetworkError as exc:
                if not told:
                    logger.error(
                        "cannot reach the Telegram Bot API (%s); retrying with backoff up to "
                        "every %.0f s until it answers",
                        exc,
                        max_delay,
                    )
                    told = True
                else:
                    logger.debug("Bot API still unreachable (%s); next try in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, max_delay)
    finally:
        if quiet:
            limiter.network_retries = retries
    if told:
        logger.info("reached the Telegram Bot API")


async def _serve(app: Application, settings: Settings, webhook: WebhookConfig | None) -> None:
    """Reaches Telegram, then answers from the durable inbox until a stop signal."""
    stop = Stop()
    stop.install()  # a SIGTERM while Telegram is still unreachable stops the wait too
    reaching = asyncio.create_task(_reach(app, REACH_FIRST_DELAY, REACH_MAX_DELAY))
    waiting = asyncio.create_task(stop.event.wait())
    await asyncio.wait({reaching, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not reaching.done():
        reaching.cancel()
        return
    waiting.cancel()
    reaching.result()
    await serve(
        app,
        database=settings.bot_database,
        allowed_updates=list(ALLOWED_UPDATES),
        webhook=webhook,
        stop=stop,
    )


def run_bot(*, knowledge_dir: Path | None) -> int:
    """Runs the Telegram bot until SIGINT/SIGTERM; returns the process exit code."""
    settings = load_settings()
    if settings.telegram_bot_token is None:
        print(
            "error: TELEGRAM_BOT_TOKEN is not set; get one from @BotFather and put it in the "
            "environment or .env (or try `python -m bot chat`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    token = settings.telegram_bot_token.get_secret_value()
    secret = (
        settings.bot_webhook_secret.get_secret_value()
        if settings.bot_webhook_secret
        else secrets.token_urlsafe(32)
    )
    configure_logging(
        settings.bot_log_level,
        secrets=(token, secret),
        log_dir=settings.bot_log_dir,
        retention_days=settings.bot_log_retention_days,
    )
    answerer = Answerer(knowledge_dir or settings.knowledge_path)
    app = build_application(settings, answerer, open_question_log(settings))
    webhook = None
    if settings.bot_webhook_url:
        webhook = WebhookConfig(
            listen=settings.bot_webhook_listen,
            port=settings.bot_webhook_port,
            path=WEBHOOK_PATH,
            url=webhook_url(settings.bot_webhook_url),
            secret=secret,
        )
        logger.info("receiving updates by webhook on port %d", settings.bot_webhook_port)
    else:
        logger.info("receiving updates by long polling")
    asyncio.run(_serve(app, settings, webhook))
    logger.info("bot stopped")
    return EXIT_OK


__all__ = ["build_application", "run_bot"]

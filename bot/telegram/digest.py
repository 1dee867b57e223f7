"""The picture admins get of what residents ask: the chart for /stats and the weekly digest.

The digest goes to every admin on the day and at the time of BOT_DIGEST_DAY and
BOT_DIGEST_TIME (local time in BOT_TIMEZONE), through python-telegram-bot's JobQueue:
the week's figures against the week before, the most asked topics, the most frequent
unanswered questions, open handover cases, and the chart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from functools import partial

from telegram import InputFile
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Job, JobQueue

from bot.core.events import utcnow
from bot.core.messages import phrase
from bot.core.replies import esc
from bot.questionlog import QuestionLog, Stats, StoreError
from bot.questionlog.chart import CHART_DAYS, render_chart
from bot.settings import WEEKDAYS, Settings
from bot.telegram.render import join_within, label
from bot.telegram.state import BotState, Context, state_of

__all__ = ["DIGEST_JOB", "chart_photo", "digest_text", "schedule_digest", "send_digest"]

logger = logging.getLogger(__name__)

DIGEST_JOB = "weekly-digest"
CHART_FILENAME = "sporsmal-per-dag.png"
WEEK = timedelta(days=7)
DIGEST_TOP = 5
# PTB's JobQueue counts weekdays from Sunday (0) to Saturday (6).
_PTB_WEEKDAY = {name: (index + 1) % 7 for index, name in enumerate(WEEKDAYS)}


def _nb(key: str, **values: object) -> str:
    """Returns one of the admins' Norwegian sentences, filled in."""
    return phrase(key, "nb", **{k: str(v) for k, v in values.items()})


def _percent(value: float | None) -> str:
    """Formats a rate as a percentage, or a dash when there was nothing to count."""
    return "–" if value is None else f"{100 * value:.0f} %"


def _real(stats: Stats) -> int:
    """Counts the real questions in a summary (small talk left out)."""
    return stats.questions - stats.smalltalk


# --------------------------------------------------------------------------- the chart


async def chart_photo(state: BotState, *, now: datetime | None = None) -> InputFile | None:
    """Draws the last 30 days' chart from the log; None without a log or if it fails."""
    log = await state.settled_log()
    if log is None:
        return None
    try:
        days = await log.daily(days=CHART_DAYS, now=now, zone=state.settings.zone)
    except StoreError as exc:
        logger.warning("no chart, the question log failed: %s", exc)
        return None
    handed: dict[date, int] | None = None
    if state.desk is not None:
        since = (now or datetime.now(UTC)) - timedelta(days=CHART_DAYS + 1)
        try:
            handed = await state.desk.per_day(zone=state.settings.zone, since=since)
        except StoreError as exc:
            logger.warning("the chart leaves out handovers: %s", exc)
    # Drawing takes a moment (and matplotlib's first import longer): off the event loop.
    png = await asyncio.to_thread(partial(render_chart, days, handed_over=handed))
    return InputFile(png, filename=CHART_FILENAME)


def chart_caption() -> str:
    """Returns the caption the chart is sent with."""
    return _nb("chart_title", days=CHART_DAYS)


# --------------------------------------------------------------------------- the digest


async def digest_text(state: BotState, log: QuestionLog, *, now: datetime | None = None) -> str:
    """Writes the week's digest in Norwegian HTML: figures against the week before, tops."""
    now = utcnow() if now is None else now
    week = await log.stats(days=7, now=now, top=DIGEST_TOP)
    before = await log.stats(days=7, now=now - WEEK, top=0)
    unanswered = (await log.unanswered(days=7, now=now))[:DIGEST_TOP]
    zone = state.settings.zone
    start, end = (now - WEEK).astimezone(zone).date(), now.astimezone(zone).date()
    lines = [
        _nb("digest_title", start=f"{start.day}.{start.month}.", end=f"{end.day}.{end.month}."),
        "",
        _nb(
            "digest_questions",
            now=_real(week),
            users=week.distinct_users,
            before=_real(before),
            users_before=before.distinct_users,
        ),
        _nb(
            "digest_answered",
            now=week.answered,
            rate=_percent(week.answer_rate),
            before=before.answered,
            rate_before=_percent(before.answer_rate),
        ),
        _nb(
            "digest_outcomes",
            ambiguous=week.ambiguous,
            related=week.related,
            declined=week.declined,
            ambiguous_before=before.ambiguous,
            related_before=before.related,
            declined_before=before.declined,
        ),
        _nb(
            "digest_votes",
            up=week.votes_up,
            down=week.votes_down,
            up_before=before.votes_up,
            down_before=before.votes_down,
        ),
    ]
    open_cases = await _open_cases(state)
    if open_cases is not None:
        lines.append(_nb("digest_cases", count=open_cases))

    entries = state.answerer.kb.by_id
    lines += ["", _nb("digest_topics")]
    for entry_id, count in week.top_entries:
        entry = entries.get(entry_id)
        what = esc(label(entry.label, limit=80)) if entry else f"<code>{esc(entry_id)}</code>"
        lines.append(_nb("digest_line", count=count, what=what))
    if not week.top_entries:
        lines.append(_nb("digest_none"))

    lines += ["", _nb("digest_unanswered")]
    for group in unanswered:
        what = f"«{esc(label(group.example, limit=80))}»"
        lines.append(_nb("digest_line", count=group.count, what=what))
    if not unanswered:
        lines.append(_nb("digest_none"))
    return join_within(lines)


async def _open_cases(state: BotState) -> int | None:
    """Counts the open handover cases, or None when there are none to count (or it fails)."""
    if state.desk is None:
        return None
    try:
        return (await state.desk.counts())["open"]
    except StoreError as exc:
        logger.warning("no handover figures in the digest: %s", exc)
        return None


async def send_digest(context: Context) -> None:
    """Sends the weekly digest, text and chart, to every admin (the JobQueue's callback)."""
    state = state_of(context)
    log = await state.settled_log()
    if log is None:
        logger.info("no question log: no weekly digest")
        return
    try:
        text = await digest_text(state, log)
    except StoreError as exc:
        logger.warning("no weekly digest, the question log failed: %s", exc)
        return
    photo: InputFile | str | None = await chart_photo(state)
    sent = 0
    for admin_id in sorted(state.settings.bot_admin_ids):
        try:
            await context.bot.send_message(admin_id, text, parse_mode=ParseMode.HTML)
            if photo is not None:
                message = await context.bot.send_photo(admin_id, photo, caption=chart_caption())
                if isinstance(photo, InputFile) and message.photo:
                    photo = message.photo[-1].file_id  # uploaded once, then sent by its id
            sent += 1
        except TelegramError as exc:
            logger.warning("could not send the weekly digest to an admin: %s", exc)
    logger.info("weekly digest sent to %d of %d admins", sent, len(state.settings.bot_admin_ids))


def schedule_digest(job_queue: JobQueue[Context], settings: Settings) -> Job[Context] | None:
    """Schedules the weekly digest from the settings; None when it is off or has no admins."""
    if settings.bot_digest_day is None or not settings.bot_admin_ids:
        return None
    return job_queue.run_daily(
        send_digest,
        time=settings.bot_digest_time.replace(tzinfo=settings.zone),
        days=(_PTB_WEEKDAY[settings.bot_digest_day],),
        name=DIGEST_JOB,
    )

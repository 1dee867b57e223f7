"""What admins do in the chat: unanswered questions, statistics, teaching and reloading.

The command handlers are registered with a ``filters.User`` of the admins' ids, so they
only ever see admins; the teach buttons check the presser themselves. Admins are
municipal staff: what they read is Norwegian, from ``bot.core.messages``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot.authoring.review import build_review, group_of
from bot.authoring.teach import TeachError, add_phrasing
from bot.core.errors import Problem
from bot.core.messages import phrase
from bot.core.replies import esc
from bot.questionlog import QuestionLog, StoredQuestion, StoreError, UnansweredGroup
from bot.questionlog.handover import handled_lines
from bot.telegram.buttons import REF_RE, Press, button
from bot.telegram.digest import chart_caption, chart_photo
from bot.telegram.render import edit_or_send, join_within, label
from bot.telegram.state import BotState, Context, state_of

logger = logging.getLogger(__name__)

TEACH_CHOICES = 5
TEACH_LIST = 8
TEACH_LOOKBACK_DAYS = 30
FORCE_WORDS = frozenset({"force", "likevel", "--force"})
# /dismiss's words, English as in the CLI's --reason, or Norwegian.
DISMISS_REASONS = {
    "declined": "declined",
    "avslått": "declined",
    "avslatt": "declined",
    "handled": "handled",
    "håndtert": "handled",
    "handtert": "handled",
}
ONLY_WORDS = frozenset({"only", "bare"})
FAILURES = ("declined", "ambiguous", "related", "voted_down", "answered")


def say(key: str, **values: object) -> str:
    """Returns one of the admins' Norwegian sentences, filled in."""
    return phrase(key, "nb", **{k: str(v) for k, v in values.items()})


def log_failed(exc: StoreError) -> str:
    """Returns the reply when the question log fails."""
    return say("admin_log_failed", error=exc)


def int_arg(args: list[str], default: int, *, low: int = 1, high: int = 3650) -> int | None:
    """Parses an optional day count; None when it is not a number."""
    if not args:
        return default
    try:
        return min(max(int(args[0]), low), high)
    except ValueError:
        return None


def percent(value: float | None) -> str:
    """Formats a rate as a percentage, or a dash when there was nothing to count."""
    return "–" if value is None else f"{100 * value:.0f} %"


def describe(state: BotState, problems: list[Problem]) -> str:
    """Lists knowledge problems as "file:line: text" lines, paths relative to the directory."""
    prefix = str(state.answerer.directory) + "/"
    lines = [f"• {label(str(p).replace(prefix, ''), limit=400)}" for p in problems]
    return join_within(lines)


# --------------------------------------------------------------------------- reports


async def review(state: BotState, log: QuestionLog, days: int) -> list[UnansweredGroup]:
    """Returns the failures of the last days the knowledge does not answer yet, grouped."""
    asked = await log.failures(days=days)
    # Matching every question takes a while on a long list; the loop keeps answering.
    return await asyncio.to_thread(build_review, asked, state.answerer.matcher)


async def on_unanswered(update: Update, context: Context) -> None:
    """Lists recent failures (declined, "mente du", related, 👎), grouped, with suggestions."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    days = int_arg(context.args or [], 7)
    log = await state.settled_log()
    if days is None or log is None:
        await message.reply_text(say("admin_unanswered_usage" if log else "admin_no_log"))
        return
    try:
        groups = await review(state, log, days)
        handled = await state.desk.handled(limit=5) if state.desk is not None else []
    except StoreError as exc:
        await message.reply_text(log_failed(exc))
        return
    if handled:
        # Questions staff answered by handover: material for new entries.
        await message.reply_text(join_within(handled_lines(handled)))
    if not groups:
        await message.reply_text(say("admin_unanswered_none", days=days))
        return
    lines = [say("admin_unanswered_title", days=days, groups=len(groups))]
    outcome_labels = {kind: say(f"admin_outcome_{kind}") for kind in FAILURES}
    for group in groups:
        refs = ", ".join(f"<code>{q.ref}</code>" for q in group.questions[-3:])
        more = f" (+{len(group.questions) - 3})" if len(group.questions) > 3 else ""
        users = say("admin_unanswered_users", users=group.users) if group.users > 1 else ""
        example = esc(label(group.example, limit=120))
        lines.append(f"{group.count}× «{example}»{users} — {refs}{more}")
        if set(group.outcomes) != {"declined"}:
            lines.append(f"    {esc(group.outcome_text(outcome_labels))}")
        if group.suggestions:
            offers = " · ".join(
                f"<code>{esc(s.entry_id)}</code> «{esc(label(s.label, limit=60))}» ({s.score:.0f})"
                for s in group.suggestions
            )
            lines.append(f"    → {offers}")
    lines.append(say("admin_unanswered_hint"))
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML)


async def on_stats(update: Update, context: Context) -> None:
    """Shows question counts, rates, top entries and the 👎 rate, then the 30-day chart."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    days = int_arg(context.args or [], 0, low=0)
    log = await state.settled_log()
    if days is None or log is None:
        await message.reply_text(say("admin_stats_usage" if log else "admin_no_log"))
        return
    try:
        stats = await log.stats(days=days or None)
    except StoreError as exc:
        await message.reply_text(log_failed(exc))
        return
    period = say("admin_stats_days", days=days) if days else say("admin_stats_all")
    votes = stats.votes_up + stats.votes_down
    lines = [
        say("admin_stats_title", period=period),
        say("admin_stats_questions", questions=stats.questions, users=stats.distinct_users),
        say("admin_stats_answered", count=stats.answered, rate=percent(stats.answer_rate)),
        say("admin_stats_declined", count=stats.declined, rate=percent(stats.decline_rate)),
        say(
            "admin_stats_other",
            ambiguous=stats.ambiguous,
            related=stats.related,
            smalltalk=stats.smalltalk,
        ),
        say(
            "admin_stats_votes",
            up=stats.votes_up,
            down=stats.votes_down,
            rate=percent(stats.thumbs_down_rate),
            votes=votes,
        ),
    ]
    if stats.top_entries:
        lines.append(say("admin_stats_top"))
        lines += [f"{n:>4}  <code>{esc(entry)}</code>" for entry, n in stats.top_entries]
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML)
    # The picture: questions per day over the last 30 days, by outcome, and the answer rate.
    photo = await chart_photo(state)
    if photo is not None:
        await message.reply_photo(photo, caption=chart_caption())


async def on_dismiss(update: Update, context: Context) -> None:
    """Takes a question and those grouped with it out of the review (declined or handled)."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    args = [a.casefold() for a in context.args or []]
    words = args[1:]
    reason = next((DISMISS_REASONS[a] for a in words if a in DISMISS_REASONS), "declined")
    only = any(a in ONLY_WORDS for a in words)
    # An unknown word (a typo of "handled") must not dismiss with the default reason.
    known = all(a in DISMISS_REASONS or a in ONLY_WORDS for a in words)
    if not args or not REF_RE.fullmatch(args[0]) or not known:
        await message.reply_text(say("admin_dismiss_usage"))
        return
    log = await state.settled_log()
    if log is None:
        await message.reply_text(say("admin_no_log"))
        return
    ref = args[0]
    try:
        if await log.get(ref) is None:
            await message.reply_text(say("admin_no_question", ref=ref))
            return
        group = None if only else group_of(await review(state, log, TEACH_LOOKBACK_DAYS), ref)
        refs = [q.ref for q in group.questions] if group else [ref]
        marked = await log.dismiss(refs, reason)
    except StoreError as exc:
        await message.reply_text(log_failed(exc))
        return
    await message.reply_text(say(f"admin_dismissed_{reason}", count=marked))


# --------------------------------------------------------------------------- knowledge


async def on_reload(update: Update, context: Context) -> None:
    """Reloads the knowledge now and reports the entries loaded or the problems found."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    problems = await asyncio.to_thread(state.answerer.reload)
    if problems:
        reply = say("admin_reload_failed", problems=describe(state, problems))
    else:
        reply = say("admin_reloaded", count=len(state.answerer.kb.entries))
    await message.reply_text(reply)


async def on_teach(update: Update, context: Context) -> None:
    """Teaches a logged question to an entry; without arguments offers recent questions."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    args = context.args or []
    if len(args) >= 2:
        force = len(args) >= 3 and args[2].casefold() in FORCE_WORDS
        await message.reply_text(**await teach(state, args[0].lower(), args[1], force=force))
    elif len(args) == 1:
        await message.reply_text(**await teach_choices(state, args[0].lower()))
    else:
        await message.reply_text(**await teach_list(state))


async def teach_list(state: BotState) -> dict[str, Any]:
    """Returns a message offering recent unanswered questions as buttons."""
    log = await state.settled_log()
    if log is None:
        return {"text": say("admin_no_log")}
    try:
        groups = await review(state, log, TEACH_LOOKBACK_DAYS)
    except StoreError as exc:
        return {"text": log_failed(exc)}
    rows = []
    for group in groups[:TEACH_LIST]:
        ref = group.questions[-1].ref
        caption = f"{group.count}× {label(group.example, ref, limit=50)}"
        rows.append([InlineKeyboardButton(caption, callback_data=f"t:{ref}")])
    if not rows:
        return {"text": say("admin_unanswered_none", days=TEACH_LOOKBACK_DAYS)}
    markup = InlineKeyboardMarkup(rows)
    return {"text": say("admin_teach_pick_question"), "reply_markup": markup}


async def teach_choices(state: BotState, ref: str) -> dict[str, Any]:
    """Returns a message offering the entries closest to a logged question as buttons."""
    stored = await logged_question(state, ref)
    if stored is None:
        return {"text": say("admin_no_question", ref=ref)}
    candidates = state.answerer.matcher.rank(stored.question, limit=TEACH_CHOICES)
    if not candidates:
        return {"text": say("admin_teach_no_entry_close", question=label(stored.question))}
    lines = [say("admin_teach_pick_entry", question=label(stored.question, limit=200))]
    rows = []
    for number, cand in enumerate(candidates, 1):
        lines.append(f"{number}. {cand.entry_id} — «{label(cand.question)}» ({cand.score:.0f})")
        data = state.keys.fit(f"te:{ref}:{cand.entry_id}")
        rows.append([InlineKeyboardButton(f"{number}. {label(cand.entry_id)}", callback_data=data)])
    return {"text": "\n".join(lines), "reply_markup": InlineKeyboardMarkup(rows)}


async def logged_question(state: BotState, ref: str) -> StoredQuestion | None:
    """Returns the logged question with a ref, or None (also when the log is unavailable)."""
    log = await state.settled_log()
    if log is None or not REF_RE.fullmatch(ref):
        return None
    try:
        return await log.get(ref)
    except StoreError as exc:
        logger.warning("question log lookup failed: %s", exc)
        return None


async def teach(state: BotState, ref: str, entry_id: str, *, force: bool = False) -> dict[str, Any]:
    """Adds a logged question as a phrasing of an entry and reloads; returns the outcome."""
    stored = await logged_question(state, ref)
    if stored is None:
        return {"text": say("admin_no_question", ref=ref)}
    async with state.teaching:
        try:
            # The trial load takes seconds on the full knowledge; the loop keeps answering.
            path = await asyncio.to_thread(
                functools.partial(
                    add_phrasing, state.answerer.directory, entry_id, stored.question, force=force
                )
            )
        except TeachError as exc:
            # A refusal an admin may override comes with a "Lær likevel" (teach anyway) button.
            reason = str(exc).rstrip(".")
            if not exc.overridable:
                return {"text": say("admin_teach_refused", reason=reason)}
            data = state.keys.fit(f"tf:{ref}:{entry_id}")
            anyway = InlineKeyboardButton(say("admin_teach_anyway_button"), callback_data=data)
            return {
                "text": say("admin_teach_refused_anyway", reason=reason, ref=ref, entry=entry_id),
                "reply_markup": InlineKeyboardMarkup([[anyway]]),
            }
        problems = await asyncio.to_thread(state.answerer.reload)
    question = label(stored.question, limit=200)
    if problems:
        return {
            "text": say(
                "admin_taught_reload_failed",
                question=question,
                entry=entry_id,
                file=path.name,
                problems=describe(state, problems),
            )
        }
    logger.info("taught question %s to entry %s%s", ref, entry_id, " (forced)" if force else "")
    return {"text": say("admin_taught", question=question, entry=entry_id, file=path.name)}


# --------------------------------------------------------------------------- teach buttons


def admin_message(press: Press, context: Context) -> Message | None:
    """Returns the pressed button's message if an admin pressed it, else None."""
    if not state_of(context).is_admin(press.query.from_user):
        return None
    return press.message


@button
async def on_teach_pick_question(press: Press, context: Context) -> str | None:
    """Shows the candidate entries for the question an admin tapped (t:REF)."""
    message = admin_message(press, context)
    if message is None:
        return press.stale
    choices = await teach_choices(state_of(context), press.rest)
    await message.reply_text(**choices, do_quote=False)
    return None


@button
async def on_teach_pick_entry(press: Press, context: Context) -> str | None:
    """Teaches the tapped entry (te:REF:ENTRY) and shows the outcome in place of the choices."""
    return await teach_pressed(press, context, force=False)


@button
async def on_teach_force(press: Press, context: Context) -> str | None:
    """Teaches despite the refusal (tf:REF:ENTRY), after an admin tapped "Lær likevel"."""
    return await teach_pressed(press, context, force=True)


async def teach_pressed(press: Press, context: Context, *, force: bool) -> str | None:
    """Starts teaching the pressed REF:ENTRY in the background; returns the press's note."""
    ref, _, entry_id = press.rest.partition(":")
    message = admin_message(press, context)
    if message is None or not entry_id:
        return press.stale
    state = state_of(context)

    async def work() -> None:
        await edit_or_send(message, **await teach(state, ref, entry_id, force=force))

    # Updates are handled one at a time; residents must not wait for a teach to finish.
    context.application.create_task(work(), update=press.update)
    return say("admin_teaching")

"""What admins do in the chat: unanswered questions, statistics, teaching and reloading.

The command handlers are registered with a ``filters.User`` of the admins' ids, so they
only ever see admins; the teach buttons check the presser themselves.
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
NO_LOG = "No question log."


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
        await message.reply_text("Usage: /unanswered [days]" if log else NO_LOG)
        return
    try:
        groups = await review(state, log, days)
        handled = await state.desk.handled(limit=5) if state.desk is not None else []
    except StoreError as exc:
        await message.reply_text(f"The question log failed: {exc}")
        return
    if handled:
        # Questions staff answered by handover: material for new entries.
        await message.reply_text(join_within(handled_lines(handled)))
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
        if set(group.outcomes) != {"declined"}:
            lines.append(f"    {esc(group.outcome_text())}")
        if group.suggestions:
            offers = " · ".join(
                f"<code>{esc(s.entry_id)}</code> «{esc(label(s.label, limit=60))}» ({s.score:.0f})"
                for s in group.suggestions
            )
            lines.append(f"    → {offers}")
    lines.append(
        "Teach one with /teach REF ENTRY_ID, or tap through /teach. "
        "Correctly declined or handled: /dismiss REF [declined|handled]."
    )
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML)


async def on_stats(update: Update, context: Context) -> None:
    """Shows question counts, rates, top entries and the 👎 rate, then the 30-day chart."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    days = int_arg(context.args or [], 0, low=0)
    log = await state.settled_log()
    if days is None or log is None:
        await message.reply_text("Usage: /stats [days]" if log else NO_LOG)
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
        f"Ambiguous: {stats.ambiguous} · related: {stats.related} · small talk: {stats.smalltalk}",
        f"Votes: 👍 {stats.votes_up} 👎 {stats.votes_down} "
        f"(👎 rate {percent(stats.thumbs_down_rate)} of {votes})",
    ]
    if stats.top_entries:
        lines.append("Top entries:")
        lines += [f"{n:>4}  <code>{esc(entry)}</code>" for entry, n in stats.top_entries]
    await message.reply_text(join_within(lines), parse_mode=ParseMode.HTML)
    # The picture: questions per day over the last 30 days, by outcome, and the answer rate.
    photo = await chart_photo(state)
    if photo is not None:
        await message.reply_photo(photo, caption=chart_caption())


DISMISS_USAGE = "Usage: /dismiss REF [declined|handled] [only]"


async def on_dismiss(update: Update, context: Context) -> None:
    """Takes a question and those grouped with it out of the review (declined or handled)."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    args = [a.casefold() for a in context.args or []]
    reason = next((a for a in args[1:] if a in ("declined", "handled")), "declined")
    only = "only" in args[1:]
    if not args or not REF_RE.fullmatch(args[0]):
        await message.reply_text(DISMISS_USAGE)
        return
    log = await state.settled_log()
    if log is None:
        await message.reply_text(NO_LOG)
        return
    ref = args[0]
    try:
        if await log.get(ref) is None:
            await message.reply_text(f"No logged question with ref {ref}.")
            return
        group = None if only else group_of(await review(state, log, TEACH_LOOKBACK_DAYS), ref)
        refs = [q.ref for q in group.questions] if group else [ref]
        marked = await log.dismiss(refs, reason)
    except StoreError as exc:
        await message.reply_text(f"The question log failed: {exc}")
        return
    what = "correctly declined" if reason == "declined" else "handled"
    await message.reply_text(f"Marked {marked} question(s) as {what}; they leave /unanswered.")


# --------------------------------------------------------------------------- knowledge


async def on_reload(update: Update, context: Context) -> None:
    """Reloads the knowledge now and reports the entries loaded or the problems found."""
    message, state = update.effective_message, state_of(context)
    if message is None:
        return
    problems = await asyncio.to_thread(state.answerer.reload)
    if problems:
        reply = "Reload failed; still answering from the last good knowledge:\n" + describe(
            state, problems
        )
    else:
        reply = f"Reloaded: {len(state.answerer.kb.entries)} entries."
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
        return {"text": NO_LOG}
    try:
        groups = await review(state, log, TEACH_LOOKBACK_DAYS)
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
        return {"text": f"No logged question with ref {ref}."}
    async with state.teaching:
        try:
            # The trial load takes seconds on the full knowledge; the loop keeps answering.
            path = await asyncio.to_thread(
                functools.partial(
                    add_phrasing, state.answerer.directory, entry_id, stored.question, force=force
                )
            )
        except TeachError as exc:
            # A refusal an admin may override comes with a "Teach anyway" button.
            if not exc.overridable:
                return {"text": f"Not taught: {exc}"}
            data = state.keys.fit(f"tf:{ref}:{entry_id}")
            anyway = InlineKeyboardButton("Teach anyway", callback_data=data)
            return {
                "text": f"Not taught: {exc}.\nTo teach it anyway: the button, or "
                f"/teach {ref} {entry_id} force",
                "reply_markup": InlineKeyboardMarkup([[anyway]]),
            }
        problems = await asyncio.to_thread(state.answerer.reload)
    if problems:
        failed = f"Taught to {entry_id} in {path.name}, but the reload failed:\n"
        return {"text": failed + describe(state, problems)}
    logger.info("taught question %s to entry %s%s", ref, entry_id, " (forced)" if force else "")
    return {"text": f"Taught «{label(stored.question, limit=200)}» to {entry_id} in {path.name}."}


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
    """Teaches despite the refusal (tf:REF:ENTRY), after an admin tapped "Teach anyway"."""
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
    return "Teaching …"

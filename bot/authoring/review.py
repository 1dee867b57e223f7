"""The admins' review of failures: what the knowledge base does not answer yet, grouped,
with the entries that may answer it.

A question leaves the review when an admin dismissed it (the question log's
``dismissed`` column), or when the knowledge base now answers it: its text is a
phrasing of an entry (it was taught), or the matcher answers it; a 👎-voted reply,
when the bot no longer gives it. The second is read
from the knowledge itself rather than recorded at teaching, so it also holds for
phrasings staff add by hand and for the other questions of a group that teaching one
of them now answers.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.knowledge import phrasing_key
from bot.core.matcher import Matcher
from bot.questionlog.reports import AskedQuestion, Suggestion, UnansweredGroup, group_questions

SUGGESTIONS = 3


def answered_now(matcher: Matcher, asked: AskedQuestion, phrasings: set[str]) -> bool:
    """Tells whether the knowledge base now answers a reviewed question."""
    if asked.failure == "voted_down":
        # A 👎 reply stays under review while the bot still gives it.
        result = matcher.match(asked.question)
        best = None if result.best is None else result.best.entry_id
        return (str(result.outcome), best) != (asked.outcome, asked.entry_id)
    if phrasing_key(asked.question) in phrasings:
        return True
    return matcher.match(asked.question).answered


def suggestions(
    matcher: Matcher, question: str, limit: int = SUGGESTIONS
) -> tuple[Suggestion, ...]:
    """Returns the entries that best match a question: id, title (or first phrasing), score."""
    by_id = matcher.kb.by_id
    return tuple(
        Suggestion(c.entry_id, by_id[c.entry_id].label, c.score)
        for c in matcher.rank(question, limit=limit)
    )


def build_review(
    asked: list[tuple[AskedQuestion, str | None]],
    matcher: Matcher,
    *,
    score_cutoff: float = 80.0,
) -> list[UnansweredGroup]:
    """Groups the failures the knowledge base still does not answer, with suggestions."""
    phrasings = {phrasing_key(q) for e in matcher.kb.entries for q in (*e.questions, e.title)}
    phrasings.discard("")
    open_ = [item for item in asked if not answered_now(matcher, item[0], phrasings)]
    groups = group_questions(open_, score_cutoff=score_cutoff)
    return [replace(g, suggestions=suggestions(matcher, g.example)) for g in groups]


def group_of(groups: list[UnansweredGroup], ref: str) -> UnansweredGroup | None:
    """Returns the review group that holds the question with ref, or None."""
    return next((g for g in groups if any(q.ref == ref for q in g.questions)), None)

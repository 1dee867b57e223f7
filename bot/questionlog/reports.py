"""What staff read from the question log: similar unanswered questions grouped, statistics,
and their table, CSV and JSON forms."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from rapidfuzz import fuzz, process

from bot.core.text import fold
from bot.questionlog.schema import iso

__all__ = [
    "AskedQuestion",
    "Stats",
    "Suggestion",
    "UnansweredGroup",
    "format_unanswered",
    "group_questions",
    "normalise_question",
]


class AskedQuestion(NamedTuple):
    """Identifies one asked question inside an unanswered group."""

    ref: str
    question: str
    asked_at: datetime
    outcome: str = "declined"
    vote: int | None = None
    entry_id: str | None = None

    @property
    def failure(self) -> str:
        """Returns why it is reviewed: declined, ambiguous, related or voted_down (👎)."""
        return "voted_down" if self.vote == -1 else self.outcome


# How the table and the chat name each failure.
FAILURE_LABELS = {
    "declined": "declined",
    "ambiguous": "mente du",
    "related": "related",
    "voted_down": "👎",
    "answered": "answered",
}


class Suggestion(NamedTuple):
    """An entry that may answer a group's questions: id, title (or first phrasing), score."""

    entry_id: str
    label: str
    score: float


@dataclass(frozen=True)
class UnansweredGroup:
    """Groups similar questions the bot could not answer."""

    count: int
    users: int
    example: str
    questions: list[AskedQuestion]
    last_asked: datetime
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def outcomes(self) -> dict[str, int]:
        """Counts the group's questions by failure, most frequent first."""
        return dict(Counter(q.failure for q in self.questions).most_common())

    def outcome_text(self, labels: Mapping[str, str] = FAILURE_LABELS) -> str:
        """Returns the counts by failure as "declined 2, mente du 1" (in the labels' words)."""
        return ", ".join(f"{labels.get(k, k)} {n}" for k, n in self.outcomes.items())

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return {
            "count": self.count,
            "users": self.users,
            "example": self.example,
            "last_asked": iso(self.last_asked),
            "outcomes": self.outcomes,
            "questions": [
                {
                    "ref": q.ref,
                    "question": q.question,
                    "asked_at": iso(q.asked_at),
                    "outcome": q.failure,
                    **({"entry_id": q.entry_id} if q.failure == "voted_down" else {}),
                }
                for q in self.questions
            ],
            "suggestions": [
                {"entry_id": s.entry_id, "label": s.label, "score": round(s.score, 1)}
                for s in self.suggestions
            ],
        }


@dataclass(frozen=True)
class Stats:
    """Summarises the question log; rates are None when there is nothing to divide by."""

    questions: int
    answered: int
    declined: int
    ambiguous: int
    smalltalk: int
    # Rates are relative to real questions (smalltalk excluded) so greetings do not
    # flatter or hurt the answer rate.
    answer_rate: float | None
    decline_rate: float | None
    distinct_users: int
    top_entries: list[tuple[str, int]]
    votes_up: int
    votes_down: int
    thumbs_down_rate: float | None
    by_channel: dict[str, int]
    since: datetime | None = None
    # Honest partial answers: the documents hold the topic but not what was asked.
    related: int = 0
    # Replies that never reached the resident (Telegram refused or the send failed).
    undelivered: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return {
            "questions": self.questions,
            "answered": self.answered,
            "declined": self.declined,
            "ambiguous": self.ambiguous,
            "smalltalk": self.smalltalk,
            "related": self.related,
            "undelivered": self.undelivered,
            "answer_rate": self.answer_rate,
            "decline_rate": self.decline_rate,
            "distinct_users": self.distinct_users,
            "top_entries": [{"entry_id": e, "count": n} for e, n in self.top_entries],
            "votes_up": self.votes_up,
            "votes_down": self.votes_down,
            "thumbs_down_rate": self.thumbs_down_rate,
            "by_channel": dict(self.by_channel),
            "since": None if self.since is None else iso(self.since),
        }


def rate(part: int, whole: int) -> float | None:
    """Returns part / whole, or None when whole is zero."""
    return part / whole if whole else None


_NON_WORD = re.compile(r"[\W_]+")


def normalise_question(text: str) -> str:
    """Returns text lower-cased, with æøå folded and punctuation/emoji removed."""
    # The core's folding, so that grouping and matching agree on which spellings are one.
    decomposed = unicodedata.normalize("NFKD", fold(text.casefold()))
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


def group_questions(
    asked: Iterable[tuple[AskedQuestion, str | None]], *, score_cutoff: float
) -> list[UnansweredGroup]:
    """Groups (question, user key) pairs given in time order; most asked group first."""
    # Greedy single pass in time order: each question joins the most similar group
    # (compared with the group's first member) or starts a new one.
    keys: list[str] = []
    members: list[list[tuple[AskedQuestion, str | None]]] = []
    exact: dict[str, int] = {}
    for item in asked:
        norm = normalise_question(item[0].question)
        index = exact.get(norm)
        if index is None and norm:
            match = process.extractOne(
                norm, keys, scorer=fuzz.token_set_ratio, processor=None, score_cutoff=score_cutoff
            )
            if match is not None:
                index = match[2]
        if index is None:
            index = len(keys)
            keys.append(norm)
            members.append([])
        exact.setdefault(norm, index)
        members[index].append(item)

    groups = []
    for group in members:
        questions = [q for q, _ in group]
        texts = Counter(q.question.strip() for q in questions)
        groups.append(
            UnansweredGroup(
                count=len(group),
                users=len({user for _, user in group if user is not None}),
                example=texts.most_common(1)[0][0],
                questions=questions,
                last_asked=max(q.asked_at for q in questions),
            )
        )
    groups.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return groups


_TABLE_EXAMPLE_WIDTH = 60
_TABLE_REFS = 3


def format_unanswered(groups: list[UnansweredGroup], fmt: Literal["table", "csv", "json"]) -> str:
    """Renders unanswered groups as an aligned table, CSV with a header, or JSON."""
    if fmt == "json":
        return json.dumps([g.to_dict() for g in groups], ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["count", "users", "last_asked", "example", "refs", "outcomes", "suggestions"]
        )
        for g in groups:
            refs = " ".join(q.ref for q in g.questions)
            outcomes = " ".join(f"{k}:{n}" for k, n in g.outcomes.items())
            suggested = " ".join(f"{s.entry_id}:{s.score:.0f}" for s in g.suggestions)
            writer.writerow(
                [g.count, g.users, iso(g.last_asked), g.example, refs, outcomes, suggested]
            )
        return out.getvalue()
    if fmt == "table":
        return _format_table(groups)
    raise ValueError(f"unknown format {fmt!r}; use table, csv or json")


def _format_table(groups: list[UnansweredGroup]) -> str:
    if not groups:
        return "No unanswered questions."
    header = ("count", "users", "last asked (UTC)", "example", "refs")
    rows = []
    notes: list[list[str]] = []
    for g in groups:
        example = " ".join(g.example.split())
        if len(example) > _TABLE_EXAMPLE_WIDTH:
            example = example[: _TABLE_EXAMPLE_WIDTH - 1] + "…"
        refs = ", ".join(q.ref for q in g.questions[:_TABLE_REFS])
        if len(g.questions) > _TABLE_REFS:
            refs += f" (+{len(g.questions) - _TABLE_REFS})"
        last = g.last_asked.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        rows.append((str(g.count), str(g.users), last, example, refs))
        # Under each group: why it is here (when not simply declined), and the entries
        # that may answer it.
        below = []
        if set(g.outcomes) != {"declined"}:
            below.append(f"outcomes: {g.outcome_text()}")
        if g.suggestions:
            below.append("suggested: " + _suggestion_text(g.suggestions))
        notes.append(below)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        count, users, last, example, refs = cells
        return (
            f"{count:>{widths[0]}}  {users:>{widths[1]}}  {last:<{widths[2]}}  "
            f"{example:<{widths[3]}}  {refs}"
        ).rstrip()

    indent = " " * (widths[0] + widths[1] + widths[2] + 6)
    out = [line(header)]
    for row, below in zip(rows, notes, strict=True):
        out.append(line(row))
        out += [f"{indent}{note}" for note in below]
    return "\n".join(out)


def _suggestion_text(suggestions: Iterable[Suggestion]) -> str:
    return " · ".join(f"{s.entry_id} «{s.label}» ({s.score:.0f})" for s in suggestions)

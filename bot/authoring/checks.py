"""Checks that need the matcher: each entry's phrasings find it, and source coverage."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.errors import Problem
from bot.core.knowledge import Entry, KnowledgeBase
from bot.core.matcher import Candidate, Matcher

_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+[»”\"]?|$)")


@dataclass(frozen=True)
class Gap:
    """Source text no entry quotes."""

    source: str
    section: str
    line: int
    text: str


# Scores this close on a phrasing's own words are a tie: the entries cannot be told
# apart, and a resident's variant of the phrasing lands on either. A phrasing copied
# into another entry with one word ending changed scores under 1 point apart, one with
# two words added 2.6; the shipped base's closest distinct pairs are 3.5 to 7.4 apart
# ("Hva skjer med eiendomsskatten?" against "Hva brukes eiendomsskatten til?": 5.7).
TIE_MARGIN = 3.0


def phrasing_problems(
    kb: KnowledgeBase, matcher: Matcher, *, only: Iterable[str] | None = None
) -> list[Problem]:
    """Reports phrasings (of ``only`` ids) that another entry takes or ties on the scores."""
    # Scores alone, as rank() gives them: match() answers a phrasing asked word for word
    # by its own entry whatever the scores say, but a resident's variant of it meets
    # the scores, so that is where another entry can take it.
    problems = []
    wanted = set(only) if only is not None else None
    min_gap = matcher.settings.min_gap
    for entry in kb.entries:
        if wanted is not None and entry.id not in wanted:
            continue
        for question in entry.questions:
            ranked = matcher.rank(question, limit=3)
            if not ranked:
                problems.append(
                    Problem(
                        f"phrasing «{question}» of {entry.id} matches no entry",
                        file=entry.file,
                        line=entry.line,
                        entry=entry.id,
                        field="questions",
                        fix="use words residents would use about this topic",
                    )
                )
                continue
            problem = _rival_problem(entry, question, ranked, min_gap)
            if problem is not None:
                problems.append(problem)
    return problems


def _rival_problem(
    entry: Entry, question: str, ranked: list[Candidate], min_gap: float
) -> Problem | None:
    """Returns the problem when another entry outscores or ties a phrasing's own entry."""
    own = next((c for c in ranked if c.entry_id == entry.id), None)
    own_score = own.score if own is not None else 0.0
    rival = next((c for c in ranked if c.entry_id != entry.id), None)
    if rival is None or rival.score < own_score - TIE_MARGIN:
        return None
    if ranked[0].entry_id != entry.id and rival.score - own_score >= min_gap:
        what = f"is now answered by {rival.entry_id}"
        fix = (
            f"{rival.entry_id} scores it {rival.score:.0f} against {own_score:.0f}: reword "
            f"this phrasing with what only {entry.id} holds, or reword {rival.entry_id}'s "
            f"phrasing «{rival.question}» (or its keywords)"
        )
    else:
        what = f"is made ambiguous between {entry.id} and {rival.entry_id}"
        fix = (
            f"{rival.entry_id}'s phrasing «{rival.question}» asks nearly the same: if both "
            f"ask one thing, keep it in one entry only; else reword one with what only "
            f"its entry holds"
        )
    return Problem(
        f"phrasing «{question}» of {entry.id} {what} "
        f"(scores {own_score:.0f} and {rival.score:.0f})",
        file=entry.file,
        line=entry.line,
        entry=entry.id,
        field="questions",
        fix=fix,
    )


def coverage_gaps(kb: KnowledgeBase) -> tuple[list[Gap], int, int]:
    """Returns the source sentences no entry (a draft counts) quotes, and covered/total counts."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for entry in (*kb.entries, *kb.drafts):
        doc = kb.sources[entry.source]
        span = doc.locate(entry.answer, section=entry.section)
        if span:
            spans.setdefault((entry.source, entry.section), []).append(span)
    gaps: list[Gap] = []
    total = covered = 0
    for doc in kb.sources.values():
        for key, section in doc.sections.items():
            taken = spans.get((doc.id, key), [])
            for para in section.paragraphs:
                for m in _SENTENCE.finditer(para.text):
                    sentence = m.group().strip()
                    if len(sentence) < 2:
                        continue
                    total += 1
                    lead = len(m.group()) - len(m.group().lstrip())
                    start = para.start + m.start() + lead
                    end = start + len(sentence)
                    if any(a <= start and end <= b for a, b in taken):
                        covered += 1
                    else:
                        gaps.append(Gap(doc.id, key, para.line, sentence))
    return gaps, covered, total

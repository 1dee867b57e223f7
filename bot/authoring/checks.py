"""Checks that need the matcher: each entry's phrasings find it, and source coverage."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.errors import Problem
from bot.core.knowledge import KnowledgeBase
from bot.core.matcher import Matcher

_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+[»”\"]?|$)")


@dataclass(frozen=True)
class Gap:
    """Source text no entry quotes."""

    source: str
    section: str
    line: int
    text: str


def phrasing_problems(
    kb: KnowledgeBase, matcher: Matcher, *, only: Iterable[str] | None = None
) -> list[Problem]:
    """Reports phrasings that match another entry better than their own (of ``only`` ids)."""
    problems = []
    wanted = set(only) if only is not None else None
    for entry in kb.entries:
        if wanted is not None and entry.id not in wanted:
            continue
        for question in entry.questions:
            ranked = matcher.rank(question, limit=2)
            if not ranked:
                problems.append(
                    Problem(
                        f"phrasing '{question}' matches no entry",
                        file=entry.file,
                        line=entry.line,
                        entry=entry.id,
                        field="questions",
                        fix="use words residents would use about this topic",
                    )
                )
                continue
            top = ranked[0]
            own = next((c for c in ranked if c.entry_id == entry.id), None)
            if top.entry_id != entry.id and (own is None or top.score > own.score):
                problems.append(
                    Problem(
                        f"phrasing '{question}' matches entry '{top.entry_id}' "
                        f"({top.score:.0f}) better than its own",
                        file=entry.file,
                        line=entry.line,
                        entry=entry.id,
                        field="questions",
                        fix="reword it with what distinguishes this entry, or move it there",
                    )
                )
    return problems


def coverage_gaps(kb: KnowledgeBase) -> tuple[list[Gap], int, int]:
    """Returns the source sentences no entry quotes, and covered/total sentence counts."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for entry in kb.entries:
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

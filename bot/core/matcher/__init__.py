"""The matcher: finds the entry that answers a resident's question, or declines.

Each entry is indexed by the stems of its phrasings, keywords, answer and section,
with compounds split into their parts and staff synonyms folded in. A question is
reduced the same way; words the index does not know are corrected against its
vocabulary (typos), split (compounds) or completed (prefixes). An entry's score is
the share of the question's information (IDF-weighted words) it covers, blended with
rapidfuzz's similarity between the question and the entry's closest phrasing. The
matcher answers only above a calibrated threshold, offers alternatives when the top
candidates are close, and otherwise declines: a wrong answer is worse than none.

Pure: no ``telegram``, no database, no I/O.
"""

from __future__ import annotations

from bot.core.knowledge import KnowledgeBase
from bot.core.matcher.index import build_index
from bot.core.matcher.model import (
    AMBIGUOUS,
    ANSWERED,
    DECLINED,
    SMALLTALK,
    Candidate,
    MatchResult,
    Settings,
)
from bot.core.matcher.score import Scorer
from bot.core.text import content_stems, cut, detect_language, smalltalk_kind, surface


class Matcher:
    """Answers questions from a knowledge base; build once, then call ``match``."""

    def __init__(self, kb: KnowledgeBase, *, settings: Settings | None = None) -> None:
        self.kb = kb
        self.settings = settings or Settings()
        self._index = build_index(kb.entries, kb.synonyms, self.settings)
        self._scorer = Scorer(self._index, self.settings)
        self._position = {entry.id: i for i, entry in enumerate(self._index.entries)}

    def rank(self, question: str, *, limit: int | None = None) -> list[Candidate]:
        """Returns the entries best matching a question, best first, with their scores."""
        question = cut(question)
        tokens = list(dict.fromkeys(content_stems(question)))
        return self._scorer.rank(tokens, surface(question), limit=limit)

    def match(self, question: str) -> MatchResult:
        """Returns the answer to a question, alternatives when unsure, or a decline."""
        s = self.settings
        question = cut(question)
        language = detect_language(question)
        kind = smalltalk_kind(question)
        if kind is not None:
            return MatchResult(question, SMALLTALK, smalltalk=kind, language=language)
        tokens = list(dict.fromkeys(content_stems(question)))
        ranked = tuple(self._scorer.rank(tokens, surface(question), limit=s.candidates))
        if not ranked or ranked[0].score < s.alternative_threshold:
            return MatchResult(question, DECLINED, ranked=ranked, language=language)
        best = ranked[0]
        if self._asks_beyond(tokens, best.entry_id):
            return MatchResult(question, DECLINED, ranked=ranked, language=language)
        gap = best.score - (ranked[1].score if len(ranked) > 1 else 0.0)
        # A clear lead over the runner-up is as telling as a high score: both go
        # into the confidence, and a near-tie is never answered outright.
        if (
            best.score >= s.answer_floor
            and gap >= s.min_gap
            and best.score + s.gap_weight * gap >= s.answer_threshold
        ):
            return MatchResult(question, ANSWERED, best=best, ranked=ranked, language=language)
        close = tuple(
            c
            for c in ranked[1 : s.max_alternatives]
            if c.score >= best.score - s.ambiguity_margin and c.score >= s.alternative_threshold
        )
        return MatchResult(
            question,
            AMBIGUOUS,
            best=best,
            alternatives=(best, *close),
            ranked=ranked,
            language=language,
        )

    def _asks_beyond(self, tokens: list[str], entry_id: str) -> bool:
        """Tells whether a question asks for something (a phone number, a price, a
        timetable) that the entry's own words do not mention."""
        weights = self._index.weights[self._position[entry_id]]
        return any(t.startswith("!") and t not in weights for t in tokens)

    @property
    def vocabulary_size(self) -> int:
        return len(self._index.vocab)


__all__ = [
    "AMBIGUOUS",
    "ANSWERED",
    "DECLINED",
    "SMALLTALK",
    "Candidate",
    "MatchResult",
    "Matcher",
    "Settings",
]

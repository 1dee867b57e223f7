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

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from bot.core.facts import NAMED, asked_kinds, asks_description, holds, kind_of, names_in
from bot.core.knowledge import KnowledgeBase, phrasing_key
from bot.core.matcher.index import build_index, index_from_parts, index_parts
from bot.core.matcher.model import (
    AMBIGUOUS,
    ANSWERED,
    DECLINED,
    RELATED,
    SMALLTALK,
    Candidate,
    MatchResult,
    Settings,
)
from bot.core.matcher.score import Scorer
from bot.core.text import (
    OFFICE_CUE,
    content_stems,
    cut,
    detect_language,
    smalltalk_kind,
    stem,
    surface,
    words,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    from bot.core.matcher.wording import WordingModel


@contextmanager
def _collector_held() -> Iterator[None]:
    """Holds off the garbage collector while an index is built, then freezes what exists.

    A build only adds objects (hundreds of thousands), so collections during it find
    nothing and cost about 40% of the build; afterwards ``gc.freeze`` keeps the index out
    of later full collections, which would otherwise pause answering after a reload.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


class Matcher:
    """Answers questions from a knowledge base; build once, then call ``match``."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        settings: Settings | None = None,
        _cached: tuple[dict[str, Any], dict[str, Any]] | None = None,
    ) -> None:
        self.kb = kb
        self.settings = settings or Settings()
        with _collector_held():
            if _cached is None:
                self._index = build_index(kb.entries, kb.synonyms, self.settings)
            else:
                head, arrays = _cached
                self._index = index_from_parts(head, arrays, kb.entries, self.settings)
        self._scorer = Scorer(self._index, self.settings)
        self._words_of: dict[str, frozenset[str]] = {}
        self._wording: WordingModel | None = None  # built on first need (see wording)
        self._wording_lock = threading.Lock()
        self._keeper: Callable[[Callable[[], WordingModel]], WordingModel] | None = None
        self._position = {entry.id: i for i, entry in enumerate(self._index.entries)}

    @classmethod
    def restore(
        cls,
        kb: KnowledgeBase,
        parts: tuple[dict[str, Any], dict[str, Any]],
        *,
        settings: Settings | None = None,
    ) -> Matcher:
        """Returns a matcher from ``export``'s data and arrays without building the index
        again (raises KeyError, TypeError or ValueError when they do not fit)."""
        return cls(kb, settings=settings, _cached=parts)

    def export(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """Returns the built index as plain data and arrays, for the disk cache."""
        return index_parts(self._index)

    def rank(self, question: str, *, limit: int | None = None) -> list[Candidate]:
        """Returns the entries best matching a question, best first, with their scores."""
        question = cut(question)
        tokens = list(dict.fromkeys(content_stems(question)))
        return self._scorer.rank(tokens, surface(question), limit=limit)

    def match(
        self,
        question: str,
        *,
        context: str = "",
        context_weight: float | None = None,
        story: bool = True,
    ) -> MatchResult:
        """Returns the answer to a question, alternatives when unsure, an honest partial
        answer when the passage lacks what is asked, or a decline.

        ``context`` (the story around the question, or the previous question of a
        conversation) helps find the topic but never vetoes it: decline cues and what
        is asked for are read from the question alone. ``story`` tells that the context
        is the message's own story, which the wording model may read with the question
        (a previous question of the conversation is not: it names the old topic).
        """
        s = self.settings
        question = cut(question)
        language = detect_language(question)
        kind = smalltalk_kind(question)
        if kind is not None and not context:
            return MatchResult(question, SMALLTALK, smalltalk=kind, language=language)
        tokens = list(dict.fromkeys(content_stems(question)))
        around = content_stems(cut(context)) if context else []
        weight = s.context_weight if context_weight is None else context_weight
        ranked = tuple(
            self._scorer.rank(
                tokens,
                surface(question),
                limit=s.candidates,
                context=around,
                context_weight=weight if around else 0.0,
            )
        )
        exact = None if context else self._exact(question, ranked)
        if exact is not None:
            ranked = (exact, *(c for c in ranked if c.entry_id != exact.entry_id))
        agreed = story and bool(around) and self._agreed(question, context, ranked)
        floor = s.story_floor if around and weight >= s.vague_context_weight else 0.0
        if not ranked or (ranked[0].score < (floor or s.alternative_threshold) and not agreed):
            return MatchResult(question, DECLINED, ranked=ranked, language=language)
        best = ranked[0]
        missing = self._missing(question, tokens, best.entry_id, exact=exact is not None)
        if missing is not None:
            # The topic is found but not what is asked of it: say so, quoting the
            # passage, when the topic is clear enough; otherwise decline.
            outcome = RELATED if best.score >= s.answer_floor or agreed else DECLINED
            return MatchResult(
                question, outcome, best=best, ranked=ranked, language=language, missing=missing
            )
        gap = best.score - (ranked[1].score if len(ranked) > 1 else 0.0)
        # A clear lead over the runner-up is as telling as a high score: both go
        # into the confidence, and a near-tie is never answered outright.
        leaning = bool(around) and weight >= s.vague_context_weight
        direct = exact is not None or (
            best.score >= s.answer_floor
            and gap >= s.min_gap
            and best.score + s.gap_weight * gap >= s.answer_threshold
        )
        if direct or (leaning and best.score >= s.story_floor and gap >= s.story_gap) or agreed:
            # A vague question leaning on its story is carried by the story, whatever
            # the score; so is one answered only because both readers agree.
            inferred = exact is None and (leaning or not direct)
            return MatchResult(
                question, ANSWERED, best=best, ranked=ranked, language=language, inferred=inferred
            )
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

    def _agreed(self, question: str, context: str, ranked: tuple[Candidate, ...]) -> bool:
        """Tells whether both readers put the same entry first for a message with a story.

        The rule-based scores of a long message are diluted by its story, but the
        wording model reads the whole message by its letters: where the two agree on
        an entry, and it leads the wording model's runner-up, the answer is nearly
        always right (and near-topic questions rarely get both to agree).
        """
        s = self.settings
        if not ranked or ranked[0].score < s.agree_floor:
            return False
        lead = self.wording.lead(f"{context} {question}", self._position[ranked[0].entry_id])
        # Strictly ahead: a tie (two entries sharing a wording) is no agreement.
        return lead is not None and lead > s.agree_lead

    @property
    def wording(self) -> WordingModel:
        """The n-gram wording model, built (or fetched from its keeper) on first use."""
        if self._wording is None:
            # Once only, though the bot's warm-up thread and a first story may both ask.
            with self._wording_lock:
                if self._wording is None:
                    from bot.core.matcher.wording import build_wording

                    build = partial(build_wording, self._index.entries)
                    self._wording = build() if self._keeper is None else self._keeper(build)
        return self._wording

    def keep_wording(self, keeper: Callable[[Callable[[], WordingModel]], WordingModel]) -> None:
        """Lets a keeper (the disk cache) supply the wording model: it gets the build
        function and returns the model, kept or built."""
        self._keeper = keeper

    def _exact(self, question: str, ranked: tuple[Candidate, ...]) -> Candidate | None:
        """Returns the entry whose phrasing or title the question is (near enough), or None."""
        key = phrasing_key(question)
        if not key:
            return None
        ix = self._index
        position = ix.exact(key)
        if position is None:
            if not ranked:
                return None
            # A near-exact wording counts only for an entry the scores also put first,
            # and only if no other candidate has a wording nearer still. Candidates
            # only, not the whole base (that scan was half of a question's time at
            # 10,000 entries): an entry with a wording within a letter or two of the
            # question shares its words, so it is a candidate.
            keys: list[str] = []
            owners: list[int] = []
            for candidate in ranked:
                at = self._position[candidate.entry_id]
                for own in ix.details[at].keys:
                    keys.append(own)
                    owners.append(at)
            found = process.extractOne(
                key,
                keys,
                scorer=fuzz.ratio,
                processor=None,
                score_cutoff=self.settings.exact_ratio,
            )
            if found is None or ix.entries[owners[found[2]]].id != ranked[0].entry_id:
                return None
            position = owners[found[2]]
        entry = ix.entries[position]
        return Candidate(entry.id, 100.0, entry.label)

    def about(self, question: str, entry_id: str, *, context: str = "") -> MatchResult:
        """Returns the answer to a question that asks only what kind of fact it wants about
        a known entry ("hvor lenge?", "kvar?", "hvem vedtok det?" after its passage).

        The passage answers when it holds a fact of the kind asked for, or when the
        question asks what the passage describes ("hva gjør de der?"); a question that
        asks no kind the passage can be seen to hold ("hvorfor?") gets the honest partial
        answer: the passage is all the documents say.
        """
        question = cut(question)
        language = detect_language(question)
        around = content_stems(cut(context)) if context else []
        ranked = tuple(
            self._scorer.rank(
                list(dict.fromkeys(content_stems(question))),
                surface(question),
                limit=self.settings.candidates,
                context=around,
                context_weight=1.0 if around else 0.0,
            )
        )
        score = next((c.score for c in ranked if c.entry_id == entry_id), 0.0)
        best = Candidate(entry_id, score, self.kb.by_id[entry_id].label)
        missing = self.lacks(question, entry_id)
        if missing is None and not self.asks_for(question) and not asks_description(question):
            missing = "detail"
        outcome = ANSWERED if missing is None else RELATED
        return MatchResult(
            question, outcome, best=best, ranked=ranked, language=language, missing=missing
        )

    def unnamed(self, question: str, entry_id: str) -> str | None:
        """Returns a name the question uses that the entry never does, local places
        included ("og hva med Fet?" of a passage about Sørumsand), or None."""
        held = self._entry_words(entry_id)
        for name in names_in(cut(question), local=True):
            if not all(stem(word) in held for word in words(name)):
                return name
        return None

    def lacks(self, question: str, entry_id: str) -> str | None:
        """Returns the kind of fact a new question asks for that the entry lacks, or None."""
        question = cut(question)
        return self._missing(
            question, list(dict.fromkeys(content_stems(question))), entry_id, exact=False
        )

    def _missing(
        self, question: str, tokens: list[str], entry_id: str, *, exact: bool
    ) -> str | None:
        """Returns the kind of fact the question asks for that the entry does not hold.

        A staff phrasing asked word for word is answered by its entry, by the staff's
        own judgement; only an office holder is never named.
        """
        if exact:
            return "person" if OFFICE_CUE in tokens else None
        weights = self._index.details[self._position[entry_id]].weights
        passage = self.kb.by_id[entry_id].answer
        # "Har Lørenskog også …?": the passage says nothing about a name it never uses.
        # Norwegian only: English capitalises languages, holidays and much else.
        if detect_language(question) == "nb":
            held = self._entry_words(entry_id)
            for name in names_in(question):
                if not all(stem(word) in held for word in words(name)):
                    return f"{NAMED}{name}"
        for kind in asked_kinds(question, tokens):
            cue = next((t for t in tokens if t.startswith("!") and kind_of(t) == kind), None)
            if cue is not None:
                # A cue (a phone number, "how do I") is held only where the entry's own
                # words mention it; an office holder never is.
                if cue == OFFICE_CUE or cue not in weights:
                    return kind
            elif not holds(passage, kind):
                return kind
        return None

    def _entry_words(self, entry_id: str) -> frozenset[str]:
        """Returns the stems of the words an entry uses anywhere (passage, phrasings …)."""
        found = self._words_of.get(entry_id)
        if found is None:
            entry = self.kb.by_id[entry_id]
            text = " ".join((entry.answer, *entry.questions, *entry.keywords, entry.section))
            found = frozenset(stem(w) for w in words(f"{text} {entry.title or ''}"))
            self._words_of[entry_id] = found
        return found

    def covers(self, question: str, entry_id: str) -> float | None:
        """Returns the share of a question's topic words that the entry's own words hold.

        None when the question has no topic words of its own ("hvor mange?", "kvar?").
        """
        tokens = [t for t in dict.fromkeys(content_stems(cut(question))) if t[0] not in "?!"]
        if not tokens:
            return None
        weights = self._index.details[self._position[entry_id]].weights
        found = sum(
            1
            for t in tokens
            if t in weights or any(word in weights for word, _ in self._scorer.expand(t))
        )
        return found / len(tokens)

    def asks_for(self, question: str) -> list[str]:
        """Returns the kinds of fact a question asks for (a time, a place, an amount …)."""
        question = cut(question)
        return asked_kinds(question, list(dict.fromkeys(content_stems(question))))


__all__ = [
    "AMBIGUOUS",
    "ANSWERED",
    "DECLINED",
    "RELATED",
    "SMALLTALK",
    "Candidate",
    "MatchResult",
    "Matcher",
    "Settings",
]

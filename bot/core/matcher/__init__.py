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

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.core.events import Outcome
from bot.core.knowledge import Entry, KnowledgeBase
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

# One vocabulary for outcomes, shared with the edges (the question log, the channels).
ANSWERED = Outcome.ANSWERED
AMBIGUOUS = Outcome.AMBIGUOUS
DECLINED = Outcome.DECLINED
SMALLTALK = Outcome.SMALLTALK


@dataclass(frozen=True)
class Settings:
    """Weights and thresholds of the matcher, calibrated on the development set."""

    answer_threshold: float = 58.0
    gap_weight: float = 0.5
    answer_floor: float = 52.0
    min_gap: float = 8.0
    alternative_threshold: float = 50.0
    ambiguity_margin: float = 15.0
    max_alternatives: int = 3
    candidates: int = 12
    coverage_weight: float = 0.4
    fit_weight: float = 0.5
    # Field weights: a word in a resident phrasing says more than one in the passage.
    phrasing_weight: float = 1.0
    keyword_weight: float = 0.9
    keyword_fit: float = 0.85
    answer_weight: float = 0.75
    section_weight: float = 0.5
    compound_part: float = 0.8
    prefix_strength: float = 0.75
    typo_cutoff: float = 80.0
    short_typo_cutoff: float = 88.0
    typo_min_length: int = 5
    long_unknown: int = 7
    short_unknown_scale: float = 0.5
    # A phrasing word matched only by one part of a compound ("kommune" in
    # "kommuneøkonomi") fits less than the whole word.
    part_fit: float = 0.6
    # Share of the score from the whole wording, stop words kept: "hva går skatten til"
    # and "hva skjer med skatten" share every content word but not their shape.
    surface_weight: float = 0.2
    # A cue word ("telefonnummer", "how do I") matches no entry; it weighs against every
    # entry like half an unknown word, so it lowers confidence without pulling anywhere.
    cue_weight: float = 0.5


@dataclass(frozen=True)
class Candidate:
    """An entry considered for a question, with its score (0–100) and closest phrasing."""

    entry_id: str
    score: float
    question: str


@dataclass(frozen=True)
class MatchResult:
    """What the matcher made of a question."""

    question: str
    outcome: Outcome
    best: Candidate | None = None
    alternatives: tuple[Candidate, ...] = ()
    ranked: tuple[Candidate, ...] = ()
    smalltalk: str | None = None
    language: str = "nb"

    @property
    def answered(self) -> bool:
        return self.outcome == ANSWERED


@dataclass
class _Phrasing:
    text: str
    tokens: str  # space-joined stems, for rapidfuzz
    keyword: bool = False
    vocabulary: dict[str, float] = field(default_factory=dict)  # stem or part: how whole
    words: tuple[tuple[tuple[tuple[str, float], ...], float], ...] = ()  # (stem, parts), idf
    whole: float = 0.0  # the phrasing's information: the sum of its words' IDF


@dataclass
class _Index:
    entries: list[Entry]
    weights: list[dict[str, float]]
    postings: dict[str, list[tuple[int, float]]]
    idf: dict[str, float]
    unknown_idf: float
    vocab: list[str]
    synonyms: dict[str, tuple[str, ...]]
    phrasings: list[list[_Phrasing]] = field(default_factory=list)
    # Per entry: which of its phrasings hold a word, so a question is fitted only
    # against phrasings sharing a word with it; and its phrasings' shapes (see surface).
    holding: list[dict[str, list[int]]] = field(default_factory=list)
    shapes: list[list[str]] = field(default_factory=list)


class Matcher:
    """Answers questions from a knowledge base; build once, then call ``match``."""

    def __init__(self, kb: KnowledgeBase, *, settings: Settings | None = None) -> None:
        self.kb = kb
        self.settings = settings or Settings()
        self._index = self._build(kb.entries, kb.synonyms)
        self._position = {entry.id: i for i, entry in enumerate(self._index.entries)}
        self._split_cache: dict[str, tuple[str, ...]] = {}
        self._expand_cache: dict[str, tuple[tuple[str, float], ...]] = {}

    # --- index ---------------------------------------------------------------------------

    def _build(self, entries: Sequence[Entry], synonyms: dict[str, tuple[str, ...]]) -> _Index:
        s = self.settings
        synonym_map: dict[str, set[str]] = defaultdict(set)
        for word, variants in synonyms.items():
            targets = tuple(content_stems(word)) or tuple(stem(w) for w in words(word))
            for variant in variants:
                for v in content_stems(variant):
                    synonym_map[v].update(t for t in targets if t != v)

        raw_fields: list[list[tuple[list[str], float]]] = []
        for entry in entries:
            fields_ = [(_asked(q), s.phrasing_weight) for q in entry.questions]
            fields_ += [(_asked(k), s.keyword_weight) for k in entry.keywords]
            fields_.append((content_stems(entry.answer), s.answer_weight))
            fields_.append((content_stems(entry.section.replace("›", " ")), s.section_weight))
            raw_fields.append(fields_)
        base_vocab = {t for fields_ in raw_fields for toks, _ in fields_ for t in toks}
        base_vocab.update(t for ts in synonym_map.values() for t in ts)

        splits: dict[str, tuple[str, ...]] = {}

        def alternatives(token: str) -> tuple[tuple[str, float], ...]:
            # A phrasing word is matched by itself, or more weakly by one of its parts.
            parts = _split_compound(token, base_vocab, cache=splits)
            return ((token, 1.0), *((part, s.part_fit) for part in parts))

        weights: list[dict[str, float]] = []
        phrasings: list[list[_Phrasing]] = []
        for entry, fields_ in zip(entries, raw_fields, strict=True):
            w: dict[str, float] = {}
            for toks, weight in fields_:
                for t in toks:
                    w[t] = max(w.get(t, 0.0), weight)
                    for part in _split_compound(t, base_vocab, cache=splits):
                        w[part] = max(w.get(part, 0.0), weight * s.compound_part)
            weights.append(w)
            phrasings.append(
                [
                    _Phrasing(
                        text=q,
                        keyword=i >= len(entry.questions),
                        tokens=" ".join(sorted(set(toks))),
                        words=tuple((alternatives(t), 0.0) for t in dict.fromkeys(toks)),
                    )
                    # Keywords join the phrasings for the fit score (scaled down), so a
                    # resident's single everyday word ("skatt") can carry a question.
                    for i, (q, (toks, _)) in enumerate(
                        zip((*entry.questions, *entry.keywords), fields_, strict=False)
                    )
                ]
            )

        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, w in enumerate(weights):
            for t, weight in w.items():
                postings[t].append((i, weight))
        n = max(len(entries), 1)
        idf = {t: math.log(1.0 + n / len(p)) for t, p in postings.items()}
        for entry_phrasings in phrasings:
            for ph in entry_phrasings:
                ph.words = tuple(
                    (alts, max(idf.get(a, 0.0) for a, _ in alts)) for alts, _ in ph.words
                )
                vocabulary: dict[str, float] = {}
                for alts, _ in ph.words:
                    for a, strength in alts:
                        vocabulary[a] = max(vocabulary.get(a, 0.0), strength)
                ph.vocabulary = vocabulary
                ph.whole = sum(idf_ for _, idf_ in ph.words)
        holding: list[dict[str, list[int]]] = []
        for entry_phrasings in phrasings:
            lookup: dict[str, list[int]] = defaultdict(list)
            for i, ph in enumerate(entry_phrasings):
                for word in ph.vocabulary:
                    lookup[word].append(i)
            holding.append(dict(lookup))
        return _Index(
            entries=list(entries),
            weights=weights,
            postings=dict(postings),
            idf=idf,
            unknown_idf=math.log(1.0 + n / 1.0),
            vocab=sorted(postings),
            synonyms={k: tuple(sorted(v)) for k, v in synonym_map.items()},
            phrasings=phrasings,
            holding=holding,
            shapes=[[surface(q) for q in entry.questions] for entry in entries],
        )

    # --- query ---------------------------------------------------------------------------

    def _expand(self, token: str) -> tuple[tuple[str, float], ...]:
        """Returns the index words a question word stands for, with how sure that is."""
        cached = self._expand_cache.get(token)
        if cached is not None:
            return cached
        ix, s = self._index, self.settings
        out: dict[str, float] = {}
        if token.startswith("!"):
            # A cue only gates the answer (see _asks_beyond): matching it would pull every
            # "how do I" question towards the few entries whose phrasings say it so.
            return ()
        if token in ix.postings:
            out[token] = 1.0
        for target in ix.synonyms.get(token, ()):
            if target in ix.postings:
                out[target] = max(out.get(target, 0.0), 1.0)
        if not out:
            for part in _split_compound(token, ix.postings, cache=self._split_cache):
                out[part] = s.compound_part
        if not out and len(token) >= s.typo_min_length:
            for word, score, _ in process.extract(
                token,
                ix.vocab,
                scorer=fuzz.ratio,
                processor=None,
                # One wrong letter in a five-letter word is a different word
                # ("snart"/"smart"); longer words tolerate more.
                score_cutoff=s.typo_cutoff if len(token) >= 7 else s.short_typo_cutoff,
                limit=2,
            ):
                out[word] = score / 100.0
            for target in list(out):
                for syn in ix.synonyms.get(target, ()):
                    # A synonym group may name words no entry uses (yet).
                    if syn in ix.postings:
                        out.setdefault(syn, out[target])
        if not out and len(token) >= s.typo_min_length:
            start = bisect.bisect_left(ix.vocab, token)
            for word in ix.vocab[start : start + 3]:
                if word.startswith(token):
                    out[word] = s.prefix_strength
        result = tuple(out.items())
        if len(self._expand_cache) < 100_000:
            self._expand_cache[token] = result
        return result

    def _unknown_weight(self, token: str) -> float:
        """Returns the weight of a word the knowledge base has never seen.

        Long unknown words are mostly topics the documents do not cover ("bompenger",
        "telefonnummer"), so they weigh like the rarest known word; short ones are
        mostly everyday filler ("gatt", "unga") and weigh less.
        """
        if token.startswith("?"):
            return 0.0
        if token.startswith("!"):
            return self._index.unknown_idf * self.settings.cue_weight
        s = self.settings
        if token.isdigit():
            return self._index.unknown_idf * s.short_unknown_scale / 2
        scale = 1.0 if len(token) >= s.long_unknown else s.short_unknown_scale
        return self._index.unknown_idf * scale

    def rank(self, question: str, *, limit: int | None = None) -> list[Candidate]:
        """Returns the entries best matching a question, best first, with their scores."""
        question = cut(question)
        tokens = list(dict.fromkeys(content_stems(question)))
        return self._rank(tokens, surface(question), limit=limit)

    def _rank(self, tokens: list[str], shape: str, *, limit: int | None) -> list[Candidate]:
        """Returns the entries best matching a question's distinct content stems and shape."""
        ix, s = self._index, self.settings
        if not tokens or not ix.entries:
            return []
        expansions = [self._expand(t) for t in tokens]
        token_idf = [
            max((ix.idf[w] for w, _ in exp), default=self._unknown_weight(t))
            for t, exp in zip(tokens, expansions, strict=True)
        ]
        total = sum(token_idf)
        coverage: dict[int, float] = defaultdict(float)
        for exp, weight in zip(expansions, token_idf, strict=True):
            best_for_entry: dict[int, float] = {}
            for word, strength in exp:
                for entry_index, field_weight in ix.postings[word]:
                    value = strength * field_weight
                    if value > best_for_entry.get(entry_index, 0.0):
                        best_for_entry[entry_index] = value
            for entry_index, value in best_for_entry.items():
                coverage[entry_index] += weight * value
        if not coverage:
            return []
        by_coverage = sorted(coverage.items(), key=lambda kv: kv[1], reverse=True)
        # Entries tied with the last one kept are kept too (up to twice as many), so
        # file order does not decide which entries are considered.
        cut_at = min(s.candidates, len(by_coverage))
        limit_ties = min(2 * s.candidates, len(by_coverage))
        while cut_at < limit_ties and by_coverage[cut_at][1] >= by_coverage[cut_at - 1][1] - 1e-9:
            cut_at += 1
        top = by_coverage[:cut_at]
        query_words: dict[str, float] = {}
        for token, exp in zip(tokens, expansions, strict=True):
            for word, strength in exp:
                query_words[word] = max(query_words.get(word, 0.0), strength)
            query_words.setdefault(token, 1.0)
        query_tokens = " ".join(sorted(query_words))
        out = []
        for entry_index, cov in top:
            recall = cov / total
            best_f, phrasing = 0.0, ix.entries[entry_index].questions[0]
            holding = ix.holding[entry_index]
            sharing = {i for word in query_words for i in holding.get(word, ())}
            entry_phrasings = ix.phrasings[entry_index]
            for i in sorted(sharing):
                ph = entry_phrasings[i]
                f = _phrasing_fit(ph, query_words, expansions, token_idf, total)
                if ph.keyword:
                    f *= s.keyword_fit
                if f > best_f:
                    best_f = f
                    phrasing = ix.entries[entry_index].questions[0] if ph.keyword else ph.text
            sim = fuzz.token_set_ratio(
                query_tokens,
                next((p.tokens for p in ix.phrasings[entry_index] if p.text == phrasing), ""),
                processor=None,
            )
            score = (
                100.0 * (s.coverage_weight * recall + s.fit_weight * best_f)
                + (1 - s.coverage_weight - s.fit_weight) * sim
            )
            if s.surface_weight:
                closest = process.extractOne(
                    shape,
                    ix.shapes[entry_index],
                    scorer=fuzz.ratio,
                    processor=None,
                    score_cutoff=0,
                )
                score += s.surface_weight * ((closest[1] if closest else 0.0) - score)
            out.append(Candidate(ix.entries[entry_index].id, round(score, 1), phrasing))
        out.sort(key=lambda c: c.score, reverse=True)
        return out[:limit] if limit else out

    def match(self, question: str) -> MatchResult:
        """Returns the answer to a question, alternatives when unsure, or a decline."""
        s = self.settings
        question = cut(question)
        language = detect_language(question)
        kind = smalltalk_kind(question)
        if kind is not None:
            return MatchResult(question, SMALLTALK, smalltalk=kind, language=language)
        tokens = list(dict.fromkeys(content_stems(question)))
        ranked = tuple(self._rank(tokens, surface(question), limit=s.candidates))
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


def _asked(phrasing: str) -> list[str]:
    """Returns a phrasing's content stems, less the office cue, which no phrasing unlocks."""
    return [t for t in content_stems(phrasing) if t != OFFICE_CUE]


def _phrasing_fit(
    ph: _Phrasing,
    query_words: dict[str, float],
    expansions: list[tuple[tuple[str, float], ...]],
    token_idf: list[float],
    total: float,
) -> float:
    """Returns the F1 of a phrasing against the question, both sides weighted by IDF."""
    # Plain loops: this runs for hundreds of phrasings per question.
    matched = 0.0
    for alts, idf in ph.words:
        best = 0.0
        for word, part in alts:
            strength = query_words.get(word)
            if strength is not None and strength * part > best:
                best = strength * part
        matched += idf * best
    if not matched or not ph.whole or not total:
        return 0.0
    precision = matched / ph.whole
    own = ph.vocabulary
    hit = 0.0
    for exp, weight in zip(expansions, token_idf, strict=True):
        best = 0.0
        for word, strength in exp:
            whole = own.get(word)
            if whole is not None and strength * whole > best:
                best = strength * whole
        hit += weight * best
    recall = hit / total
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _split_compound(
    token: str, vocab: Iterable[str] | dict, *, cache: dict[str, tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """Returns the two known parts of a compound word (with linking s/e), or ()."""
    if len(token) < 8:
        return ()
    if cache is not None and token in cache:
        return cache[token]
    best: tuple[str, ...] = ()
    best_len = 0
    for i in range(3, len(token) - 2):
        head, tail = token[:i], token[i:]
        if head not in vocab:
            continue
        for link in ("", "s", "e"):
            if link and not tail.startswith(link):
                continue
            rest = tail[len(link) :]
            if len(rest) >= 3 and rest in vocab and min(len(head), len(rest)) > best_len:
                best, best_len = (head, rest), min(len(head), len(rest))
    if cache is not None and len(cache) < 100_000:
        cache[token] = best
    return best

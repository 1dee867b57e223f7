"""Scoring: how much of a question's information each entry covers, how closely its
best phrasing fits, and how alike the wordings are. Typos, compounds and prefixes are
resolved against the index's vocabulary first."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz, process

from bot.core.matcher.index import Index, Phrasing, split_compound
from bot.core.matcher.model import Candidate, Settings


class Scorer:
    """Ranks an index's entries for a question's content stems."""

    def __init__(self, index: Index, settings: Settings) -> None:
        self._index = index
        self.settings = settings
        self._split_cache: dict[str, tuple[str, ...]] = {}
        self._expand_cache: dict[str, tuple[tuple[str, float], ...]] = {}

    def expand(self, token: str) -> tuple[tuple[str, float], ...]:
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
        if token in ix.idf:
            out[token] = 1.0
        for target in ix.synonyms.get(token, ()):
            if target in ix.idf:
                out[target] = max(out.get(target, 0.0), 1.0)
        if not out:
            for part in split_compound(token, ix.idf, cache=self._split_cache):
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
                    if syn in ix.idf:
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

    def unknown_weight(self, token: str) -> float:
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

    def rank(
        self,
        tokens: list[str],
        shape: str,
        *,
        limit: int | None,
        context: Sequence[str] = (),
        context_weight: float = 0.0,
    ) -> list[Candidate]:
        """Returns the entries best matching a question's distinct content stems and shape.

        ``context`` holds the stems of the words around the question (the story before
        it, or the previous question of a conversation): they count ``context_weight``
        as much as the question's own words, and only where the index knows them, so a
        story's everyday words neither pull towards nor count against any entry.
        """
        ix, s = self._index, self.settings
        if not (tokens or context) or not ix.entries:
            return []
        expansions = [self.expand(t) for t in tokens]
        token_idf = [
            max((ix.idf[w] for w, _ in exp), default=self.unknown_weight(t))
            for t, exp in zip(tokens, expansions, strict=True)
        ]
        strength_of = [1.0] * len(tokens)
        if context_weight > 0:
            asked = set(tokens)
            for token in dict.fromkeys(context):
                if token in asked or token[0] in "!?":
                    continue
                exp = self.expand(token)
                if not exp:
                    continue
                tokens = [*tokens, token]
                expansions.append(exp)
                token_idf.append(context_weight * max(ix.idf[w] for w, _ in exp))
                strength_of.append(context_weight)
        total = sum(token_idf)
        if not total:
            return []
        top = self._covering(expansions, token_idf)
        if not top:
            return []
        query_words: dict[str, float] = {}
        for token, exp, own in zip(tokens, expansions, strength_of, strict=True):
            for word, strength in exp:
                query_words[word] = max(query_words.get(word, 0.0), strength * own)
            query_words.setdefault(token, own)
        query_tokens = " ".join(sorted(query_words))
        out = []
        for entry_index, cov in top:
            recall = cov / total
            best_f, phrasing = 0.0, ix.entries[entry_index].questions[0]
            detail = ix.details[entry_index]
            holding = detail.holding
            sharing = 0
            for word in query_words:
                sharing |= holding.get(word, 0)
            entry_phrasings = detail.phrasings
            for i, ph in enumerate(entry_phrasings):
                if not sharing >> i & 1:
                    continue
                f = phrasing_fit(ph, query_words, expansions, token_idf, total)
                if ph.keyword:
                    f *= s.keyword_fit
                if f > best_f:
                    best_f = f
                    phrasing = ix.entries[entry_index].questions[0] if ph.keyword else ph.text
            sim = fuzz.token_set_ratio(
                query_tokens,
                next((p.tokens for p in entry_phrasings if p.text == phrasing), ""),
                processor=None,
            )
            score = (
                100.0 * (s.coverage_weight * recall + s.fit_weight * best_f)
                + (1 - s.coverage_weight - s.fit_weight) * sim
            )
            if s.surface_weight:
                closest = process.extractOne(
                    shape,
                    detail.shapes,
                    scorer=fuzz.ratio,
                    processor=None,
                    score_cutoff=0,
                )
                score += s.surface_weight * ((closest[1] if closest else 0.0) - score)
            entry = ix.entries[entry_index]
            out.append(Candidate(entry.id, round(score, 1), entry.label))
        out.sort(key=lambda c: c.score, reverse=True)
        return out[:limit] if limit else out

    def _covering(
        self, expansions: list[tuple[tuple[str, float], ...]], token_idf: list[float]
    ) -> list[tuple[int, float]]:
        """Returns the entries covering most of the question's information, with how much.

        Vectorised over the postings: each question word adds its weight times the
        strongest of its readings to every entry holding one, so the cost grows with
        the postings read, not with the base. Only the best few are kept (with room for
        ties), not every covered entry sorted.
        """
        ix, s = self._index, self.settings
        n = len(ix.entries)
        coverage = np.zeros(n)
        # When each entry was first reached (word by word, reading by reading, posting by
        # posting): ties are ordered by it, so an entry holding a question's first,
        # rarer word goes before the many that only share a common one.
        first = np.full(n, n, dtype=np.int64)
        reached = 0
        for exp, weight in zip(expansions, token_idf, strict=True):
            best = coverage if len(exp) == 1 else np.zeros(n)
            for word, strength in exp:
                entries, strengths = ix.postings(word)
                fresh = entries[first[entries] == n]
                first[fresh] = np.arange(reached, reached + len(fresh))
                reached += len(fresh)
                if best is coverage:
                    coverage[entries] += weight * (strength * strengths)
                else:
                    best[entries] = np.maximum(best[entries], strength * strengths)
            if best is not coverage:
                coverage += weight * best
        covered = np.flatnonzero(coverage)
        if not len(covered):
            return []
        keep = 2 * s.candidates + 1
        values = coverage[covered]
        if len(covered) > keep:
            # Everything at least as good as the keep-th best, ties included …
            least = np.partition(values, len(values) - keep)[len(values) - keep]
            chosen = values >= least
            covered, values = covered[chosen], values[chosen]
        # … best first, ties in the order they were first reached.
        order = np.lexsort((first[covered], -values))[:keep]
        by_coverage = list(zip(covered[order].tolist(), values[order].tolist(), strict=True))
        # Entries tied with the last one kept are kept too (up to twice as many), so the
        # order of reaching them does not decide alone which entries are considered.
        cut_at = min(s.candidates, len(by_coverage))
        limit_ties = min(2 * s.candidates, len(by_coverage))
        while cut_at < limit_ties and by_coverage[cut_at][1] >= by_coverage[cut_at - 1][1] - 1e-9:
            cut_at += 1
        return by_coverage[:cut_at]


def phrasing_fit(
    ph: Phrasing,
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

"""The matcher's index: each entry's stems from its phrasings, keywords, passage and
section, compounds split into their parts, staff synonyms folded in, IDF weights."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.knowledge import Entry
from bot.core.matcher.model import Settings
from bot.core.text import OFFICE_CUE, content_stems, stem, surface, words

_SENTENCE = re.compile(r"(?<=[.!?:])\s+")


@dataclass
class Phrasing:
    """One phrasing (or keyword) of an entry, reduced to weighted word alternatives."""

    text: str
    tokens: str  # space-joined stems, for rapidfuzz
    keyword: bool = False
    vocabulary: dict[str, float] = field(default_factory=dict)  # stem or part: how whole
    words: tuple[tuple[tuple[tuple[str, float], ...], float], ...] = ()  # (stem, parts), idf
    whole: float = 0.0  # the phrasing's information: the sum of its words' IDF


@dataclass
class Index:
    """The entries' words, weights and phrasings, ready for scoring."""

    entries: list[Entry]
    weights: list[dict[str, float]]
    postings: dict[str, list[tuple[int, float]]]
    idf: dict[str, float]
    unknown_idf: float
    vocab: list[str]
    synonyms: dict[str, tuple[str, ...]]
    phrasings: list[list[Phrasing]] = field(default_factory=list)
    # Per entry: which of its phrasings hold a word, so a question is fitted only
    # against phrasings sharing a word with it; and its phrasings' shapes (see surface).
    holding: list[dict[str, list[int]]] = field(default_factory=list)
    shapes: list[list[str]] = field(default_factory=list)


def build_index(
    entries: Sequence[Entry], synonyms: dict[str, tuple[str, ...]], settings: Settings
) -> Index:
    """Builds the index of a knowledge base's entries and synonyms."""
    s = settings
    synonym_map: dict[str, set[str]] = defaultdict(set)
    for word, variants in synonyms.items():
        targets = tuple(content_stems(word)) or tuple(stem(w) for w in words(word))
        for variant in variants:
            for v in content_stems(variant):
                synonym_map[v].update(t for t in targets if t != v)

    raw_fields: list[list[tuple[list[str], float]]] = []
    fitted: list[tuple[str, ...]] = []  # per entry: the texts a question is fitted against
    for entry in entries:
        # An entry with few phrasings (a draft just published) is fitted against its
        # passage's sentences too, as against keywords, so the passage's words find it.
        few = len(entry.questions) < s.few_phrasings
        sentences = tuple(_SENTENCE.split(entry.answer)) if few else ()
        fitted.append((*entry.questions, *entry.keywords, *sentences))
        fields_ = [(asked(q), s.phrasing_weight) for q in entry.questions]
        fields_ += [(asked(k), s.keyword_weight) for k in entry.keywords]
        fields_ += [(asked(x), s.answer_weight) for x in sentences]
        fields_.append((content_stems(entry.answer), s.answer_weight))
        fields_.append((content_stems(entry.section.replace("›", " ")), s.section_weight))
        raw_fields.append(fields_)
    base_vocab = {t for fields_ in raw_fields for toks, _ in fields_ for t in toks}
    base_vocab.update(t for ts in synonym_map.values() for t in ts)

    splits: dict[str, tuple[str, ...]] = {}

    shared: dict[str, tuple[tuple[str, float], ...]] = {}

    def alternatives(token: str) -> tuple[tuple[str, float], ...]:
        # A phrasing word is matched by itself, or more weakly by one of its parts;
        # one tuple per distinct word, shared by every phrasing that uses it.
        found = shared.get(token)
        if found is None:
            parts = split_compound(token, base_vocab, cache=splits)
            found = shared[token] = ((token, 1.0), *((part, s.part_fit) for part in parts))
        return found

    weights: list[dict[str, float]] = []
    phrasings: list[list[Phrasing]] = []
    for entry, fields_, texts in zip(entries, raw_fields, fitted, strict=True):
        w: dict[str, float] = {}
        for toks, weight in fields_:
            for t in toks:
                w[t] = max(w.get(t, 0.0), weight)
                for part in split_compound(t, base_vocab, cache=splits):
                    w[part] = max(w.get(part, 0.0), weight * s.compound_part)
        weights.append(w)
        phrasings.append(
            [
                Phrasing(
                    text=q,
                    keyword=i >= len(entry.questions),
                    tokens=" ".join(sorted(set(toks))),
                    words=tuple((alternatives(t), 0.0) for t in dict.fromkeys(toks)),
                )
                # Keywords join the phrasings for the fit score (scaled down), so a
                # resident's single everyday word ("skatt") can carry a question.
                for i, (q, (toks, _)) in enumerate(zip(texts, fields_, strict=False))
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
            ph.words = tuple((alts, max(idf.get(a, 0.0) for a, _ in alts)) for alts, _ in ph.words)
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
    return Index(
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


def asked(phrasing: str) -> list[str]:
    """Returns a phrasing's content stems, less the office cue, which no phrasing unlocks."""
    return [t for t in content_stems(phrasing) if t != OFFICE_CUE]


def split_compound(
    token: str,
    vocab: Iterable[str] | dict[str, object],
    *,
    cache: dict[str, tuple[str, ...]] | None = None,
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


def index_data(index: Index) -> dict[str, object]:
    """Returns what a built index holds as plain data (JSON types), for the disk cache.

    The word alternatives are stored once each, in a table the phrasings point into;
    what can be derived cheaply (postings, vocabularies, the phrasings' lookups) is not
    stored.
    """
    table: dict[tuple[tuple[str, float], ...], int] = {}
    phrasings = []
    for entry_phrasings in index.phrasings:
        rows = []
        for ph in entry_phrasings:
            # A word's IDF, the phrasing's stems and its whole follow from the rest.
            ids = [table.setdefault(alts, len(table)) for alts, _ in ph.words]
            rows.append([ph.text, ph.keyword, ids])
        phrasings.append(rows)
    return {
        "weights": index.weights,
        "idf": index.idf,
        "unknown_idf": index.unknown_idf,
        "synonyms": {k: list(v) for k, v in index.synonyms.items()},
        "alternatives": [[list(pair) for pair in alts] for alts in table],
        "phrasings": phrasings,
        "shapes": index.shapes,
    }


def index_from_data(data: dict[str, Any], entries: Sequence[Entry]) -> Index:
    """Rebuilds an index from ``index_data`` (raises KeyError, TypeError or ValueError
    when the data does not fit, so a damaged cache is rebuilt, never trusted)."""
    weights: list[dict[str, float]] = data["weights"]
    if len(weights) != len(entries) or len(data["phrasings"]) != len(entries):
        raise ValueError("the cached index does not fit the entries")
    alternatives = [tuple((str(w), float(x)) for w, x in alts) for alts in data["alternatives"]]
    idf: dict[str, float] = data["idf"]
    phrasings: list[list[Phrasing]] = []
    holding: list[dict[str, list[int]]] = []
    for rows in data["phrasings"]:
        entry_phrasings = []
        lookup: dict[str, list[int]] = defaultdict(list)
        for i, (text, keyword, ids) in enumerate(rows):
            # As build_index computes them: a word weighs its most informative reading.
            ph_words = tuple(
                (alts, max(idf.get(a, 0.0) for a, _ in alts))
                for alts in (alternatives[n] for n in ids)
            )
            vocabulary: dict[str, float] = {}
            for alts, _ in ph_words:
                for a, strength in alts:
                    if strength > vocabulary.get(a, 0.0):
                        vocabulary[a] = strength
            for word in vocabulary:
                lookup[word].append(i)
            entry_phrasings.append(
                Phrasing(
                    text=str(text),
                    tokens=" ".join(sorted({alts[0][0] for alts, _ in ph_words})),
                    keyword=bool(keyword),
                    vocabulary=vocabulary,
                    words=ph_words,
                    whole=sum(x for _, x in ph_words),
                )
            )
        phrasings.append(entry_phrasings)
        holding.append(dict(lookup))
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, w in enumerate(weights):
        for t, weight in w.items():
            postings[t].append((i, weight))
    return Index(
        entries=list(entries),
        weights=weights,
        postings=dict(postings),
        idf=idf,
        unknown_idf=float(data["unknown_idf"]),
        vocab=sorted(postings),
        synonyms={k: tuple(v) for k, v in data["synonyms"].items()},
        phrasings=phrasings,
        holding=holding,
        shapes=data["shapes"],
    )

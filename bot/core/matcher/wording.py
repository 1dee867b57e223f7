"""A second reader of questions: character n-gram TF-IDF over the entries' phrasings.

The rule-based scorer reads words (stems, compounds, synonyms, typo correction). This
model reads the letters: every phrasing is a vector of its words' 3- to 5-letter
pieces, weighted by how rare each piece is, and a question is compared with every
phrasing by cosine similarity. It needs no word lists, shrugs off inflections,
dialect spellings and typos, and, reading the whole message, finds the topic of a
long story even when the question itself only says "Stemmer det?". Where the two
readers agree on an entry, the answer is far more often right than where either
reads alone; the calibrator (``calibrate.py``) learns how much to trust each.

Sparse and vectorised with numpy: each n-gram has a posting array of (phrasing,
weight), and a question's score is a weighted sum of its n-grams' postings.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.core.knowledge import Entry
from bot.core.matcher.model import Sliced
from bot.core.text import fold, is_stopword, words

SHORTEST = 3
LONGEST = 5

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SmallArray = npt.NDArray[np.int32]

# The arrays a cached wording model holds, each with its dtype.
WORDING_ARRAYS = {"owner": "<i4", "idf": "<f8", "starts": "<i8", "rows": "<i4", "values": "<f8"}


def reduce(text: str) -> list[str]:
    """Returns a text's folded words without stop words (all of them if only stop words)."""
    folded = [fold(w) for w in words(text)]
    content = [w for w in folded if not is_stopword(w)]
    return content or folded


@lru_cache(maxsize=65_536)
def _pieces(word: str) -> tuple[str, ...]:
    """Returns the 3- to 5-letter pieces of one folded word, padded by spaces."""
    padded = f" {word} "
    return tuple(
        padded[i : i + n] for n in range(SHORTEST, LONGEST + 1) for i in range(len(padded) - n + 1)
    )


def grams(text: str) -> Counter[str]:
    """Returns the 3- to 5-letter pieces of a text's words, counted."""
    counts: Counter[str] = Counter()
    for word in reduce(text):
        counts.update(_pieces(word))
    return counts


@dataclass(frozen=True, eq=False)
class WordingModel:
    """Each entry's phrasings as n-gram vectors, indexed by n-gram for fast scoring."""

    entries: int
    owner: SmallArray  # phrasing → entry position
    columns: dict[str, int]  # n-gram → posting list number
    idf: FloatArray  # per n-gram
    starts: IntArray  # posting list k is rows[starts[k]:starts[k + 1]]
    rows: Sliced  # phrasing numbers (int32)
    values: Sliced  # normalised weights (float64)

    def scores(self, text: str) -> FloatArray:
        """Returns each entry's similarity to a text (0–1): its closest phrasing's cosine."""
        query: list[tuple[int, float]] = []
        for gram, count in grams(text).items():
            k = self.columns.get(gram)
            if k is not None:
                query.append((k, (1.0 + math.log(count)) * float(self.idf[k])))
        norm = math.sqrt(sum(w * w for _, w in query))
        if not norm:
            return np.zeros(self.entries)
        # One bincount over all the query's postings: the same sums, in the same order,
        # as adding each n-gram's postings in turn, many times faster on a large base.
        rows, values = [], []
        for k, weight in query:
            lo, hi = self.starts[k], self.starts[k + 1]
            rows.append(self.rows[lo:hi])
            values.append(self.values[lo:hi] * (weight / norm))
        by_phrasing = np.bincount(
            np.concatenate(rows), weights=np.concatenate(values), minlength=len(self.owner)
        )
        best = np.zeros(self.entries)
        holders, firsts = self._runs
        if len(holders):
            # An entry's phrasings are consecutive rows: the closest is one reduceat away.
            best[holders] = np.maximum.reduceat(by_phrasing, firsts)
        return best

    @cached_property
    def _runs(self) -> tuple[IntArray, IntArray]:
        """Returns the entries that have phrasings and the row where each one's begin."""
        firsts = np.flatnonzero(np.diff(self.owner, prepend=-1)).astype(np.int64)
        return self.owner[firsts].astype(np.int64), firsts

    def lead(self, text: str, position: int) -> float | None:
        """Returns how far an entry's fit to a text is ahead of the best other entry's
        (negative when another fits better), or None when nothing fits at all."""
        scores = self.scores(text)
        if not 0 <= position < len(scores) or not float(scores.max()):
            return None
        others = np.delete(scores, position)
        return float(scores[position]) - (float(others.max()) if len(others) else 0.0)


def texts_of(entry: Entry) -> Iterable[str]:
    """Returns what residents might write for an entry: its phrasings, title and keywords."""
    yield from entry.questions
    if entry.title:
        yield entry.title
    if entry.keywords:
        yield " ".join(entry.keywords)


# Pieces gathered in plain lists before they move into compact arrays: a base of
# 10,000 entries has some 16 million, far too many to hold as Python integers at once.
_CHUNK = 1_000_000


def build_wording(entries: Sequence[Entry]) -> WordingModel:
    """Builds the n-gram model of the entries' phrasings."""
    owner: list[int] = []
    columns: dict[str, int] = {}
    gram_ids: list[int] = []
    row_ids: list[int] = []
    counts_flat: list[int] = []
    chunks: list[tuple[SmallArray, SmallArray, SmallArray]] = []

    def move() -> None:
        chunks.append(
            (
                np.array(gram_ids, dtype=np.int32),
                np.array(row_ids, dtype=np.int32),
                np.array(counts_flat, dtype=np.int32),
            )
        )
        gram_ids.clear()
        row_ids.clear()
        counts_flat.clear()

    row = 0
    for position, entry in enumerate(entries):
        for text in texts_of(entry):
            counts = grams(text)
            if not counts:
                continue
            owner.append(position)
            for gram, count in counts.items():
                gram_ids.append(columns.setdefault(gram, len(columns)))
                counts_flat.append(count)
            row_ids.extend([row] * len(counts))
            row += 1
        if len(gram_ids) >= _CHUNK:
            move()
    move()
    gram_arr = np.concatenate([c[0] for c in chunks])
    row_arr = np.concatenate([c[1] for c in chunks])
    weights = np.log(np.concatenate([c[2] for c in chunks]).astype(np.float64))
    chunks.clear()
    frequency = np.bincount(gram_arr, minlength=len(columns))
    # Smoothed IDF, as scikit-learn's TfidfVectorizer computes it.
    idf = np.log((1 + row) / (1 + frequency)) + 1.0
    weights += 1.0
    weights *= idf[gram_arr]
    norms = np.sqrt(np.bincount(row_arr, weights=weights * weights, minlength=row))
    weights /= np.where(norms > 0, norms, 1.0)[row_arr]
    order = np.argsort(gram_arr, kind="stable")
    del gram_arr
    starts = np.zeros(len(columns) + 1, dtype=np.int64)
    np.cumsum(frequency, out=starts[1:])
    return WordingModel(
        entries=len(entries),
        owner=np.array(owner, dtype=np.int32),
        columns=columns,
        idf=idf,
        starts=starts,
        rows=row_arr[order],
        values=weights[order],
    )


def wording_parts(model: WordingModel) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Returns a wording model as plain data and arrays, for the disk cache."""
    head = {"entries": model.entries, "grams": list(model.columns)}
    arrays = {
        "owner": model.owner,
        "idf": model.idf,
        "starts": model.starts,
        # Whole slices: a model read from the cache holds these as file arrays.
        "rows": model.rows[0 : len(model.rows)],
        "values": model.values[0 : len(model.values)],
    }
    return head, {name: np.asarray(a, dtype=WORDING_ARRAYS[name]) for name, a in arrays.items()}


def wording_from_parts(head: dict[str, Any], arrays: dict[str, Any]) -> WordingModel:
    """Returns the wording model ``wording_parts`` stored (raises KeyError, TypeError or
    ValueError when the parts do not fit one another)."""
    grams_ = [str(g) for g in head["grams"]]
    starts, rows = arrays["starts"], arrays["rows"]
    # Sizes and order only: the postings are read a slice at a time, and the file's
    # checksum vouches for what was written.
    if len(arrays["idf"]) != len(grams_) or len(starts) != len(grams_) + 1:
        raise ValueError("the cached n-grams do not fit their postings")
    if int(starts[-1]) != len(rows) or len(arrays["values"]) != len(rows):
        raise ValueError("the cached postings are cut short")
    owner = arrays["owner"]
    entries = head["entries"]
    if (
        type(entries) is not int
        or entries < 0
        or int(starts[0]) != 0
        or np.any(np.diff(starts) < 0)
    ):
        raise ValueError("the cached n-grams' postings are out of order")
    if len(owner) and (
        np.any(np.diff(owner) < 0) or int(owner[0]) < 0 or int(owner[-1]) >= entries
    ):
        raise ValueError("the cached phrasings are not in their entries' order")
    return WordingModel(
        entries=entries,
        owner=owner,
        columns={gram: k for k, gram in enumerate(grams_)},
        idf=arrays["idf"],
        starts=starts,
        rows=rows,
        values=arrays["values"],
    )

"""The matcher's index: each entry's stems from its phrasings, keywords, passage and
section, compounds split into their parts, staff synonyms folded in, IDF weights.

The index has two halves. The postings (which entries hold each word, how strongly) are
numpy arrays, so a question's coverage of every entry is summed in a few vectorised
steps however large the base. The details of one entry (its phrasings, their words,
its field weights) are needed only when the entry is a candidate: a built index holds
them as objects, a cached one decodes them from the cache on first use, so ``ask`` on
a base of 10,000 entries neither reads nor keeps the details of entries never asked.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from bot.core.knowledge import Entry, phrasing_key
from bot.core.matcher.model import Settings, Sliced
from bot.core.text import OFFICE_CUE, content_stems, stem, surface, words

_SENTENCE = re.compile(r"(?<=[.!?:])\s+")

# Decoded details kept per cached index: a candidate's details are read again for
# every question that finds it, but a long-running bot must not end up holding all.
DETAILS_KEPT = 2048

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Alternatives = tuple[tuple[str, float], ...]

# The arrays a cached index holds, each with its dtype (the cache reads nothing else).
INDEX_ARRAYS = {
    "idf": "<f8",
    "starts": "<i8",
    "posted": "<i8",
    "strengths": "<f8",
    "exact_hashes": "<u8",
    "exact_owners": "<i8",
    "detail_offsets": "<i8",
    "details": "|u1",
}
Reading = tuple[Alternatives, float]  # a phrasing word's alternatives and its IDF


# Phrasing and Detail are named tuples of strings, numbers, tuples and flat dicts: the
# collector stops tracking such objects, so the details a cached index decodes while
# answering do not lengthen every later full collection.


class Phrasing(NamedTuple):
    """One phrasing (or keyword) of an entry, reduced to weighted word alternatives."""

    text: str
    tokens: str  # space-joined stems, for rapidfuzz
    keyword: bool
    vocabulary: dict[str, float]  # stem or part: how whole
    words: tuple[Reading, ...]  # per word: (stem, parts), idf
    whole: float  # the phrasing's information: the sum of its words' IDF


class Detail(NamedTuple):
    """What the index knows of one entry beyond its postings, read when it is a candidate."""

    weights: dict[str, float]  # word: the weight of the strongest field holding it
    phrasings: tuple[Phrasing, ...]
    # Which of its phrasings hold a word, so a question is fitted only against
    # phrasings sharing a word with it; and its phrasings' shapes (see surface).
    holding: dict[str, int]  # word: a bit set of the phrasings holding it
    shapes: tuple[str, ...]
    keys: tuple[str, ...]  # its phrasings' and title's folded words (see phrasing_key)


@dataclass(eq=False)
class Index:
    """The entries' words, weights and phrasings, ready for scoring."""

    entries: list[Entry]
    idf: dict[str, float]  # every indexed word, with its IDF
    unknown_idf: float
    vocab: list[str]  # the indexed words, sorted
    synonyms: dict[str, tuple[str, ...]]
    # The postings of vocab[k]: entries posted[starts[k]:starts[k + 1]], with the
    # weights strengths[…] of the strongest field holding the word.
    starts: IntArray
    posted: IntArray
    strengths: FloatArray
    details: Sequence[Detail]
    # Each phrasing's and title's key, hashed and sorted, with its entry's position.
    exact_hashes: npt.NDArray[np.uint64]
    exact_owners: IntArray
    term: dict[str, int] = field(init=False)  # word → its position in vocab

    def __post_init__(self) -> None:
        self.term = {word: k for k, word in enumerate(self.vocab)}

    def postings(self, word: str) -> tuple[IntArray, FloatArray]:
        """Returns the entries holding an indexed word and how strongly each holds it."""
        k = self.term[word]
        lo, hi = int(self.starts[k]), int(self.starts[k + 1])
        return self.posted[lo:hi], self.strengths[lo:hi]

    def exact(self, key: str) -> int | None:
        """Returns the position of the entry with a phrasing or title of this key, or None."""
        if not key:
            return None
        hashed = _hash(key)
        at = int(np.searchsorted(self.exact_hashes, hashed))
        if at == len(self.exact_hashes) or int(self.exact_hashes[at]) != hashed:
            return None
        position = int(self.exact_owners[at])
        # A hash names the entry; its own keys confirm it.
        return position if key in self.details[position].keys else None


def _hash(key: str) -> int:
    """Returns a stable 64-bit hash of a phrasing key (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


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
    shared: dict[str, Alternatives] = {}

    def alternatives(token: str) -> Alternatives:
        # A phrasing word is matched by itself, or more weakly by one of its parts;
        # one tuple per distinct word, shared by every phrasing that uses it.
        found = shared.get(token)
        if found is None:
            parts = split_compound(token, base_vocab, cache=splits)
            found = shared[token] = ((token, 1.0), *((part, s.part_fit) for part in parts))
        return found

    weights: list[dict[str, float]] = []
    drafts: list[list[tuple[str, bool, list[Alternatives]]]] = []
    for entry, fields_, texts in zip(entries, raw_fields, fitted, strict=True):
        w: dict[str, float] = {}
        for toks, weight in fields_:
            for t in toks:
                w[t] = max(w.get(t, 0.0), weight)
                for part in split_compound(t, base_vocab, cache=splits):
                    w[part] = max(w.get(part, 0.0), weight * s.compound_part)
        weights.append(w)
        # Keywords join the phrasings for the fit score (scaled down), so a resident's
        # single everyday word ("skatt") can carry a question.
        drafts.append(
            [
                (q, i >= len(entry.questions), [alternatives(t) for t in dict.fromkeys(toks)])
                for i, (q, (toks, _)) in enumerate(zip(texts, fields_, strict=False))
            ]
        )

    frequency: Counter[str] = Counter(t for w in weights for t in w)
    n = max(len(entries), 1)
    idf = {t: math.log(1.0 + n / count) for t, count in frequency.items()}
    vocab = sorted(idf)
    readings = {token: _reading(alts, idf) for token, alts in shared.items()}
    details = [
        _detail(
            entry,
            w,
            ((text, keyword, tuple(readings[a[0][0]] for a in alts)) for text, keyword, alts in ph),
        )
        for entry, w, ph in zip(entries, weights, drafts, strict=True)
    ]
    starts, posted, strengths = _postings(weights, vocab)
    exact_hashes, exact_owners = _exact_table(details)
    return Index(
        entries=list(entries),
        idf=idf,
        unknown_idf=math.log(1.0 + n / 1.0),
        vocab=vocab,
        synonyms={k: tuple(sorted(v)) for k, v in synonym_map.items()},
        starts=starts,
        posted=posted,
        strengths=strengths,
        details=details,
        exact_hashes=exact_hashes,
        exact_owners=exact_owners,
    )


def _reading(alternatives: Alternatives, idf: dict[str, float]) -> Reading:
    """Returns a phrasing word's alternatives with its weight: its most informative one."""
    return alternatives, max(idf.get(a, 0.0) for a, _ in alternatives)


def _detail(
    entry: Entry,
    weights: dict[str, float],
    phrasings: Iterable[tuple[str, bool, tuple[Reading, ...]]],
    *,
    shapes: tuple[str, ...] | None = None,
    keys: tuple[str, ...] | None = None,
) -> Detail:
    """Returns an entry's details from its weights and its phrasings' word readings
    (and its phrasings' shapes and keys, computed from the entry unless given)."""
    out: list[Phrasing] = []
    holding: dict[str, int] = {}
    for i, (text, keyword, readings) in enumerate(phrasings):
        vocabulary: dict[str, float] = {}
        # Plain loops: a cached index reads the details of every new candidate.
        for alternatives, _ in readings:
            for a, strength in alternatives:
                if strength > vocabulary.get(a, 0.0):
                    vocabulary[a] = strength
        for word in vocabulary:
            holding[word] = holding.get(word, 0) | 1 << i
        out.append(
            Phrasing(
                text=text,
                tokens=" ".join(sorted({alternatives[0][0] for alternatives, _ in readings})),
                keyword=keyword,
                vocabulary=vocabulary,
                words=readings,
                whole=sum(x for _, x in readings),
            )
        )
    if keys is None:
        texts = (*entry.questions, entry.title)
        keys = tuple(dict.fromkeys(k for k in map(phrasing_key, texts) if k))
    return Detail(
        weights=weights,
        phrasings=tuple(out),
        holding=holding,
        shapes=tuple(surface(q) for q in entry.questions) if shapes is None else shapes,
        keys=keys,
    )


def _postings(
    weights: Sequence[dict[str, float]], vocab: Sequence[str]
) -> tuple[IntArray, IntArray, FloatArray]:
    """Returns the postings of every word as flat arrays (see Index)."""
    term = {word: k for k, word in enumerate(vocab)}
    terms: list[int] = []
    owners: list[int] = []
    values: list[float] = []
    for position, w in enumerate(weights):
        for word, weight in w.items():
            terms.append(term[word])
            owners.append(position)
            values.append(weight)
    term_arr = np.array(terms, dtype=np.int64)
    # Stable: within a word's postings, entries stay in the base's order.
    order = np.argsort(term_arr, kind="stable")
    starts = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_arr, minlength=len(vocab)), out=starts[1:])
    posted = np.array(owners, dtype=np.int64)[order]
    strengths = np.array(values, dtype=np.float64)[order]
    return starts, posted, strengths


def _exact_table(details: Sequence[Detail]) -> tuple[npt.NDArray[np.uint64], IntArray]:
    """Returns every phrasing key's hash, sorted, with its (first) entry's position."""
    seen: dict[int, int] = {}
    for position, detail in enumerate(details):
        for key in detail.keys:
            seen.setdefault(_hash(key), position)
    hashes = np.array(sorted(seen), dtype=np.uint64)
    owners = np.array([seen[int(h)] for h in hashes], dtype=np.int64)
    return hashes, owners


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


# --------------------------------------------------------------------------- the cache


def index_parts(index: Index) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Returns a built index as plain data (JSON types) and arrays, for the disk cache.

    Each entry's details are one small JSON document in a byte array, read back only
    when the entry is first a candidate; what follows from the rest (a word's IDF, a
    phrasing's vocabulary and stems) is not stored.
    """
    chunks: list[bytes] = []
    for detail in index.details:
        phrasings = [
            [ph.text, ph.keyword, [[a for a, _ in alts] for alts, _ in ph.words]]
            for ph in detail.phrasings
        ]
        document = {"w": detail.weights, "p": phrasings, "s": detail.shapes, "k": detail.keys}
        chunks.append(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in chunks], out=offsets[1:])
    head = {
        "vocab": index.vocab,
        "unknown_idf": index.unknown_idf,
        "synonyms": {k: list(v) for k, v in index.synonyms.items()},
    }
    arrays = {
        "idf": np.array([index.idf[w] for w in index.vocab]),
        "starts": index.starts,
        "posted": index.posted,
        "strengths": index.strengths,
        "exact_hashes": index.exact_hashes,
        "exact_owners": index.exact_owners,
        "detail_offsets": offsets,
        "details": np.frombuffer(b"".join(chunks), dtype=np.uint8),
    }
    return head, {name: np.asarray(a, dtype=INDEX_ARRAYS[name]) for name, a in arrays.items()}


def index_from_parts(
    head: dict[str, Any],
    arrays: dict[str, Any],
    entries: Sequence[Entry],
    settings: Settings,
) -> Index:
    """Returns the index ``index_parts`` stored (raises KeyError, TypeError or ValueError
    when the data does not fit, so a damaged cache is rebuilt, never trusted)."""
    vocab = [str(w) for w in head["vocab"]]
    idf_values = arrays["idf"]
    starts = arrays["starts"]
    offsets = arrays["detail_offsets"]
    if len(idf_values) != len(vocab) or len(starts) != len(vocab) + 1:
        raise ValueError("the cached postings do not fit the vocabulary")
    if len(offsets) != len(entries) + 1 or int(offsets[-1]) != len(arrays["details"]):
        raise ValueError("the cached details do not fit the entries")
    posted, strengths = arrays["posted"], arrays["strengths"]
    hashes, owners = arrays["exact_hashes"], arrays["exact_owners"]
    n = len(entries)
    # Cheap checks of what every question relies on (the large arrays are read later,
    # a slice at a time, and vouched for by the file's checksum).
    if int(starts[0]) != 0 or np.any(np.diff(starts) < 0) or int(starts[-1]) != len(posted):
        raise ValueError("the cached postings are out of order")
    if len(strengths) != len(posted) or len(owners) != len(hashes):
        raise ValueError("the cached arrays do not fit one another")
    if int(offsets[0]) != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("the cached details are out of order")
    for positions in (posted, owners):
        if len(positions) and (int(positions.min()) < 0 or int(positions.max()) >= n):
            raise ValueError("the cached index names entries the base does not have")
    idf = dict(zip(vocab, idf_values.tolist(), strict=True))
    return Index(
        entries=list(entries),
        idf=idf,
        unknown_idf=float(head["unknown_idf"]),
        vocab=vocab,
        synonyms={str(k): tuple(map(str, v)) for k, v in head["synonyms"].items()},
        starts=starts,
        posted=posted,
        strengths=arrays["strengths"],
        details=CachedDetails(
            entries, arrays["details"], offsets, idf=idf, part_fit=settings.part_fit
        ),
        exact_hashes=arrays["exact_hashes"],
        exact_owners=arrays["exact_owners"],
    )


class CachedDetails(Sequence[Detail]):
    """The entries' details in a cached index, each decoded on first use and kept a while."""

    def __init__(
        self,
        entries: Sequence[Entry],
        blob: Sliced,
        offsets: IntArray,
        *,
        idf: dict[str, float],
        part_fit: float,
    ) -> None:
        self._entries = entries
        self._blob = blob
        self._offsets = offsets
        self._idf = idf
        self._part_fit = part_fit
        self._readings: dict[str, Reading] = {}
        # The most recently used details, under a lock: a review runs in a worker thread
        # beside answering. (Not lru_cache on a bound method: that cycle would outlive a
        # reload, as the index is frozen out of the collector's reach.)
        self._kept: OrderedDict[int, Detail] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, position: int) -> Detail: ...

    @overload
    def __getitem__(self, position: slice) -> Sequence[Detail]: ...

    def __getitem__(self, position: int | slice) -> Detail | Sequence[Detail]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if not -len(self) <= position < len(self):
            raise IndexError(position)
        position %= len(self)
        with self._lock:
            found = self._kept.get(position)
            if found is not None:
                self._kept.move_to_end(position)
                return found
        detail = self._read(position)
        with self._lock:
            self._kept[position] = detail
            if len(self._kept) > DETAILS_KEPT:
                self._kept.popitem(last=False)
        return detail

    def _reading(self, alternatives: list[str]) -> Reading:
        """Returns the reading of a phrasing word from its stem and parts: one per word,
        shared by every phrasing that uses it, as in a built index."""
        token = str(alternatives[0])
        found = self._readings.get(token)
        if found is None:
            alts = ((token, 1.0), *((str(part), self._part_fit) for part in alternatives[1:]))
            found = self._readings.setdefault(token, _reading(alts, self._idf))
        return found

    def _read(self, position: int) -> Detail:
        lo, hi = int(self._offsets[position]), int(self._offsets[position + 1])
        try:
            document = json.loads(self._blob[lo:hi].tobytes())
            phrasings = [
                (str(text), bool(keyword), tuple(map(self._reading, alternatives)))
                for text, keyword, alternatives in document["p"]
            ]
            detail = _detail(
                self._entries[position],
                document["w"],
                phrasings,
                shapes=tuple(str(shape) for shape in document["s"]),
                keys=tuple(str(key) for key in document["k"]),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            # The cache's checksum held, so this is a bug, not damage: say which entry.
            raise ValueError(f"cached details of entry {position} do not decode") from exc
        return detail

"""The knowledge cache: used when current, rebuilt when stale or damaged, never trusted blindly."""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import pytest

from bot.core.cache import CACHE_DIR, load_answering
from bot.core.dialogue import respond

QUESTION = "Blir legevakten på Sørumsand beholdt?"


def cache_files(directory: Path) -> list[Path]:
    return sorted((directory / CACHE_DIR).glob("knowledge-*.bin"))


def signed(head: bytes, rest: bytes = b"") -> bytes:
    """Returns a cache file in the cache's layout with a valid checksum."""
    body = struct.pack("<Q", len(head)) + head + rest
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def resigned(raw: bytes, old: bytes, new: bytes) -> bytes:
    """Returns a cache file with one change in its head (the first array of a name keeps
    its count after the change), checksum and length made valid again."""
    size = struct.unpack("<Q", raw[65:73])[0]
    head = raw[73 : 73 + size]
    assert old in head
    changed = head.replace(old, new, 1)
    if old.endswith(b","):  # the count that followed is dropped for the new one
        at = changed.index(new) + len(new)
        changed = changed[:at] + changed[changed.index(b",", at) + 1 :]
    return signed(changed, raw[73 + size :])


def answer(directory: Path, question: str = QUESTION) -> str:
    kb, matcher = load_answering(directory)
    return respond(kb, matcher, question, now=0).reply.as_text()


def test_the_first_load_writes_the_cache_and_the_next_reads_it(knowledge_copy: Path) -> None:
    first = answer(knowledge_copy)
    [written] = cache_files(knowledge_copy)
    stamp = written.stat().st_mtime_ns
    assert answer(knowledge_copy) == first
    assert cache_files(knowledge_copy) == [written]
    assert written.stat().st_mtime_ns == stamp  # read, not written again


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # cut off mid-write
        lambda raw: raw.replace(b"Legevakttjenesten", b"Legevakt-tjenesten"),  # flipped bytes
        lambda raw: b"not json\n",
        # A valid checksum over data that does not fit:
        lambda raw: signed(b'{"kb": {}, "index": {}, "arrays": []}'),
        lambda raw: signed(b'{"kb": {}, "index": {}, "arrays": [["idf", "|O", 3, 0]]}'),
        lambda raw: signed(b'{"kb": {}, "index": {}, "arrays": [["idf", "<f8", 99, 0]]}'),
        # Numbers no cache holds, which must not escape as anything but damage:
        lambda raw: raw[:65] + b"\xff" * 8 + raw[73:],  # a head longer than any file
        lambda raw: resigned(raw, b'"idf","<f8",', b'"idf","<f8",1e18,'),
        lambda raw: resigned(raw, b'"idf","<f8",', b'"idf","<f8",Infinity,'),
        lambda raw: resigned(raw, b'"posted","<i8"', b'"posted","<f8"'),
        lambda raw: signed(b"[" * 100_000 + b"]" * 100_000),  # nesting deeper than Python
    ],
)
def test_a_damaged_cache_is_ignored_and_rebuilt(
    knowledge_copy: Path, caplog: pytest.LogCaptureFixture, damage
) -> None:
    expected = answer(knowledge_copy)
    [cached] = cache_files(knowledge_copy)
    cached.write_bytes(damage(cached.read_bytes()))
    caplog.set_level(logging.WARNING, logger="bot.core.cache")
    assert answer(knowledge_copy) == expected
    assert "damaged knowledge cache" in caplog.text
    [rebuilt] = cache_files(knowledge_copy)
    assert answer(knowledge_copy) == expected
    assert rebuilt.read_bytes() != damage(rebuilt.read_bytes())


def test_a_changed_knowledge_file_is_noticed(knowledge_copy: Path) -> None:
    answer(knowledge_copy)
    [old] = cache_files(knowledge_copy)
    new_question = "Får vi beholde nattlegen i Sørumsand-bygda?"
    path = next(p for p in knowledge_copy.glob("*.yaml") if "legevakt-sorumsand" in p.read_text())
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "      - Blir legevakten på Sørumsand beholdt?\n",
        f"      - Blir legevakten på Sørumsand beholdt?\n      - {new_question}\n",
        1,
    )
    path.write_text(text, encoding="utf-8")
    kb, _ = load_answering(knowledge_copy)
    assert new_question in kb.by_id["legevakt-sorumsand"].questions
    [new] = cache_files(knowledge_copy)
    assert new != old  # a new key; the stale cache is gone


def test_a_restored_index_is_the_built_one(shipped_kb) -> None:
    import numpy as np

    from bot.core.matcher import Matcher

    built = Matcher(shipped_kb)
    restored = Matcher.restore(shipped_kb, built.export())
    a, b = built._index, restored._index
    assert (a.idf, a.vocab, a.synonyms) == (b.idf, b.vocab, b.synonyms)
    assert a.unknown_idf == b.unknown_idf
    for name in ("starts", "posted", "strengths", "exact_hashes", "exact_owners"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert len(a.details) == len(b.details)
    assert all(a.details[i] == b.details[i] for i in range(len(a.details)))


STORY = (
    "Vi har bodd på Fetsund lenge og har alltid hatt kort vei til legevakta på Sørumsand. "
    "Nå hører jeg at den skal legges ned. Stemmer det?"
)


def wording_files(directory: Path) -> list[Path]:
    return sorted((directory / CACHE_DIR).glob("wording-*.bin"))


def test_the_wording_model_is_kept_beside_the_index_and_read_back(knowledge_copy: Path) -> None:
    kb, matcher = load_answering(knowledge_copy)
    assert wording_files(knowledge_copy) == []  # built on first need only
    built = matcher.wording
    [kept] = wording_files(knowledge_copy)
    assert kept.name.removeprefix("wording-") == cache_files(knowledge_copy)[0].name.removeprefix(
        "knowledge-"
    )
    _, again = load_answering(knowledge_copy)
    read = again.wording
    assert read.columns == built.columns
    assert read.entries == built.entries
    for name in ("owner", "idf", "starts", "rows", "values"):
        whole = slice(0, len(getattr(built, name)))
        assert (getattr(read, name)[whole] == getattr(built, name)[whole]).all(), name
    assert answer(knowledge_copy, STORY) == respond(kb, matcher, STORY, now=0).reply.as_text()


def test_a_damaged_wording_cache_is_rebuilt(
    knowledge_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = answer(knowledge_copy, STORY)
    [kept] = wording_files(knowledge_copy)
    whole = kept.read_bytes()
    kept.write_bytes(whole[:-100])
    caplog.set_level(logging.WARNING, logger="bot.core.cache")
    assert answer(knowledge_copy, STORY) == expected
    assert "damaged wording cache" in caplog.text
    [rebuilt] = wording_files(knowledge_copy)
    assert rebuilt.read_bytes() == whole


def test_the_wording_model_is_built_once_though_asked_at_once(shipped_kb) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.core.matcher import Matcher

    matcher = Matcher(shipped_kb)
    builds: list[int] = []

    def keeper(build):
        builds.append(1)
        return build()

    matcher.keep_wording(keeper)
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: matcher.wording, range(4)))
    assert builds == [1]
    assert all(model is models[0] for model in models)


def open_files(directory: Path) -> int:
    """Counts this process's open files under a directory."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if str(directory) in str(fd.resolve(strict=False)))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_a_dropped_matcher_lets_go_of_its_cache_files(knowledge_copy: Path) -> None:
    """A reload drops the old matcher: its cache files close by reference counting alone,
    since the index is frozen out of the collector's reach (no reference cycles)."""
    import gc

    answer(knowledge_copy, STORY)  # writes both cache files
    kb, matcher = load_answering(knowledge_copy)
    respond(kb, matcher, STORY, now=0)  # reads details and the wording model
    assert open_files(knowledge_copy) == 2
    gc.disable()
    try:
        del kb, matcher
        assert open_files(knowledge_copy) == 0
    finally:
        gc.enable()

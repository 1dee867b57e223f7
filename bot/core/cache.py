"""The knowledge cache: the loaded, validated base and its index, kept on disk.

Reading and validating thousands of entries and building their index takes seconds;
loading what they became takes a fraction of that. The cache is two files in
``<knowledge>/.cache/``, the base with its index and the wording model (written on its
first use), named by a key over the knowledge files' contents, the matcher's settings
and the answering code itself, so a changed file or a new version of the code finds no
cache and builds afresh. A file's first line is the SHA-256 of the rest; then the length
of a JSON head (the entries, the vocabulary and where each array lies), the head, and
numpy arrays as raw bytes: small ones are read whole, large ones a slice at a time as
questions need them. Data only, never a pickle: a cache file cannot run code. A damaged,
stale or unreadable cache is ignored and rebuilt, never trusted. A knowledge directory
that cannot be written just goes without. Reading uses ``os.pread`` (Linux and macOS;
the bot's image is Linux): where it is missing, every start builds afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import weakref
from collections.abc import Callable
from functools import cache, partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bot.core.knowledge import Entry, KnowledgeBase, knowledge_files, load_knowledge
from bot.core.matcher import Matcher, Settings
from bot.core.matcher.index import INDEX_ARRAYS
from bot.core.sources import Paragraph, Section, SourceDocument, SourceMeta

if TYPE_CHECKING:
    from bot.core.matcher.wording import WordingModel

logger = logging.getLogger(__name__)

Arrays = dict[str, npt.NDArray[Any]]

CACHE_DIR = ".cache"
FORMAT = 3
# The length of the JSON head, before it.
_SIZE = struct.Struct("<Q")
_CHECK = 65  # the checksum line: 64 hex digits and a newline
# What a damaged cache file may raise while it is read: all mean "rebuild".
_DAMAGE = (
    KeyError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,
    OverflowError,
    MemoryError,
    RecursionError,
)
_BUILDING_LOCK = threading.Lock()
_building: dict[Path, threading.Lock] = {}
_CORE = Path(__file__).resolve().parent


@cache
def code_version() -> str:
    """Returns a digest of the answering code and its word lists (what shapes the index)."""
    digest = hashlib.sha256(str(FORMAT).encode())
    # The libraries that shape stems and scores: an upgrade may change the index.
    for library in ("snowballstemmer", "PyStemmer", "rapidfuzz", "numpy"):
        try:
            digest.update(f"{library}={metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library}=none".encode())
    for path in sorted((*_CORE.rglob("*.py"), *_CORE.rglob("*.yaml"))):
        digest.update(path.relative_to(_CORE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(directory: Path, settings: Settings) -> str:
    """Returns the key of a knowledge directory's cache: its files' contents, the
    matcher's settings and the code's version."""
    digest = hashlib.sha256(code_version().encode())
    digest.update(repr(settings).encode())
    for path in knowledge_files(directory):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def load_answering(
    directory: Path, *, settings: Settings | None = None
) -> tuple[KnowledgeBase, Matcher]:
    """Returns the knowledge base and its matcher: from the cache when it is current,
    else loaded and built (and the cache written for next time)."""
    directory = Path(directory)
    settings = settings or Settings()
    key = _key_or_none(directory, settings)
    if key is not None:
        cached = _read(directory, key, settings)
        if cached is not None:
            return cached
    kb = load_knowledge(directory)
    matcher = Matcher(kb, settings=settings)
    # Written only if the files did not change while they were read, so a cache never
    # holds one version of the files under the key of another.
    if key is not None and _key_or_none(directory, settings) == key:
        _write(directory, key, kb, matcher)
    return kb, matcher


def _key_or_none(directory: Path, settings: Settings) -> str | None:
    try:
        return cache_key(directory, settings)
    except OSError:
        return None


def _read(directory: Path, key: str, settings: Settings) -> tuple[KnowledgeBase, Matcher] | None:
    """Returns what the cache file of a key holds, or None when it is missing or damaged."""
    path = directory / CACHE_DIR / f"knowledge-{key}.bin"
    try:
        found = _read_file(path, kinds=INDEX_ARRAYS, on_demand=frozenset({"details"}))
        if found is None:
            return None
        data, arrays = found
        kb = _kb_from_data(data["kb"], directory)
        matcher = Matcher.restore(kb, (data["index"], arrays), settings=settings)
    except _DAMAGE as exc:
        logger.warning("ignoring a damaged knowledge cache %s (%s); rebuilding", path, exc)
        return None
    matcher.keep_wording(partial(_wording, directory / CACHE_DIR / f"wording-{key}.bin"))
    return kb, matcher


def _write(directory: Path, key: str, kb: KnowledgeBase, matcher: Matcher) -> None:
    """Writes the knowledge cache; from then on the wording model is kept beside it."""
    index, arrays = matcher.export()
    head = {"kb": _kb_data(kb, directory), "index": index}
    folder = directory / CACHE_DIR
    if _write_file(folder / f"knowledge-{key}.bin", head, arrays):
        matcher.keep_wording(partial(_wording, folder / f"wording-{key}.bin"))


def _wording(path: Path, build: Callable[[], WordingModel]) -> WordingModel:
    """Returns the wording model kept at path, else builds it and keeps it there."""
    from bot.core.matcher.wording import WORDING_ARRAYS, wording_from_parts, wording_parts

    # One build per file at a time in this process: the bot's warm-up and a reload of
    # the same knowledge would otherwise both spend seconds and memory on it.
    with _BUILDING_LOCK:
        lock = _building.setdefault(path, threading.Lock())
    with lock:
        try:
            found = _read_file(path, kinds=WORDING_ARRAYS, on_demand=frozenset({"rows", "values"}))
            if found is not None:
                return wording_from_parts(*found)
        except _DAMAGE as exc:
            logger.warning("ignoring a damaged wording cache %s (%s); rebuilding", path, exc)
        model = build()
        _write_file(path, *wording_parts(model))
        return model


# --------------------------------------------------------------------------- the file


def _read_file(
    path: Path, *, kinds: dict[str, str], on_demand: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Returns a cache file's JSON head and its arrays, or None when there is no such
    file (raises ValueError when it is damaged or does not hold the arrays ``kinds``
    names, each of its dtype).

    The arrays named in ``on_demand`` are not read: each becomes a FileArray that reads
    the slices asked of it, so a question reads only the postings and details it needs.
    (Mapping the file instead pages in far more than is touched.) Cache files are
    replaced whole, never changed in place, so an open file stays as it was checked.
    """
    try:
        with path.open("rb") as stream:
            total = os.fstat(stream.fileno()).st_size
            check = stream.readline().strip()
            size = stream.read(_SIZE.size)
            if len(size) != _SIZE.size:
                raise ValueError("the file is cut short")
            length = _SIZE.unpack(size)[0]
            if length > total - stream.tell():
                raise ValueError("the head is longer than the file")
            head = stream.read(length)
            digest = hashlib.sha256(size)
            digest.update(head)
            start = stream.tell()
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
            if digest.hexdigest().encode() != check:
                raise ValueError("checksum mismatch")
            data = json.loads(head)
            layout = {str(row[0]): row[1:] for row in data["arrays"]}
            if set(layout) != set(kinds):
                raise ValueError(f"holds arrays {sorted(layout)}, not {sorted(kinds)}")
            arrays: dict[str, Any] = {}
            opened: _Opened | None = None
            for name, (dtype, count, at) in layout.items():
                kind = np.dtype(kinds[name])
                if dtype != kinds[name] or type(count) is not int or type(at) is not int:
                    raise ValueError(f"array {name} is not {kinds[name]} at a whole offset")
                offset = start + at
                if count < 0 or at < 0 or offset + kind.itemsize * count > total:
                    raise ValueError(f"array {name} lies outside the file")
                if name in on_demand:
                    opened = opened or _Opened(os.dup(stream.fileno()))
                    arrays[name] = FileArray(opened, kind, count, offset)
                else:
                    raw = _pread(stream.fileno(), kind.itemsize * count, offset)
                    arrays[name] = np.frombuffer(raw, dtype=kind, count=count)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ValueError(f"unreadable: {exc}") from exc
    except (OverflowError, MemoryError, RecursionError) as exc:
        # Numbers or nesting no cache of ours holds: damage, whatever it was.
        raise ValueError(f"damaged: {type(exc).__name__}") from exc
    return data, arrays


def _pread(fd: int, size: int, offset: int) -> bytes:
    """Reads size bytes at offset (one call reads at most about 2 GB); raises ValueError
    when the file ends before."""
    # pread: no shared file position, so safe from any thread.
    parts = []
    while size > 0:
        part = os.pread(fd, min(size, 1 << 30), offset)
        if not part:
            raise ValueError("the cache file is shorter than its head says")
        parts.append(part)
        size -= len(part)
        offset += len(part)
    return b"".join(parts)


class _Opened:
    """An open cache file, closed when the last array reading from it is gone."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        weakref.finalize(self, os.close, fd)


class FileArray:
    """A one-dimensional array in a cache file, read a slice at a time (see Sliced)."""

    def __init__(self, opened: _Opened, dtype: np.dtype[Any], count: int, offset: int) -> None:
        self._opened = opened
        self._dtype = dtype
        self._count = count
        self._offset = offset

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, key: slice, /) -> npt.NDArray[Any]:
        start, stop, step = key.indices(self._count)
        if step != 1:
            raise ValueError("a cached array is read in plain slices")
        size = self._dtype.itemsize
        raw = _pread(self._opened.fd, max(stop - start, 0) * size, self._offset + start * size)
        return np.frombuffer(raw, dtype=self._dtype)


def _write_file(path: Path, head: dict[str, Any], arrays: Arrays) -> bool:
    """Writes a cache file atomically and removes older ones of its kind; says nothing
    and returns False if it cannot."""
    folder = path.parent
    layout: list[list[object]] = []
    at = 0
    for name, array in arrays.items():
        layout.append([name, array.dtype.str, len(array), at])
        # Each array starts on an 8-byte boundary, so it is read where it lies.
        at += -(-array.nbytes // 8) * 8
    text = json.dumps({**head, "arrays": layout}, ensure_ascii=False, separators=(",", ":"))
    encoded = text.encode()
    # Spaces after the head put the arrays on an 8-byte boundary of the file too.
    encoded += b" " * (-(_CHECK + _SIZE.size + len(encoded)) % 8)
    body: list[bytes | memoryview] = [_SIZE.pack(len(encoded)), encoded]
    for array in arrays.values():
        # A view of the array's bytes, not a copy: the wording model's are large.
        raw = np.ascontiguousarray(array).data.cast("B")
        body += [raw, bytes(-len(raw) % 8)]
    digest = hashlib.sha256()
    for part in body:
        digest.update(part)
    kind = path.name.split("-", 1)[0]
    try:
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(digest.hexdigest().encode() + b"\n")
                out.writelines(body)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in folder.glob(f"{kind}-*"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        logger.debug("no %s cache in %s: %s", kind, folder, exc)
        return False
    return True


# --------------------------------------------------------------------------- plain data


def _entry_data(entry: Entry, directory: Path) -> list[Any]:
    return [
        entry.id,
        list(entry.questions),
        entry.answer,
        entry.source,
        entry.section,
        list(entry.keywords),
        list(entry.related),
        _relative(entry.file, directory),
        entry.line,
        entry.title,
        entry.status,
    ]


def _entry_from_data(row: list[Any], directory: Path) -> Entry:
    (id_, questions, answer, source, section, keywords, related, file, line, title, status) = row
    return Entry(
        id=str(id_),
        questions=tuple(map(str, questions)),
        answer=str(answer),
        source=str(source),
        section=str(section),
        keywords=tuple(map(str, keywords)),
        related=tuple(map(str, related)),
        file=directory / str(file),
        line=int(line),
        title=str(title),
        status=str(status),
    )


def _relative(path: Path, directory: Path) -> str:
    try:
        return path.relative_to(directory).as_posix()
    except ValueError:
        return path.as_posix()


def _section_data(section: Section) -> list[Any]:
    """Returns a section as plain data: path, line, text and its paragraphs."""
    paragraphs = [[p.text, p.line, p.start] for p in section.paragraphs]
    return [list(section.path), section.line, section.text, paragraphs]


def _kb_data(kb: KnowledgeBase, directory: Path) -> dict[str, Any]:
    return {
        "entries": [_entry_data(e, directory) for e in kb.entries],
        "drafts": [_entry_data(e, directory) for e in kb.drafts],
        "synonyms": {k: list(v) for k, v in kb.synonyms.items()},
        "files": [_relative(p, directory) for p in kb.files],
        "sources": {
            sid: {
                "meta": doc.meta.model_dump(),
                "path": _relative(doc.path, directory),
                "sections": [_section_data(sec) for sec in doc.sections.values()],
            }
            for sid, doc in kb.sources.items()
        },
    }


def _kb_from_data(data: dict[str, Any], directory: Path) -> KnowledgeBase:
    sources = {}
    for sid, doc in data["sources"].items():
        sections = {}
        for path, line, text, paragraphs in doc["sections"]:
            section = Section(
                path=tuple(map(str, path)),
                line=int(line),
                paragraphs=[Paragraph(str(t), int(n), int(s)) for t, n, s in paragraphs],
                text=str(text),
            )
            sections[section.key] = section
        sources[str(sid)] = SourceDocument(
            meta=SourceMeta.model_validate(doc["meta"]),
            path=directory / str(doc["path"]),
            sections=sections,
        )
    return KnowledgeBase(
        directory=directory,
        entries=[_entry_from_data(row, directory) for row in data["entries"]],
        sources=sources,
        synonyms={str(k): tuple(map(str, v)) for k, v in data["synonyms"].items()},
        files=tuple(directory / str(p) for p in data["files"]),
        drafts=[_entry_from_data(row, directory) for row in data["drafts"]],
    )

"""The knowledge base: entries loaded from ``knowledge/*.yaml`` and validated against the sources.

An entry file is a YAML mapping with optional file-wide ``source`` and ``section``
defaults and a list of ``entries``. A synonyms file is a mapping with ``synonyms``:
the document's word mapped to the everyday or English words residents use for it.
Loading collects every problem it finds, each with file, line, entry and a fix, and
raises one ``KnowledgeError`` carrying them all. Nothing here imports ``telegram`` or
touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz import fuzz, process

from bot.core.errors import KnowledgeError, Problem
from bot.core.sources import SourceDocument, SourceMeta, load_sources, squash
from bot.core.text import fold, words
from bot.core.yamlio import MAX_YAML_BYTES, YamlError, line_of, load_yaml_text, to_plain

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,59}$"  # ≤ 60 chars: "a:<id>" fits Telegram's 64 bytes

_FIXES = {
    "missing": "add the field",
    "string_type": "write it as text",
    "list_type": "write it as a list of items, one per line starting with '- '",
    "too_short": "add at least one item",
    "string_too_short": "write some text",
    "string_pattern_mismatch": "use lowercase letters a-z, digits and hyphens",
    "extra_forbidden": "remove it, or check its spelling",
    "dict_type": "write it as a mapping of 'name: value' lines",
    "value_error": "remove the empty item, or write the text it should have",
}


class EntrySpec(BaseModel):
    """The fields of an entry as staff write them in YAML."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=ID_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=120)
    questions: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1)
    source: str = Field(min_length=1)
    section: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)

    @field_validator("questions", "keywords")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        cleaned = [squash(item) for item in items]
        if any(not item for item in cleaned):
            raise ValueError("an item is empty")
        return cleaned


class EntryFile(BaseModel):
    """The top level of an entry file."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = None
    section: str | None = None
    entries: list[Any] = Field(default_factory=list)


class SynonymFile(BaseModel):
    """The top level of a synonyms file."""

    model_config = ConfigDict(extra="forbid")

    synonyms: dict[str, list[str]]


@dataclass(frozen=True)
class Entry:
    """A validated entry, with where it was written."""

    id: str
    questions: tuple[str, ...]
    answer: str
    source: str
    section: str
    keywords: tuple[str, ...]
    related: tuple[str, ...]
    file: Path
    line: int
    title: str = ""

    @property
    def label(self) -> str:
        """Returns how the entry is offered in "Mente du …?": its title, else its first phrasing."""
        return self.title or self.questions[0]


@dataclass
class KnowledgeBase:
    """Every entry, source and synonym, loaded and validated."""

    directory: Path
    entries: list[Entry]
    sources: dict[str, SourceDocument]
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        self.by_id = {entry.id: entry for entry in self.entries}

    def source_of(self, entry: Entry) -> SourceMeta:
        """Returns the metadata of the document an entry quotes."""
        return self.sources[entry.source].meta


def search_entries(kb: KnowledgeBase, text: str) -> list[Entry]:
    """Returns the entries whose id, title, first phrasing or section hold every word of text."""
    wanted = [fold(w) for w in words(text.replace("-", " "))]
    found = []
    for entry in kb.entries:
        about = f"{entry.id.replace('-', ' ')} {entry.title} {entry.label} {entry.section}"
        haystack = " ".join(fold(w) for w in words(about))
        if all(w in haystack for w in wanted):
            found.append(entry)
    return found


def phrasing_key(text: str) -> str:
    """Returns the form of a phrasing used to spot duplicates: folded words only."""
    return " ".join(words(text))


def knowledge_files(directory: Path) -> tuple[Path, ...]:
    """Returns the files whose changes mean the knowledge base must be reloaded."""
    yaml_files = sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return (*yaml_files, *sorted((directory / "sources").glob("*.md")))


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Returns name, size and mtime of every knowledge file, to notice edits."""
    out = []
    for path in knowledge_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def load_knowledge(directory: Path | str) -> KnowledgeBase:
    """Loads and validates the knowledge base; raises KnowledgeError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError(
            [
                Problem(
                    "knowledge directory not found",
                    file=directory,
                    fix="pass --knowledge DIR or set BOT_KNOWLEDGE_DIR to the YAML folder",
                )
            ]
        )
    problems: list[Problem] = []
    sources_dir = directory / "sources"
    try:
        sources = load_sources(sources_dir) if sources_dir.is_dir() else {}
    except KnowledgeError as exc:
        problems.extend(exc.problems)
        sources = {}
    if not sources and not problems:
        problems.append(
            Problem(
                "no source documents",
                file=sources_dir,
                fix="put the clean source documents (*.md with front matter) in knowledge/sources/",
            )
        )

    entries: list[Entry] = []
    synonyms: dict[str, tuple[str, ...]] = {}
    files = knowledge_files(directory)
    for path in files:
        if path.suffix == ".md":
            continue
        data = _read_yaml(path, problems)
        if data is None:
            continue
        if isinstance(data, dict) and "synonyms" in data:
            _read_synonyms(path, data, synonyms, problems)
        elif isinstance(data, dict):
            entries.extend(_read_entries(path, data, sources, problems))
        else:
            problems.append(
                Problem(
                    "the file is not a mapping",
                    file=path,
                    line=1,
                    fix="start the file with 'entries:' (or 'synonyms:') at the left margin",
                )
            )

    problems.extend(_cross_check(entries))
    if problems:
        raise KnowledgeError(problems)
    if not entries:
        raise KnowledgeError(
            [Problem("no entries", file=directory, fix="add a YAML file with 'entries:'")]
        )
    return KnowledgeBase(
        directory=directory, entries=entries, sources=sources, synonyms=synonyms, files=files
    )


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        # Checked before reading: a huge file must not be read whole into memory.
        if path.stat().st_size > MAX_YAML_BYTES:
            problems.append(
                Problem(
                    f"the file is larger than {MAX_YAML_BYTES // 1_000_000} MB",
                    file=path,
                    fix="split it into several smaller files",
                )
            )
            return None
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem("the file is not UTF-8 text", file=path, fix="save it as UTF-8"))
        return None
    except OSError as exc:
        problems.append(Problem(f"cannot read the file: {exc.strerror}", file=path))
        return None
    try:
        return load_yaml_text(text, name=str(path))
    except YamlError as exc:
        problems.append(
            Problem(
                exc.message,
                file=path,
                line=exc.line,
                fix=exc.fix
                or "check indentation and quoting around this line (values with ': ' need quotes)",
            )
        )
        return None


def _validation_problems(
    exc: ValidationError, *, path: Path, node: Any, entry: str | None
) -> Iterable[Problem]:
    for err in exc.errors():
        loc = err["loc"]
        key = loc[0] if loc else None
        line = line_of(node, key) if isinstance(key, str) else line_of(node)
        if len(loc) > 1 and isinstance(loc[1], int) and isinstance(key, str):
            line = line_of(node.get(key), loc[1]) or line
        message = err["msg"]
        if err["type"] == "missing":
            message = "is missing"
        yield Problem(
            message,
            file=path,
            line=line,
            entry=entry,
            field=".".join(str(part) for part in loc) or None,
            fix=_FIXES.get(err["type"]),
        )


def _read_synonyms(
    path: Path, data: Any, synonyms: dict[str, tuple[str, ...]], problems: list[Problem]
) -> None:
    try:
        spec = SynonymFile.model_validate(to_plain(data))
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, path=path, node=data, entry=None))
        return
    for word, variants in spec.synonyms.items():
        merged = dict.fromkeys((*synonyms.get(word, ()), *(v.strip() for v in variants if v)))
        synonyms[word.strip()] = tuple(merged)


def _read_entries(
    path: Path, data: Any, sources: dict[str, SourceDocument], problems: list[Problem]
) -> list[Entry]:
    try:
        header = EntryFile.model_validate({k: data[k] for k in data})
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, path=path, node=data, entry=None))
        return []
    items = data.get("entries")
    out: list[Entry] = []
    for index, item in enumerate(items or []):
        item_line = line_of(items, index)
        if not isinstance(item, dict):
            problems.append(
                Problem(
                    "an entry must be a mapping with id, questions, answer",
                    file=path,
                    line=item_line,
                    field=f"entries.{index}",
                    fix="indent the entry's fields under '- id: ...'",
                )
            )
            continue
        raw = {"source": header.source, "section": header.section, **to_plain(item)}
        raw = {k: v for k, v in raw.items() if v is not None}
        entry_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        try:
            spec = EntrySpec.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, path=path, node=item, entry=entry_id))
            continue
        found = _check_quote(spec, path=path, node=item, sources=sources, problems=problems)
        if not found:
            continue
        out.append(
            Entry(
                id=spec.id,
                questions=tuple(spec.questions),
                answer=squash(spec.answer),
                source=spec.source,
                section=spec.section,
                keywords=tuple(spec.keywords),
                related=tuple(spec.related),
                file=path,
                line=item_line or 1,
                title=squash(spec.title) if spec.title else "",
            )
        )
    return out


def _check_quote(
    spec: EntrySpec,
    *,
    path: Path,
    node: Any,
    sources: dict[str, SourceDocument],
    problems: list[Problem],
) -> bool:
    """Checks that the source and section exist and the answer is quoted verbatim."""
    doc = sources.get(spec.source)
    if doc is None:
        known = ", ".join(sorted(sources)) or "none"
        problems.append(
            Problem(
                f"unknown source '{spec.source}'",
                file=path,
                line=line_of(node, "source"),
                entry=spec.id,
                field="source",
                fix=f"use one of: {known}",
            )
        )
        return False
    if spec.section not in doc.sections:
        guess = process.extractOne(
            spec.section, list(doc.sections), scorer=fuzz.WRatio, processor=None, score_cutoff=60
        )
        hint = f"did you mean '{guess[0]}'?" if guess else "use a heading of the source"
        problems.append(
            Problem(
                f"unknown section '{spec.section}' in source '{spec.source}'",
                file=path,
                line=line_of(node, "section"),
                entry=spec.id,
                field="section",
                fix=f"{hint} Sub-sections are written 'Oppvekst › Skole'",
            )
        )
        return False
    if doc.locate(spec.answer, section=spec.section) is not None:
        return True
    elsewhere = doc.sections_containing(spec.answer)
    if elsewhere:
        fix = f"the passage is in section '{elsewhere[0]}': set section to that"
    else:
        fix = _closest_hint(spec.answer, doc, spec.section)
    problems.append(
        Problem(
            f"answer is not found verbatim in '{spec.source}' › {spec.section}",
            file=path,
            line=line_of(node, "answer"),
            entry=spec.id,
            field="answer",
            fix=fix,
        )
    )
    return False


def _closest_hint(answer: str, doc: SourceDocument, section: str) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", doc.sections[section].text)
    first = re.split(r"(?<=[.!?])\s+", squash(answer))[0]
    best = process.extractOne(first, sentences, scorer=fuzz.ratio, processor=None, score_cutoff=50)
    if best is None:
        return "copy the passage from the source document word for word"
    return f'copy it word for word; the closest source sentence is: "{best[0]}"'


def _cross_check(entries: list[Entry]) -> list[Problem]:
    """Finds duplicate ids, phrasings shared by two entries and unknown related ids."""
    problems: list[Problem] = []
    seen_ids: dict[str, Entry] = {}
    seen_phrasings: dict[str, Entry] = {}
    for entry in entries:
        first = seen_ids.get(entry.id)
        if first is not None:
            problems.append(
                Problem(
                    f"duplicate id, first used at {first.file.name}:{first.line}",
                    file=entry.file,
                    line=entry.line,
                    entry=entry.id,
                    field="id",
                    fix="give this entry a different id",
                )
            )
            continue
        seen_ids[entry.id] = entry
        for question in entry.questions:
            key = phrasing_key(question)
            other = seen_phrasings.get(key)
            if other is not None and other.id != entry.id:
                problems.append(
                    Problem(
                        f"phrasing '{question}' is also a phrasing of entry '{other.id}'",
                        file=entry.file,
                        line=entry.line,
                        entry=entry.id,
                        field="questions",
                        fix="keep the phrasing in one entry only",
                    )
                )
            seen_phrasings.setdefault(key, entry)
    for entry in entries:
        for rel in entry.related:
            if rel not in seen_ids:
                problems.append(
                    Problem(
                        f"related entry '{rel}' does not exist",
                        file=entry.file,
                        line=entry.line,
                        entry=entry.id,
                        field="related",
                        fix="use the id of an existing entry",
                    )
                )
    return problems

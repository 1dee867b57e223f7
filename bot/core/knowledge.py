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
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from rapidfuzz import fuzz, process

from bot.core.errors import KnowledgeError, Problem
from bot.core.sources import SourceDocument, SourceMeta, load_sources, parse_clean, squash
from bot.core.text import fold, words
from bot.core.yamlio import MAX_YAML_BYTES, YamlError, line_of, load_yaml_text, to_plain

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,59}$"  # ≤ 60 chars: "a:<id>" fits Telegram's 64 bytes
# An entry's status: a draft is validated but not served until a person publishes it.
DRAFT, PUBLISHED = "draft", "published"

ID_RULE = (
    "an id may hold only lowercase letters a-z, digits 0-9 and hyphens, "
    "starts with a letter or digit, and is at most 60 characters"
)

# Each validation error in plain words: what is wrong ({what} is the place, such as
# "question 2" or "the field"), and the fix.
_FIXES = {
    "missing": ("is missing", "add the field"),
    "string_type": ("{what} is not text", "write it as text"),
    "list_type": (
        "{what} must be a list",
        "write it as a list of items, one per line starting with '- '",
    ),
    "too_short": ("{what} has no items", "add at least one item"),
    "string_too_short": ("{what} is empty", "write some text"),
    "string_too_long": ("{what} is too long", "shorten it"),
    "string_pattern_mismatch": ("{what} is not a valid id: " + ID_RULE, "use lowercase letters"),
    "extra_forbidden": ("unknown field", "remove it"),
    "dict_type": ("{what} must be a mapping", "write it as a mapping of 'name: value' lines"),
    "status_value": (
        "status must be 'draft' or 'published'",
        "write 'status: published' (or delete the line) to publish it, 'status: draft' to hold it",
    ),
    "empty_item": (
        "{what} is empty",
        "remove the empty item, or write the text it should have",
    ),
}
# What one item of a list field is called in a message ("question 2").
_ITEM_NAMES = {
    "questions": "question",
    "keywords": "keyword",
    "related": "related id",
    "entries": "entry",
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
    status: str = PUBLISHED

    @field_validator("status")
    @classmethod
    def _known_status(cls, status: str) -> str:
        if status not in (DRAFT, PUBLISHED):
            raise PydanticCustomError("status_value", "status must be draft or published")
        return status

    @field_validator("questions", "keywords")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        cleaned = [squash(item) for item in items]
        for index, item in enumerate(cleaned):
            if not item:
                raise PydanticCustomError("empty_item", "item {index} is empty", {"index": index})
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
    status: str = PUBLISHED

    @property
    def draft(self) -> bool:
        """Tells whether the entry waits for a person to publish it (never served)."""
        return self.status == DRAFT

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
    drafts: list[Entry] = field(default_factory=list)  # validated, not served

    def __post_init__(self) -> None:
        self.by_id = {entry.id: entry for entry in self.entries}
        served = {entry.source for entry in self.entries}
        # The documents the bot answers from: those with a published entry.
        self.known_sources: tuple[SourceMeta, ...] = tuple(
            doc.meta for doc in self.sources.values() if doc.id in served
        )

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
    sources_complete = True
    try:
        sources = load_sources(sources_dir) if sources_dir.is_dir() else {}
    except KnowledgeError as exc:
        problems.extend(exc.problems)
        # The sources that do load still check the entries quoting them; entries quoting
        # a broken one are left unchecked rather than reported as quoting nothing.
        sources, sources_complete = _readable_sources(sources_dir), False
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
    # Ids of entries written but not loaded (their file or the entry itself is broken):
    # other entries' references to them are consequences, not problems of their own.
    unloaded: set[str] = set()
    ids_known = True
    files = knowledge_files(directory)
    for path in files:
        if path.suffix == ".md":
            continue
        data = _read_yaml(path, problems)
        if isinstance(data, dict) and "synonyms" in data:
            _read_synonyms(path, data, synonyms, problems)
        elif isinstance(data, dict):
            entries.extend(_read_entries(path, data, sources, problems, unloaded, sources_complete))
        else:
            if data is not None:
                problems.append(
                    Problem(
                        "the file is not a mapping",
                        file=path,
                        line=1,
                        fix="start the file with 'entries:' (or 'synonyms:') at the left margin",
                    )
                )
            if data is not None or path.stat().st_size:
                ids = _ids_in_text(path)
                unloaded.update(ids or ())
                ids_known = ids_known and ids is not None

    problems.extend(_cross_check(entries, unloaded=unloaded if ids_known else None))
    if problems:
        raise KnowledgeError(problems)
    drafts = [entry for entry in entries if entry.draft]
    entries = [entry for entry in entries if not entry.draft]
    if not entries:
        message, fix = "no entries", "add a YAML file with 'entries:'"
        if drafts:
            message = f"no published entries ({len(drafts)} drafts wait)"
            fix = "publish drafts: delete their 'status: draft' line"
        raise KnowledgeError([Problem(message, file=directory, fix=fix)])
    return KnowledgeBase(
        directory=directory,
        entries=entries,
        sources=sources,
        synonyms=synonyms,
        files=files,
        drafts=drafts,
    )


_ID_LINE = re.compile(r"""^[ \t-]*id:[ \t]*["']?([^\s"'#]+)""", re.MULTILINE)


def _ids_in_text(path: Path) -> set[str] | None:
    """Returns the ids a file that cannot be loaded seems to hold; None if it cannot be read."""
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return set(_ID_LINE.findall(text))


def _readable_sources(directory: Path) -> dict[str, SourceDocument]:
    """Returns the clean sources that load on their own (the first of a repeated id)."""
    docs: dict[str, SourceDocument] = {}
    for path in sorted(directory.glob("*.md")):
        try:
            doc = parse_clean(path)
        except KnowledgeError:
            continue
        docs.setdefault(doc.id, doc)
    return docs


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
    exc: ValidationError,
    *,
    path: Path,
    node: Any,
    entry: str | None,
    known: Iterable[str] = (),
) -> Iterable[Problem]:
    """Turns pydantic's errors into problems in plain words, with 1-based positions."""
    for err in exc.errors():
        loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "empty_item" and "index" in ctx:
            loc = (*loc, int(ctx["index"]))
        message, fix = _plain_error(err, loc, known)
        yield Problem(
            message,
            file=path,
            line=_line_at(node, loc),
            entry=entry,
            field=str(loc[0]) if loc else None,
            fix=fix,
        )


def _line_at(node: Any, loc: tuple[Any, ...]) -> int | None:
    """Returns the line of the deepest part of a location that the YAML holds."""
    line = line_of(node)
    for part in loc:
        inside = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if not inside:
            break
        line = line_of(node, part) or line
        node = node[part]
    return line


def _place(loc: tuple[Any, ...]) -> str:
    """Returns how a message names a location: "question 2", "synonym 1 of 'x'", "it"."""
    if len(loc) >= 2 and loc[0] == "synonyms":
        if len(loc) >= 3 and isinstance(loc[2], int):
            return f"synonym {loc[2] + 1} of '{loc[1]}'"
        return f"the synonyms of '{loc[1]}'"
    if len(loc) >= 2 and isinstance(loc[1], int):
        name = str(loc[0])
        return f"{_ITEM_NAMES.get(name, name + ' item')} {loc[1] + 1}"
    return "the value"


def _plain_error(err: Any, loc: tuple[Any, ...], known: Iterable[str]) -> tuple[str, str]:
    """Returns the message and fix for one pydantic error."""
    kind, value, what = err["type"], err.get("input"), _place(loc)
    if kind == "string_type":
        return _not_text(what, value, phrasing=bool(loc) and loc[0] == "questions")
    if kind == "string_pattern_mismatch":
        return (
            f"'{value}' is not a valid id: {ID_RULE}",
            f"use lowercase letters, digits and hyphens, e.g. '{_id_like(str(value))}'",
        )
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        fields = sorted(known)
        guess = process.extractOne(name, fields, scorer=fuzz.ratio, score_cutoff=70)
        fix = f"remove the line '{name}: …'"
        if guess is not None:
            fix += f", or correct the spelling if you meant '{guess[0]}'"
        elif fields:
            fix += f" (the fields are: {', '.join(fields)})"
        return f"unknown field '{name}'", fix
    if kind == "string_too_long":
        limit = (err.get("ctx") or {}).get("max_length")
        return f"{what} is longer than {limit} characters", "shorten it"
    message, fix = _FIXES.get(
        kind, (f"{what}: {err['msg']}", "compare it with the table of fields in the README")
    )
    return message.format(what=what), fix


def _not_text(what: str, value: Any, *, phrasing: bool) -> tuple[str, str]:
    """Explains a value YAML read as something other than text, and how to quote it."""
    thing = "the phrasing" if phrasing else "the text"
    if isinstance(value, dict):
        text = "; ".join(f"{k}: {'' if v is None else v}".strip() for k, v in value.items())
        return (
            f"{what} is not text: YAML read the ': ' in «{text}» as 'field: value'",
            f'put {thing} in quotes: "{text}"',
        )
    if isinstance(value, list):
        return f"{what} is a list, not text", "write it as one text, without '- ' or [ ]"
    if isinstance(value, bool):
        return f"{what} reads as yes/no, not text", f"put {thing} in quotes"
    if isinstance(value, int | float):
        return f"{what} reads as a number, not text", f'put {thing} in quotes: "{value}"'
    if value is None:
        return f"{what} is empty", "write the text, or remove the line"
    return f"{what} is not text", "write it as text"


def _id_like(text: str) -> str:
    """Returns a valid id made from text (for the fix of an invalid one)."""
    text = text.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].rstrip("-") or "my-entry"


def _read_synonyms(
    path: Path, data: Any, synonyms: dict[str, tuple[str, ...]], problems: list[Problem]
) -> None:
    try:
        spec = SynonymFile.model_validate(to_plain(data))
    except ValidationError as exc:
        problems.extend(
            _validation_problems(
                exc, path=path, node=data, entry=None, known=SynonymFile.model_fields
            )
        )
        return
    for word, variants in spec.synonyms.items():
        merged = dict.fromkeys((*synonyms.get(word, ()), *(v.strip() for v in variants if v)))
        synonyms[word.strip()] = tuple(merged)


def _read_entries(
    path: Path,
    data: Any,
    sources: dict[str, SourceDocument],
    problems: list[Problem],
    unloaded: set[str],
    sources_complete: bool = True,
) -> list[Entry]:
    """Returns a file's valid entries; the ids of those left out go into unloaded."""
    try:
        header = EntryFile.model_validate({k: data[k] for k in data})
    except ValidationError as exc:
        problems.extend(
            _validation_problems(
                exc, path=path, node=data, entry=None, known=EntryFile.model_fields
            )
        )
        unloaded.update(_ids_in_text(path) or ())
        return []
    items = data.get("entries")
    out: list[Entry] = []
    for index, item in enumerate(items or []):
        item_line = line_of(items, index)
        if not isinstance(item, dict):
            problems.append(
                Problem(
                    f"entry {index + 1} is not a mapping of fields (id, questions, answer …)",
                    file=path,
                    line=item_line,
                    field="entries",
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
            problems.extend(
                _validation_problems(
                    exc, path=path, node=item, entry=entry_id, known=EntrySpec.model_fields
                )
            )
            if entry_id is not None:
                unloaded.add(entry_id)
            continue
        if spec.source not in sources and not sources_complete:
            unloaded.add(spec.id)
            continue
        found = _check_quote(spec, path=path, node=item, sources=sources, problems=problems)
        if not found:
            unloaded.add(spec.id)
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
                status=spec.status,
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


def _cross_check(entries: list[Entry], *, unloaded: set[str] | None = None) -> list[Problem]:
    """Finds duplicate ids, phrasings shared by two entries and unknown related ids.

    A related id among ``unloaded`` (written in a file or entry that failed to load) is
    not reported; with ``unloaded`` None, a file could not be read at all, so no related
    id is.
    """
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
            if rel not in seen_ids and unloaded is not None and rel not in unloaded:
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

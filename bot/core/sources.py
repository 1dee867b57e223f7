"""Source documents: the clean text the knowledge base quotes, and the parser for raw seeds.

A clean source file (``knowledge/sources/*.md``) has YAML front matter with the
document's metadata, then the text: ``#``, ``##`` and ``###`` headings, paragraphs
separated by blank lines, and list items (a line starting with ``•``, ``-``, ``*``,
``1.`` or ``a)``), each a paragraph of its own with its marker kept. Answers in the
knowledge base must be found verbatim (whitespace aside) inside one section of one of
these files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.errors import KnowledgeError, Problem
from bot.core.yamlio import YamlError, load_yaml_text

SECTION_SEPARATOR = " › "
INTRO_SECTION = "Innledning"

# Artifacts of the seeds that are not facts: link labels and the merger page's countdown.
DEFAULT_SKIP_PATTERNS = (
    r"Les mer",
    r"Aktuelt",
    r"Om -?\d+ dager står .+ klar\.?",
)
_TRAILING_LINK = re.compile(r"\s+Les mer$")
_PAGE_NUMBER = re.compile(r"\d{1,3}")
_SENTENCE_END = tuple('.!?»”":;')
# A list item's marker: a bullet, or a number or letter with "." or ")".
LIST_MARKER = re.compile(r"^(?:[•▪◦●*-]|\d{1,3}[.)]|[a-z]\))\s+(?=\S)")
# A numbered heading ("1. Innledning", "2.3 Skole"): its number tells its level.
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,2})\.?\s+(?=\S)")
# What raw text and documents mark a bullet with; the clean source writes "•".
_RAW_BULLET = re.compile(r"^[•·▪◦●■□➢➤►‣⁃*\uf0b7\uf0a7-]\s*(?=\w)")
BULLET = "• "


def squash(text: str) -> str:
    """Returns the text in NFC with every run of whitespace folded to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def section_key(path: Sequence[str]) -> str:
    """Returns the display form of a section path, e.g. ``Oppvekst › Skole``."""
    return SECTION_SEPARATOR.join(path)


class SourceMeta(BaseModel):
    """Metadata of a source document, from the front matter of its clean file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str
    date: str = Field(description="When the document was agreed or captured, as it can be known")
    period: str | None = None
    short_title: str | None = Field(
        default=None, description="How the bot names the document in its own sentences"
    )
    short_title_en: str | None = None
    url: str | None = None
    origin: str | None = None
    notes: list[str] = Field(default_factory=list)

    @property
    def when(self) -> str:
        """Returns the period and/or date, as shown after a quoted answer."""
        if self.period and self.date:
            return f"{self.period}, {self.date}"
        return self.period or self.date

    def short(self, language: str) -> str:
        """Returns the short title the bot names the document by, in a language if given."""
        if language == "en" and self.short_title_en:
            return self.short_title_en
        return self.short_title or self.title


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a clean source, with where it starts in its section's text."""

    text: str
    line: int
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class Section:
    """A headed section of a source document: its path and its paragraphs."""

    path: tuple[str, ...]
    line: int
    paragraphs: list[Paragraph] = field(default_factory=list)
    text: str = ""

    @property
    def key(self) -> str:
        return section_key(self.path)

    def add(self, text: str, line: int) -> None:
        """Appends a paragraph, keeping ``text`` as the squashed section text."""
        text = squash(text)
        start = len(self.text) + 1 if self.text else 0
        self.text = f"{self.text} {text}" if self.text else text
        self.paragraphs.append(Paragraph(text=text, line=line, start=start))


@dataclass
class SourceDocument:
    """A clean source document: metadata and its sections in order."""

    meta: SourceMeta
    path: Path
    sections: dict[str, Section]

    @property
    def id(self) -> str:
        return self.meta.id

    def locate(self, answer: str, *, section: str) -> tuple[int, int] | None:
        """Returns the span of a verbatim answer in the section's text, or None."""
        sec = self.sections.get(section)
        if sec is None:
            return None
        needle = squash(answer)
        start = sec.text.find(needle)
        if start < 0:
            return None
        return start, start + len(needle)

    def sections_containing(self, answer: str) -> list[str]:
        """Returns the sections whose text contains the answer verbatim."""
        needle = squash(answer)
        return [key for key, sec in self.sections.items() if needle in sec.text]


def parse_clean(path: Path) -> SourceDocument:
    """Parses a clean source file; raises KnowledgeError naming file and line."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError([Problem(f"cannot read source: {exc}", file=path)]) from exc
    lines = raw.splitlines()
    if not lines or lines[0].strip() != "---":
        raise KnowledgeError(
            [Problem("missing front matter", file=path, line=1, fix="start the file with '---'")]
        )
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise KnowledgeError(
            [Problem("front matter is not closed", file=path, line=1, fix="add a '---' line")]
        ) from None
    try:
        data = load_yaml_text("\n".join(lines[1:end]), name=str(path))
        meta = SourceMeta.model_validate(data)
    except YamlError as exc:
        raise KnowledgeError([Problem(str(exc), file=path, line=(exc.line or 0) + 1)]) from exc
    except ValidationError as exc:
        problems = [
            Problem(err["msg"], file=path, line=1, field=".".join(map(str, err["loc"])))
            for err in exc.errors()
        ]
        raise KnowledgeError(problems) from exc

    sections: dict[str, Section] = {}
    current: Section | None = None
    heading_stack: list[str] = []
    block: list[str] = []
    block_line = 0

    def flush() -> None:
        nonlocal block
        if block:
            if current is None:
                raise KnowledgeError(
                    [Problem("text before the first heading", file=path, line=block_line)]
                )
            current.add(" ".join(block), block_line)
            block = []

    for number, line in enumerate(lines[end + 1 :], start=end + 2):
        stripped = line.strip()
        heading = re.match(r"^(#{1,3})\s+(.+?)\s*$", stripped)
        if heading:
            flush()
            level = len(heading.group(1))
            if level > len(heading_stack) + 1:
                raise KnowledgeError([Problem("heading skips a level", file=path, line=number)])
            heading_stack[level - 1 :] = [squash(heading.group(2))]
            current = Section(path=tuple(heading_stack), line=number)
            if current.key in sections:
                raise KnowledgeError(
                    [Problem(f"section '{current.key}' appears twice", file=path, line=number)]
                )
            sections[current.key] = current
        elif not stripped:
            flush()
        else:
            if block and LIST_MARKER.match(stripped):
                flush()  # each list item is a paragraph of its own
            if not block:
                block_line = number
            block.append(stripped)
    flush()
    return SourceDocument(meta=meta, path=path, sections=sections)


def load_sources(directory: Path) -> dict[str, SourceDocument]:
    """Loads every clean source in a directory, keyed by document id."""
    docs: dict[str, SourceDocument] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.md")):
        try:
            doc = parse_clean(path)
        except KnowledgeError as exc:
            problems.extend(exc.problems)
            continue
        if doc.id in docs:
            problems.append(
                Problem(f"source id '{doc.id}' is used twice", file=path, line=2, field="id")
            )
        docs[doc.id] = doc
    if problems:
        raise KnowledgeError(problems)
    return docs


# --- raw seeds --------------------------------------------------------------------------


@dataclass
class RawDocument:
    """The structure recovered from a raw seed: title and (section path, paragraphs)."""

    title: str | None
    sections: list[tuple[tuple[str, ...], list[str]]]
    subtitle: str | None = None


def heading_depth(text: str) -> int | None:
    """Returns the level a heading's number gives it ("2.3 Skole" is 2), or None."""
    m = _NUMBERED_HEADING.match(text)
    return m.group(1).count(".") + 1 if m else None


def bullet_item(line: str) -> str | None:
    """Returns a line that starts with a bullet as a list item ("• text"), else None."""
    m = _RAW_BULLET.match(line)
    return BULLET + line[m.end() :].strip() if m else None


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    if not words or len(words) > 8 or not (line[0].isupper() or line[0].isdigit()):
        return False
    numbered = _NUMBERED_HEADING.match(line)
    if numbered and not line[numbered.end()].isupper():
        return False  # "1. bygge flere sykkelveier" is a numbered list item
    if line.endswith("!"):
        return len(words) <= 5
    return not line.endswith((*_SENTENCE_END, ","))


def parse_raw(
    text: str,
    *,
    subheadings: Iterable[str] = (),
    skip_patterns: Iterable[str] = DEFAULT_SKIP_PATTERNS,
) -> RawDocument:
    """Recovers headings and paragraphs from a seed extracted from a PDF or a web page.

    Tabs separate words, lines are wrapped as on the page, a lone number is a page
    number, and a line starting with a space opens a new page: a new paragraph unless
    the previous line stopped mid-sentence. A heading followed directly by another
    makes the second a sub-heading, unless it is numbered ("1. Innledning"): then its
    number gives its level. A heading right after the title that heads nothing is the
    subtitle. ``subheadings`` names further sub-headings the text cannot reveal. A line
    starting with a bullet is a list item of its own (written with "•").
    """
    skip = [re.compile(p) for p in skip_patterns]
    nested = {squash(s) for s in subheadings}
    blocks: list[tuple[str, str]] = []  # ("heading" | "para", text)
    current: list[str] = []

    def flush() -> None:
        if current:
            para = _TRAILING_LINK.sub("", " ".join(current))
            blocks.append(("para", para))
            current.clear()

    for raw_line in text.splitlines():
        line = squash(raw_line.replace("\t", " "))
        new_page = raw_line[:1] == " " and bool(line)
        if not line or _PAGE_NUMBER.fullmatch(line):
            flush()
            continue
        if any(p.fullmatch(line) for p in skip):
            flush()
            continue
        if new_page and current and not current[-1].endswith(_SENTENCE_END):
            current.append(line)  # a sentence running on across the page break
            continue
        if new_page:
            flush()
        line = _TRAILING_LINK.sub("", line)
        item = bullet_item(line)
        if item is not None:
            flush()
            current.append(item)
            continue
        # A heading starts a block; a numbered one, or one after a list item, ends one.
        starts = not current or heading_depth(line) is not None or current[0].startswith(BULLET)
        if starts and _looks_like_heading(line):
            flush()
            blocks.append(("heading", line))
            continue
        current.append(line)
    flush()

    title: str | None = None
    sections: list[tuple[tuple[str, ...], list[str]]] = []
    path: tuple[str, ...] = ()
    previous_kind = ""
    for kind, value in blocks:
        if kind == "heading":
            if title is None and not sections:
                title = value
                path = (INTRO_SECTION,)
                sections.append((path, []))
                previous_kind = "title"  # a heading right after the title is not nested
                continue
            depth = heading_depth(value)
            if depth is not None:
                path = (path[0], value) if depth > 1 and path else (value,)
            elif (previous_kind == "heading" and path) or (value in nested and path):
                path = (path[0], value)
            else:
                path = (value,)
            sections.append((path, []))
        else:
            if not sections:
                path = (INTRO_SECTION,)
                sections.append((path, []))
            sections[-1][1].append(value)
        previous_kind = kind
    kept = [(p, paras) for p, paras in sections if paras or _has_children(p, sections)]
    subtitle = None
    if (
        title is not None
        and len(sections) > 1
        and sections[1] not in kept
        and not sections[0][1]
        and len(sections[1][0]) == 1
    ):
        subtitle = sections[1][0][0]  # headed nothing, right after the title
    return RawDocument(title=title, sections=kept, subtitle=subtitle)


def _has_children(path: tuple[str, ...], sections: list[tuple[tuple[str, ...], list[str]]]) -> bool:
    return len(path) == 1 and any(len(p) > 1 and p[0] == path[0] for p, _ in sections)


def render_clean(doc: RawDocument, meta: SourceMeta) -> str:
    """Renders a recovered document as a clean source file with front matter."""
    from bot.core.yamlio import dump_yaml_text

    out = ["---", dump_yaml_text(meta.model_dump(exclude_none=True)).rstrip(), "---", ""]
    for path, paragraphs in doc.sections:
        out.append(f"{'#' * len(path)} {path[-1]}")
        out.append("")
        for i, para in enumerate(paragraphs):
            out.append(para)
            # The items of one list stand on consecutive lines.
            next_item = i + 1 < len(paragraphs) and LIST_MARKER.match(paragraphs[i + 1])
            if not (LIST_MARKER.match(para) and next_item):
                out.append("")
    return "\n".join(out).rstrip() + "\n"

"""Reads the documents staff have (PDF, web page, Word, plain text) into headed sections.

Each format is read into blocks (a heading with its style's rank, a paragraph, a list
item), and one builder turns the blocks into a ``RawDocument``: the first heading of
the largest style is the title, a heading right after it that heads nothing is the
subtitle, a numbered heading ("1. Innledning", "2.3 Skole") takes its level from its
number, and any other from its style. The heavy libraries (pypdf, BeautifulSoup,
python-docx) are imported only when a file of their kind is read.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import BotError
from bot.core.sources import (
    BULLET,
    INTRO_SECTION,
    SECTION_SEPARATOR,
    RawDocument,
    bullet_item,
    heading_depth,
    parse_raw,
    squash,
)

HEADING, PARAGRAPH, ITEM, TITLE = "heading", "para", "item", "title"
MAX_LEVELS = 3  # the clean source has #, ## and ###
_PDF_SUFFIXES = (".pdf",)
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_DOCX_SUFFIXES = (".docx",)
_SENTENCE_END = tuple('.!?:;,»”"')
_PDF_ITEM = re.compile(
    r"^(?:[•·▪◦●■□➢➤►‣⁃\uf0b7\uf0a7\x7f](?:\s|$|(?=\w))|[-*]\s+|(?:\d{1,3}|[a-z])\)\s+"
    r"|\d{1,3}\.\s+(?=[a-zæøå]))"
)
_PAGE_FURNITURE = re.compile(r"(?i)^(?:side\s+)?\d{1,4}(?:\s*(?:av|/|of)\s*\d{1,4})?$")


@dataclass(frozen=True)
class Block:
    """One piece of a document in reading order: a heading (with its style's rank) or text."""

    kind: str
    text: str
    rank: int = 0  # headings: 1 for the largest style, 2 for the next …


def read_document(path: Path, *, subheadings: Iterable[str] = ()) -> RawDocument:
    """Reads a PDF, HTML, DOCX or plain-text file into a document; BotError if it cannot."""
    suffix = path.suffix.casefold()
    try:
        if suffix in _PDF_SUFFIXES:
            return build_document(read_pdf(path))
        if suffix in _HTML_SUFFIXES:
            return build_document(read_html(path.read_bytes()))
        if suffix in _DOCX_SUFFIXES:
            return build_document(read_docx(path))
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BotError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BotError(f"cannot read {path}: it is not UTF-8 text ({exc.reason})") from exc
    return parse_raw(text, subheadings=subheadings)


# --- from blocks to sections -----------------------------------------------------------


def build_document(blocks: Sequence[Block]) -> RawDocument:
    """Returns the document the blocks make: title, subtitle and sections with paragraphs."""
    blocks = [b for b in (Block(b.kind, _clean(b.text), b.rank) for b in blocks) if b.text]
    ranks = [b.rank for b in blocks if b.kind == HEADING]
    title: str | None = None
    start = 0
    first = blocks[0] if blocks else None
    if first is not None and (
        first.kind == TITLE
        or (
            first.kind == HEADING and first.rank == min(ranks) and heading_depth(first.text) is None
        )
    ):
        title, start = first.text, 1
    subtitles: list[str] = []
    while title is not None and start + 1 < len(blocks):
        here, after = blocks[start], blocks[start + 1]
        if here.kind != HEADING or after.kind not in (HEADING, TITLE):
            break
        if not (after.rank <= here.rank or heading_depth(after.text) == 1):
            break
        subtitles.append(here.text)  # it heads nothing: the document's subtitle
        start += 1

    sections: list[tuple[tuple[str, ...], list[str]]] = []
    seen: set[tuple[str, ...]] = set()
    stack: list[tuple[int, str]] = []  # the open headings: (rank, text)
    for block in blocks[start:]:
        if block.kind in (HEADING, TITLE):
            depth = heading_depth(block.text)
            if depth is not None:
                del stack[depth - 1 :]
            while stack and stack[-1][0] >= block.rank:
                stack.pop()
            del stack[MAX_LEVELS - 1 :]
            stack.append((block.rank, block.text))
            sections.append((_unique(tuple(text for _, text in stack), seen), []))
            continue
        if not sections:
            sections.append((_unique((INTRO_SECTION,), seen), []))
        text = block.text if block.kind == PARAGRAPH else _as_item(block.text)
        sections[-1][1].append(text)
    kept = [
        (path, paras)
        for path, paras in sections
        if paras or any(p[: len(path)] == path and len(p) > len(path) for p, _ in sections)
    ]
    return RawDocument(title=title, sections=kept, subtitle=" – ".join(subtitles) or None)


def _clean(text: str) -> str:
    """Returns text on one line, without a heading's hashes or the section separator."""
    return squash(text).lstrip("#").strip().replace(SECTION_SEPARATOR.strip(), "-")


def _as_item(text: str) -> str:
    """Returns a list item with its marker: a number kept, else a bullet."""
    if re.match(r"^(?:\d{1,3}[.)]|[a-z]\))\s", text):
        return text
    return bullet_item(text) or BULLET + text


def _unique(path: tuple[str, ...], seen: set[tuple[str, ...]]) -> tuple[str, ...]:
    """Returns the path, its last heading numbered if the same path came before."""
    candidate, n = path, 2
    while candidate in seen:
        candidate, n = (*path[:-1], f"{path[-1]} ({n})"), n + 1
    seen.add(candidate)
    return candidate


# --- HTML ------------------------------------------------------------------------------

_SKIP_TAGS = ("script", "style", "noscript", "template", "nav", "aside", "form", "svg", "button")
_TEXT_TAGS = ("p", "dt", "dd", "figcaption", "pre", "address", "caption", "summary")
_CONTAINER_TAGS = (
    "div",
    "section",
    "article",
    "main",
    "body",
    "html",
    "blockquote",
    "header",
    "footer",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "dl",
    "figure",
    "details",
    "center",
)


def read_html(data: bytes | str) -> list[Block]:
    """Returns the blocks of a web page: headings h1–h6, paragraphs, list items, table rows."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(_SKIP_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(" ")
    root = soup.find("main") or soup.find("article") or soup.body or soup
    if root is soup.body:
        for chrome in soup.body.find_all(("header", "footer"), recursive=False):
            chrome.decompose()  # the site's own header and footer, not the page's text
    blocks: list[Block] = []
    page_title = soup.title.get_text() if soup.title else ""
    if isinstance(root, Tag):
        _walk_html(root, blocks)
    if page_title and not any(b.kind == HEADING for b in blocks[:1]):
        blocks.insert(0, Block(TITLE, page_title))
    return blocks


def _walk_html(node: Any, blocks: list[Block]) -> None:
    """Appends the blocks of a node's children, text outside any paragraph as one."""
    from bs4 import Comment, NavigableString, Tag

    inline: list[str] = []

    def flush() -> None:
        text = squash("".join(inline))
        if text:
            blocks.append(Block(PARAGRAPH, text))
        inline.clear()

    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if re.fullmatch(r"h[1-6]", name):
            flush()
            blocks.append(Block(HEADING, child.get_text(), rank=int(name[1])))
        elif name in ("ul", "ol"):
            flush()
            _html_list(child, blocks)
        elif name == "li":
            flush()
            blocks.append(Block(ITEM, child.get_text()))
        elif name == "tr":
            flush()
            cells = [squash(c.get_text()) for c in child.find_all(("td", "th"), recursive=False)]
            blocks.append(Block(PARAGRAPH, " – ".join(c for c in cells if c)))
        elif name in _TEXT_TAGS:
            flush()
            blocks.append(Block(PARAGRAPH, child.get_text()))
        elif name in _CONTAINER_TAGS:
            flush()
            _walk_html(child, blocks)
        else:
            inline.append(child.get_text())
    flush()


def _html_list(node: Any, blocks: list[Block]) -> None:
    """Appends a list's items (nested lists' items after their parent), numbered for <ol>."""
    ordered = node.name == "ol"
    try:
        number = int(node.get("start", 1))
    except ValueError:
        number = 1
    for li in node.find_all("li", recursive=False):
        nested = [sub.extract() for sub in li.find_all(("ul", "ol"))]
        text = squash(li.get_text())
        if text:
            blocks.append(Block(ITEM, f"{number}. {text}" if ordered else text))
            number += 1
        for sub in nested:
            _html_list(sub, blocks)


# --- DOCX ------------------------------------------------------------------------------


def read_docx(path: Path) -> list[Block]:
    """Returns the blocks of a Word document: Title and Heading styles, paragraphs, lists."""
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError) as exc:
        raise BotError(f"cannot read {path} as a Word (.docx) file: {exc}") from exc
    except Exception as exc:  # zipfile and lxml raise their own errors on a damaged file
        raise BotError(f"cannot read {path} as a Word (.docx) file: {exc}") from exc
    blocks: list[Block] = []
    numbers: dict[str, int] = {}
    for part in document.iter_inner_content():
        if isinstance(part, Table):
            for row in part.rows:
                cells = list(dict.fromkeys(squash(cell.text) for cell in row.cells))
                blocks.append(Block(PARAGRAPH, " – ".join(c for c in cells if c)))
            continue
        text = part.text
        style = (part.style.name if part.style is not None else "") or ""
        level = re.fullmatch(r"(?i)heading\s*(\d)", style)
        if style.casefold() == "title":
            blocks.append(Block(TITLE, text))
        elif style.casefold() == "subtitle":
            blocks.append(Block(HEADING, text, rank=9))
        elif level:
            blocks.append(Block(HEADING, text, rank=int(level.group(1))))
        elif "number" in style.casefold() and "list" in style.casefold():
            numbers[style] = numbers.get(style, 0) + 1
            blocks.append(Block(ITEM, f"{numbers[style]}. {squash(text)}"))
        elif "list" in style.casefold() or _numbered(part):
            blocks.append(Block(ITEM, text))
        else:
            if squash(text):
                numbers.clear()
            blocks.append(Block(PARAGRAPH, text))
    title = document.core_properties.title
    if title and not any(b.kind == TITLE for b in blocks):
        first_heading = next((b for b in blocks if b.kind == HEADING), None)
        if first_heading is None or first_heading.rank > 1:
            blocks.insert(0, Block(TITLE, title))
    return blocks


def _numbered(paragraph: Any) -> bool:
    """Tells whether a Word paragraph is in a list by its numbering, whatever its style."""
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


# --- PDF -------------------------------------------------------------------------------


@dataclass
class _Line:
    """One line of a PDF page: its text, where it stands, its font size and boldness."""

    page: int
    x: float
    y: float
    size: float
    bold: bool
    text: str


def read_pdf(path: Path) -> list[Block]:
    """Returns the blocks of a PDF with text: headings by font size (or a bold short line)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf warns about each flaw it works around; a file it cannot read is one error line.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise BotError(f"cannot read {path}: the PDF is encrypted; save an unlocked copy")
        lines = [
            line for number, page in enumerate(reader.pages) for line in _pdf_lines(page, number)
        ]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise BotError(f"cannot read {path} as a PDF: {exc}") from exc
    if not lines:
        raise BotError(f"{path}: the PDF holds no text (a scanned document needs OCR first)")
    lines = _without_furniture(lines, pages=len(reader.pages))
    return _pdf_blocks(lines)


def _pdf_lines(page: Any, number: int) -> list[_Line]:
    """Returns a page's lines in reading order, joining the pieces that share a baseline."""
    pieces: list[_Line] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text.strip():
            return
        # Where the text starts on the page: the text matrix, then the page's transform.
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        scale = (abs(tm[3]) or abs(tm[0]) or 1.0) * (abs(cm[3]) or abs(cm[0]) or 1.0)
        name = str(font.get("/BaseFont", "")) if font else ""
        bold = bool(re.search(r"(?i)bold|black|heavy|semibold", name))
        for offset, part in enumerate(text.split("\n")):
            if part.strip():
                pieces.append(
                    _Line(number, x, y - offset * size * scale * 1.2, size * scale, bold, part)
                )

    page.extract_text(visitor_text=visit)
    lines: list[_Line] = []
    for piece in pieces:
        last = lines[-1] if lines else None
        if last is not None and abs(last.y - piece.y) <= 0.5 * max(last.size, piece.size):
            if _is_bullet(last.text) and len(last.text.strip()) == 1:
                last.size, last.bold, last.x = piece.size, piece.bold, min(last.x, piece.x)
            else:
                last.bold = last.bold and piece.bold
                last.size = max(last.size, piece.size) if len(piece.text) > 2 else last.size
            last.text = f"{last.text.rstrip()} {piece.text.lstrip()}"
        else:
            lines.append(_Line(number, piece.x, piece.y, piece.size, piece.bold, piece.text))
    for line in lines:
        line.text = squash(line.text.replace("\x7f", "•").replace("\xad", ""))
    return [line for line in lines if line.text]


def _is_bullet(text: str) -> bool:
    """Tells whether a line starts a list item: a bullet, "1)", "a)", or "1." and a small letter."""
    return bool(_PDF_ITEM.match(text.strip()))


def _without_furniture(lines: list[_Line], *, pages: int) -> list[_Line]:
    """Drops page numbers, and running heads and feet repeated on most pages."""
    kept = [line for line in lines if not _PAGE_FURNITURE.fullmatch(line.text)]
    if pages < 3:
        return kept

    def key(line: _Line) -> tuple[str, int]:
        return re.sub(r"\d+", "#", line.text), round(line.y)

    pages_of: dict[tuple[str, int], set[int]] = {}
    for line in kept:
        pages_of.setdefault(key(line), set()).add(line.page)
    repeated = {k for k, on in pages_of.items() if len(on) > pages / 2}
    return [line for line in kept if key(line) not in repeated]


def _pdf_blocks(lines: list[_Line]) -> list[Block]:
    """Groups lines into headings, paragraphs and list items, by size, spacing and bullets."""
    sizes = Counter[float]()
    for line in lines:
        sizes[round(line.size, 1)] += len(line.text)
    body = sizes.most_common(1)[0][0]
    gaps = [
        a.y - b.y
        for a, b in itertools.pairwise(lines)
        if a.page == b.page and round(a.size, 1) == body == round(b.size, 1) and a.y > b.y
    ]
    # The line spacing: gaps between paragraphs are wider, and fewer than those within.
    gaps = sorted(g for g in gaps if g >= body * 0.8)
    spacing = gaps[len(gaps) // 4] if gaps else body * 1.2

    def heading_size(line: _Line) -> bool:
        return line.size >= body * 1.12 and len(line.text.split()) <= 15

    def bold_heading(line: _Line) -> bool:
        return (
            line.bold
            and len(line.text.split()) <= 10
            and not line.text.endswith(_SENTENCE_END)
            and not _is_bullet(line.text)
        )

    heading_sizes = sorted({round(x.size, 1) for x in lines if heading_size(x)}, reverse=True)
    rank_of = {size: i + 1 for i, size in enumerate(heading_sizes)}
    bold_rank = len(heading_sizes) + 1

    blocks: list[Block] = []
    current: list[str] = []
    kind = PARAGRAPH
    previous: _Line | None = None

    def flush() -> None:
        nonlocal kind
        if current:
            blocks.append(Block(kind, " ".join(current)))
        current.clear()
        kind = PARAGRAPH

    for line in lines:
        if heading_size(line) or (bold_heading(line) and round(line.size, 1) <= body):
            rank = rank_of.get(round(line.size, 1), bold_rank)
            last = blocks[-1] if blocks and not current else None
            close = previous is not None and previous.page == line.page
            close = close and previous is not None and previous.y - line.y <= line.size * 1.3
            close = close and heading_depth(line.text) is None
            if last is not None and last.kind == HEADING and last.rank == rank and close:
                blocks[-1] = Block(HEADING, f"{last.text} {line.text}", rank)  # a wrapped heading
            else:
                flush()
                blocks.append(Block(HEADING, line.text, rank))
            previous = line
            continue
        bullet = _is_bullet(line.text)
        new_page = previous is not None and previous.page != line.page
        gap = previous is not None and not new_page and previous.y - line.y > spacing * 1.3
        runs_on = bool(current) and not current[-1].endswith(_SENTENCE_END)
        if bullet:
            flush()
            kind = ITEM
        elif (
            gap
            or (new_page and not runs_on)
            or (previous is not None and previous.x - line.x > body)
        ):
            flush()
        current.append(line.text)
        previous = line
    flush()
    return blocks

"""Drafts knowledge entries from a parsed source, so staff start from the document."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import FoldedScalarString

from bot.core.errors import UsageError
from bot.core.knowledge import DRAFT
from bot.core.sources import LIST_MARKER, RawDocument, section_key
from bot.core.yamlio import YamlError, dump_yaml_text, load_yaml_text

_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")
_SPELLED = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ß": "ss"})
ID_LIMIT = 60  # the entry id pattern's limit
SOURCE_ID_LIMIT = 40  # leaves room for "-draft.yaml" and readable entry ids
_SUFFIX_ROOM = 4  # "-99"


def slug(text: str, *, words: int | None = None, limit: int = ID_LIMIT) -> str:
    """Returns text as an id: lowercase a-z, digits and hyphens, cut at a hyphen within limit."""
    ascii_text = unicodedata.normalize("NFKD", text.casefold().translate(_SPELLED))
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    parts = [p for p in re.split(r"[^a-z0-9]+", ascii_text) if p]
    if words is not None:
        parts = parts[:words]
    out = ""
    for part in parts:
        candidate = f"{out}-{part}" if out else part
        if len(candidate) > limit:
            break
        out = candidate
    return out or (parts[0][:limit] if parts else "")


def source_id(requested: str) -> str:
    """Returns a valid document id made from the one asked for; UsageError if none can be."""
    made = slug(requested, limit=SOURCE_ID_LIMIT)
    if not made:
        raise UsageError(
            f"--id '{requested}' has no letters or digits; use lowercase letters, digits "
            "and hyphens, e.g. sykkelplan"
        )
    return made


def existing_ids(directory: Path, *, skip: Iterable[Path] = ()) -> set[str]:
    """Returns the entry ids already used in a knowledge directory's YAML files."""
    ids: set[str] = set()
    skipped = {p.resolve() for p in skip}
    for path in sorted(directory.glob("*.y*ml")):
        if path.resolve() in skipped:
            continue
        try:
            data = load_yaml_text(path.read_text(encoding="utf-8"), name=str(path))
        except (OSError, UnicodeDecodeError, YamlError):
            continue  # `check` reports a broken file; here it only must not clash
        entries = data.get("entries") if isinstance(data, dict) else None
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                ids.add(entry["id"])
    return ids


def draft_entries(doc: RawDocument, *, source_id: str, taken: Iterable[str] = ()) -> str:
    """Returns YAML with one draft entry per paragraph or list item, to be curated by staff.

    Each draft carries ``status: draft`` (the bot does not answer from it until a
    person removes that line), quotes its paragraph and takes its first sentence as a
    placeholder phrasing; staff replace that with the words residents use and split
    paragraphs that hold several commitments. Ids are valid and unused in ``taken``.
    """
    root = CommentedMap()
    root["source"] = source_id
    entries = CommentedSeq()
    seen: set[str] = set(taken)
    for path, paragraphs in doc.sections:
        for passage, lead in _passages(paragraphs):
            entry_id = _new_id(path[-1], passage, seen)
            plain = LIST_MARKER.sub("", lead)
            first = _FIRST_SENTENCE.match(plain)
            entry = CommentedMap()
            entry["id"] = entry_id
            entry["status"] = DRAFT
            entry["section"] = section_key(path)
            entry["answer"] = FoldedScalarString(passage)
            entry["questions"] = CommentedSeq([first.group(1) if first else plain])
            entry["keywords"] = CommentedSeq()
            entries.append(entry)
    root["entries"] = entries
    header = (
        f"# Draft entries for '{source_id}', made by `python -m bot import`.\n"
        "# The bot does not answer from an entry while it has 'status: draft'. For each\n"
        "# entry: replace the placeholder phrasing with how residents ask (bokmål,\n"
        "# nynorsk, English, everyday words), split paragraphs that hold several\n"
        "# commitments, run `python -m bot check`, then delete the 'status: draft' line\n"
        "# (or write 'status: published') to publish it.\n"
    )
    return header + dump_yaml_text(root)


def _passages(paragraphs: list[str]) -> list[tuple[str, str]]:
    """Returns (passage, lead) to draft: each paragraph, a lead-in ending in ":" with its list."""
    out: list[tuple[str, str]] = []
    for i, paragraph in enumerate(paragraphs):
        items = []
        for after in paragraphs[i + 1 :]:
            if not LIST_MARKER.match(after):
                break
            items.append(after)
        if paragraph.endswith(":") and items and not LIST_MARKER.match(paragraph):
            out.append((" ".join([paragraph, *items]), paragraph))
        else:
            out.append((paragraph, paragraph))
    return out


def _new_id(heading: str, paragraph: str, seen: set[str]) -> str:
    """Returns an unused, valid id from a section's heading and a paragraph's first words."""
    room = ID_LIMIT - _SUFFIX_ROOM
    head = slug(heading, words=2, limit=20)
    base = slug(f"{head} {LIST_MARKER.sub('', paragraph)}", words=6, limit=room) or "entry"
    entry_id, n = base, 2
    while entry_id in seen:
        entry_id, n = f"{base}-{n}", n + 1
    seen.add(entry_id)
    return entry_id

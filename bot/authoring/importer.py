"""Drafts knowledge entries from a parsed source, so staff start from the document."""

from __future__ import annotations

import re

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import FoldedScalarString

from bot.core.sources import RawDocument, section_key
from bot.core.text import fold, words
from bot.core.yamlio import dump_yaml_text

_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")


def _slug(text: str, *, limit: int = 4) -> str:
    """Returns a short id-friendly slug of the first words of a text."""
    return "-".join(fold(w) for w in words(text)[:limit]) or "entry"


def draft_entries(doc: RawDocument, *, source_id: str) -> str:
    """Returns YAML with one draft entry per paragraph, to be curated by staff.

    Each draft quotes its paragraph and takes its first sentence as a placeholder
    phrasing; staff replace that with the words residents use and split paragraphs
    that hold several commitments.
    """
    root = CommentedMap()
    root["source"] = source_id
    entries = CommentedSeq()
    seen: set[str] = set()
    for path, paragraphs in doc.sections:
        for paragraph in paragraphs:
            base = f"{_slug(path[-1], limit=2)}-{_slug(paragraph)}"
            entry_id, n = base, 2
            while entry_id in seen:
                entry_id, n = f"{base}-{n}", n + 1
            seen.add(entry_id)
            first = _FIRST_SENTENCE.match(paragraph)
            entry = CommentedMap()
            entry["id"] = entry_id[:63].rstrip("-")
            entry["section"] = section_key(path)
            entry["answer"] = FoldedScalarString(paragraph)
            entry["questions"] = CommentedSeq([first.group(1) if first else paragraph])
            entry["keywords"] = CommentedSeq()
            entries.append(entry)
    root["entries"] = entries
    header = (
        f"# Draft entries for '{source_id}', made by `python -m bot import`.\n"
        "# For each entry: replace the placeholder phrasing with how residents ask\n"
        "# (bokmål, nynorsk, English, everyday words), split paragraphs that hold\n"
        "# several commitments, then run `python -m bot check`.\n"
    )
    return header + dump_yaml_text(root)

"""Teaching: adds a resident's question as a new phrasing of an entry, in its YAML file.

The file is edited with ruamel's round-trip mode, so its comments, order and layout
stay as staff wrote them. The change is checked on a scratch copy of the knowledge
directory first (it must load, and the new phrasing must find its entry); only then
is the file replaced, atomically.

A taught phrasing is answered by its entry word for word, so teaching refuses what
would make the bot claim more than the passage says: a question asking for something
the passage does not hold (the matcher's own "related" test), one that still holds a
redaction label, and one another entry already answers. ``force`` overrides these.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from bot.authoring.checks import phrasing_problems
from bot.core.errors import BotError, KnowledgeError
from bot.core.knowledge import KnowledgeBase, load_knowledge, phrasing_key
from bot.core.matcher import Matcher
from bot.core.messages import phrase
from bot.core.sources import squash
from bot.core.yamlio import round_trip_yaml
from bot.questionlog.privacy import redaction_in


class TeachError(BotError):
    """Raised when a phrasing cannot be taught; the message says why and what to do."""

    def __init__(self, message: str, *, overridable: bool = False) -> None:
        super().__init__(message)
        self.overridable = overridable  # an admin may teach it anyway (force)


def refusal(kb: KnowledgeBase, matcher: Matcher, entry_id: str, phrasing: str) -> str | None:
    """Returns why teaching a phrasing to an entry would make a wrong answer, or None."""
    label = redaction_in(phrasing)
    if label is not None:
        return (
            f"'{phrasing}' still holds the redaction label {label}: it is a resident's "
            "message, not a question other residents ask; teach a rewording without it"
        )
    current = matcher.match(phrasing)
    if current.answered and current.best is not None and current.best.entry_id != entry_id:
        return (
            f"'{phrasing}' would match another entry better than '{entry_id}': the bot "
            f"already answers it with entry '{current.best.entry_id}'. Teach it there, or "
            "reword that entry's phrasings if its answer is wrong"
        )
    missing = matcher.lacks(phrasing, entry_id)
    if missing is not None:
        what = phrase(f"missing_{missing}", "en")
        return (
            f"'{phrasing}' asks {what}, and the passage of entry '{entry_id}' does not "
            "say; taught, the bot would answer as if it did. A decline or partial answer "
            "is right here"
        )
    return None


def add_phrasing(directory: Path, entry_id: str, phrasing: str, *, force: bool = False) -> Path:
    """Adds a phrasing to an entry's YAML file after checking it (force: despite a refusal)."""
    phrasing = squash(phrasing)
    if not phrasing:
        raise TeachError("the phrasing is empty")
    if len(phrasing) > 300:
        raise TeachError("the phrasing is longer than 300 characters; shorten it")
    kb = load_knowledge(directory)
    entry = kb.by_id.get(entry_id)
    if entry is None:
        raise TeachError(f"no entry with id '{entry_id}'; see `python -m bot entries` for ids")
    key = phrasing_key(phrasing)
    for other in kb.entries:
        if any(phrasing_key(q) == key for q in other.questions):
            raise TeachError(f"'{phrasing}' is already a phrasing of entry '{other.id}'")

    # The check after adding would always pass (a phrasing finds its own entry), so
    # ask first whether the question as it stands is answered elsewhere or not at all.
    reason = None if force else refusal(kb, Matcher(kb), entry_id, phrasing)
    if reason is not None:
        raise TeachError(reason, overridable=True)
    new_text = _with_phrasing(entry.file.read_text(encoding="utf-8"), entry_id, phrasing)
    with tempfile.TemporaryDirectory(prefix="teach-") as scratch:
        copy = Path(scratch) / "knowledge"
        shutil.copytree(directory, copy, ignore=shutil.ignore_patterns(".*"))
        (copy / entry.file.name).write_text(new_text, encoding="utf-8")
        try:
            trial = load_knowledge(copy)
        except KnowledgeError as exc:
            raise TeachError(f"the change would break the knowledge base: {exc}") from exc
        problems = [
            p
            for p in phrasing_problems(trial, Matcher(trial), only=[entry_id])
            if phrasing in p.message
        ]
        if problems:
            raise TeachError(
                f"'{phrasing}' would match another entry better than '{entry_id}': "
                f"{problems[0].message}. Teach it to that entry, or reword it"
            )
    tmp = entry.file.with_name(f".{entry.file.name}.tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, entry.file)
    return entry.file


def _with_phrasing(text: str, entry_id: str, phrasing: str) -> str:
    """Returns the YAML text with the phrasing added after the entry's last question.

    The new line is inserted into the text itself, so every other byte of the file
    (comments, wrapping, flow lists) stays exactly as it was.
    """
    yaml = round_trip_yaml()
    data = yaml.load(text)
    item = next(
        (i for i in data.get("entries") or [] if isinstance(i, dict) and i.get("id") == entry_id),
        None,
    )
    if item is None:  # pragma: no cover - load_knowledge found the entry in this file
        raise TeachError(f"entry '{entry_id}' not found in its file")
    questions = item["questions"]
    lines = text.splitlines(keepends=True)
    if questions.fa.flow_style() or not questions:
        # A one-line [a, b] list: rewrite it through the round-trip dumper instead.
        questions.append(phrasing)
        out = io.StringIO()
        yaml.dump(data, out)
        return out.getvalue()
    last_line, column = questions.lc.item(len(questions) - 1)
    dash = column - 2
    end = last_line + 1
    while end < len(lines):
        stripped = lines[end].strip()
        indent = len(lines[end]) - len(lines[end].lstrip())
        if not stripped or indent <= dash or stripped.startswith("#"):
            break
        end += 1
    scalar = io.StringIO()
    one_line = round_trip_yaml()
    one_line.width = 1_000_000
    one_line.dump([phrasing], scalar)
    item_text = scalar.getvalue().strip()[2:]
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, f"{' ' * dash}- {item_text}\n")
    return "".join(lines)

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
from bot.core.facts import NAMED
from bot.core.knowledge import KnowledgeBase, load_knowledge, phrasing_key
from bot.core.matcher import Matcher
from bot.core.messages import phrase
from bot.core.sources import squash
from bot.core.yamlio import round_trip_yaml
from bot.questionlog.privacy import redaction_in


class TeachError(BotError):
    """Raised when a phrasing cannot be taught; the message (Norwegian) says why and what to do."""

    def __init__(self, message: str, *, overridable: bool = False) -> None:
        super().__init__(message)
        self.overridable = overridable  # an admin may teach it anyway (force)


def _nb(key: str, **values: str) -> str:
    """Returns one of teaching's Norwegian sentences, filled in."""
    return phrase(key, "nb", **values)


def _missing_text(missing: str) -> str:
    """Returns what a question asks for that a passage lacks, in words ("når", a name)."""
    if missing.startswith(NAMED):
        return missing.removeprefix(NAMED)
    return _nb("teach_missing_detail" if missing == "detail" else f"missing_{missing}")


def refusal(kb: KnowledgeBase, matcher: Matcher, entry_id: str, phrasing: str) -> str | None:
    """Returns why teaching a phrasing to an entry would make a wrong answer, or None."""
    label = redaction_in(phrasing)
    if label is not None:
        return _nb("teach_redacted", phrasing=phrasing, label=label)
    current = matcher.match(phrasing)
    if current.answered and current.best is not None and current.best.entry_id != entry_id:
        other = current.best.entry_id
        return _nb("teach_answered_elsewhere", phrasing=phrasing, entry=entry_id, other=other)
    missing = matcher.lacks(phrasing, entry_id)
    if missing is not None:
        what = _missing_text(missing)
        return _nb("teach_lacks", phrasing=phrasing, what=what, entry=entry_id)
    return None


def add_phrasing(directory: Path, entry_id: str, phrasing: str, *, force: bool = False) -> Path:
    """Adds a phrasing to an entry's YAML file after checking it (force: despite a refusal)."""
    phrasing = squash(phrasing)
    if not phrasing:
        raise TeachError(_nb("teach_empty"))
    if len(phrasing) > 300:
        raise TeachError(_nb("teach_too_long"))
    kb = load_knowledge(directory)
    entry = kb.by_id.get(entry_id)
    if entry is None:
        raise TeachError(_nb("teach_unknown_entry", entry=entry_id))
    key = phrasing_key(phrasing)
    for other in kb.entries:
        if any(phrasing_key(q) == key for q in other.questions):
            raise TeachError(_nb("teach_duplicate", phrasing=phrasing, entry=other.id))

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
            raise TeachError(_nb("teach_breaks", error=str(exc))) from exc
        problems = [
            p
            for p in phrasing_problems(trial, Matcher(trial), only=[entry_id])
            if phrasing in p.message
        ]
        if problems:
            problem = problems[0].message.rstrip(".")
            raise TeachError(_nb("teach_taken", phrasing=phrasing, entry=entry_id, problem=problem))
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
        raise TeachError(_nb("teach_not_in_file", entry=entry_id))
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

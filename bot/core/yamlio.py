"""Safe YAML reading with line numbers, and round-trip writing that keeps comments.

Reading uses PyYAML's C parser (libyaml) for speed, and keeps the line of every key
and item so errors can point at them. Writing (teaching) uses ruamel's round-trip
mode, which keeps staff's comments and layout.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML

# A knowledge file is a few hundred kilobytes at most; anything far larger is a mistake
# or an attack, and parsing it would stall the bot.
MAX_YAML_BYTES = 2_000_000
_MAX_DEPTH = 50

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class YamlError(Exception):
    """Raised when YAML text cannot be read; ``line`` is 1-based where known."""

    message: str
    line: int | None = None
    fix: str | None = None

    def __str__(self) -> str:
        return self.message


class LineDict(dict[Any, Any]):
    """A mapping read from YAML that remembers the line of each key."""

    line: int = 0
    lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence read from YAML that remembers the line of each item."""

    line: int = 0
    lines: list[int]


def round_trip_yaml() -> YAML:
    """Returns a ruamel round-trip YAML instance configured for knowledge files."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def load_yaml_text(text: str, *, name: str = "<text>") -> Any:
    """Parses YAML text into dicts and lists that know their lines; refuses aliases and size."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlError(
            f"file is larger than {MAX_YAML_BYTES // 1_000_000} MB",
            line=1,
            fix="split it into several smaller files",
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, loader, seen=set(), depth=0)
    except yaml.MarkedYAMLError as exc:
        # At "end of stream" the problem mark is the end of the file; the context
        # mark says where the unclosed quote or bracket started.
        end_of_stream = "end of stream" in (exc.problem or "")
        mark = (exc.context_mark if end_of_stream else None) or exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message, fix = explain_yaml_problem(exc.problem or exc.context or "")
        raise YamlError(f"invalid YAML: {message}", line=line, fix=fix) from exc
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


# libyaml's problem texts, each with what it means to someone editing a file and the fix.
_YAML_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    ("tab", "this line is indented with a tab", "indent with spaces, not tabs"),
    (
        "mapping values are not allowed",
        "a value holds ': ' (a colon and a space), which YAML reads as a new field",
        'put the text in quotes ("…"), or write a long text on the lines after ">-"',
    ),
    (
        "end of stream",
        "a quote opened here is never closed",
        "close the quote at the end of the text (check the quoting: a text that holds "
        "\" is written in ' quotes)",
    ),
    (
        "expected ',' or ']'",
        "a [list] opened here is not closed",
        "close it with ']', or write the items on lines starting with '- '",
    ),
    (
        "expected ',' or '}'",
        "a {mapping} opened here is not closed",
        "close it with '}', or put the text in quotes",
    ),
    (
        "cannot start any token",
        "a value starts with a character YAML reserves (such as @ or `)",
        "put the text in quotes",
    ),
    (
        "could not find expected ':'",
        "a line is neither 'field: value' nor '- item'",
        "add ': ' after the field name, or check the indentation of the line above",
    ),
    (
        "expected",
        "this line does not line up with the lines around it",
        "check the indentation (spaces only: fields of an entry under each other, items "
        "under their field) and the quoting of the line above",
    ),
)


def explain_yaml_problem(problem: str) -> tuple[str, str]:
    """Returns a plain description of a libyaml problem and how to fix it."""
    for clue, message, fix in _YAML_PROBLEMS:
        if clue in problem:
            return message, fix
    return (
        problem or "the text cannot be read",
        "check indentation and quoting around this line (values with ': ' need quotes)",
    )


def _convert(node: yaml.Node, loader: Any, *, seen: set[int], depth: int) -> Any:
    line = node.start_mark.line + 1
    if id(node) in seen:
        # The composer turns an alias into the node it names: meeting a node twice
        # means *alias. Staff never need them, and nested ones ("billion laughs")
        # would make validation walk an exponential structure.
        raise YamlError(
            "YAML aliases (*name) are not allowed",
            line=line,
            fix="write the value out where the *name stands",
        )
    if depth > _MAX_DEPTH:
        raise YamlError("invalid YAML: nested too deeply", line=line, fix="flatten the nesting")
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node)
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        seq = LineList(_convert(item, loader, seen=seen, depth=depth + 1) for item in node.value)
        seq.line, seq.lines = line, [item.start_mark.line + 1 for item in node.value]
        return seq
    mapping = LineDict()
    mapping.line, mapping.lines = line, {}
    for key_node, value_node in node.value:
        key = _convert(key_node, loader, seen=seen, depth=depth + 1)
        if isinstance(key, (dict, list)):
            raise YamlError(
                "invalid YAML: a key must be plain text", line=key_node.start_mark.line + 1
            )
        if key in mapping:
            raise YamlError(f"key '{key}' appears twice", line=key_node.start_mark.line + 1)
        mapping[key] = _convert(value_node, loader, seen=seen, depth=depth + 1)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def line_of(node: Any, key: str | int | None = None) -> int | None:
    """Returns the 1-based line of a mapping key or sequence item, or of the node itself."""
    if isinstance(node, LineDict):
        return node.lines.get(key, node.line) if key is not None else node.line
    if isinstance(node, LineList):
        if isinstance(key, int) and 0 <= key < len(node.lines):
            return node.lines[key]
        return node.line
    return None


def to_plain(node: Any) -> Any:
    """Returns a copy of line-aware containers as plain dicts, lists and scalars."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


def dump_yaml_text(data: Any) -> str:
    """Serialises data as block-style YAML."""
    stream = io.StringIO()
    round_trip_yaml().dump(data, stream)
    return stream.getvalue()

"""Safe YAML reading with line numbers, and round-trip writing that keeps comments."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

# A knowledge file is a few hundred kilobytes at most; anything far larger is a mistake
# or an attack, and parsing it would stall the bot.
MAX_YAML_BYTES = 2_000_000


@dataclass
class YamlError(Exception):
    """Raised when YAML text cannot be read; ``line`` is 1-based where known."""

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return self.message


def round_trip_yaml() -> YAML:
    """Returns a ruamel round-trip YAML instance configured for knowledge files."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def load_yaml_text(text: str, *, name: str = "<text>") -> Any:
    """Parses YAML text into round-trip containers, refusing aliases and oversize input."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlError(f"file is larger than {MAX_YAML_BYTES // 1_000_000} MB", line=1)
    yaml = round_trip_yaml()
    try:
        # Aliases are refused outright: staff never need them, and nested ones
        # ("billion laughs") would make validation walk an exponential structure.
        for event in yaml.parse(io.StringIO(text)):
            if isinstance(event, AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else None
                raise YamlError(
                    "YAML aliases (*name) are not allowed; write the value out", line=line
                )
        return yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(f"invalid YAML: {problem}", line=line) from exc
    except YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise YamlError("invalid YAML: nested too deeply") from exc


def line_of(node: Any, key: str | int | None = None) -> int | None:
    """Returns the 1-based line of a mapping key or sequence item, or of the node itself."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is not None and isinstance(node, CommentedMap) and key in node:
            return lc.key(key)[0] + 1
        if key is not None and isinstance(node, CommentedSeq) and isinstance(key, int):
            return lc.item(key)[0] + 1
    except (KeyError, IndexError, TypeError):
        pass
    return lc.line + 1


def to_plain(node: Any) -> Any:
    """Returns a copy of round-trip containers as plain dicts, lists and scalars."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def dump_yaml_text(data: Any) -> str:
    """Serialises data as block-style YAML."""
    stream = io.StringIO()
    round_trip_yaml().dump(data, stream)
    return stream.getvalue()

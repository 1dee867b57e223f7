"""The word lists of the answering core, kept as data files beside this module.

Each file is YAML: a mapping of list names to either a string of white-space-separated
words or a list/mapping. They are read once, at first use, with PyYAML's safe loader.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent


@cache
def lexicon(name: str) -> dict[str, Any]:
    """Returns the parsed word-list file ``name`` (without ``.yaml``)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (_HERE / f"{name}.yaml").open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=loader)
    if not isinstance(data, dict):
        raise TypeError(f"lexicon file {name}.yaml must hold a mapping")
    return data


def word_list(name: str, key: str) -> list[str]:
    """Returns the words of one list in a word-list file."""
    value = lexicon(name)[key]
    return value.split() if isinstance(value, str) else [str(v) for v in value]

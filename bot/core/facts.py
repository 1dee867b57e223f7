"""What a question asks for, from its form, and what a passage holds, from its words.

"Når får Kongsvingerbanen halvtimesavganger?" asks for a time; the passage on more
frequent departures holds none, so the bot says the documents do not say when and
quotes what they do say. Kinds: time, duration, place, person, amount, outcome
("klarte de det?"), and the cue kinds (contact, hours, price, deadline, timetable, now,
service, weather, howto).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from bot.core.lexicon import lexicon
from bot.core.text import CUE_KIND, HOWTO_CUE, OFFICE_CUE

# Intent tokens (see text.content_stems) and the kind of fact each asks for.
_INTENT_KIND = {
    "?tid": "time",
    "?varighet": "duration",
    "?hvor": "place",
    "?antall": "amount",
    "?mengde": "amount",
}
# What a passage must hold to answer each kind; the cue kinds no passage holds unless
# its own words say so (checked by the matcher against the entry's words).
_HELD_BY = {
    "time": ("time",),
    "duration": ("time", "amount"),
    "place": ("place", "place_cased"),
    "person": ("person_cased",),
    "name": ("person_cased", "place_cased", "amount"),
    "amount": ("amount",),
    "outcome": ("outcome",),
}


@cache
def _pattern(name: str, section: str = "held") -> re.Pattern[str]:
    """Returns the compiled pattern ``name`` of the facts lexicon."""
    flags = 0 if name.endswith("_cased") else re.IGNORECASE
    return re.compile(str(lexicon("facts")[section][name]).strip(), flags)


def kind_of(token: str) -> str | None:
    """Returns the kind of fact an intent or cue token asks for, or None for a word."""
    if token.startswith("?"):
        return _INTENT_KIND.get(token)
    if not token.startswith("!"):
        return None
    if token == OFFICE_CUE:
        return "person"
    if token == HOWTO_CUE:
        return "howto"
    if token[1:].isdigit():
        return "now"  # a year after the document's period
    return CUE_KIND.get(token, "detail")


def asked_kinds(question: str, tokens: Sequence[str]) -> list[str]:
    """Returns the kinds of fact a question asks for, from its intents, cues and form.

    An interrogative asks only where it leads the question: "når ble de slått sammen"
    asks for a time, "mister de jobben når kommunene slås sammen" does not.
    """
    kinds: list[str] = []
    for i, token in enumerate(tokens):
        if token.startswith("?") and i > 0:
            continue
        kind = kind_of(token)
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    if _pattern("person", "asks").search(question) and "person" not in kinds:
        kinds.append("person")
    if _pattern("which", "asks").search(question) and not kinds:
        kinds.append("name")
    if _pattern("which_year", "asks").search(question) and "time" not in kinds:
        kinds.append("time")
    if _pattern("outcome", "asks").search(question):
        kinds.append("outcome")
    return kinds


def asks_description(question: str) -> bool:
    """Tells whether a question asks what something is or does ("hva gjør de der?")."""
    return bool(_pattern("describe", "asks").search(question))


def holds(passage: str, kind: str) -> bool:
    """Tells whether a passage holds a fact of the kind (a time, a place, an amount …)."""
    names = _HELD_BY.get(kind)
    if names is None:
        return False  # cue kinds: only the entry's own words can say so (see the matcher)
    return any(_pattern(name).search(passage) for name in names)


# What MatchResult.missing starts with when the question names something the passage
# does not ("name:Lørenskog"); the rest is the name, as the resident wrote it.
NAMED = "name:"

_LOCAL = frozenset(str(lexicon("facts")["local_places"]).split())


def names_in(question: str, *, local: bool = False) -> list[str]:
    """Returns the names a question uses (mid-sentence capitalised words, acronyms), less
    the municipality's own places, which its passages are about (unless ``local``)."""
    found = _pattern("named_cased", "names").findall(question)
    return [n for n in dict.fromkeys(found) if local or n.casefold() not in _LOCAL]

"""Norwegian-aware text normalisation: cleaning, tokens, stop words, stems and folding.

Residents write bokmål, nynorsk, dialect and English, often without æ/ø/å. Every
word goes through the same steps, for questions and for the knowledge base alike:
clean (Unicode NFKC, no control or zero-width characters), lowercase, split into
words, drop words that carry no topic, reduce to a Snowball stem, and fold æ/ø/å
and their ae/oe/aa spellings to one form.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]  # ships no type hints

from bot.core.lexicon import lexicon, word_list

# Questions longer than this are cut before matching, so a 100,000-character message
# costs no more than a long question. No genuine question needs more.
MAX_QUESTION_CHARS = 500

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

_STOP_NB = word_list("stopwords", "nb")
_STOP_NN = word_list("stopwords", "nn")
_STOP_EN = word_list("stopwords", "en")
_NOISE = frozenset(word_list("stopwords", "noise"))

SMALLTALK: dict[str, list[str]] = {
    kind: words_.split() for kind, words_ in lexicon("smalltalk")["kinds"].items()
}
_HELP_PHRASES = tuple(word_list("smalltalk", "help_phrases"))
_BYE_PHRASES = tuple(word_list("smalltalk", "bye_phrases"))

_ENGLISH_MARKERS = frozenset(word_list("language", "english"))
_NORWEGIAN_MARKERS = frozenset(word_list("language", "norwegian"))
_PLACES = frozenset(word_list("language", "places"))

_FOLD = [
    ("æ", "e"),
    ("ae", "e"),
    ("ø", "o"),
    ("oe", "o"),
    ("å", "a"),
    ("aa", "a"),
    ("ä", "e"),
    ("ö", "o"),
    ("ü", "u"),
    ("é", "e"),
    ("è", "e"),
    ("ó", "o"),
]

# Snowball stemmer objects keep per-call state and are not thread-safe (PyStemmer says
# so); the knowledge is rebuilt in a worker thread while residents are answered, so
# each thread gets its own.
_stemmers = threading.local()


def _snowball(word: str) -> str:
    """Returns the Snowball (Norwegian) stem of a word, with this thread's stemmer."""
    stemmer = getattr(_stemmers, "norwegian", None)
    if stemmer is None:
        stemmer = _stemmers.norwegian = snowballstemmer.stemmer("norwegian")
    stemmed: str = stemmer.stemWord(word)
    return stemmed


def clean(text: str) -> str:
    """Returns text in NFKC without control, format (zero-width) or private-use characters."""
    text = unicodedata.normalize("NFKC", text)
    if text.isprintable():  # the common case, checked in C
        return text
    # Format characters (zero-width space, soft hyphen) sit inside words: drop them.
    # Control characters (newlines, NUL) separate words: make them spaces.
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] != "C":
            out.append(ch)
        elif cat != "Cf":
            out.append(" ")
    return "".join(out)


def cut(text: str, *, limit: int = MAX_QUESTION_CHARS) -> str:
    """Returns the text cut to ``limit`` characters at a word boundary where possible."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit // 2 else head


def words(text: str) -> list[str]:
    """Returns the lowercase words of a text, after cleaning and cutting."""
    # Single letters are clitics and stray characters ("går'n", "a"), never a topic.
    return [w for w in _WORD.findall(clean(cut(text)).casefold()) if len(w) > 1 or w.isdigit()]


def surface(text: str) -> str:
    """Returns a text's folded words, stop words kept, sorted: its wording's shape."""
    return " ".join(sorted(fold(w) for w in words(text)))


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Returns a word with æ/ø/å and their ae/oe/aa spellings folded to e/o/a."""
    for old, new in _FOLD:
        word = word.replace(old, new)
    return word


def _forms_table(table: list[str]) -> dict[str, str]:
    """Returns each listed form mapped to the stem of its line's first word."""
    out: dict[str, str] = {}
    for line in table:
        forms = line.split()
        root = fold(_snowball(forms[0]))
        for form in forms:
            out.setdefault(fold(form), root)
    return out


# Built at import, not on first use: stems are cached, and a half-built table seen
# from the reload thread would cache a wrong stem for good.
_FORM_OF = _forms_table(word_list("forms", "irregular"))
_OWN_STEM: dict[str, str] = dict(lexicon("forms")["own_stem"])
# Snowball strips "-lege" as if it were the adjective ending ("offentlege"), so
# "fastlege" became "fast" and found the entry on permanent jobs. Doctors keep theirs.
_DOCTOR = re.compile(
    r"^(" + "|".join(word_list("forms", "doctor_prefixes")) + r")lege(n|r|ne|ar|ane)?s?$"
)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Returns the folded Snowball stem of a lowercase word (computed once per word)."""
    if word in _OWN_STEM:
        return _OWN_STEM[word]
    doctor = _DOCTOR.match(word)
    if doctor:
        return fold(doctor[1]) + "lege"
    return _FORM_OF.get(fold(word)) or fold(_snowball(word))


STOPWORDS: frozenset[str] = frozenset(fold(w) for w in (*_STOP_NB, *_STOP_NN, *_STOP_EN, *_NOISE))
_SMALLTALK_WORDS = {kind: frozenset(fold(w) for w in ws) for kind, ws in SMALLTALK.items()}
_ALL_SMALLTALK = frozenset().union(*_SMALLTALK_WORDS.values())


def is_stopword(word: str) -> bool:
    """Tells whether a lowercase word carries no topic."""
    return fold(word) in STOPWORDS


# What a question asks for says which of two nearby passages answers it ("how many
# live here" wants the population, "why merge" the reasons), so interrogatives become
# intent tokens instead of being dropped with the other stop words.
_INTENT_PAIRS: dict[tuple[str, str], str] = {
    (pair.split()[0], pair.split()[1]): intent
    for pair, intent in lexicon("intents")["pairs"].items()
}
_INTENT_WORDS: dict[str, str] = dict(lexicon("intents")["words"])


# Questions after things the source documents never hold: contact details, opening
# hours, prices in kroner, deadlines, timetables, collection days and the weather. Such
# a word becomes a "!" token. The matcher declines a question whose cue its best entry's
# own words (phrasings, keywords, passage) do not share, so "når åpner biblioteket" is
# declined while a phrasing "får helsestasjonen lengre åpningstid" still finds its
# passage. Words with an everyday second sense ("åpen barnehage", "nok skoler", "next
# term", "naturlig avgang") are left out.
_OUT_OF_SCOPE = {
    fold(w): "!" + stem(w)
    for words_ in lexicon("cues")["out_of_scope"].values()
    for w in words_.split()
}
# What each cue asks for ("contact", "hours", "price" …), to name the gap in a reply.
CUE_KIND: dict[str, str] = {
    "!" + stem(w): kind
    for kind, words_ in lexicon("cues")["out_of_scope"].items()
    for w in words_.split()
}
_OUT_OF_SCOPE_STEMS = {
    stem(w): _OUT_OF_SCOPE[fold(w)] for w in word_list("cues", "out_of_scope_by_stem")
}
# "Hvordan søker jeg", "how do I register": a resident asking how to use a service,
# which a political platform never says; only an entry whose phrasings ask it so answers.
HOWTO_CUE = "!howto"
# "Hvordan blir jeg påvirket", "how will I notice" ask about impact, not a service.
_HOWTO = re.compile(
    r"\b(?:(?:hvordan|åssen|assen|korleis|kordan)\s+(?:(?!blir\b|vil\b|kommer\b|merker\b)"
    r"\w+\s+)?(?:jeg|eg|æ|je)|how\s+(?:(?!will\b|am\b|would\b)\w+\s+)?i)\b",
    re.IGNORECASE,
)
# "i dag", "i år", "this year" ask about now, like "idag": the pair becomes one word.
_NOW = re.compile(r"\b(i|this)\s+(dag|morgen|kveld|natt|år|aar|year|week)\b", re.IGNORECASE)
# "Hvem er ordfører": the documents name no office holders, so this cue is always
# declined; the matcher ignores it in phrasings, where it would only be a mistake.
OFFICE_CUE = "!office"
# "Neste buss", "next train": a timetable question, though "neste periode" is not.
_NEXT = frozenset(word_list("cues", "next"))
_DEPARTING = frozenset(fold(w) for w in word_list("cues", "departing"))
_OFFICES = frozenset(fold(w) for w in word_list("cues", "offices"))


def content_stems(text: str) -> list[str]:
    """Returns the stems of the topic-bearing words and question intents of a text, in order."""
    text = clean(cut(text))
    out = [HOWTO_CUE] if _HOWTO.search(text) else []
    tokens = words(_NOW.sub(r"\1\2", text))
    skip = False
    for i, word in enumerate(tokens):
        if skip:
            skip = False
            continue
        if i + 1 < len(tokens):
            following = tokens[i + 1]
            pair = _INTENT_PAIRS.get((fold(word), fold(following))) or _INTENT_PAIRS.get(
                (word, following)
            )
            if pair is not None:
                out.append(pair)
                skip = True
                continue
        kind, value = _classify(word)
        if kind == "next":
            # "neste avgang": a timetable question only when a departure word follows;
            # otherwise the word is an ordinary one ("" when a stop word).
            if i + 1 < len(tokens) and fold(tokens[i + 1]) in _DEPARTING:
                out.append(_OUT_OF_SCOPE["rutetid"])
            elif value:
                out.append(value)
            continue
        if kind != "stop":
            out.append(value)
    if "?hvem" in out and any(fold(w) in _OFFICES for w in tokens):
        out.append(OFFICE_CUE)  # "hvem er ordfører": the documents name no office holders
    return out


_CUE_HEADS = {stem(w): _OUT_OF_SCOPE[fold(w)] for w in word_list("cues", "compound_heads")}


def _cue_head(stemmed: str) -> str | None:
    """Returns the cue of a compound whose last part is one ("nettadressen": contact)."""
    for head, cue in _CUE_HEADS.items():
        # At least three letters before it: a word of its own, not an inflection.
        if stemmed.endswith(head) and len(stemmed) - len(head) >= 3:
            return cue
    return None


@lru_cache(maxsize=200_000)
def _classify(word: str) -> tuple[str, str]:
    """Returns what one word is to content_stems (computed once per distinct word)."""
    intent = _INTENT_WORDS.get(word)
    if intent is not None:
        return "intent", intent
    folded = fold(word)
    if word.isdigit() and len(word) == 4 and word > "2023":
        return "cue", "!" + word  # a year after the platform's period asks about today
    stemmed = stem(word)
    cue = _OUT_OF_SCOPE.get(folded) or _OUT_OF_SCOPE_STEMS.get(stemmed) or _cue_head(stemmed)
    if cue is not None:
        return "cue", cue
    if folded in _NEXT:
        return "next", "" if folded in STOPWORDS else stem(word)
    if folded in STOPWORDS:
        return "stop", ""
    return "stem", stem(word)


def smalltalk_kind(text: str) -> str | None:
    """Returns greeting/thanks/help/bye when the text is only small talk, else None."""
    tokens = [fold(w) for w in words(text)]
    if not tokens or len(tokens) > 8:
        return None
    joined = " ".join(tokens)
    if any(joined.startswith(fold(p)) for p in _HELP_PHRASES) and all(
        t in STOPWORDS or t in _ALL_SMALLTALK for t in tokens
    ):
        return "help"
    if joined in _BYE_PHRASES:
        return "bye"
    if any(t not in _ALL_SMALLTALK and t not in STOPWORDS for t in tokens):
        return None
    for kind in ("help", "thanks", "bye", "greeting"):
        if any(t in _SMALLTALK_WORDS[kind] for t in tokens):
            return kind
    return None


def detect_language(text: str, *, default: str = "nb") -> str:
    """Returns "en" when a text reads as English, else the default ("nb")."""
    tokens = words(text)
    if not tokens:
        return default
    if any(t not in _PLACES and any(ch in t for ch in "æøå") for t in tokens):
        return "nb"
    english = sum(t in _ENGLISH_MARKERS for t in tokens)
    norwegian = sum(t in _NORWEGIAN_MARKERS for t in tokens)
    if english > norwegian and english >= 1:
        return "en"
    return default if english == norwegian else "nb"

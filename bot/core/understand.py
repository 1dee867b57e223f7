"""Reads a resident's message: the questions it asks, and the story around them.

"Vi har bodd på Fetsund siden 1998 … I dag hørte jeg at den skal legges ned. Stemmer
det?" holds one question ("Stemmer det?") and a story that names its topic. The
question is the focus: decline cues and what is asked for are read from it alone; the
story helps find the topic but never vetoes it. Pure text work, no matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.lexicon import word_list
from bot.core.text import clean, content_stems, fold, is_stopword, words

# Telegram's own limit: a message is read whole, up to this length.
MAX_MESSAGE_CHARS = 4096
# At most this many questions of one message are answered.
MAX_QUESTIONS = 3

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»”')]*\s+|\n+")
_QUESTION_STARTS = frozenset(fold(w) for w in word_list("message", "question_starts"))
_FOLLOW_UP_STARTS = tuple(
    sorted((fold(p) for p in word_list("message", "follow_up_starts")), key=len, reverse=True)
)
_POINTS_BACK = frozenset(fold(w) for w in word_list("message", "points_back"))
_POINTS_BACK_AFTER = frozenset(fold(w) for w in word_list("message", "points_back_after"))
_JOINERS = "|".join(word_list("message", "joiners"))
_STARTS = "|".join(sorted(_QUESTION_STARTS, key=len, reverse=True))
# "…, og beholdes legevakta?" or "… og hva med …": a second question in one sentence.
_SPLIT = re.compile(
    rf",\s+(?:{_JOINERS})\s+|\s+(?:{_JOINERS})\s+(?=(?:{_STARTS})\b)", re.IGNORECASE
)


@dataclass(frozen=True)
class Message:
    """A message read: the questions asked (in order) and the story around them."""

    questions: tuple[str, ...]
    context: str = ""


def sentences(text: str) -> list[str]:
    """Returns the sentences of a text, each stripped, none empty."""
    return [s.strip() for s in _SENTENCE_END.split(clean(text)) if s and s.strip()]


def asks(sentence: str) -> bool:
    """Tells whether a sentence asks something: a question mark or a question's first word.

    A sentence that ends with a full stop states something, whatever its first word
    ("Når jeg besøker tante …", "Far min er 84 …"): "når" and "får" open stories too.
    """
    end = sentence.rstrip()
    if end.endswith("?"):
        return True
    if end.endswith((".", "!")):
        return False
    first = words(sentence)[:1]
    return bool(first) and fold(first[0]) in _QUESTION_STARTS


def topic_words(text: str) -> int:
    """Returns how many topic-bearing words a text has (intents and cues not counted)."""
    return sum(1 for t in content_stems(text) if t[0] not in "?!")


def is_follow_up(question: str) -> bool:
    """Tells whether a question leans on the one before ("og Fet?", "hvorfor det?")."""
    folded = " ".join(fold(w) for w in words(question))
    if any(folded == p or folded.startswith(p + " ") for p in _FOLLOW_UP_STARTS):
        return True
    return topic_words(question) <= 1 and len(folded.split()) <= 6


def points_back(question: str) -> bool:
    """Tells whether a question points back into what came before ("noe sånt?", "den")."""
    folded = [fold(w) for w in words(question)]

    # "… slik at bussen går oftere?" joins a purpose, it points at nothing; nor does "den"
    # or "det" as the article before an adjective ("den nye svømmehallen"; "blir den
    # fulgt opp?" is a pronoun). "Det" after a preposition ("regnskap over det?") points
    # back, "Blir det …?" does not.
    def article(w: str, following: str) -> bool:
        return w in ("den", "det") and following.endswith("e") and not is_stopword(following)

    return any(
        not article(w, following)
        and (
            (w in _POINTS_BACK and not (w.startswith("slik") and following == "at"))
            or (w in ("det", "it") and before in _POINTS_BACK_AFTER)
        )
        for before, w, following in zip(["", *folded[:-1]], folded, [*folded[1:], ""], strict=True)
    )


def _split(sentence: str) -> list[str]:
    """Returns the questions of one sentence: "A, og B?" is two when both have a topic."""
    parts = [p.strip(" ,;") for p in _SPLIT.split(sentence) if p and p.strip(" ,;")]
    if len(parts) > 1 and all(topic_words(p) >= 1 for p in parts):
        return parts
    return [sentence]


def read_message(text: str, *, vague_words: float) -> Message:
    """Returns the questions a message asks and the story around them.

    A question with at most ``vague_words`` topic words that points back ("Kunne ikke vi
    fått noe lignende her?") is told, not asked, when the message asks another question
    of its own: it belongs to the story.
    """
    text = clean(text)[:MAX_MESSAGE_CHARS]
    parts = sentences(text)
    if len(parts) <= 1:
        return Message(tuple(_split(text.strip())[:MAX_QUESTIONS]) or (text.strip(),))
    asked = [s for s in parts if asks(s)] or [parts[-1]]
    story = " ".join(s for s in parts if s not in asked)
    # "Stemmer det?" after a real question adds nothing of its own: it leans on it; nor
    # does "Kunne vi fått noe sånt her?" before one.
    full = [s for s in asked if topic_words(s) >= 1]
    vague = [points_back(s) and topic_words(s) <= vague_words for s in full]
    full = [s for i, s in enumerate(full) if not (vague[i] and not all(vague[i + 1 :]))]
    questions: list[str] = []
    for sentence in full or asked[-1:]:
        questions.extend(_split(sentence))
    leaning = [s for s in asked if s not in full]
    if full and leaning:
        story = " ".join((story, *leaning)).strip()
    return Message(tuple(questions[:MAX_QUESTIONS]), story)

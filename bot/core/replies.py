"""The bot's words: answers, clarifications, declines and small talk, in Norwegian or English.

The same ``Reply`` renders as plain text for the console and as Telegram HTML, so
both channels say the same thing. Quoted passages stay exactly as the source wrote
them; everything that comes from text is escaped for HTML.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.facts import NAMED
from bot.core.knowledge import Entry, KnowledgeBase
from bot.core.matcher import (
    AMBIGUOUS,
    ANSWERED,
    DECLINED,
    RELATED,
    SMALLTALK,
    Candidate,
    MatchResult,
)
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.sources import SourceMeta

TELEGRAM_LIMIT = 4096
# Kept free of the limit: the budget below counts escaped text, which is never shorter
# than what Telegram counts, so this only guards against a miscount.
SLACK = 100


@dataclass(frozen=True)
class Reply:
    """What the bot says to one question, before it is rendered for a channel.

    A message with several questions gets one reply per question: the first is this
    one, the others are in ``more``, and each names the question it answers.
    """

    result: MatchResult
    entry: Entry | None = None
    source: SourceMeta | None = None
    alternatives: tuple[tuple[Candidate, Entry], ...] = ()
    more: tuple[Reply, ...] = ()
    # The documents the bot answers from, named in a decline and in small talk.
    known: tuple[SourceMeta, ...] = field(default=(), compare=False, repr=False)

    @property
    def language(self) -> str:
        return self.result.language

    @property
    def outcome(self) -> str:
        return self.result.outcome

    @property
    def parts(self) -> tuple[Reply, ...]:
        """Returns the reply to each question of the message, this one first."""
        return (self, *self.more)

    def citation(self) -> str:
        """Returns the source line: document, its date or period, and section."""
        if self.entry is None or self.source is None:
            return ""
        return (
            f"{phrase('source', self.language)}: {self.source.title} "
            f"({self.source.when}) › {self.entry.section}"
        )

    def _gap(self) -> str:
        """Returns the sentence that says what the documents do not hold (RELATED)."""
        missing = self.result.missing or "detail"
        if missing.startswith(NAMED):
            what = missing.removeprefix(NAMED)  # "Dokumentene sier ikke noe om Lørenskog."
        else:
            what = phrase("missing_" + missing, self.language)
        return phrase("related", self.language, what=what)

    def _understood(self) -> str:
        """Returns the line saying what the bot took the question to be, for an answer
        found through the story around it (ending in a newline), else nothing."""
        if not (self.result.inferred and self.entry):
            return ""
        return phrase("inferred", self.language, topic=self.entry.label) + "\n"

    def as_text(self) -> str:
        """Renders the reply (every part of it) as plain text, for the console."""
        if not self.more:
            return self._part_text()
        return "\n\n".join(
            f"{phrase('about', self.language, question=part.result.question)}\n"
            + part._part_text(numbered=False)
            for part in self.parts
        )

    def _part_text(self, *, numbered: bool = True) -> str:
        lang = self.language
        if self.outcome == ANSWERED and self.entry:
            return f"{self._understood()}«{self.entry.answer}»\n\n— {self.citation()}"
        if self.outcome == RELATED and self.entry:
            return f"{self._gap()}\n«{self.entry.answer}»\n\n— {self.citation()}"
        if self.outcome == AMBIGUOUS:
            if not numbered:
                return phrase("unsure_short", lang, options=self._options())
            options = "\n".join(
                f"  {i}. {entry.label}" for i, (_, entry) in enumerate(self.alternatives, 1)
            )
            return f"{phrase('unsure', lang)}\n{options}\n{phrase('pick', lang)}"
        if self.outcome == SMALLTALK:
            return smalltalk_text(self.result.smalltalk or "greeting", lang, self.known)
        if self.more or not numbered:
            return phrase("decline_part", lang)
        return phrase("decline", lang, documents=documents_text(self.known, lang))

    def _options(self) -> str:
        return " / ".join(f"«{entry.label}»" for _, entry in self.alternatives)

    def as_html(self, *, limit: int = TELEGRAM_LIMIT) -> str:
        """Renders the reply (every part of it) as Telegram HTML in at most ``limit``
        visible characters (Telegram's, unless the caller adds text of its own)."""
        if not self.more:
            return self._part_html(limit - SLACK)
        # Each part gets an equal share of the limit, its heading and separator included.
        share = (limit - SLACK) // len(self.parts) - 2
        out = []
        for part in self.parts:
            heading = esc(phrase("about", self.language, question=fit(part.result.question, 200)))
            out.append(
                f"<b>{heading}</b>\n" + part._part_html(share - len(heading) - 1, numbered=False)
            )
        return "\n\n".join(out)

    def _part_html(self, limit: int, *, numbered: bool = True) -> str:
        """Renders one part as Telegram HTML in at most ``limit`` visible characters; the
        quoted passage is cut to fit what surrounds it."""
        lang = self.language
        if self.outcome in (ANSWERED, RELATED) and self.entry:
            lead = f"{esc(self._gap())}\n" if self.outcome == RELATED else esc(self._understood())
            citation = esc(self.citation())
            quote = fit(self.entry.answer, max(limit - len(lead) - len(citation) - 1, 80))
            return f"{lead}<blockquote>{esc(quote)}</blockquote>\n<i>{citation}</i>"
        if self.outcome == AMBIGUOUS:
            if not numbered:
                return esc(phrase("unsure_short", lang, options=self._options()))
            return esc(phrase("unsure", lang))
        if self.outcome == SMALLTALK:
            return esc(smalltalk_text(self.result.smalltalk or "greeting", lang, self.known))
        if not numbered:
            return esc(phrase("decline_part", lang))
        return esc(phrase("decline", lang, documents=documents_text(self.known, lang)))


def documents_text(known: Sequence[SourceMeta], language: str) -> str:
    """Returns the documents' short titles as one phrase: "A, B og C"."""
    names = [meta.short(language) for meta in known]
    if not names:
        return phrase("no_documents", language)
    if len(names) == 1:
        return names[0]
    # A comma before "og" keeps titles that hold a comma ("Fet, Skedsmo og Sørum") apart.
    comma = "," if any("," in name for name in names) else ""
    return f"{', '.join(names[:-1])}{comma} {phrase('and', language)} {names[-1]}"


def smalltalk_text(kind: str, language: str, known: Sequence[SourceMeta]) -> str:
    """Returns the short friendly reply to a greeting, thanks, goodbye or help request."""
    return phrase(kind, language).format(
        example=EXAMPLE_QUESTIONS[0],
        examples=examples_text(),
        documents=documents_text(known, language),
    )


def welcome_text(kb: KnowledgeBase, language: str) -> str:
    """Returns the /start welcome, naming the documents the bot answers from."""
    return phrase("welcome", language, documents=documents_text(kb.known_sources, language))


def banner_text(kb: KnowledgeBase, language: str = "nb") -> str:
    """Returns the console chat's opening lines, naming the documents it answers from."""
    return phrase("banner", language, documents=documents_text(kb.known_sources, language))


def sources_lines(kb: KnowledgeBase, language: str, *, html: bool) -> list[str]:
    """Returns /kilder: the heading, then each document with its date, what it is and its link."""

    def text(value: str) -> str:
        return esc(value) if html else value

    lines = [text(phrase("sources", language))]
    for meta in kb.known_sources:
        title = f"<b>{esc(meta.title)}</b>" if html else meta.title
        lines.append(f"\n• {title} ({text(meta.when)})\n{text(meta.description)}")
        if meta.url:
            lines.append(text(meta.url))
    return lines


def examples_text() -> str:
    """Returns the example questions as a bulleted list, for channels without buttons."""
    return "\n".join(f"• {q}" for q in EXAMPLE_QUESTIONS)


def esc(text: str) -> str:
    """Returns text escaped for Telegram HTML."""
    return html.escape(text, quote=False)


def fit(text: str, limit: int) -> str:
    """Returns text cut to a limit at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + " …"


def compose(kb: KnowledgeBase, result: MatchResult) -> Reply:
    """Builds the reply for a match result."""
    if result.outcome in (ANSWERED, RELATED) and result.best is not None:
        entry = kb.by_id[result.best.entry_id]
        return Reply(result, entry=entry, source=kb.source_of(entry), known=kb.known_sources)
    if result.outcome == AMBIGUOUS:
        alts = tuple((c, kb.by_id[c.entry_id]) for c in result.alternatives)
        return Reply(result, alternatives=alts, known=kb.known_sources)
    return Reply(result, known=kb.known_sources)


def answer_entry(kb: KnowledgeBase, entry_id: str, *, language: str = "nb") -> Reply | None:
    """Builds the reply for a chosen entry (a tapped "mente du" option), or None."""
    entry = kb.by_id.get(entry_id)
    if entry is None:
        return None
    result = MatchResult(
        question=entry.questions[0],
        outcome=ANSWERED,
        best=Candidate(entry.id, 100.0, entry.label),
        language=language,
    )
    return Reply(result, entry=entry, source=kb.source_of(entry), known=kb.known_sources)


__all__ = [
    "AMBIGUOUS",
    "ANSWERED",
    "DECLINED",
    "RELATED",
    "SMALLTALK",
    "TELEGRAM_LIMIT",
    "Reply",
    "answer_entry",
    "banner_text",
    "compose",
    "documents_text",
    "esc",
    "examples_text",
    "smalltalk_text",
    "sources_lines",
    "welcome_text",
]

"""The bot's words: answers, clarifications, declines and small talk, in Norwegian or English.

The same ``Reply`` renders as plain text for the console and as Telegram HTML, so
both channels say the same thing. Quoted passages stay exactly as the source wrote
them; everything that comes from text is escaped for HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.core.knowledge import Entry, KnowledgeBase
from bot.core.matcher import AMBIGUOUS, ANSWERED, DECLINED, SMALLTALK, Candidate, MatchResult
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.sources import SourceMeta

TELEGRAM_LIMIT = 4096


@dataclass(frozen=True)
class Reply:
    """What the bot says to one question, before it is rendered for a channel."""

    result: MatchResult
    entry: Entry | None = None
    source: SourceMeta | None = None
    alternatives: tuple[tuple[Candidate, Entry], ...] = ()

    @property
    def language(self) -> str:
        return self.result.language

    @property
    def outcome(self) -> str:
        return self.result.outcome

    def citation(self) -> str:
        """Returns the source line: document, its date or period, and section."""
        if self.entry is None or self.source is None:
            return ""
        return (
            f"{phrase('source', self.language)}: {self.source.title} "
            f"({self.source.when}) › {self.entry.section}"
        )

    def as_text(self) -> str:
        """Renders the reply as plain text, for the console."""
        lang = self.language
        if self.outcome == ANSWERED and self.entry:
            return f"«{self.entry.answer}»\n\n— {self.citation()}"
        if self.outcome == AMBIGUOUS:
            options = "\n".join(
                f"  {i}. {cand.question}" for i, (cand, _) in enumerate(self.alternatives, 1)
            )
            return f"{phrase('unsure', lang)}\n{options}\n{phrase('pick', lang)}"
        if self.outcome == SMALLTALK:
            return smalltalk_text(self.result.smalltalk or "greeting", lang)
        return phrase("decline", lang)

    def as_html(self) -> str:
        """Renders the reply as Telegram HTML, within Telegram's length limit."""
        lang = self.language
        if self.outcome == ANSWERED and self.entry:
            quote = fit(self.entry.answer, TELEGRAM_LIMIT - 600)
            return f"<blockquote>{esc(quote)}</blockquote>\n<i>{esc(self.citation())}</i>"
        if self.outcome == AMBIGUOUS:
            return esc(phrase("unsure", lang))
        if self.outcome == SMALLTALK:
            return esc(smalltalk_text(self.result.smalltalk or "greeting", lang))
        return esc(phrase("decline", lang))


def smalltalk_text(kind: str, language: str) -> str:
    """Returns the short friendly reply to a greeting, thanks, goodbye or help request."""
    examples = "\n".join(f"• {q}" for q in EXAMPLE_QUESTIONS)
    return phrase(kind, language).format(example=EXAMPLE_QUESTIONS[0], examples=examples)


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
    if result.outcome == ANSWERED and result.best is not None:
        entry = kb.by_id[result.best.entry_id]
        return Reply(result, entry=entry, source=kb.source_of(entry))
    if result.outcome == AMBIGUOUS:
        alts = tuple((c, kb.by_id[c.entry_id]) for c in result.alternatives)
        return Reply(result, alternatives=alts)
    return Reply(result)


def answer_entry(kb: KnowledgeBase, entry_id: str, *, language: str = "nb") -> Reply | None:
    """Builds the reply for a chosen entry (a tapped "mente du" option), or None."""
    entry = kb.by_id.get(entry_id)
    if entry is None:
        return None
    result = MatchResult(
        question=entry.questions[0],
        outcome=ANSWERED,
        best=Candidate(entry.id, 100.0, entry.questions[0]),
        language=language,
    )
    return Reply(result, entry=entry, source=kb.source_of(entry))


__all__ = [
    "AMBIGUOUS",
    "ANSWERED",
    "DECLINED",
    "SMALLTALK",
    "Reply",
    "answer_entry",
    "compose",
    "esc",
    "smalltalk_text",
]

"""One turn of a conversation: read the message, match each question it asks (with the
story around it and, for a follow-up, the previous question), and compose one reply.

Pure: the caller keeps the conversation's topic (see ``Conversations``) and passes it in.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

from bot.core.facts import NAMED
from bot.core.knowledge import KnowledgeBase
from bot.core.matcher import AMBIGUOUS, ANSWERED, DECLINED, RELATED, Matcher, MatchResult
from bot.core.replies import Reply, compose
from bot.core.text import cut, smalltalk_kind
from bot.core.understand import is_follow_up, points_back, read_message, topic_words

# A conversation's topic is forgotten after this many seconds without a message.
TOPIC_SECONDS = 600.0
# At most this many conversations are remembered (the least recent are forgotten).
MAX_CONVERSATIONS = 10_000


@dataclass(frozen=True)
class Topic:
    """What a conversation is about: the question as understood, and the entry found."""

    question: str
    entry_id: str | None
    at: float


@dataclass(frozen=True)
class Turn:
    """The reply to one message and the topic the conversation has after it."""

    reply: Reply
    topic: Topic | None


def respond(
    kb: KnowledgeBase,
    matcher: Matcher,
    text: str,
    *,
    topic: Topic | None = None,
    now: float | None = None,
) -> Turn:
    """Answers one message, each question in it, in the light of the conversation's topic."""
    now = time.monotonic() if now is None else now
    settings = matcher.settings
    message = read_message(text, vague_words=settings.vague_words)
    results: list[MatchResult] = []
    understood: list[str] = []
    for i, question in enumerate(message.questions):
        context, weight, leans_on = message.context, settings.context_weight, None
        story = True
        if topic_words(question) <= settings.vague_words:
            weight = settings.vague_context_weight
        if i > 0 and leans(question):
            # "Hvor høy er eiendomsskatten, og hva går pengene til?": the second
            # question's topic is the first's.
            context, weight, story = (
                f"{message.questions[i - 1]} {message.context}",
                settings.follow_up_weight,
                False,
            )
        elif i == 0 and topic is not None and leans(question):
            context = f"{topic.question} {message.context}".strip()
            weight, leans_on, story = settings.follow_up_weight, topic, False
        result = matcher.match(question, context=context, context_weight=weight, story=story)
        if (
            leans_on is not None
            and leans_on.entry_id in kb.by_id
            and topic_words(question) == 0
            and not (result.outcome == ANSWERED and not _finds(result, leans_on.entry_id))
        ):
            # "hvor lenge?", "hvem vedtok det?": no topic of its own, and no other passage
            # answers it ("hvorfor?" may find the reasons elsewhere), so it asks about the
            # passage just quoted; whether that passage holds the answer decides.
            results.append(matcher.about(question, leans_on.entry_id, context=context))
            understood.append(cut(f"{context} {question}"))
            continue
        named = (
            matcher.unnamed(question, leans_on.entry_id)
            if leans_on is not None
            and leans_on.entry_id in kb.by_id
            and result.outcome in (ANSWERED, AMBIGUOUS)
            and _finds(result, leans_on.entry_id)
            else None
        )
        if named is not None and leans_on is not None and leans_on.entry_id is not None:
            # "og hva med Fet?" after the passage on Sørumsand's emergency clinic: the
            # passage says nothing about Fet, and the bot says so, quoting it.
            best = result.best or matcher.about(question, leans_on.entry_id).best
            result = replace(
                result, outcome=RELATED, best=best, alternatives=(), missing=f"{NAMED}{named}"
            )
        elif leans_on is not None and _finds(result, leans_on.entry_id):
            # The follow-up found the passage just quoted. If it names a topic of its
            # own ("og helsehuset?"), that topic wins; else it asks for more than the
            # passage says, and the bot says so.
            alone = matcher.match(question)
            if alone.outcome == ANSWERED and not _finds(alone, leans_on.entry_id):
                result = alone
            elif result.outcome == ANSWERED and not _answers_again(
                matcher, question, leans_on.entry_id
            ):
                result = replace(result, outcome=RELATED, missing=result.missing or "detail")
        elif context and result.outcome != ANSWERED:
            # The story helps find the topic; if the question alone is clear, it wins,
            # unless a story of its own (more than a word or two) points elsewhere
            # entirely ("Har politikerne tenkt å bygge noe?" after a story about
            # swimming pools): then the question's passage must be among its candidates.
            # A question that points back into such a story ("Planlegger kommunen noe
            # sånt?") is never read alone: alone, it is about nothing in particular.
            alone = matcher.match(question)
            told = topic_words(context) > settings.vague_words
            if (
                alone.outcome == ANSWERED
                and not (told and points_back(question))
                and (not told or any(_finds(alone, c.entry_id) for c in result.ranked))
            ):
                result, context = alone, ""
        if result.inferred and result.best is not None:
            # "Jeg har tre barn. Blir det gratis skolemat?": the story leaned in, but the
            # question alone finds the same answer, so nothing was read into it.
            alone = matcher.match(question)
            if alone.outcome == ANSWERED and _finds(alone, result.best.entry_id):
                result = replace(result, inferred=False)
        if result.outcome == AMBIGUOUS and len(message.questions) > 1 and leans_on is None:
            # "Skal nye kommunale bygg være plusshus, og får de solceller på taket?": each
            # half fits two passages, both together fit one. The message's other
            # questions are this one's context.
            others = " ".join(q for j, q in enumerate(message.questions) if j != i)
            together = matcher.match(
                question,
                context=f"{others} {message.context}".strip(),
                context_weight=settings.follow_up_weight,
                story=False,
            )
            if together.outcome == ANSWERED:
                result = together
        results.append(result)
        understood.append(cut(f"{context} {question}".strip()) if context else question)
    results, understood = _distinct(results, understood)
    replies = [compose(kb, r) for r in results]
    reply = replace(replies[0], more=tuple(replies[1:])) if len(replies) > 1 else replies[0]
    return Turn(reply, _next_topic(results, understood, now))


def _answers_again(matcher: Matcher, question: str, entry_id: str | None) -> bool:
    """Tells whether the passage just quoted also answers a follow-up on it.

    It does when the passage's entry holds most of the follow-up's own words ("og de
    nye?" of a passage on new and old pitches), or, for a follow-up with no words of its
    own, when it asks for a kind of fact the passage holds ("kvar?" of a passage that
    names where: the matcher has checked that it holds it). Otherwise ("hvorfor?",
    "og innleie?" of a passage that says neither) the bot says the passage is all the
    documents say.
    """
    if entry_id is None:
        return False
    share = matcher.covers(question, entry_id)
    if share is None:
        return bool(matcher.asks_for(question))
    return share >= matcher.settings.follow_up_cover


def leans(question: str) -> bool:
    """Tells whether a question leans on the one before: a follow-up, not small talk
    ("hei", "takk" after an answer greet or thank; they do not ask about the topic)."""
    return is_follow_up(question) and smalltalk_kind(question) is None


def _finds(result: MatchResult, entry_id: str | None) -> bool:
    """Tells whether a result puts the given entry first."""
    return result.best is not None and result.best.entry_id == entry_id


def _distinct(
    results: list[MatchResult], understood: list[str]
) -> tuple[list[MatchResult], list[str]]:
    """Returns the results with one per entry: two questions finding one passage get it once,
    and a "mente du" is left out when another question of the message was answered with
    the passage it would offer first (the answer settles it)."""
    answered = {r.best.entry_id for r in results if r.outcome == ANSWERED and r.best}
    seen: set[str] = set()
    kept: list[tuple[MatchResult, str]] = []
    for result, question in zip(results, understood, strict=True):
        if result.outcome == AMBIGUOUS and result.best and result.best.entry_id in answered:
            continue
        entry_id = result.best.entry_id if result.best and result.outcome != DECLINED else None
        if entry_id is not None and entry_id in seen:
            continue
        if entry_id is not None:
            seen.add(entry_id)
        kept.append((result, question))
    return [r for r, _ in kept], [q for _, q in kept]


def _next_topic(results: list[MatchResult], understood: list[str], now: float) -> Topic | None:
    """Returns the topic after a turn: the first question that found a passage, else the first."""
    for result, question in zip(results, understood, strict=True):
        if result.outcome in (ANSWERED, RELATED, AMBIGUOUS) and result.best is not None:
            entry = result.best.entry_id if result.outcome != AMBIGUOUS else None
            return Topic(question, entry, now)
    if not results or results[0].smalltalk is not None:
        return None
    return Topic(understood[0], None, now)


class Conversations:
    """Remembers each conversation's topic, in memory only, for ``TOPIC_SECONDS``."""

    def __init__(
        self, *, seconds: float = TOPIC_SECONDS, capacity: int = MAX_CONVERSATIONS
    ) -> None:
        self._seconds = seconds
        self._capacity = capacity
        self._topics: OrderedDict[Hashable, Topic] = OrderedDict()

    def get(self, key: Hashable, *, now: float | None = None) -> Topic | None:
        """Returns the conversation's topic, or None when there is none or it is too old."""
        topic = self._topics.get(key)
        now = time.monotonic() if now is None else now
        if topic is None or now - topic.at > self._seconds:
            self._topics.pop(key, None)
            return None
        return topic

    def remember(self, key: Hashable, topic: Topic | None) -> None:
        """Sets (or, with None, clears) the conversation's topic."""
        self._topics.pop(key, None)
        if topic is None:
            return
        self._topics[key] = topic
        while len(self._topics) > self._capacity:
            self._topics.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        """Forgets a conversation (on /start)."""
        self._topics.pop(key, None)

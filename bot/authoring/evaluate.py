"""Evaluation of answer quality against a set of resident questions kept apart from the base.

Each item names the question and a short verbatim fragment of the passage that
answers it (``expect``), or ``null`` when the documents cannot answer it. An answer
is right when the chosen entry's passage contains that fragment, so the set does not
depend on entry ids and stays valid when staff split or merge entries.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from rapidfuzz import fuzz, process, utils

from bot.core.dialogue import Topic, respond
from bot.core.errors import KnowledgeError, Problem
from bot.core.knowledge import Entry, KnowledgeBase
from bot.core.matcher import AMBIGUOUS, ANSWERED, RELATED, Matcher
from bot.core.replies import Reply
from bot.core.sources import squash
from bot.core.yamlio import YamlError, line_of, load_yaml_text, to_plain

TARGET_RIGHT = 90.0
TARGET_WRONG = 3.0
TARGET_DECLINED = 90.0
# The plain baseline answers with the closest source paragraph at or above this score.
BASELINE_CUTOFF = 50.0


class EvalPart(BaseModel):
    """One question of a message that asks several: the fragment its answer must contain."""

    model_config = ConfigDict(extra="forbid")

    expect: str | None


class EvalItem(BaseModel):
    """One evaluation message and the fragment its answer must contain."""

    model_config = ConfigDict(extra="forbid")

    q: str
    expect: str | None
    kind: str = "bokmål"
    # A message asking several questions: what each should get (null: nothing to find).
    parts: list[EvalPart] | None = None
    # For a question the documents cannot answer: the nearest passage, which an honest
    # partial ("related") answer may quote.
    near: str | None = None
    # Turns of one conversation share an id and are asked in order, with context.
    conversation: str | None = None
    turn: int = 0


class EvalTurn(BaseModel):
    """One turn of an evaluation conversation."""

    model_config = ConfigDict(extra="forbid")

    q: str
    expect: str | None


class EvalConversation(BaseModel):
    """A short conversation: turns asked in order, follow-ups leaning on what came before."""

    model_config = ConfigDict(extra="forbid")

    id: str
    turns: list[EvalTurn]


class EvalSet(BaseModel):
    """An evaluation set of messages and conversations."""

    model_config = ConfigDict(extra="forbid")

    questions: list[EvalItem] = []
    conversations: list[EvalConversation] = []

    def items(self) -> list[EvalItem]:
        """Returns every message to ask, conversations' turns in order."""
        out = list(self.questions)
        for conv in self.conversations:
            for i, turn in enumerate(conv.turns):
                kind = "first turn" if i == 0 else "follow-up"
                out.append(
                    EvalItem(q=turn.q, expect=turn.expect, kind=kind, conversation=conv.id, turn=i)
                )
        return out


def load_eval_set(path: Path) -> list[EvalItem]:
    """Reads an evaluation set; raises KnowledgeError naming the file and line."""
    try:
        data = load_yaml_text(path.read_text(encoding="utf-8"), name=str(path))
    except OSError as exc:
        raise KnowledgeError([Problem(f"cannot read: {exc.strerror}", file=path)]) from exc
    except YamlError as exc:
        raise KnowledgeError([Problem(exc.message, file=path, line=exc.line)]) from exc
    if isinstance(data, dict) and {"questions", "conversations"} & set(data):
        try:
            return EvalSet.model_validate(to_plain(data)).items()
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise KnowledgeError([Problem(err["msg"], file=path, field=where)]) from exc
    if not isinstance(data, list):
        raise KnowledgeError([Problem("expected a list of items with q, expect, kind", file=path)])
    items = []
    for index, raw in enumerate(data):
        try:
            items.append(EvalItem.model_validate(to_plain(raw)))
        except ValidationError as exc:
            line = line_of(raw)
            raise KnowledgeError(
                [Problem(exc.errors()[0]["msg"], file=path, line=line, field=f"item {index}")]
            ) from exc
    return items


@dataclass
class ItemResult:
    """How the matcher did on one evaluation question."""

    item: EvalItem
    outcome: str
    # right, wrong, related, declined, clarified, declined-ok, related-ok, answered-unanswerable
    verdict: str
    entry_id: str | None
    expected: tuple[str, ...]
    reciprocal_rank: float


@dataclass
class EvalReport:
    """Rates, MRR and a breakdown by kind, with every item's result."""

    results: list[ItemResult] = field(default_factory=list)
    unmapped: list[EvalItem] = field(default_factory=list)

    def _answerable(self) -> list[ItemResult]:
        return [r for r in self.results if r.item.expect is not None]

    def _unanswerable(self) -> list[ItemResult]:
        return [r for r in self.results if r.item.expect is None]

    @staticmethod
    def _pct(part: int, whole: int) -> float:
        return round(100.0 * part / whole, 1) if whole else 0.0

    def summary(self) -> dict:
        """Returns the figures as a JSON-ready dict."""
        ans, una = self._answerable(), self._unanswerable()
        verdicts = Counter(r.verdict for r in ans)
        una_verdicts = Counter(r.verdict for r in una)
        by_kind: dict[str, dict] = {}
        groups: dict[str, list[ItemResult]] = defaultdict(list)
        for r in self.results:
            groups[r.item.kind].append(r)
        for kind, rs in sorted(groups.items()):
            a = [r for r in rs if r.item.expect is not None]
            u = [r for r in rs if r.item.expect is None]
            c = Counter(r.verdict for r in rs)
            by_kind[kind] = {
                "questions": len(rs),
                "answerable": len(a),
                "right": self._pct(c["right"], len(a)),
                "wrong": self._pct(c["wrong"], len(a)),
                "clarified": self._pct(sum(r.verdict == "clarified" for r in a), len(a)),
                "unanswerable": len(u),
                "unanswerable_ok": self._pct(c["declined-ok"] + c["related-ok"], len(u)),
                "unanswerable_answered": self._pct(c["answered-unanswerable"], len(u)),
            }
        mrr = sum(r.reciprocal_rank for r in ans) / len(ans) if ans else 0.0
        return {
            "questions": len(self.results),
            "answerable": len(ans),
            "unanswerable": len(una),
            "answered_right": self._pct(verdicts["right"], len(ans)),
            "answered_wrong": self._pct(verdicts["wrong"], len(ans)),
            "clarified": self._pct(verdicts["clarified"], len(ans)),
            "declined": self._pct(verdicts["declined"], len(ans)),
            "related": self._pct(verdicts["related"], len(ans)),
            # Declined, or answered honestly as "related": both are right for these.
            "unanswerable_declined": self._pct(
                una_verdicts["declined-ok"] + una_verdicts["related-ok"], len(una)
            ),
            "unanswerable_related": self._pct(una_verdicts["related-ok"], len(una)),
            "unanswerable_answered": self._pct(una_verdicts["answered-unanswerable"], len(una)),
            "unanswerable_clarified": self._pct(una_verdicts["clarified"], len(una)),
            "mrr": round(mrr, 3),
            "by_kind": by_kind,
            "unmapped": [item.q for item in self.unmapped],
        }

    def meets_target(self) -> bool:
        """Tells whether the figures meet the targets of the answering core."""
        s = self.summary()
        return (
            s["answered_right"] >= TARGET_RIGHT
            and s["answered_wrong"] <= TARGET_WRONG
            and s["unanswerable_declined"] >= TARGET_DECLINED
            and not s["unmapped"]
        )

    def failures(self) -> list[ItemResult]:
        """Returns the items the matcher did not get right, wrong answers first."""
        order = {
            "wrong": 0,
            "answered-unanswerable": 1,
            "clarified": 2,
            "related": 3,
            "declined": 4,
        }
        bad = [r for r in self.results if r.verdict in order]
        return sorted(bad, key=lambda r: order[r.verdict])


def expected_entries(matcher: Matcher, expect: str) -> tuple[str, ...]:
    """Returns the ids of entries whose passage contains the expected fragment."""
    needle = squash(expect)
    return tuple(e.id for e in matcher.kb.entries if needle in e.answer)


def evaluate(matcher: Matcher, items: list[EvalItem]) -> EvalReport:
    """Asks every message as the bot would (conversations in order, with their topic)."""
    report = EvalReport()
    topics: dict[str, Topic | None] = {}
    clock = 0.0
    for item in items:
        clock += 1.0  # turns a second apart: well inside the topic's lifetime
        topic = topics.get(item.conversation) if item.conversation else None
        turn = respond(matcher.kb, matcher, item.q, topic=topic, now=clock)
        # Rendered as residents see it, so a reply that cannot be written fails here.
        turn.reply.as_text()
        turn.reply.as_html()
        if item.conversation:
            topics[item.conversation] = turn.topic
        report.results.append(_judge(matcher, item, turn.reply, report))
    return report


def _judge(matcher: Matcher, item: EvalItem, reply: Reply, report: EvalReport) -> ItemResult:
    """Returns the verdict on one message's reply."""
    parts = reply.parts
    answered = [p.entry.id for p in parts if p.outcome == ANSWERED and p.entry]
    related = any(p.outcome == RELATED for p in parts)
    unsure = any(p.outcome == AMBIGUOUS for p in parts)
    first = parts[0].result
    chosen = first.best.entry_id if first.best else None
    if item.expect is None:
        if answered:
            verdict = "answered-unanswerable"
        elif related:
            verdict = "related-ok"
        elif unsure:
            verdict = "clarified"
        else:
            verdict = "declined-ok"
        return ItemResult(item, first.outcome, verdict, chosen, (), 0.0)
    expected = expected_entries(matcher, item.expect)
    if not expected:
        report.unmapped.append(item)
    if item.parts:
        for part in item.parts:
            if part.expect is not None:
                expected += expected_entries(matcher, part.expect)
    if any(a in expected for a in answered):
        verdict = "wrong" if any(a not in expected for a in answered) else "right"
    elif answered:
        verdict = "wrong"
    elif related:
        verdict = "related"
    elif unsure:
        verdict = "clarified"
    else:
        verdict = "declined"
    ranks = [i for i, c in enumerate(first.ranked, 1) if c.entry_id in expected]
    rr = 1.0 / ranks[0] if ranks else 0.0
    return ItemResult(item, first.outcome, verdict, chosen, expected, rr)


def baseline(kb: KnowledgeBase, items: list[EvalItem], *, score_cutoff: float) -> dict:
    """Scores plain fuzzy matching on the same items: the closest source paragraph by
    ``token_set_ratio``, answered when at or above the cutoff, with no knowledge base."""
    paragraphs = [
        p.text
        for doc in kb.sources.values()
        for section in doc.sections.values()
        for p in section.paragraphs
    ]
    right = wrong = declined_ok = answerable = 0
    for item in items:
        hit = process.extractOne(
            item.q,
            paragraphs,
            scorer=fuzz.token_set_ratio,
            processor=utils.default_process,  # case and punctuation, as a fair baseline
            score_cutoff=score_cutoff,
        )
        if item.expect is None:
            declined_ok += hit is None
            continue
        answerable += 1
        if hit is not None:
            if squash(item.expect) in squash(hit[0]):
                right += 1
            else:
                wrong += 1
    unanswerable = len(items) - answerable
    pct = EvalReport._pct
    return {
        "score_cutoff": score_cutoff,
        "answered_right": pct(right, answerable),
        "answered_wrong": pct(wrong, answerable),
        "unanswerable_declined": pct(declined_ok, unanswerable),
    }


def format_report(
    report: EvalReport, *, show_failures: bool = True, plain: dict | None = None
) -> str:
    """Renders a report as text for the terminal."""
    s = report.summary()
    lines = [
        f"questions: {s['questions']} ({s['answerable']} answerable, "
        f"{s['unanswerable']} unanswerable)",
        f"answerable:   answered right {s['answered_right']:5.1f}%  "
        f"answered wrong {s['answered_wrong']:5.1f}%  "
        f"asked 'mente du' {s['clarified']:5.1f}%  related {s['related']:5.1f}%  "
        f"declined {s['declined']:5.1f}%",
        f"unanswerable: declined or related {s['unanswerable_declined']:5.1f}% "
        f"(related {s['unanswerable_related']:.1f}%)  "
        f"answered {s['unanswerable_answered']:5.1f}%  "
        f"asked 'mente du' {s['unanswerable_clarified']:5.1f}%",
        f"MRR: {s['mrr']:.3f}",
    ]
    if plain is not None:
        lines.append(
            f"plain baseline (extractOne, token_set_ratio ≥ {plain['score_cutoff']:.0f}, over "
            f"source paragraphs): right {plain['answered_right']:.1f}%  "
            f"wrong {plain['answered_wrong']:.1f}%  "
            f"unanswerable declined {plain['unanswerable_declined']:.1f}%"
        )
    lines += [
        "",
        f"{'kind':<14}{'answerable':>11}{'right':>8}{'wrong':>8}{'mente du':>10}"
        f"{'unanswerable':>14}{'declined/related':>18}",
    ]
    for kind, k in s["by_kind"].items():
        lines.append(
            f"{kind:<14}{k['answerable']:>11}{k['right']:>7.1f}%{k['wrong']:>7.1f}%"
            f"{k['clarified']:>9.1f}%{k['unanswerable']:>14}{k['unanswerable_ok']:>17.1f}%"
        )
    target = "meets" if report.meets_target() else "MISSES"
    lines += [
        "",
        f"target (right ≥ {TARGET_RIGHT:.0f}%, wrong ≤ {TARGET_WRONG:.0f}%, "
        f"unanswerable declined ≥ {TARGET_DECLINED:.0f}%): {target}",
    ]
    if s["unmapped"]:
        lines.append(f"expected fragments no entry quotes: {len(s['unmapped'])}")
        lines += [f"  - {q}" for q in s["unmapped"]]
    if show_failures and report.failures():
        lines += ["", "not right:"]
        for r in report.failures():
            exp = ",".join(r.expected) or "-"
            lines.append(f"  [{r.verdict}] {r.item.q!r} → {r.entry_id or '-'} (expected {exp})")
    return "\n".join(lines)


@dataclass
class LeaveOutReport:
    """How well the phrasings generalise, measured on the knowledge base alone."""

    hidden: int = 0  # phrasings asked with themselves hidden from their entry
    right: int = 0
    wrong: int = 0
    missing: int = 0  # phrasings asked with their whole entry hidden
    missing_answered: int = 0
    per_entry: dict[str, list[int]] = field(default_factory=dict)  # id: [found, asked]

    def summary(self) -> dict:
        """Returns the figures as a JSON-ready dict, weakest entries first."""
        pct = EvalReport._pct
        weakest = sorted(self.per_entry.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0]))
        return {
            "hidden_phrasings": self.hidden,
            "answered_right": pct(self.right, self.hidden),
            "answered_wrong": pct(self.wrong, self.hidden),
            "hidden_entries_questions": self.missing,
            "hidden_entries_answered": pct(self.missing_answered, self.missing),
            "weakest": [
                {"entry_id": eid, "found": found, "asked": asked}
                for eid, (found, asked) in weakest[:15]
            ],
        }


def leave_out(
    kb: KnowledgeBase, *, folds: int = 5, entry_folds: int = 10, per_entry: int = 4
) -> LeaveOutReport:
    """Measures the matcher on the knowledge base's own phrasings, each asked while hidden.

    Every phrasing but an entry's first is hidden in one of ``folds`` rounds and asked
    of a matcher built without it: answering with its own entry is right. Then each
    entry is hidden whole in one of ``entry_folds`` rounds and a few of its phrasings
    asked: any answer is one the bot should not have given. The folds are fixed, so
    the figures change only when the knowledge or the matcher does.
    """
    report = LeaveOutReport()
    pairs = sorted(
        ((e.id, i) for e in kb.entries for i in range(1, len(e.questions))),
        key=lambda p: _stable_hash(f"{p[0]}#{p[1]}"),
    )
    for k in range(folds):
        held = set(pairs[k::folds])
        entries = [replace(e, questions=_without(e, held)) for e in kb.entries]
        matcher = Matcher(replace(kb, entries=entries))
        for entry_id, i in pairs[k::folds]:
            result = matcher.match(kb.by_id[entry_id].questions[i])
            found = result.best is not None and result.answered and result.best.entry_id == entry_id
            report.hidden += 1
            report.right += found
            report.wrong += result.outcome == ANSWERED and not found
            tally = report.per_entry.setdefault(entry_id, [0, 0])
            tally[0] += found
            tally[1] += 1
    ids = sorted((e.id for e in kb.entries), key=_stable_hash)
    for k in range(entry_folds):
        hidden = set(ids[k::entry_folds])
        matcher = Matcher(replace(kb, entries=[e for e in kb.entries if e.id not in hidden]))
        for entry_id in ids[k::entry_folds]:
            questions = kb.by_id[entry_id].questions
            for q in sorted(questions, key=_stable_hash)[:per_entry]:
                report.missing += 1
                report.missing_answered += matcher.match(q).outcome == ANSWERED
    return report


def _without(entry: Entry, held: set[tuple[str, int]]) -> tuple[str, ...]:
    """Returns an entry's phrasings less the hidden ones."""
    return tuple(q for i, q in enumerate(entry.questions) if (entry.id, i) not in held)


def _stable_hash(text: str) -> str:
    """Returns an order key that is the same on every run (unlike ``hash``)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def format_leave_out(report: LeaveOutReport) -> str:
    """Renders a leave-out report as text for the terminal."""
    s = report.summary()
    lines = [
        f"phrasings asked while hidden: {s['hidden_phrasings']}: answered right "
        f"{s['answered_right']:.1f}%, answered wrong {s['answered_wrong']:.1f}%",
        f"questions about hidden entries: {s['hidden_entries_questions']}: answered "
        f"{s['hidden_entries_answered']:.1f}% (the rest declined or asked 'mente du')",
        "",
        "entries whose phrasings generalise least (add everyday words and phrasings):",
    ]
    lines += [f"  {w['entry_id']}: {w['found']}/{w['asked']}" for w in s["weakest"]]
    return "\n".join(lines)

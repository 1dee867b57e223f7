"""Tests for reports: normalisation, grouping of unanswered questions, stats, output formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from bot.questionlog import (
    Channel,
    Outcome,
    QuestionLog,
    UnansweredGroup,
    format_unanswered,
    normalise_question,
)

from .helpers import NOW, event


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Åpningstider for biblioteket? 📚", "apningstider for biblioteket"),
        # The core's folding: æ becomes e, as "ae" does, so both spellings group together.
        ("Ærlig talt, ØKONOMI!!", "erlig talt okonomi"),
        ("Aerlig talt", "erlig talt"),
        ("Café   crème_brûlée", "cafe creme brulee"),
        ("🙂🙂", ""),
    ],
)
def test_normalise_question(text: str, expected: str) -> None:
    assert normalise_question(text) == expected


async def test_unanswered_groups_similar_questions(qlog: QuestionLog) -> None:
    a, b, c = (qlog.user_key_for(n) for n in (1, 2, 3))
    asked: list[tuple[str, str | None, int, Outcome]] = [
        ("åpningstider biblioteket", a, 60, Outcome.DECLINED),
        ("apningstider biblioteket?", b, 50, Outcome.DECLINED),
        ("Åpningstider for biblioteket", a, 40, Outcome.DECLINED),
        ("åpningstider biblioteket", None, 30, Outcome.DECLINED),
        ("Hvordan søker jeg barnehageplass?", b, 55, Outcome.DECLINED),
        ("hvordan søke barnehageplass", c, 20, Outcome.DECLINED),
        ("Kan jeg grille i parken?", c, 45, Outcome.DECLINED),
        ("Hvem vant kommunevalget?", a, 10, Outcome.DECLINED),
        ("Hvor ligger svømmehallen?", b, 15, Outcome.AMBIGUOUS),
        ("åpningstider biblioteket", a, 5, Outcome.ANSWERED),  # answered: not listed
        ("åpningstider biblioteket", a, 60 * 24 * 8, Outcome.DECLINED),  # outside the window
    ]
    refs = {}
    for text, user, minutes_ago, outcome in asked:
        when = NOW - timedelta(minutes=minutes_ago)
        ev = event(text, outcome=outcome, user_key=user, asked_at=when)
        refs.setdefault(text, []).append(qlog.record(ev))
    await qlog.flush()

    groups = await qlog.unanswered(now=NOW)
    summary = [(g.count, g.users, g.example, g.last_asked) for g in groups]
    assert summary == [
        (4, 2, "åpningstider biblioteket", NOW - timedelta(minutes=30)),
        (2, 2, "Hvordan søker jeg barnehageplass?", NOW - timedelta(minutes=20)),
        (1, 1, "Hvem vant kommunevalget?", NOW - timedelta(minutes=10)),  # later first on ties
        (1, 1, "Kan jeg grille i parken?", NOW - timedelta(minutes=45)),
    ]
    library = groups[0].questions
    assert [q.question for q in library] == [
        "åpningstider biblioteket",
        "apningstider biblioteket?",
        "Åpningstider for biblioteket",
        "åpningstider biblioteket",
    ]
    assert library[1].ref == refs["apningstider biblioteket?"][0]
    assert library[0].asked_at == NOW - timedelta(minutes=60)

    with_ambiguous = await qlog.unanswered(now=NOW, include_ambiguous=True)
    assert "Hvor ligger svømmehallen?" in {g.example for g in with_ambiguous}
    month = await qlog.unanswered(now=NOW, days=30)
    assert month[0].count == 5
    assert await qlog.unanswered(now=NOW - timedelta(days=30)) == []


async def test_stats_counts(qlog: QuestionLog) -> None:
    empty = await qlog.stats(now=NOW)
    assert (empty.questions, empty.answer_rate, empty.thumbs_down_rate) == (0, None, None)

    plan = [
        # (outcome, channel, entry, user, vote, days ago)
        (Outcome.ANSWERED, Channel.PRIVATE, "avfall", 1, +1, 0),
        (Outcome.ANSWERED, Channel.PRIVATE, "avfall", 2, -1, 1),
        (Outcome.ANSWERED, Channel.GROUP, "bibliotek", 1, +1, 2),
        (Outcome.ANSWERED, Channel.INLINE, "avfall", None, None, 3),
        (Outcome.DECLINED, Channel.PRIVATE, None, 3, None, 4),
        (Outcome.AMBIGUOUS, Channel.CONSOLE, None, None, None, 5),
        (Outcome.SMALLTALK, Channel.PRIVATE, None, 1, None, 6),
        (Outcome.ANSWERED, Channel.PRIVATE, "parkering", 4, -1, 40),  # outside a 30-day window
    ]
    for outcome, channel, entry, user, vote, days_ago in plan:
        ref = qlog.record(
            event(
                "spørsmål",
                outcome=outcome,
                channel=channel,
                entry_id=entry,
                user_key=qlog.user_key_for(user),
                asked_at=NOW - timedelta(days=days_ago, hours=1),
            )
        )
        if vote:
            qlog.vote(ref, vote)
    await qlog.flush()

    stats = await qlog.stats(days=30, now=NOW)
    assert (stats.questions, stats.answered, stats.declined) == (7, 4, 1)
    assert (stats.ambiguous, stats.smalltalk, stats.distinct_users) == (1, 1, 3)
    assert stats.answer_rate == pytest.approx(4 / 6)  # smalltalk is not a question
    assert stats.decline_rate == pytest.approx(1 / 6)
    assert stats.top_entries == [("avfall", 3), ("bibliotek", 1)]
    assert (stats.votes_up, stats.votes_down) == (2, 1)
    assert stats.thumbs_down_rate == pytest.approx(1 / 3)
    assert stats.by_channel == {"private": 4, "group": 1, "inline": 1, "console": 1}

    everything = await qlog.stats(now=NOW)
    assert (everything.questions, everything.votes_down, everything.distinct_users) == (8, 2, 4)
    data = json.loads(json.dumps(stats.to_dict()))
    assert data["top_entries"][0] == {"entry_id": "avfall", "count": 3}
    assert data["since"] == "2024-05-02T12:00:00.000000+00:00"


async def _some_groups(qlog: QuestionLog) -> list[UnansweredGroup]:
    user = qlog.user_key_for(7)
    for minutes, text in [(3, "Når tømmes søpla?"), (2, "når tømmes søpla"), (1, 'Hva er "NAV"?')]:
        qlog.record(
            event(
                text,
                outcome=Outcome.DECLINED,
                user_key=user,
                asked_at=NOW - timedelta(minutes=minutes),
            )
        )
    await qlog.flush()
    return await qlog.unanswered(now=NOW)


async def test_format_unanswered_csv_and_json_parse(qlog: QuestionLog) -> None:
    groups = await _some_groups(qlog)

    parsed = list(csv.DictReader(io.StringIO(format_unanswered(groups, "csv"))))
    assert [(r["count"], r["users"], r["example"]) for r in parsed] == [
        ("2", "1", "Når tømmes søpla?"),
        ("1", "1", 'Hva er "NAV"?'),
    ]
    assert parsed[0]["refs"].split() == [q.ref for q in groups[0].questions]
    assert parsed[0]["last_asked"] == "2024-06-01T11:58:00.000000+00:00"

    data = json.loads(format_unanswered(groups, "json"))
    assert (data[0]["count"], data[0]["users"]) == (2, 1)
    assert data[0]["example"] == "Når tømmes søpla?"
    assert data[0]["questions"][1] == {
        "ref": groups[0].questions[1].ref,
        "question": "når tømmes søpla",
        "asked_at": "2024-06-01T11:58:00.000000+00:00",
        "outcome": "declined",
    }
    assert (data[0]["outcomes"], data[0]["suggestions"]) == ({"declined": 2}, [])

    assert list(csv.reader(io.StringIO(format_unanswered([], "csv")))) == [
        ["count", "users", "last_asked", "example", "refs", "outcomes", "suggestions"]
    ]
    assert json.loads(format_unanswered([], "json")) == []
    with pytest.raises(ValueError, match="format"):
        format_unanswered(groups, "xml")  # type: ignore[arg-type]


async def test_format_unanswered_table_is_aligned(qlog: QuestionLog) -> None:
    groups = await _some_groups(qlog)
    lines = format_unanswered(groups, "table").splitlines()
    assert lines[0].split()[:3] == ["count", "users", "last"]
    example_column = lines[0].index("example")
    assert lines[1][example_column:].startswith("Når tømmes søpla?")
    assert lines[2][example_column:].startswith('Hva er "NAV"?')
    assert "2024-06-01 11:58" in lines[1]
    assert groups[0].questions[0].ref in lines[1]
    assert format_unanswered([], "table") == "No unanswered questions."


async def test_stats_count_honest_partial_answers_on_their_own(qlog: QuestionLog) -> None:
    qlog.record(event(outcome=Outcome.RELATED, entry_id="legevakt", asked_at=NOW))
    qlog.record(event(outcome=Outcome.ANSWERED, entry_id="legevakt", asked_at=NOW))
    assert await qlog.flush()
    stats = await qlog.stats(now=NOW)
    assert (stats.questions, stats.related, stats.answered) == (2, 1, 1)
    assert stats.to_dict()["related"] == 1


async def test_review_holds_every_failure_until_dismissed(qlog: QuestionLog) -> None:
    plan = [
        ("Hvem vant valget?", Outcome.DECLINED, None),
        ("eiendomsskatt", Outcome.AMBIGUOUS, None),
        ("telefon til legevakta", Outcome.RELATED, None),
        ("blir legevakten beholdt", Outcome.ANSWERED, -1),
        ("blir legevakten på Nordby beholdt", Outcome.ANSWERED, +1),  # liked: not reviewed
        ("hei", Outcome.SMALLTALK, None),
    ]
    refs = {}
    for minutes, (text, outcome, vote) in enumerate(plan):
        entry = "legevakt" if outcome == Outcome.ANSWERED else None
        ev = event(
            text, outcome=outcome, entry_id=entry, asked_at=NOW - timedelta(minutes=9 - minutes)
        )
        refs[text] = qlog.record(ev)
        if vote:
            qlog.vote(refs[text], vote)
    await qlog.flush()

    groups = await qlog.review(now=NOW)
    failures = {q.question: q.failure for g in groups for q in g.questions}
    assert failures == {
        "Hvem vant valget?": "declined",
        "eiendomsskatt": "ambiguous",
        "telefon til legevakta": "related",
        "blir legevakten beholdt": "voted_down",
    }
    voted = next(g for g in groups if g.example == "blir legevakten beholdt")
    assert voted.questions[0].entry_id == "legevakt"
    assert voted.to_dict()["outcomes"] == {"voted_down": 1}

    assert await qlog.dismiss([refs["Hvem vant valget?"], refs["eiendomsskatt"]], "declined") == 2
    assert await qlog.dismiss([refs["Hvem vant valget?"]], "handled") == 0  # already out
    stored = await qlog.get(refs["eiendomsskatt"])
    assert stored is not None
    assert stored.dismissed == "declined"
    assert stored.dismissed_at is not None
    left = {q.question for g in await qlog.review(now=NOW) for q in g.questions}
    assert left == {"telefon til legevakta", "blir legevakten beholdt"}
    # The plain list of declines (the weekly digest's) is unchanged by the review.
    assert [g.example for g in await qlog.unanswered(now=NOW)] == ["Hvem vant valget?"]
    with pytest.raises(ValueError, match="reason"):
        await qlog.dismiss([refs["hei"]], "maybe")


def test_outcome_text_names_failures_in_the_words_given() -> None:
    from bot.questionlog.reports import AskedQuestion

    asked = [
        AskedQuestion("a", "x", NOW, "declined"),
        AskedQuestion("b", "x", NOW, "ambiguous"),
        AskedQuestion("c", "x", NOW, "declined"),
        AskedQuestion("d", "x", NOW, "answered", vote=-1),
    ]
    group = UnansweredGroup(count=4, users=1, example="x", questions=asked, last_asked=NOW)
    assert group.outcome_text() == "declined 2, mente du 1, 👎 1"
    labels = {"declined": "ikke besvart", "ambiguous": "«mente du»", "voted_down": "👎"}
    assert group.outcome_text(labels) == "ikke besvart 2, «mente du» 1, 👎 1"

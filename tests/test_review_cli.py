"""The review of failures through the real command line: every failure with its outcome and
suggested entries, taught questions leaving it, and questions an admin dismisses."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import SHIPPED_KNOWLEDGE

LEGEVAKT = "Blir legevakten på Sørumsand beholdt?"
ASKED = [
    "hei",  # small talk: never reviewed
    "Hvordan lager jeg pannekaker?",  # declined
    "hvordan lager jeg pannekaker",  # declined, grouped with the one before
    "eiendomsskatten",  # "mente du"
    "telefonnummeret til legevakta",  # related: the passage holds no phone numbers
    "Får pappa bli boende i eget hus når han blir gammel?",  # "mente du"
    LEGEVAKT,  # answered, then voted 👎 below
]


@pytest.fixture
def review_log(run_cli, tmp_path: Path) -> dict:
    """A question log made by chatting on a copy of the shipped knowledge, one answer 👎."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(SHIPPED_KNOWLEDGE, knowledge)
    db = tmp_path / "questions.sqlite3"
    env = {"BOT_DATABASE": str(db), "BOT_KNOWLEDGE_DIR": str(knowledge)}
    proc = run_cli("chat", input="\n".join(ASKED) + "\n", env=env)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE questions SET vote = -1, voted_at = asked_at WHERE question = ?", (LEGEVAKT,)
        )
    return {"db": db, "env": env, "knowledge": knowledge}


def _review(run_cli, log: dict) -> list[dict]:
    proc = run_cli("unanswered", "--format", "json", env=log["env"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _by_question(groups: list[dict]) -> dict[str, dict]:
    return {q["question"]: q for g in groups for q in g["questions"]}


def _dismissed(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT question, dismissed FROM questions").fetchall())


def test_unanswered_lists_every_failure_with_its_outcome(run_cli, review_log: dict):
    groups = _review(run_cli, review_log)
    asked = _by_question(groups)
    assert {q: a["outcome"] for q, a in asked.items()} == {
        "Hvordan lager jeg pannekaker?": "declined",
        "hvordan lager jeg pannekaker": "declined",
        "eiendomsskatten": "ambiguous",
        "telefonnummeret til legevakta": "related",
        "Får pappa bli boende i eget hus når han blir gammel?": "ambiguous",
        LEGEVAKT: "voted_down",
    }
    assert asked[LEGEVAKT]["entry_id"] == "legevakt-sorumsand"
    pancakes = next(g for g in groups if "pannekaker" in g["example"])
    assert (pancakes["count"], pancakes["outcomes"]) == (2, {"declined": 2})
    assert groups[0] is pancakes  # most asked first


def test_unanswered_suggests_the_closest_entries(run_cli, review_log: dict):
    groups = _review(run_cli, review_log)
    tax = next(g for g in groups if g["example"] == "eiendomsskatten")
    assert len(tax["suggestions"]) == 3
    first = tax["suggestions"][0]
    assert first["entry_id"].startswith("eiendomsskatt-")
    assert first["label"]
    assert 0 < first["score"] <= 100
    scores = [s["score"] for s in tax["suggestions"]]
    assert scores == sorted(scores, reverse=True)

    table = run_cli("unanswered", env=review_log["env"])
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:2] == ["count", "users"]
    assert "outcomes: mente du 1" in table.stdout
    assert "outcomes: 👎 1" in table.stdout
    assert f"suggested: {first['entry_id']} «{first['label']}»" in table.stdout
    assert "python -m bot dismiss REF" in table.stdout

    rows = list(
        csv.DictReader(
            io.StringIO(run_cli("unanswered", "--format", "csv", env=review_log["env"]).stdout)
        )
    )
    row = next(r for r in rows if r["example"] == "eiendomsskatten")
    assert row["outcomes"] == "ambiguous:1"
    assert row["suggestions"].split()[0].startswith(f"{first['entry_id']}:")


def test_a_taught_question_leaves_the_review(run_cli, review_log: dict):
    question = "Får pappa bli boende i eget hus når han blir gammel?"
    ref = _by_question(_review(run_cli, review_log))[question]["ref"]
    taught = run_cli("teach", ref, "bo-hjemme-lenger-velferdsteknologi", env=review_log["env"])
    assert taught.returncode == 0, taught.stderr
    left = _by_question(_review(run_cli, review_log))
    assert question not in left
    assert "eiendomsskatten" in left  # the others stay


def test_dismiss_takes_a_group_out_of_the_review(run_cli, review_log: dict):
    asked = _by_question(_review(run_cli, review_log))
    ref = asked["hvordan lager jeg pannekaker"]["ref"]
    proc = run_cli("dismiss", ref, env=review_log["env"])
    assert proc.returncode == 0, proc.stderr
    assert "marked 2 question(s) as correctly declined" in proc.stdout
    left = _by_question(_review(run_cli, review_log))
    assert not any("pannekaker" in q for q in left)

    phone = asked["telefonnummeret til legevakta"]["ref"]
    proc = run_cli("dismiss", phone, "--reason", "handled", "--only", env=review_log["env"])
    assert proc.returncode == 0, proc.stderr
    assert "marked 1 question(s) as handled" in proc.stdout
    dismissed = _dismissed(review_log["db"])
    assert dismissed["Hvordan lager jeg pannekaker?"] == "declined"
    assert dismissed["hvordan lager jeg pannekaker"] == "declined"
    assert dismissed["telefonnummeret til legevakta"] == "handled"
    assert dismissed["eiendomsskatten"] is None
    assert set(_by_question(_review(run_cli, review_log))) == {
        "eiendomsskatten",
        "Får pappa bli boende i eget hus når han blir gammel?",
        LEGEVAKT,
    }


def test_dismiss_an_unknown_ref_is_one_error_line(run_cli, review_log: dict):
    proc = run_cli("dismiss", "nosuchref0", env=review_log["env"])
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: no logged question with ref 'nosuchref0'; see `python -m bot unanswered` for refs"
    ]
    bad = run_cli("dismiss", "x", "--reason", "maybe", env=review_log["env"])
    assert bad.returncode == 2

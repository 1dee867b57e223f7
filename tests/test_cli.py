"""The command line, run as residents and staff run it: real subprocesses, real files."""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import REPO, SHIPPED_KNOWLEDGE, TINY_ENTRIES

from bot.cli.main import build_parser
from bot.core.knowledge import load_knowledge

LEGEVAKT_QUESTION = "blir legevakten på Sørumsand beholdt?"
LEGEVAKT_PASSAGE = "Legevakttjenesten på Sørumsand skal beholdes i perioden"
DEV_SET = REPO / "tests" / "data" / "dev_questions.yaml"


def _subcommands() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(action.choices)


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


# --- ask ---------------------------------------------------------------------------------


def test_ask_answers_the_legevakt_question(run_cli):
    proc = run_cli("ask", LEGEVAKT_QUESTION)
    assert proc.returncode == 0, proc.stderr
    assert LEGEVAKT_PASSAGE in proc.stdout
    assert "Helse og mestring" in proc.stdout
    assert "2019–2023" in proc.stdout
    assert "Politisk plattform for Lillestrøm kommune" in proc.stdout
    assert proc.stderr == ""


def test_ask_json_has_the_documented_fields(run_cli):
    proc = run_cli("ask", "--json", LEGEVAKT_QUESTION)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    data = json.loads(line)
    documented = {
        "question",
        "answered",
        "entry_id",
        "answer",
        "document",
        "section",
        "score",
        "inferred",
        "alternatives",
    }
    assert documented <= set(data)
    assert data["question"] == LEGEVAKT_QUESTION
    assert data["answered"] is True
    assert data["entry_id"] == "legevakt-sorumsand"
    assert data["answer"].startswith(LEGEVAKT_PASSAGE)
    assert data["document"] == "Politisk plattform for Lillestrøm kommune"
    assert data["section"] == "Helse og mestring"
    assert isinstance(data["score"], int | float)
    assert 0 <= data["score"] <= 100
    assert isinstance(data["alternatives"], list)
    assert data["inferred"] is False  # the question's own words found it


def test_ask_json_declined_and_alternatives_shapes(run_cli):
    questions = ["Kan du anbefale en god restaurant?", "eiendomsskatt", "kjeller", "skole"]
    proc = run_cli("ask", "--json", input="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    declined = rows[0]
    assert declined["answered"] is False
    assert (declined["entry_id"], declined["answer"], declined["section"]) == (None, None, None)
    assert 0 <= declined["score"] <= 100
    for row in rows:
        assert isinstance(row["answered"], bool)
        assert 0 <= row["score"] <= 100
        for alt in row["alternatives"]:
            assert set(alt) >= {"entry_id", "question", "score"}
            assert isinstance(alt["question"], str)
            assert alt["question"]
            assert 0 <= alt["score"] <= 100
        if row["alternatives"]:
            assert row["answered"] is False
            assert len({a["entry_id"] for a in row["alternatives"]}) == len(row["alternatives"])


def test_ask_reads_questions_from_stdin_one_json_line_each(run_cli):
    stdin = f"{LEGEVAKT_QUESTION}\n\nhei\n   \nHvor høy er eiendomsskatten?\n"
    proc = run_cli("ask", "--json", input=stdin)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["question"] for r in rows] == [
        LEGEVAKT_QUESTION,
        "hei",
        "Hvor høy er eiendomsskatten?",
    ]
    assert rows[0]["entry_id"] == "legevakt-sorumsand"
    assert rows[1]["answered"] is False
    assert rows[2]["entry_id"] == "eiendomsskatt-2-promille"


def test_ask_reads_stdin_as_plain_text(run_cli):
    proc = run_cli("ask", input=f"{LEGEVAKT_QUESTION}\nhei\n")
    assert proc.returncode == 0, proc.stderr
    assert LEGEVAKT_PASSAGE in proc.stdout
    assert "Hei!" in proc.stdout


def test_ask_with_a_tiny_knowledge_dir(run_cli, tiny_knowledge: Path):
    proc = run_cli("--knowledge", str(tiny_knowledge), "ask", "--json", "legevakta i nordby")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["entry_id"] == "legevakt-nordby"
    assert data["document"] == "Demo-plan for Nordby kommune"


@pytest.mark.parametrize("how", ["option", "environment"])
def test_broken_knowledge_dir_gives_one_clear_error_line(run_cli, tiny_knowledge: Path, how: str):
    (tiny_knowledge / "demo.yaml").write_text(
        TINY_ENTRIES.replace("section: Oppvekst › Skole", "section: Oppvekst › Skol"),
        encoding="utf-8",
    )
    if how == "option":
        proc = run_cli("--knowledge", str(tiny_knowledge), "ask", LEGEVAKT_QUESTION)
    else:
        proc = run_cli("ask", LEGEVAKT_QUESTION, env={"BOT_KNOWLEDGE_DIR": str(tiny_knowledge)})
    assert proc.returncode != 0
    assert proc.stdout == ""
    line = _one_error_line(proc.stderr)
    assert "demo.yaml:26" in line
    assert "did you mean 'Oppvekst › Skole'?" in line


def test_missing_knowledge_dir_gives_one_clear_error_line(run_cli, tmp_path: Path):
    proc = run_cli("--knowledge", str(tmp_path / "nowhere"), "ask", "hei")
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr)
    assert "knowledge directory not found" in line


def test_several_problems_are_summarised_on_one_line(run_cli, tiny_knowledge: Path):
    text = TINY_ENTRIES.replace("section: Oppvekst › Skole", "section: Oppvekst › Skol")
    text = text.replace("related: [helsehus]", "related: [nowhere]")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    proc = run_cli("--knowledge", str(tiny_knowledge), "ask", "hei")
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr)
    assert "(1 more; run `python -m bot check`)" in line


# --- eval --------------------------------------------------------------------------------


def test_eval_prints_rates_and_mrr(run_cli):
    proc = run_cli("eval", str(DEV_SET), "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("questions: ")
    labels = ("answered right", "answered wrong", "declined", "MRR: ", "plain baseline", "target (")
    for label in labels:
        assert label in out
    assert "not right:" not in out


def test_eval_json_figures_are_consistent(run_cli):
    proc = run_cli("eval", str(DEV_SET), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["questions"] == summary["answerable"] + summary["unanswerable"]
    assert summary["questions"] >= 150
    assert 0 <= summary["mrr"] <= 1
    parts = ("answered_right", "answered_wrong", "clarified", "declined")
    assert abs(sum(summary[k] for k in parts) - 100) <= 0.5
    una = ("unanswerable_declined", "unanswerable_answered", "unanswerable_clarified")
    assert abs(sum(summary[k] for k in una) - 100) <= 0.5
    plain = summary["baseline"]
    assert plain["answered_right"] + plain["answered_wrong"] <= 100
    # The point of the matcher: better than plain fuzzy matching on the same questions.
    assert summary["answered_right"] > plain["answered_right"]
    assert summary["answered_wrong"] < plain["answered_wrong"]


def test_eval_missing_file_is_one_error_line(run_cli, tmp_path: Path):
    proc = run_cli("eval", str(tmp_path / "none.yaml"))
    assert proc.returncode == 1
    assert "none.yaml" in _one_error_line(proc.stderr)


def test_eval_leave_out_measures_the_knowledge_alone(run_cli, tiny_knowledge: Path):
    proc = run_cli("--knowledge", str(tiny_knowledge), "eval", "--leave-out", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    kb = load_knowledge(tiny_knowledge)
    # Every phrasing but each entry's first is asked once, hidden.
    assert summary["hidden_phrasings"] == sum(len(e.questions) - 1 for e in kb.entries)
    assert summary["answered_right"] + summary["answered_wrong"] <= 100
    assert {w["entry_id"] for w in summary["weakest"]} <= set(kb.by_id)
    again = run_cli("--knowledge", str(tiny_knowledge), "eval", "--leave-out", "--json")
    assert json.loads(again.stdout) == summary  # fixed folds: the same figures every run


@pytest.mark.parametrize("args", [(), ("--leave-out", "some.yaml")])
def test_eval_needs_a_file_or_leave_out(run_cli, args: tuple[str, ...]):
    proc = run_cli("eval", *args)
    assert proc.returncode == 2
    assert "--leave-out" in _one_error_line(proc.stderr)


# --- command-line meta -------------------------------------------------------------------


def test_top_level_help_lists_every_command(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in _subcommands():
        assert f"    {name} " in proc.stdout


@pytest.mark.parametrize("command", _subcommands())
def test_every_command_has_a_working_help(run_cli, command: str):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python -m bot {command}")
    assert proc.stderr == ""


def test_unknown_command_is_a_usage_error(run_cli):
    proc = run_cli("frobnicate")
    assert proc.returncode == 2
    assert "usage: python -m bot" in proc.stderr
    assert "invalid choice: 'frobnicate'" in proc.stderr


def test_no_command_is_a_usage_error(run_cli):
    proc = run_cli()
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_chat_answers_from_stdin(run_cli):
    proc = run_cli("chat", input=f"hei\n{LEGEVAKT_QUESTION}\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Lillestrøm kommune – spør om")
    assert "Hei! Jeg svarer på spørsmål om Lillestrøm kommune" in out
    assert LEGEVAKT_PASSAGE in out
    assert out.index("Hei!") < out.index(LEGEVAKT_PASSAGE)
    assert "Traceback" not in proc.stderr


def test_chat_picks_a_mente_du_option_by_number(run_cli, tmp_path: Path):
    twin = tmp_path / "twin"
    (twin / "sources").mkdir(parents=True)
    (twin / "sources" / "twin.md").write_text(
        "---\nid: twin\ntitle: To legevakter\ndescription: d\ndate: '2020'\n---\n\n# Helse\n\n"
        "Legevakten på Nordby skal beholdes.\n\nLegevakten på Sørby skal beholdes.\n",
        encoding="utf-8",
    )
    (twin / "twin.yaml").write_text(
        "source: twin\nsection: Helse\nentries:\n"
        "  - id: nordby\n    answer: Legevakten på Nordby skal beholdes.\n"
        "    questions: [Blir legevakten på Nordby beholdt?]\n"
        "  - id: sorby\n    answer: Legevakten på Sørby skal beholdes.\n"
        "    questions: [Blir legevakten på Sørby beholdt?]\n",
        encoding="utf-8",
    )
    proc = run_cli("--knowledge", str(twin), "chat", input="Blir legevakten beholdt?\n2\n")
    assert proc.returncode == 0, proc.stderr
    assert "Mente du" in proc.stdout
    options = [line.strip() for line in proc.stdout.splitlines() if line.strip()[:2] == "2."]
    chosen = "Nordby" if "Nordby" in options[0] else "Sørby"
    assert f"«Legevakten på {chosen} skal beholdes.»" in proc.stdout


def test_run_without_token_is_one_line_usage_error(run_cli, tmp_path: Path):
    # cwd is an empty directory, so no .env can supply a token.
    proc = run_cli("run", cwd=tmp_path)
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert "TELEGRAM_BOT_TOKEN" in line
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOT_FLOOD_LIMIT", "-1"),
        ("BOT_FLOOD_LIMIT", "many"),
        ("BOT_RATE_LIMIT", "0"),
        ("BOT_ADMIN_IDS", "alice,bob"),
        ("BOT_WEBHOOK_PORT", "70000"),
    ],
)
def test_run_with_a_bad_setting_names_it(run_cli, tmp_path: Path, variable: str, value: str):
    env = {"TELEGRAM_BOT_TOKEN": "123456:not-a-real-token", variable: value}
    proc = run_cli("run", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert variable in line
    assert "123456:not-a-real-token" not in proc.stderr


# --- admin commands on a real question log ----------------------------------------------

LOGGED = [
    "hei",
    LEGEVAKT_QUESTION,
    "Hvordan lager jeg pannekaker?",
    "hvordan lager jeg pannekaker",
    "Får pappa bli boende i eget hus når han blir gammel?",
    "Hvem vant fotballkampen i går?",
    "Hvor høy er eiendomsskatten?",
]
TEACH_ENTRY = "bo-hjemme-lenger-velferdsteknologi"


@pytest.fixture(scope="module")
def question_log(run_cli, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A question log built by chatting, and what ``ask`` makes of the same questions.

    Shared by the module: tests only read it (or copy it before changing it).
    """
    tmp_path = tmp_path_factory.mktemp("log")
    knowledge_copy = tmp_path / "knowledge"
    shutil.copytree(SHIPPED_KNOWLEDGE, knowledge_copy)
    db = tmp_path / "log" / "questions.sqlite3"
    env = {"BOT_DATABASE": str(db)}
    stdin = "\n".join(LOGGED) + "\n"
    proc = run_cli("--knowledge", str(knowledge_copy), "chat", input=stdin, env=env)
    assert proc.returncode == 0, proc.stderr
    assert db.exists()
    asked = run_cli("--knowledge", str(knowledge_copy), "ask", "--json", input=stdin)
    outcomes = {}
    for line in asked.stdout.splitlines():
        row = json.loads(line)
        outcomes[row["question"]] = row["outcome"]
    assert outcomes[LEGEVAKT_QUESTION] == "answered"
    assert outcomes["hei"] == "smalltalk"
    assert outcomes["Hvordan lager jeg pannekaker?"] == "declined"
    return {"db": db, "env": env, "knowledge": knowledge_copy, "outcomes": outcomes}


def _unanswered(run_cli, log: dict) -> list[dict]:
    proc = run_cli("unanswered", "--format", "json", env=log["env"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


FAILURES = ("declined", "ambiguous", "related")


def test_unanswered_json_groups_with_counts_and_refs(run_cli, question_log: dict):
    groups = _unanswered(run_cli, question_log)
    declined = [q for q, o in question_log["outcomes"].items() if o in FAILURES]
    assert sum(g["count"] for g in groups) == len(declined)
    assert {q["question"] for g in groups for q in g["questions"]} == set(declined)
    pancakes = next(g for g in groups if "pannekaker" in g["example"])
    assert pancakes["count"] == 2
    assert len(pancakes["questions"]) == 2
    assert len({q["ref"] for q in pancakes["questions"]}) == 2
    assert all(q["ref"] for g in groups for q in g["questions"])
    assert groups == sorted(groups, key=lambda g: -g["count"])
    asked = {q["question"] for g in groups for q in g["questions"]}
    assert LEGEVAKT_QUESTION not in asked
    assert "hei" not in asked


def test_unanswered_csv_and_table(run_cli, question_log: dict):
    proc = run_cli("unanswered", "--format", "csv", env=question_log["env"])
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert set(rows[0]) == {
        "count",
        "users",
        "last_asked",
        "example",
        "refs",
        "outcomes",
        "suggestions",
    }
    declined = [q for q, o in question_log["outcomes"].items() if o in FAILURES]
    assert sum(int(r["count"]) for r in rows) == len(declined)
    refs = {ref for r in rows for ref in r["refs"].split()}
    json_refs = {q["ref"] for g in _unanswered(run_cli, question_log) for q in g["questions"]}
    assert refs == json_refs
    table = run_cli("unanswered", env=question_log["env"])
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split()[:2] == ["count", "users"]


def test_stats_json_counts_match_the_chat(run_cli, question_log: dict):
    proc = run_cli("stats", "--json", env=question_log["env"])
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    outcomes = list(question_log["outcomes"].values())
    assert stats["questions"] == len(LOGGED)
    for outcome in ("answered", "declined", "ambiguous", "smalltalk"):
        assert stats[outcome] == outcomes.count(outcome), outcome
    assert stats["declined"] >= 2
    assert stats["by_channel"]["console"] == len(LOGGED)
    real = len(LOGGED) - stats["smalltalk"]
    assert stats["answer_rate"] == pytest.approx(stats["answered"] / real)
    top = {t["entry_id"]: t["count"] for t in stats["top_entries"]}
    assert top["legevakt-sorumsand"] == 1
    text = run_cli("stats", env=question_log["env"])
    assert text.returncode == 0
    assert f"questions:      {len(LOGGED)}" in text.stdout


def test_teach_adds_the_phrasing_and_ask_then_answers(run_cli, question_log: dict, tmp_path: Path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(question_log["knowledge"], knowledge)
    groups = _unanswered(run_cli, question_log)
    candidates = [q for g in groups for q in g["questions"] if "pannekaker" not in q["question"]]
    # Prefer the question that belongs to the entry; any declined one will do.
    asked = next((q for q in candidates if "pappa" in q["question"]), candidates[0])
    target = knowledge / "plattform-helse.yaml"
    before = target.read_text(encoding="utf-8")
    others = {p.name: p.read_bytes() for p in knowledge.rglob("*") if p.is_file() and p != target}

    entry = TEACH_ENTRY
    proc = run_cli(
        "--knowledge", str(knowledge), "teach", asked["ref"], entry, env=question_log["env"]
    )
    assert proc.returncode == 0, proc.stderr
    assert entry in proc.stdout
    assert "plattform-helse.yaml" in proc.stdout

    after = target.read_text(encoding="utf-8")
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(new_lines) == len(old_lines) + 1
    added = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b]
    at = added[0] if added else len(old_lines)
    assert new_lines[:at] + new_lines[at + 1 :] == old_lines
    assert new_lines[at].strip() == f"- {asked['question']}"
    assert {
        p.name: p.read_bytes() for p in knowledge.rglob("*") if p.is_file() and p != target
    } == (others)

    answer = run_cli("--knowledge", str(knowledge), "ask", "--json", asked["question"])
    data = json.loads(answer.stdout)
    assert (data["answered"], data["entry_id"]) == (True, entry)

    again = run_cli(
        "--knowledge", str(knowledge), "teach", asked["ref"], entry, env=question_log["env"]
    )
    assert again.returncode != 0
    assert f"er allerede et spørsmål i oppføringen {entry}" in _one_error_line(again.stderr)
    assert target.read_text(encoding="utf-8") == after


@pytest.mark.parametrize(
    ("ref", "entry", "message"),
    [
        ("nosuchref", "legevakt-sorumsand", "no logged question with ref 'nosuchref'"),
        (None, "no-such-entry", "det finnes ingen oppføring med id-en no-such-entry"),
    ],
)
def test_teach_with_unknown_ref_or_entry_is_one_error_line(
    run_cli, question_log: dict, ref, entry, message
):
    if ref is None:
        ref = _unanswered(run_cli, question_log)[0]["questions"][0]["ref"]
    knowledge = question_log["knowledge"]
    before = {p: p.read_bytes() for p in knowledge.rglob("*.yaml")}
    proc = run_cli("--knowledge", str(knowledge), "teach", ref, entry, env=question_log["env"])
    assert proc.returncode != 0
    assert message in _one_error_line(proc.stderr)
    assert {p: p.read_bytes() for p in knowledge.rglob("*.yaml")} == before


def test_admin_command_without_a_log_is_one_error_line(run_cli, tmp_path: Path):
    proc = run_cli("stats", "--database", str(tmp_path / "missing.sqlite3"))
    assert proc.returncode == 1
    assert "no question log" in _one_error_line(proc.stderr)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_purge_and_forget_report_counts(run_cli, question_log: dict, tmp_path: Path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in question_log["db"].parent.iterdir():
        shutil.copy(f, copy / f.name)
    db = copy / question_log["db"].name
    env = {"BOT_DATABASE": str(db)}

    proc = run_cli("purge", "--yes", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "deleted 0 question(s) older than the retention period"

    proc = run_cli("forget", "123", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "deleted 0 question(s) and 0 handover case(s) of that Telegram user"
    )

    _age_rows(db, days=2)
    proc = run_cli("purge", "--days", "1", input="ja\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.strip() == f"deleted {len(LOGGED)} question(s) older than the retention period"
    )
    stats = json.loads(run_cli("stats", "--json", env=env).stdout)
    assert stats["questions"] == 0


def _age_rows(db: Path, *, days: int) -> None:
    """Moves every logged question's time back by some days, as if asked then."""
    then = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="microseconds")
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE questions SET asked_at = ?", (then,))


@pytest.mark.parametrize(
    ("args", "answer", "message"),
    [
        (("--days", "0"), "y\n", "--days must be at least 1, not 0"),
        (("--days", "-3", "--yes"), "", "--days must be at least 1, not -3"),
        (("--days", "1"), "", "not confirmed, nothing deleted"),
        (("--days", "1"), "n\n", "not confirmed, nothing deleted"),
        ((), "nei\n", "not confirmed, nothing deleted"),
    ],
    ids=["zero-days", "negative-days", "no-answer", "answered-no", "default-days-answered-no"],
)
def test_purge_without_confirmation_or_with_too_few_days_deletes_nothing(
    run_cli, question_log: dict, tmp_path: Path, args: tuple[str, ...], answer: str, message: str
):
    copy = tmp_path / "copy"
    shutil.copytree(question_log["db"].parent, copy)
    db = copy / question_log["db"].name
    _age_rows(db, days=400)
    env = {"BOT_DATABASE": str(db)}
    proc = run_cli("purge", *args, input=answer, env=env)
    assert proc.returncode != 0
    assert message in _one_error_line(proc.stderr)
    assert proc.stdout == ""
    stats = json.loads(run_cli("stats", "--json", env=env).stdout)
    assert stats["questions"] == len(LOGGED)


def test_forget_takes_a_numeric_user_id(run_cli):
    proc = run_cli("forget", "not-a-number")
    assert proc.returncode == 2
    assert "invalid int value" in proc.stderr


def test_ask_json_conversation_keeps_each_conversations_topic(run_cli):
    lines = [
        {"conversation": "a", "question": "Blir legevakten på Sørumsand beholdt?"},
        {"conversation": "b", "question": "Hva skjer med eiendomsskatten?"},
        {"conversation": "a", "question": "og hva med Fet?"},
        {"conversation": "b", "question": "hvor mye er den?"},
        {"conversation": 7, "question": "og hva med Fet?"},
    ]
    proc = run_cli(
        "ask", "--json", "--conversation", input="".join(json.dumps(x) + "\n" for x in lines)
    )
    assert proc.returncode == 0, proc.stderr
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["conversation"] for r in replies] == ["a", "b", "a", "b", "7"]
    # "og hva med Fet?" leans on conversation a's topic, the clinic at Sørumsand …
    assert replies[2]["outcome"] == "related"
    assert replies[2]["related"]["entry_id"] == "legevakt-sorumsand"
    # … "hvor mye er den?" on b's, the property tax, which says how much …
    assert replies[3]["outcome"] == "answered"
    assert replies[3]["entry_id"] == "eiendomsskatt-2-promille"
    # … and a new conversation has no topic to lean on.
    assert replies[4]["outcome"] != "related" or replies[4]["related"]["entry_id"] != (
        "legevakt-sorumsand"
    )


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '["a", "b"]',
        '{"conversation": "a"}',
        '{"conversation": "a", "question": null}',
        '{"conversation": true, "question": "hei"}',
    ],
)
def test_ask_json_conversation_refuses_a_bad_line_in_one_line(run_cli, line: str):
    proc = run_cli("ask", "--json", "--conversation", input=line + "\n")
    assert proc.returncode == 2
    assert _one_error_line(proc.stderr).startswith("error: line 1: expected")

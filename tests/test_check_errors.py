"""`check` on copies of the shipped knowledge: a phrasing another entry takes is an error
naming both, and one slip gives one clear error about its own file, in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY_ENTRIES

from bot.authoring.checks import phrasing_problems
from bot.core.errors import KnowledgeError
from bot.core.knowledge import load_knowledge
from bot.core.matcher import Matcher

NEW_ENTRY = """
  - id: legevakt-ny
    answer: >-
      Legevakttjenesten på Sørumsand skal beholdes i perioden.
    questions:
      - {phrasing}
"""


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


def _add_entry(knowledge: Path, phrasing: str) -> None:
    helse = knowledge / "plattform-helse.yaml"
    text = helse.read_text(encoding="utf-8").rstrip("\n") + "\n"
    helse.write_text(text + NEW_ENTRY.format(phrasing=phrasing), encoding="utf-8")


def test_check_fails_when_a_new_entry_takes_a_phrasing(run_cli, knowledge_copy: Path):
    _add_entry(knowledge_copy, "blir legevakta på sørumsand beholdt")
    proc = run_cli("--knowledge", str(knowledge_copy), "check", "--strict")
    assert proc.returncode == 1
    errors = _errors(proc.stderr)
    assert errors, proc.stderr
    own = next(e for e in errors if "of legevakt-sorumsand" in e)
    assert "phrasing «Blir legevakten på Sørumsand beholdt?» of legevakt-sorumsand" in own
    assert "made ambiguous between legevakt-sorumsand and legevakt-ny" in own
    assert "Fix: legevakt-ny's phrasing «blir legevakta på sørumsand beholdt»" in own
    assert all("legevakt-sorumsand" in e and "legevakt-ny" in e for e in errors)
    assert "Traceback" not in proc.stderr


def test_a_phrasing_copied_into_another_entry_is_reported_for_both(tiny_knowledge: Path):
    (tiny_knowledge / "more.yaml").write_text(
        "source: demo\nentries:\n  - id: legevakt-kvalitet\n    section: Helse\n"
        "    answer: Kvaliteten på legevakten skal være høy.\n"
        "    questions:\n      - Skal legevakta på Nordby bestå?\n",
        encoding="utf-8",
    )
    kb = load_knowledge(tiny_knowledge)
    problems = phrasing_problems(kb, Matcher(kb))
    assert {p.entry for p in problems} == {"legevakt-nordby", "legevakt-kvalitet"}
    own = next(p for p in problems if p.entry == "legevakt-nordby")
    assert own.message.startswith(
        "phrasing «Skal legevakta i Nordby bestå?» of legevakt-nordby is made ambiguous "
        "between legevakt-nordby and legevakt-kvalitet"
    )
    assert own.field == "questions"


def test_the_shipped_knowledge_has_no_taken_phrasings(shipped_kb, shipped_matcher):
    assert phrasing_problems(shipped_kb, shipped_matcher) == []


def test_a_tab_in_one_file_gives_errors_about_that_file_only(run_cli, knowledge_copy: Path):
    helse = knowledge_copy / "plattform-helse.yaml"
    text = helse.read_text(encoding="utf-8")
    helse.write_text(text.replace("\n    answer:", "\n\tanswer:", 1), encoding="utf-8")
    proc = run_cli("--knowledge", str(knowledge_copy), "check")
    assert proc.returncode == 1
    errors = _errors(proc.stderr)
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"{helse}:")
    assert "indented with a tab" in errors[0]
    assert "Fix: indent with spaces, not tabs" in errors[0]
    assert "check failed: 1 error(s)" in proc.stderr


def test_an_entry_that_fails_does_not_make_related_ids_unknown(tiny_knowledge: Path):
    # helsehus does not load (its answer is not in the source); legevakt-nordby names it.
    text = TINY_ENTRIES.replace(
        "answer: Det skal bygges et nytt", "answer: Det skal bygges et rødt"
    )
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    try:
        load_knowledge(tiny_knowledge)
    except KnowledgeError as exc:
        messages = [str(p) for p in exc.problems]
    assert len(messages) == 1, messages
    assert "not found verbatim" in messages[0]


def test_a_broken_source_does_not_fail_the_entries_of_the_others(knowledge_copy: Path):
    merger = knowledge_copy / "sources" / "sammenslaing.md"
    text = merger.read_text(encoding="utf-8")
    merger.write_text(text.replace("\nid: sammenslaing", '\nid: "sammenslaing', 1))
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(knowledge_copy)
    files = {Path(p.file).name for p in caught.value.problems}
    assert files == {"sammenslaing.md"}, [str(p) for p in caught.value.problems]


def test_a_colon_in_a_phrasing_says_to_quote_it(tiny_knowledge: Path):
    text = TINY_ENTRIES.replace('"Skolemat: får elevene gratis mat?"', "Skolemat: gratis mat?")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    try:
        load_knowledge(tiny_knowledge)
    except KnowledgeError as exc:
        [problem] = exc.problems
    assert (problem.entry, problem.field, problem.line) == ("skolemat", "questions", 30)
    assert problem.message.startswith("question 2 is not text")
    assert "«Skolemat: gratis mat?»" in problem.message
    assert problem.fix == 'put the phrasing in quotes: "Skolemat: gratis mat?"'


def test_a_colon_in_an_answer_says_to_quote_it(tiny_knowledge: Path):
    text = TINY_ENTRIES.replace(
        "answer: Alle barn skal få", "answer: Barnehage: alle barn skal få", 1
    )
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    try:
        load_knowledge(tiny_knowledge)
    except KnowledgeError as exc:
        [problem] = exc.problems
    assert "': '" in problem.message
    assert "put the text in quotes" in problem.fix


def test_an_extra_field_says_which_and_to_remove_it(tiny_knowledge: Path):
    text = TINY_ENTRIES.replace(
        "    related: [helsehus]\n", "    related: [helsehus]\n    tags: x\n"
    )
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    try:
        load_knowledge(tiny_knowledge)
    except KnowledgeError as exc:
        [problem] = exc.problems
    assert (problem.entry, problem.field) == ("legevakt-nordby", "tags")
    assert problem.message == "unknown field 'tags'"
    assert problem.fix.startswith("remove the line 'tags: …'")
    assert "Extra inputs" not in str(problem)


def test_a_bad_id_says_what_ids_may_contain(tiny_knowledge: Path):
    text = TINY_ENTRIES.replace("id: skolemat", "id: Skole_Mat")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    try:
        load_knowledge(tiny_knowledge)
    except KnowledgeError as exc:
        [problem] = exc.problems
    assert problem.message == (
        "'Skole_Mat' is not a valid id: an id may hold only lowercase letters a-z, digits 0-9 "
        "and hyphens, starts with a letter or digit, and is at most 60 characters"
    )
    assert problem.fix.endswith("e.g. 'skole-mat'")
    assert "pattern" not in str(problem)


def test_positions_are_counted_from_one(tiny_knowledge: Path):
    text = TINY_ENTRIES.replace("keywords: [legevakt, legevakta,", "keywords: [legevakt, 112,")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    try:
        load_knowledge(tiny_knowledge)
    except KnowledgeError as exc:
        [problem] = exc.problems
    assert problem.message == "keyword 2 reads as a number, not text"
    assert problem.fix == 'put the text in quotes: "112"'
    assert ".1" not in str(problem)
    assert "Input should be" not in str(problem)

"""Teaching a phrasing edits one line of one YAML file, or nothing at all."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import SHIPPED_KNOWLEDGE, TINY_ENTRIES

from bot.authoring.teach import TeachError, add_phrasing
from bot.core.knowledge import load_knowledge
from bot.core.matcher import ANSWERED, RELATED, Matcher


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def _inserted_line(before: str, after: str) -> tuple[int, str]:
    """Returns (index, text) of the one line ``after`` adds to ``before``; fails otherwise."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(new) == len(old) + 1, "exactly one line is added"
    at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(old))
    assert new[:at] + new[at + 1 :] == old, "every other line is unchanged, byte for byte"
    return at, new[at]


@pytest.mark.parametrize(
    ("entry_id", "phrasing", "after_line", "expected_line"),
    [
        (
            "legevakt-nordby",
            "Er legevakta i Nordby open om natta?",
            "      - Will the emergency clinic in Nordby stay open?\n",
            "      - Er legevakta i Nordby open om natta?\n",
        ),
        (
            "helsehus",
            "Hvor skal helsehuset ligge?",
            "      - Kommer det et nytt helsehus i sentrum?\n",
            "      - Hvor skal helsehuset ligge?\n",
        ),
        (
            "skolemat",
            "Mat på skolen: blir den gratis?",
            '      - "Skolemat: får elevene gratis mat?"\n',
            "      - 'Mat på skolen: blir den gratis?'\n",
        ),
        (
            "barnehageplass",
            "#barnehage nær hjemmet?",
            "      - Kindergarten place close to home?\n",
            "      - '#barnehage nær hjemmet?'\n",
        ),
    ],
    ids=["comment-after-item", "middle-entry", "needs-quotes", "last-entry-hash"],
)
def test_add_phrasing_adds_one_line_and_keeps_every_other_byte(
    tiny_knowledge: Path, entry_id: str, phrasing: str, after_line: str, expected_line: str
):
    path = tiny_knowledge / "demo.yaml"
    others = {k: v for k, v in _snapshot(tiny_knowledge).items() if k != "demo.yaml"}
    written = add_phrasing(tiny_knowledge, entry_id, phrasing)
    assert written == path
    after = path.read_text(encoding="utf-8")
    at, line = _inserted_line(TINY_ENTRIES, after)
    assert line == expected_line
    assert after.splitlines(keepends=True)[at - 1] == after_line
    # Comments, the flow list and the folded answer are all still there.
    assert "# Demo entries: comments must survive teaching." in after
    assert "  # nynorsk-ish" in after
    assert "    keywords: [legevakt, legevakta,\n      emergency]\n" in after
    assert "    answer: >-\n      Legevakten på Nordby skal beholdes." in after
    assert {k: v for k, v in _snapshot(tiny_knowledge).items() if k != "demo.yaml"} == others
    assert not list(tiny_knowledge.glob(".*.tmp")), "no temporary file is left behind"

    kb = load_knowledge(tiny_knowledge)
    assert kb.by_id[entry_id].questions[-1] == phrasing
    result = Matcher(kb).match(phrasing)
    assert (result.outcome, result.best.entry_id) == (ANSWERED, entry_id)


def test_add_phrasing_squashes_whitespace(tiny_knowledge: Path):
    add_phrasing(tiny_knowledge, "helsehus", "  Hvor   skal\thelsehuset\n ligge?  ")
    kb = load_knowledge(tiny_knowledge)
    assert kb.by_id["helsehus"].questions[-1] == "Hvor skal helsehuset ligge?"


def test_add_phrasing_to_a_file_without_final_newline(tiny_knowledge: Path):
    path = tiny_knowledge / "demo.yaml"
    path.write_text(TINY_ENTRIES.rstrip("\n"), encoding="utf-8")
    add_phrasing(tiny_knowledge, "barnehageplass", "Får ungene plass i nærheten?")
    after = path.read_text(encoding="utf-8")
    assert after == TINY_ENTRIES + "      - Får ungene plass i nærheten?\n"
    assert load_knowledge(tiny_knowledge).by_id["barnehageplass"].questions[-1] == (
        "Får ungene plass i nærheten?"
    )


def test_add_phrasing_to_a_flow_list_keeps_the_file_valid(tiny_knowledge: Path):
    path = tiny_knowledge / "demo.yaml"
    path.write_text(
        TINY_ENTRIES.replace(
            "    questions:\n      - Blir det bygget et helsehus?\n"
            "      - Kommer det et nytt helsehus i sentrum?\n",
            "    questions: [Blir det bygget et helsehus?, Kommer det et nytt helsehus?]\n",
        ),
        encoding="utf-8",
    )

    def content(kb):
        return {e.id: (e.questions, e.answer, e.keywords, e.related) for e in kb.entries}

    before = content(load_knowledge(tiny_knowledge))
    add_phrasing(tiny_knowledge, "helsehus", "Hvor skal helsehuset ligge?")
    after = path.read_text(encoding="utf-8")
    assert "# Demo entries: comments must survive teaching." in after
    assert "  # nynorsk-ish" in after
    kb = load_knowledge(tiny_knowledge)
    assert kb.by_id["helsehus"].questions == (
        "Blir det bygget et helsehus?",
        "Kommer det et nytt helsehus?",
        "Hvor skal helsehuset ligge?",
    )
    changed = {k for k, v in content(kb).items() if before[k] != v}
    assert changed == {"helsehus"}


@pytest.mark.parametrize(
    ("entry_id", "phrasing", "message"),
    [
        pytest.param(
            "helsehus",
            "blir det gratis skolemat",
            "«blir det gratis skolemat» er allerede et spørsmål i oppføringen skolemat",
            id="duplicate-of-another-entry",
        ),
        pytest.param(
            "helsehus",
            "Blir det bygget et HELSEHUS",
            "«Blir det bygget et HELSEHUS» er allerede et spørsmål i oppføringen helsehus",
            id="duplicate-of-its-own",
        ),
        pytest.param(
            "no-such-entry",
            "Hva skjer?",
            "det finnes ingen oppføring med id-en no-such-entry",
            id="unknown",
        ),
        pytest.param("helsehus", "", "spørsmålet er tomt", id="empty"),
        pytest.param("helsehus", " \t\n ", "spørsmålet er tomt", id="blank"),
        pytest.param("helsehus", "Hvorfor? " * 40, "lengre enn 300 tegn", id="too-long"),
        pytest.param(
            "helsehus",
            "Blir legevakten på Nordby beholdt i perioden?",
            "passer bedre til en annen oppføring enn helsehus",
            id="matches-another-entry-better",
        ),
    ],
)
def test_failed_teach_is_refused_and_leaves_files_unchanged(
    tiny_knowledge: Path, entry_id: str, phrasing: str, message: str
):
    before = _snapshot(tiny_knowledge)
    with pytest.raises(TeachError, match=message):
        add_phrasing(tiny_knowledge, entry_id, phrasing)
    assert _snapshot(tiny_knowledge) == before


def test_teach_that_would_break_the_base_is_refused(tiny_knowledge: Path):
    # A phrasing whose words are all stop words matches no entry at all.
    before = _snapshot(tiny_knowledge)
    with pytest.raises(TeachError) as caught:
        add_phrasing(tiny_knowledge, "helsehus", "hva er det som skjer")
    assert "hva er det som skjer" in str(caught.value)
    assert _snapshot(tiny_knowledge) == before


def test_teach_refuses_a_broken_knowledge_base(tiny_knowledge: Path):
    path = tiny_knowledge / "demo.yaml"
    path.write_text(TINY_ENTRIES.replace("related: [helsehus]", "related: [nowhere]"))
    before = _snapshot(tiny_knowledge)
    with pytest.raises(Exception, match="nowhere"):
        add_phrasing(tiny_knowledge, "helsehus", "Hvor skal helsehuset ligge?")
    assert _snapshot(tiny_knowledge) == before


def test_teaching_twice_adds_two_lines_in_order(tiny_knowledge: Path):
    add_phrasing(tiny_knowledge, "helsehus", "Hvor skal helsehuset ligge?")
    add_phrasing(tiny_knowledge, "helsehus", "Skal det bygges helsehus?")
    questions = load_knowledge(tiny_knowledge).by_id["helsehus"].questions
    assert questions[-2:] == ("Hvor skal helsehuset ligge?", "Skal det bygges helsehus?")
    text = (tiny_knowledge / "demo.yaml").read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(TINY_ENTRIES.splitlines()) + 2


# --- teaching safely: what would make the bot claim more than its passage says ------------

REFUSED = [
    pytest.param(
        "helsehus",
        "Når åpner helsehuset?",
        "spør om når, men avsnittet i oppføringen helsehus sier ikke noe om det",
        id="asks-for-a-time-the-passage-lacks",
    ),
    pytest.param(
        "legevakt-nordby",
        "Hva er telefonnummeret til legevakten i Nordby?",
        "spør om telefonnummer, adresser eller e-post, men avsnittet i oppføringen legevakt-nordby",
        id="asks-for-a-phone-number",
    ),
    pytest.param(
        "helsehus",
        "ring meg på [telefon] om helsehuset",
        "inneholder fortsatt plassholderen [telefon]",
        id="redaction-label",
    ),
    pytest.param(
        "helsehus",
        "send svar til [e-post] om det nye helsehuset",
        "inneholder fortsatt plassholderen [e-post]",
        id="e-mail-label",
    ),
    pytest.param(
        "helsehus",
        "Blir legevakten på Nordby beholdt i perioden?",
        "boten svarer allerede på det med oppføringen legevakt-nordby",
        id="another-entry-answers-it",
    ),
    pytest.param(
        "helsehus",
        "Får Lørenskog også et nytt helsehus?",
        "«Får Lørenskog også et nytt helsehus?» spør om Lørenskog, men avsnittet i "
        "oppføringen helsehus sier ikke noe om det",
        id="a-name-the-passage-never-uses",
    ),
    pytest.param(
        "skolemat",
        "Hvilke skoler får gratis skolemat?",
        "spør om hvilke det gjelder, men avsnittet i oppføringen skolemat",
        id="which-ones-the-passage-does-not-name",
    ),
]


@pytest.mark.parametrize(("entry_id", "phrasing", "reason"), REFUSED)
def test_teach_refuses_what_the_entry_does_not_answer(
    tiny_knowledge: Path, entry_id: str, phrasing: str, reason: str
):
    before = _snapshot(tiny_knowledge)
    with pytest.raises(TeachError, match=re.escape(reason)) as caught:
        add_phrasing(tiny_knowledge, entry_id, phrasing)
    assert caught.value.overridable
    assert _snapshot(tiny_knowledge) == before


@pytest.mark.parametrize(("entry_id", "phrasing", "reason"), REFUSED[:4])
def test_teach_with_force_overrides_the_refusal(
    tiny_knowledge: Path, entry_id: str, phrasing: str, reason: str
):
    add_phrasing(tiny_knowledge, entry_id, phrasing, force=True)
    assert load_knowledge(tiny_knowledge).by_id[entry_id].questions[-1] == phrasing


@pytest.mark.parametrize(
    "phrasing",
    ["Kommer det et helsehus i sentrum?", "Hvor skal helsehuset ligge?", "Hva med helsehuset?"],
)
def test_teach_accepts_what_the_passage_holds(tiny_knowledge: Path, phrasing: str):
    add_phrasing(tiny_knowledge, "helsehus", phrasing)
    assert load_knowledge(tiny_knowledge).by_id["helsehus"].questions[-1] == phrasing


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the shipped knowledge for the module's refusals (which change nothing)."""
    target = tmp_path_factory.mktemp("shipped") / "knowledge"
    shutil.copytree(SHIPPED_KNOWLEDGE, target, ignore=shutil.ignore_patterns(".*"))
    return target


@pytest.mark.parametrize(
    ("entry_id", "phrasing", "missing"),
    [
        ("bibliotektilbud", "når åpner biblioteket på lørdag", "når"),
        ("legevakt-sorumsand", "legevakt sørumsand åpningstider", "åpningstider"),
    ],
    ids=["library-on-saturday", "legevakt-opening-hours"],
)
def test_teaching_a_right_decline_away_is_refused_on_the_shipped_base(
    shipped_copy: Path, entry_id: str, phrasing: str, missing: str
):
    before = _snapshot(shipped_copy)
    kb = load_knowledge(shipped_copy)
    matcher = Matcher(kb)
    result = matcher.match(phrasing)
    assert (result.outcome, result.best.entry_id) == (RELATED, entry_id)
    assert matcher.lacks(phrasing, entry_id) == result.missing
    reason = f"spør om {missing}, men avsnittet i oppføringen {entry_id} sier ikke noe om det"
    with pytest.raises(TeachError, match=reason):
        add_phrasing(shipped_copy, entry_id, phrasing)
    assert _snapshot(shipped_copy) == before

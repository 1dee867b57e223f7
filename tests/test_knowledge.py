"""Knowledge loading: every mistake staff can make is reported with file, line, entry, field
and a fix; the shipped knowledge base and its sources are sound; raw seeds import cleanly."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SHIPPED_KNOWLEDGE, TINY_ENTRIES

from bot.authoring.checks import coverage_gaps, phrasing_problems
from bot.core.errors import KnowledgeError, Problem
from bot.core.knowledge import load_knowledge
from bot.core.sources import parse_clean, parse_raw
from bot.core.yamlio import load_yaml_text

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
PLATFORM_SEED = SEEDS / "003_8eec51c7a359efe9.txt"
MERGER_SEED = SEEDS / "000_d850821e5f9cd8c9.txt"

# Lines of TINY_ENTRIES that the table below points at.
LEGEVAKT_LINE = 4
HELSEHUS_LINE = 17
HELSEHUS_ANSWER_LINE = 19
HELSEHUS_QUESTIONS_LINE = 20
SKOLEMAT_SECTION_LINE = 26
SKOLEMAT_QUOTED_LINE = 30  # the line where the quoted phrasing opens


def _swap(old: str, new: str) -> str:
    """Returns TINY_ENTRIES with one exact fragment replaced (the fragment must be there)."""
    assert old in TINY_ENTRIES, old
    return TINY_ENTRIES.replace(old, new, 1)


HELSEHUS_QUESTIONS = (
    "    questions:\n      - Blir det bygget et helsehus?\n"
    "      - Kommer det et nytt helsehus i sentrum?\n"
)

# name, new demo.yaml text, then what the problem must say: line, entry, field,
# a fragment of the message and a fragment of the fix.
LOAD_ERRORS = [
    pytest.param(
        _swap("    section: Helse\n    answer: Det", "    section: Helse\n   answer: Det"),
        HELSEHUS_ANSWER_LINE,
        None,
        None,
        "invalid YAML",
        "indentation",
        id="bad-indentation",
    ),
    pytest.param(
        _swap('"Skolemat: får elevene gratis mat?"', '"Skolemat: får elevene gratis mat?'),
        SKOLEMAT_QUOTED_LINE,
        None,
        None,
        "invalid YAML",
        "quoting",
        id="unclosed-quote",
    ),
    pytest.param(
        _swap("    section: Helse\n    answer: Det", "    section: Helse\n\tanswer: Det"),
        HELSEHUS_ANSWER_LINE,
        None,
        None,
        "indented with a tab",
        "spaces, not tabs",
        id="tab-character",
    ),
    pytest.param(
        "- id: helsehus\n  answer: x\n",
        1,
        None,
        None,
        "not a mapping",
        "entries:",
        id="top-level-list",
    ),
    pytest.param(
        "just some text\n", 1, None, None, "not a mapping", "entries:", id="top-level-scalar"
    ),
    pytest.param(
        _swap("  # Oppvekst\n", "  # Oppvekst\n  - just a string\n"),
        25,
        None,
        "entries",
        "entry 3 is not a mapping",
        "indent",
        id="entry-not-a-mapping",
    ),
    pytest.param(
        _swap("  - id: helsehus\n    section: Helse", "  - section: Helse"),
        HELSEHUS_LINE,
        None,
        "id",
        "missing",
        "add the field",
        id="missing-id",
    ),
    pytest.param(
        _swap(HELSEHUS_QUESTIONS, ""),
        HELSEHUS_LINE,
        "helsehus",
        "questions",
        "missing",
        "add the field",
        id="missing-questions",
    ),
    pytest.param(
        _swap("    answer: Det skal bygges et nytt helsehus i sentrum.\n", ""),
        HELSEHUS_LINE,
        "helsehus",
        "answer",
        "missing",
        "add the field",
        id="missing-answer",
    ),
    pytest.param(
        _swap(HELSEHUS_QUESTIONS, "    questions: Blir det bygget et helsehus?\n"),
        HELSEHUS_QUESTIONS_LINE,
        "helsehus",
        "questions",
        "must be a list",
        "list of items",
        id="questions-as-a-string",
    ),
    pytest.param(
        _swap("id: helsehus", "id: Helse Hus"),
        HELSEHUS_LINE,
        "Helse Hus",
        "id",
        "'Helse Hus' is not a valid id: an id may hold only lowercase letters",
        "e.g. 'helse-hus'",
        id="id-with-capitals-and-space",
    ),
    pytest.param(
        _swap(HELSEHUS_QUESTIONS, HELSEHUS_QUESTIONS.replace("questions:", "questons:")),
        HELSEHUS_QUESTIONS_LINE,
        "helsehus",
        "questons",
        "unknown field 'questons'",
        "remove the line 'questons: …', or correct the spelling if you meant 'questions'",
        id="unknown-field-typo",
    ),
    pytest.param(
        _swap(
            "      - Kommer det et nytt helsehus i sentrum?\n",
            "      - Kommer det et nytt helsehus i sentrum?\n      - ''\n",
        ),
        HELSEHUS_QUESTIONS_LINE + 3,
        "helsehus",
        "questions",
        "question 3 is empty",
        "remove the empty item",
        id="empty-question-item",
    ),
    pytest.param(
        _swap(
            "      - Kommer det et nytt helsehus i sentrum?\n",
            "      - Kommer det et nytt helsehus i sentrum?\n"
            "      - blir legevakten på nordby beholdt\n",
        ),
        HELSEHUS_LINE,
        "helsehus",
        "questions",
        "also a phrasing of entry 'legevakt-nordby'",
        "one entry only",
        id="same-phrasing-in-two-entries",
    ),
    pytest.param(
        _swap("  - id: helsehus\n", "  - id: helsehus\n    source: demoo\n"),
        18,
        "helsehus",
        "source",
        "unknown source 'demoo'",
        "use one of: demo",
        id="unknown-source",
    ),
    pytest.param(
        _swap("section: Oppvekst › Skole", "section: Oppvekst › Skol"),
        SKOLEMAT_SECTION_LINE,
        "skolemat",
        "section",
        "unknown section 'Oppvekst › Skol'",
        "did you mean 'Oppvekst › Skole'?",
        id="unknown-section-suggests",
    ),
    pytest.param(
        _swap("answer: Det skal bygges et nytt", "answer: Det skal bygges et stort og nytt"),
        HELSEHUS_ANSWER_LINE,
        "helsehus",
        "answer",
        "not found verbatim",
        'closest source sentence is: "Det skal bygges et nytt helsehus i sentrum."',
        id="answer-not-verbatim",
    ),
    pytest.param(
        _swap(
            "  - id: helsehus\n    section: Helse\n", "  - id: helsehus\n    section: Oppvekst\n"
        ),
        HELSEHUS_ANSWER_LINE,
        "helsehus",
        "answer",
        "not found verbatim",
        "in section 'Helse'",
        id="answer-in-another-section",
    ),
    pytest.param(
        _swap("related: [helsehus]", "related: [helsehuset]"),
        LEGEVAKT_LINE,
        "legevakt-nordby",
        "related",
        "'helsehuset' does not exist",
        "existing entry",
        id="unknown-related-id",
    ),
    pytest.param(
        _swap(
            "    keywords: [legevakt, legevakta,\n      emergency]\n",
            "    keywords: &kw [legevakt]\n",
        ).replace(
            "      - Kommer det et nytt helsehus i sentrum?\n",
            "      - Kommer det et nytt helsehus i sentrum?\n    keywords: *kw\n",
        ),
        None,  # the anchor's or the alias's line: checked separately below
        None,
        None,
        "aliases",
        "",
        id="yaml-alias",
    ),
]


@pytest.mark.parametrize(("text", "line", "entry", "field", "message", "fix"), LOAD_ERRORS)
def test_load_error_names_file_line_entry_field_and_fix(
    tiny_knowledge: Path, text, line, entry, field, message, fix
):
    path = tiny_knowledge / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    problems = [p for p in caught.value.problems if message in p.message]
    assert problems, [str(p) for p in caught.value.problems]
    problem = problems[0]
    assert Path(problem.file) == path
    if line is not None:
        assert problem.line == line
    else:
        assert problem.line is not None
    assert problem.entry == entry
    assert problem.field == field
    assert problem.fix, "every problem says how to fix it"
    assert fix in problem.fix
    rendered = str(problem)
    assert rendered.startswith(f"{path}:{problem.line}: error: ")
    if entry:
        assert f"entry '{entry}'" in rendered
    if field:
        assert f"field '{field}'" in rendered
    assert f"Fix: {problem.fix}" in rendered


def test_alias_is_reported_at_the_anchor_or_the_alias(tiny_knowledge: Path):
    text = _swap(
        "    keywords: [legevakt, legevakta,\n      emergency]\n", "    keywords: &kw [legevakt]\n"
    ).replace(
        "      - Kommer det et nytt helsehus i sentrum?\n",
        "      - Kommer det et nytt helsehus i sentrum?\n    keywords: *kw\n",
    )
    lines = text.splitlines()
    anchor = next(i for i, t in enumerate(lines, 1) if "&kw" in t)
    alias = next(i for i, t in enumerate(lines, 1) if "*kw" in t)
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    (problem,) = caught.value.problems
    assert "not allowed" in problem.message
    assert problem.line in (anchor, alias)


def test_alias_error_says_how_to_fix_it(tiny_knowledge: Path):
    (tiny_knowledge / "demo.yaml").write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    (problem,) = caught.value.problems
    assert problem.fix == "write the value out where the *name stands"


def test_a_huge_file_is_refused_before_it_is_read(tiny_knowledge: Path):
    huge = tiny_knowledge / "huge.yaml"
    with huge.open("w", encoding="utf-8") as out:
        out.write("entries:\n")
        out.write("# filler\n" * 300_000)  # 2.7 MB of comments
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    (problem,) = [p for p in caught.value.problems if p.file == huge]
    assert "larger than 2 MB" in problem.message
    assert problem.fix == "split it into several smaller files"


def test_alias_bomb_is_refused_quickly(tiny_knowledge: Path):
    names = "abcdefghij"
    bomb = f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * 9) + "]\n"
    for prev, name in itertools.pairwise(names):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    (tiny_knowledge / "bomb.yaml").write_text(bomb, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    assert time.perf_counter() - started < 2.0
    (problem,) = caught.value.problems
    assert Path(problem.file).name == "bomb.yaml"
    assert "aliases" in problem.message
    assert problem.line in (1, 2)


def test_alias_bomb_is_refused_by_the_yaml_reader_itself():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in itertools.pairwise("abcdefghi")
    )
    started = time.perf_counter()
    with pytest.raises(Exception, match="alias"):
        load_yaml_text(bomb)
    assert time.perf_counter() - started < 1.0


def test_huge_file_is_refused(tiny_knowledge: Path):
    huge = tiny_knowledge / "huge.yaml"
    huge.write_text("# " + "x" * 2_100_000 + "\nentries: []\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    (problem,) = caught.value.problems
    assert Path(problem.file) == huge
    assert "larger than 2 MB" in problem.message


def test_non_utf8_file_is_refused(tiny_knowledge: Path):
    latin = tiny_knowledge / "latin.yaml"
    latin.write_bytes("# blåbær\nentries: []\n".encode("latin-1"))
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    (problem,) = caught.value.problems
    assert Path(problem.file) == latin
    assert "UTF-8" in problem.message
    assert "UTF-8" in problem.fix


def test_duplicate_id_across_files_names_the_first_location(tiny_knowledge: Path):
    more = tiny_knowledge / "more.yaml"
    more.write_text(
        "source: demo\nentries:\n  - id: helsehus\n    section: Helse\n"
        "    answer: Det skal bygges et nytt helsehus i sentrum.\n"
        "    questions: [Hvor kommer helsehuset?]\n",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    (problem,) = caught.value.problems
    assert Path(problem.file) == more
    assert problem.line == 3
    assert problem.entry == "helsehus"
    assert problem.field == "id"
    assert f"demo.yaml:{HELSEHUS_LINE}" in problem.message
    assert problem.fix


def test_empty_directory(tmp_path: Path):
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tmp_path)
    (problem,) = caught.value.problems
    assert "no source documents" in problem.message
    assert "knowledge/sources" in problem.fix


def test_sources_but_no_entries(tiny_knowledge: Path):
    (tiny_knowledge / "demo.yaml").unlink()
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    assert "no entries" in str(caught.value)


def test_missing_directory(tmp_path: Path):
    missing = tmp_path / "nowhere"
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(missing)
    (problem,) = caught.value.problems
    assert Path(problem.file) == missing
    assert "not found" in problem.message
    assert "--knowledge" in problem.fix
    assert "BOT_KNOWLEDGE_DIR" in problem.fix


def test_several_problems_are_collected_at_once(tiny_knowledge: Path):
    text = _swap("section: Oppvekst › Skole", "section: Oppvekst › Skol")
    text = text.replace("related: [helsehus]", "related: [nowhere]")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    (tiny_knowledge / "broken.yaml").write_text("entries:\n  - id: x\n   bad: indent\n")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    fields = {(Path(p.file).name, p.field) for p in caught.value.problems}
    assert {("demo.yaml", "section"), ("demo.yaml", "related"), ("broken.yaml", None)} <= fields
    assert str(caught.value).startswith(f"{len(caught.value.problems)} problems")


def test_the_tiny_knowledge_base_loads(tiny_knowledge: Path):
    kb = load_knowledge(tiny_knowledge)
    assert [e.id for e in kb.entries] == [
        "legevakt-nordby",
        "helsehus",
        "skolemat",
        "barnehageplass",
    ]
    entry = kb.by_id["legevakt-nordby"]
    # Folded answers are squashed; file-wide defaults apply.
    assert (
        entry.answer
        == "Legevakten på Nordby skal beholdes. Kvaliteten på legevakten skal være høy."
    )
    assert (entry.source, entry.section, entry.line) == ("demo", "Helse", LEGEVAKT_LINE)
    assert kb.synonyms["legevakt"] == ("emergency clinic", "legevakta")
    assert kb.source_of(entry).when == "2020–2024, vedtatt 01.02.2020"


def test_environment_variable_names_the_directory(tiny_knowledge: Path, monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("BOT_KNOWLEDGE_DIR", str(tiny_knowledge))
    assert len(load_knowledge(load_settings(_env_file=None).knowledge_path).entries) == 4


@pytest.mark.parametrize(
    ("rendering", "expected"),
    [
        (
            Problem("is missing", file="a.yaml", line=3, entry="x", field="id", fix="add it"),
            "a.yaml:3: error: entry 'x', field 'id': is missing. Fix: add it",
        ),
        (Problem("an item is empty.", file="a.yaml"), "a.yaml: error: an item is empty."),
        (
            Problem("bad", fix="indent under '- id: ...'"),
            "error: bad. Fix: indent under '- id: ...'",
        ),
    ],
)
def test_problem_rendering(rendering: Problem, expected: str):
    assert str(rendering) == expected


# --- the shipped knowledge base ----------------------------------------------------------


def test_shipped_knowledge_loads(shipped_kb):
    assert len(shipped_kb.entries) >= 100
    assert set(shipped_kb.sources) == {"plattform", "sammenslaing"}
    assert "legevakt-sorumsand" in shipped_kb.by_id


@pytest.fixture(scope="module")
def strict_check(cli_env) -> subprocess.Popen:
    """Starts ``python -m bot check --strict`` so it runs while the in-process checks do."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "check", "--strict"],
        cwd=REPO,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_every_shipped_phrasing_finds_its_own_entry(shipped_kb, shipped_matcher, strict_check):
    problems = phrasing_problems(shipped_kb, shipped_matcher)
    assert problems == [], "\n".join(map(str, problems))


def test_check_strict_passes_on_the_shipped_knowledge(strict_check: subprocess.Popen):
    stdout, stderr = strict_check.communicate(timeout=120)
    assert strict_check.returncode == 0, stderr
    assert "(100.0%)" in stdout
    assert stdout.rstrip().endswith("ok")
    assert "Traceback" not in stderr


def test_every_shipped_entry_has_at_least_five_phrasings(shipped_kb):
    thin = {e.id: len(e.questions) for e in shipped_kb.entries if len(e.questions) < 5}
    assert thin == {}


def test_shipped_knowledge_covers_every_source_sentence(shipped_kb):
    gaps, covered, total = coverage_gaps(shipped_kb)
    assert total > 150
    assert gaps == []
    assert covered == total


def test_check_reports_every_problem_of_a_broken_base(run_cli, tiny_knowledge: Path):
    text = _swap("section: Oppvekst › Skole", "section: Oppvekst › Skol")
    text = text.replace("related: [helsehus]", "related: [nowhere]")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    proc = run_cli("--knowledge", str(tiny_knowledge), "check")
    assert proc.returncode == 1
    assert "did you mean 'Oppvekst › Skole'?" in proc.stderr
    assert "'nowhere' does not exist" in proc.stderr
    assert "check failed: 2 error(s)" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("source", "sections"),
    [
        (
            "plattform.md",
            [
                "Innledning",
                "Lillestrøm kommune",
                "Oppvekst",
                "Oppvekst › Barnehage",
                "Oppvekst › Skole",
                "Helse og mestring",
                "Kjeller flyplass",
                "Eiendomsskatt",
                "Samarbeidsform",
            ],
        ),
        (
            "sammenslaing.md",
            [
                "Fra start til mål › Vi er i gang!",
                "Fra start til mål › Nytt kommunestyre skal velges",
                "Fra start til mål › Velkommen til Lillestrøm kommune!",
            ],
        ),
    ],
)
def test_shipped_sources_have_the_expected_sections(source: str, sections: list[str]):
    doc = parse_clean(SHIPPED_KNOWLEDGE / "sources" / source)
    assert set(sections) <= set(doc.sections)
    keys = list(doc.sections)
    positions = [keys.index(s) for s in sections]
    assert positions == sorted(positions), "sections keep the document's order"


def test_shipped_sources_keep_facts_and_drop_artifacts():
    plattform = parse_clean(SHIPPED_KNOWLEDGE / "sources" / "plattform.md")
    assert plattform.meta.period == "kommunestyreperioden 2019–2023"
    assert "Legevakttjenesten på Sørumsand skal beholdes i perioden." in (
        plattform.sections["Helse og mestring"].text
    )
    merger = parse_clean(SHIPPED_KNOWLEDGE / "sources" / "sammenslaing.md")
    text = " ".join(s.text for s in merger.sections.values())
    for artifact in ("Les mer", "Aktuelt", "-752"):
        assert artifact not in text


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("", "missing front matter"),
        ("---\nid: x\n", "not closed"),
        ("---\nid: Bad Id\ntitle: t\ndescription: d\ndate: 2020\n---\n", "pattern"),
        ("---\nid: x\ntitle: t\ndate: 2020\n---\n", "Field required"),
    ],
)
def test_broken_clean_source_is_reported(tmp_path: Path, front: str, message: str):
    path = tmp_path / "x.md"
    path.write_text(front + "# Heading\n\nText.\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        parse_clean(path)
    problem = caught.value.problems[0]
    assert message in str(problem)
    assert Path(problem.file) == path
    assert problem.line is not None


def test_clean_source_heading_that_skips_a_level(tmp_path: Path):
    path = tmp_path / "x.md"
    path.write_text(
        "---\nid: x\ntitle: t\ndescription: d\ndate: '2020'\n---\n\n# A\n\n### C\n\nText.\n"
    )
    with pytest.raises(KnowledgeError, match="skips a level") as caught:
        parse_clean(path)
    assert caught.value.problems[0].line == 10


# --- importing raw seeds -----------------------------------------------------------------

needs_seeds = pytest.mark.skipif(not PLATFORM_SEED.exists(), reason="raw seeds not present")


@pytest.fixture(scope="module")
def imported_platform(tmp_path_factory) -> Path:
    """Runs ``python -m bot import`` on the platform seed once; returns the output directory."""
    if not PLATFORM_SEED.exists():
        pytest.skip("raw seeds not present")
    out = tmp_path_factory.mktemp("import")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "import",
            str(PLATFORM_SEED),
            "--id",
            "plattform",
            "--date",
            "vedtatt 24.09.2019",
            "--period",
            "2019–2023",
            "--subheading",
            "Skole",
            "--output",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "17 sections" in proc.stdout
    return out


@needs_seeds
def test_import_recovers_the_platform_sections(imported_platform: Path):
    doc = parse_clean(imported_platform / "sources" / "plattform.md")
    assert doc.meta.title == "Politisk plattform for Lillestrøm kommune"
    shipped = parse_clean(SHIPPED_KNOWLEDGE / "sources" / "plattform.md")
    assert list(doc.sections) == list(shipped.sections)


@needs_seeds
def test_import_joins_the_sentence_across_the_page_break(imported_platform: Path):
    doc = parse_clean(imported_platform / "sources" / "plattform.md")
    text = doc.sections["Eiendomsskatt"].text
    assert "Det skal føres separat budsjett og regnskap for bruk av eiendomsskattemidler." in text
    assert len(doc.sections["Eiendomsskatt"].paragraphs) == 2


@needs_seeds
def test_import_drops_page_numbers_and_keeps_the_text(imported_platform: Path):
    clean = (imported_platform / "sources" / "plattform.md").read_text(encoding="utf-8")
    body = clean.split("---", 2)[2]
    assert not [line for line in body.splitlines() if line.strip().isdigit()]
    assert "\t" not in clean
    doc = parse_clean(imported_platform / "sources" / "plattform.md")
    shipped = parse_clean(SHIPPED_KNOWLEDGE / "sources" / "plattform.md")
    # Same words as the curated source, section by section.
    for key, section in shipped.sections.items():
        assert doc.sections[key].text == section.text, key


@needs_seeds
def test_import_drafts_load_as_a_knowledge_base(imported_platform: Path):
    drafts = imported_platform / "plattform-draft.yaml"
    data = load_yaml_text(drafts.read_text(encoding="utf-8"))
    assert data["source"] == "plattform"
    paragraphs = sum(
        len(s.paragraphs)
        for s in parse_clean(imported_platform / "sources" / "plattform.md").sections.values()
    )
    # One draft per paragraph; a lead-in ending in ":" quotes the list after it too.
    assert len(data["entries"]) == paragraphs
    answers = [entry["answer"] for entry in data["entries"]]
    assert any("Forsvarets område på Kjeller: • Utvikle en ny" in a for a in answers)
    assert {entry["status"] for entry in data["entries"]} == {"draft"}
    with pytest.raises(KnowledgeError, match="no published entries"):
        load_knowledge(imported_platform)
    published = imported_platform / "published"
    shutil.copytree(imported_platform / "sources", published / "sources")
    text = drafts.read_text(encoding="utf-8").replace("    status: draft\n", "")
    (published / "plattform.yaml").write_text(text, encoding="utf-8")
    kb = load_knowledge(published)
    assert len(kb.entries) == paragraphs
    assert kb.drafts == []


@needs_seeds
def test_import_refuses_to_overwrite_without_force(run_cli, imported_platform: Path):
    args = ("import", str(PLATFORM_SEED), "--id", "plattform", "--date", "2019")
    proc = run_cli(*args, "--output", str(imported_platform))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ")
    assert "--force" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not MERGER_SEED.exists(), reason="raw seeds not present")
def test_merger_seed_import_drops_link_labels_and_countdown():
    doc = parse_raw(MERGER_SEED.read_text(encoding="utf-8"))
    paragraphs = [p for _, paras in doc.sections for p in paras]
    text = "\n".join(paragraphs)
    assert "Les mer" not in text
    assert "Aktuelt" not in paragraphs
    assert "dager står" not in text
    assert "Nå står vi på startstreken og her kan du følge arbeidet underveis." in paragraphs
    assert "Det nye kommunestyret vil bestå av 55 representanter." in text


INTRO = "Plan for Nordby\nDette er en innledende setning om planen.\n\n"
NESTED = "Oppvekst\nBarnehage\nAlle barn skal få plass.\n\nSkole\nAlle elever får mat.\n"
RUN_ON = "Det skal føres separat budsjett og regnskap for bruk av"


@pytest.mark.parametrize(
    ("raw", "subheadings", "expected"),
    [
        pytest.param(
            INTRO + "Helse\nLegevakten skal beholdes.\n",
            (),
            {("Helse",): ["Legevakten skal beholdes."]},
            id="heading",
        ),
        pytest.param(
            INTRO + NESTED,
            (),
            {
                ("Oppvekst", "Barnehage"): ["Alle barn skal få plass."],
                ("Skole",): ["Alle elever får mat."],
            },
            id="heading-after-heading-nests",
        ),
        pytest.param(
            INTRO + NESTED,
            ("Skole",),
            {
                ("Oppvekst", "Barnehage"): ["Alle barn skal få plass."],
                ("Oppvekst", "Skole"): ["Alle elever får mat."],
            },
            id="named-subheading-nests",
        ),
        pytest.param(
            INTRO + "Helse\nLegevakten\tskal\tbeholdes.\t\n1\t\n Kvaliteten skal være høy.\n",
            (),
            {("Helse",): ["Legevakten skal beholdes.", "Kvaliteten skal være høy."]},
            id="tabs-page-number-new-page",
        ),
        pytest.param(
            INTRO + f"Skatt\n{RUN_ON}\n eiendomsskattemidler. Mer tekst.\n",
            (),
            {("Skatt",): [f"{RUN_ON} eiendomsskattemidler. Mer tekst."]},
            id="sentence-runs-across-page-break",
        ),
        pytest.param(
            INTRO + "Nytt\nLes mer\nAktuelt\nOm -752 dager står Lillestrøm kommune klar.\n"
            "Nå står vi på startstreken og her kan du følge arbeidet underveis. Les mer\n",
            (),
            {("Nytt",): ["Nå står vi på startstreken og her kan du følge arbeidet underveis."]},
            id="link-labels-and-countdown",
        ),
        pytest.param(
            INTRO + "Nytt\nVi er i gang. Les mer\n",
            (),
            {("Nytt",): ["Vi er i gang."]},
            id="short-sentence-with-link-label",
        ),
        pytest.param(
            "Plan for Nordby\nHelse\nLegevakten skal beholdes.\n",
            (),
            {("Helse",): ["Legevakten skal beholdes."]},
            id="heading-right-after-title",
        ),
    ],
)
def test_parse_raw_table(raw: str, subheadings, expected: dict):
    doc = parse_raw(raw, subheadings=subheadings)
    assert doc.title == "Plan for Nordby"
    got = {path: paras for path, paras in doc.sections if paras}
    if raw.startswith(INTRO):
        assert got.pop(("Innledning",)) == ["Dette er en innledende setning om planen."]
    assert got == expected

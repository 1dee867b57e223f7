"""Importing real documents (PDF, web page, Word, text), drafts, and the bot naming what it knows.

Real files in tmp_path and real subprocesses for the command line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from bot.authoring.importer import ID_LIMIT, draft_entries, slug, source_id
from bot.authoring.readers import read_document
from bot.core.errors import KnowledgeError, UsageError
from bot.core.knowledge import ID_PATTERN, load_knowledge
from bot.core.matcher import ANSWERED, Matcher
from bot.core.messages import phrase
from bot.core.replies import compose, documents_text, sources_lines, welcome_text
from bot.core.sources import parse_clean, parse_raw
from bot.core.yamlio import load_yaml_text

TITLE = "Sykkelplan for Lillestrøm 2024–2028"
SHORT_TITLE = "sykkelplanen for 2024–2028"
HOTEL = (
    "Kommunen skal bygge sykkelhotell ved alle store kollektivknutepunkter. Hotellene skal "
    "ha lading for elsykler og egne plasser for lastesykler."
)
PLAN = "Planen gjelder for hele kommunen og skal rulleres hvert fjerde år."
WINTER = "Sykkelveiene skal brøytes før bilveiene når det har snødd om natten."
SWEEP = "Grusen skal feies bort fra alle sykkelveier innen utgangen av april."
PARAGRAPHS = (HOTEL, PLAN, WINTER, SWEEP)
DECLINED = "Hvem vant fotballkampen i går?"


def write_pdf(path: Path, story: list[tuple[str, str]]) -> Path:
    """Writes a PDF with reportlab: (style, text) pairs; style "bullet" makes a list item."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    flowables = []
    for style, text in story:
        if style == "bullet":
            item = ListItem(Paragraph(text, styles["BodyText"]))
            flowables.append(ListFlowable([item], bulletType="bullet"))
        else:
            flowables.append(Paragraph(text, styles[style]))
    SimpleDocTemplate(str(path), pagesize=A4).build(flowables)
    return path


@pytest.fixture
def plan_pdf(tmp_path: Path) -> Path:
    """A PDF with a title, two headings and four paragraphs (the first long enough to wrap)."""
    return write_pdf(
        tmp_path / "sykkelplan.pdf",
        [
            ("Title", TITLE),
            ("Heading1", "1. Sykkelparkering"),
            ("BodyText", HOTEL),
            ("BodyText", PLAN),
            ("Heading1", "2. Drift og vedlikehold"),
            ("BodyText", WINTER),
            ("BodyText", SWEEP),
        ],
    )


def _import(run_cli, knowledge: Path, document: Path, *extra: str):
    return run_cli(
        "import",
        str(document),
        "--id",
        "sykkelplan",
        "--date",
        "vedtatt 12.03.2024",
        "--short-title",
        SHORT_TITLE,
        "--output",
        str(knowledge),
        *extra,
    )


def _ask(run_cli, knowledge: Path, question: str) -> dict:
    proc = run_cli("ask", "--json", "--knowledge", str(knowledge), question)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _publish(draft_file: Path) -> None:
    """Does what staff do to publish: deletes every 'status: draft' line."""
    text = draft_file.read_text(encoding="utf-8")
    draft_file.write_text(text.replace("    status: draft\n", ""), encoding="utf-8")


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- the case: a PDF into a copy of the shipped knowledge -----------------------------


def test_pdf_import_drafts_are_served_only_once_published(run_cli, knowledge_copy, plan_pdf):
    proc = _import(run_cli, knowledge_copy, plan_pdf)
    assert proc.returncode == 0, proc.stderr
    assert "2 sections, 4 paragraphs" in proc.stdout

    doc = parse_clean(knowledge_copy / "sources" / "sykkelplan.md")
    assert doc.meta.title == TITLE
    assert doc.meta.short_title == SHORT_TITLE
    assert list(doc.sections) == ["1. Sykkelparkering", "2. Drift og vedlikehold"]
    assert [p.text for s in doc.sections.values() for p in s.paragraphs] == list(PARAGRAPHS)

    draft_file = knowledge_copy / "sykkelplan-draft.yaml"
    entries = load_yaml_text(draft_file.read_text(encoding="utf-8"))["entries"]
    assert len(entries) == 4
    assert {e["status"] for e in entries} == {"draft"}
    assert all(re.fullmatch(ID_PATTERN, e["id"]) for e in entries)

    # Drafts: validated by check (and counted), never served.
    check = run_cli("check", "--strict", "--knowledge", str(knowledge_copy))
    assert check.returncode == 0, check.stderr
    assert "4 draft entries wait to be published" in check.stdout
    assert "sykkelplan-draft.yaml (4)" in check.stdout
    before = _ask(run_cli, knowledge_copy, "Skal kommunen bygge sykkelhotell?")
    assert not (before["answered"] and before["document"] == TITLE)
    assert all(not a["entry_id"].startswith("1-sykkel") for a in before["alternatives"])
    declined = _ask(run_cli, knowledge_copy, DECLINED)
    assert declined["answered"] is False
    assert SHORT_TITLE not in declined["reply"]

    _publish(draft_file)
    check = run_cli("check", "--knowledge", str(knowledge_copy))
    assert check.returncode == 0, check.stderr
    assert "draft" not in check.stdout
    after = _ask(run_cli, knowledge_copy, "Skal kommunen bygge sykkelhotell?")
    assert after["answered"] is True
    assert after["document"] == TITLE
    assert after["section"] == "1. Sykkelparkering"
    assert after["answer"] == HOTEL

    # The decline now names the new document, by its short title, beside the others.
    declined = _ask(run_cli, knowledge_copy, DECLINED)
    assert declined["answered"] is False
    assert SHORT_TITLE in declined["reply"]
    assert "den politiske plattformen for 2019–2023" in declined["reply"]
    chat = run_cli("chat", "--knowledge", str(knowledge_copy), input="/kilder\n/start\n")
    assert chat.returncode == 0, chat.stderr
    assert SHORT_TITLE in chat.stdout.splitlines()[0]  # the banner
    assert f"• {TITLE} (vedtatt 12.03.2024)" in chat.stdout
    assert welcome_text(load_knowledge(knowledge_copy), "nb") in chat.stdout


def test_published_entry_is_found_by_its_passage_words(run_cli, knowledge_copy, plan_pdf):
    """The draft's placeholder phrasing is its first sentence; the question uses the second's."""
    assert _import(run_cli, knowledge_copy, plan_pdf).returncode == 0
    _publish(knowledge_copy / "sykkelplan-draft.yaml")
    kb = load_knowledge(knowledge_copy)
    hotel = next(e for e in kb.entries if e.answer == HOTEL)
    assert hotel.questions == (HOTEL.split(". ")[0] + ".",)
    result = Matcher(kb).match("Får hotellene lading for elsykler og plass til lastesykler?")
    assert result.outcome == ANSWERED
    assert result.best is not None
    assert result.best.entry_id == hotel.id


def test_entry_with_only_a_placeholder_phrasing_is_found_by_its_passage(tiny_knowledge: Path):
    (tiny_knowledge / "extra.yaml").write_text(
        "source: demo\n"
        "entries:\n"
        "  - id: skolebibliotek\n"
        "    section: Oppvekst › Skole\n"
        "    answer: Skolebiblioteket skal styrkes.\n"
        "    questions: [Plassholder]\n",
        encoding="utf-8",
    )
    kb = load_knowledge(tiny_knowledge)
    result = Matcher(kb).match("Blir skolebiblioteket styrket?")
    assert result.outcome == ANSWERED
    assert result.best is not None
    assert result.best.entry_id == "skolebibliotek"


# --- drafts in the knowledge base ------------------------------------------------------------


def test_drafts_are_loaded_apart_and_documents_without_published_entries_are_not_named(
    tiny_knowledge: Path,
):
    (tiny_knowledge / "sources" / "ny.md").write_text(
        "---\nid: ny\ntitle: Ny plan\nshort_title: den nye planen\ndescription: d\n"
        "date: '2024'\n---\n\n# Tema\n\nBadeplassen ved elva skal ryddes hver sommer.\n",
        encoding="utf-8",
    )
    draft = (
        "source: ny\nsection: Tema\nentries:\n  - id: badeplass\n    status: draft\n"
        "    answer: Badeplassen ved elva skal ryddes hver sommer.\n"
        "    questions: [Skal badeplassen ryddes?]\n"
    )
    (tiny_knowledge / "ny.yaml").write_text(draft, encoding="utf-8")
    kb = load_knowledge(tiny_knowledge)
    assert [e.id for e in kb.drafts] == ["badeplass"]
    assert "badeplass" not in kb.by_id
    assert [m.id for m in kb.known_sources] == ["demo"]
    assert "Ny plan" not in "\n".join(sources_lines(kb, "nb", html=False))
    result = Matcher(kb).match("Skal badeplassen ved elva ryddes hver sommer?")
    assert result.best is None or result.best.entry_id != "badeplass"
    declined = compose(kb, result).as_text()
    assert "den nye planen" not in declined

    (tiny_knowledge / "ny.yaml").write_text(draft.replace("status: draft", "status: published"))
    kb = load_knowledge(tiny_knowledge)
    assert kb.drafts == []
    assert "badeplass" in kb.by_id
    assert [m.id for m in kb.known_sources] == ["demo", "ny"]
    named = documents_text(kb.known_sources, "nb")
    assert named == "Demo-plan for Nordby kommune og den nye planen"
    result = Matcher(kb).match("Skal badeplassen ved elva ryddes hver sommer?")
    assert result.best is not None
    assert result.best.entry_id == "badeplass"


def test_an_unknown_status_is_one_clear_problem(tiny_knowledge: Path):
    text = (tiny_knowledge / "demo.yaml").read_text(encoding="utf-8")
    text = text.replace("  - id: helsehus\n", "  - id: helsehus\n    status: kladd\n")
    (tiny_knowledge / "demo.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tiny_knowledge)
    problems = [p for p in caught.value.problems if p.entry == "helsehus"]
    assert len(problems) == 1
    assert "'draft' or 'published'" in problems[0].message
    assert "status: published" in (problems[0].fix or "")


def test_the_shipped_documents_are_named_by_their_short_titles(shipped_kb):
    nb = documents_text(shipped_kb.known_sources, "nb")
    assert nb == (
        "den politiske plattformen for 2019–2023, og nettsiden om sammenslåingen av Fet, "
        "Skedsmo og Sørum (2018)"
    )
    en = documents_text(shipped_kb.known_sources, "en")
    assert "the political platform for 2019–2023, and the web page on the merger" in en
    assert nb in phrase("decline", "nb", documents=nb)


# --- reading the formats -------------------------------------------------------------------


def test_pdf_numbered_heading_is_not_nested_under_the_subtitle_and_bullets_stay_items(
    tmp_path: Path,
):
    pdf = write_pdf(
        tmp_path / "plan.pdf",
        [
            ("Title", TITLE),
            ("Heading3", "Vedtatt av kommunestyret"),
            ("Heading1", "1. Innledning"),
            ("BodyText", PLAN),
            ("Heading1", "2. Tiltak"),
            ("BodyText", "Kommunen vil:"),
            ("bullet", "bygge flere sykkelveier langs fylkesveiene"),
            ("bullet", "brøyte sykkelveiene først om vinteren"),
            ("Heading2", "2.1 Vedlikehold"),
            ("BodyText", SWEEP),
        ],
    )
    doc = read_document(pdf)
    assert doc.title == TITLE
    assert doc.subtitle == "Vedtatt av kommunestyret"
    assert doc.sections == [
        (("1. Innledning",), [PLAN]),
        (
            ("2. Tiltak",),
            [
                "Kommunen vil:",
                "• bygge flere sykkelveier langs fylkesveiene",
                "• brøyte sykkelveiene først om vinteren",
            ],
        ),
        (("2. Tiltak", "2.1 Vedlikehold"), [SWEEP]),
    ]


def test_html_keeps_headings_lists_and_drops_the_site_chrome(tmp_path: Path):
    page = tmp_path / "side.html"
    page.write_text(
        """<!doctype html><html><head><title>Sykkelplan | Lillestrøm kommune</title>
        <style>p { color: red }</style><script>var x = "<p>nei</p>";</script></head>
        <body><header><nav><a href="/">Forside</a></nav></header>
        <main><h1>Sykkelplan</h1><p>Planen gjelder <b>hele</b> kommunen.</p>
        <h2>Tiltak</h2><p>Kommunen vil:</p>
        <ul><li>bygge sykkelveier</li><li>brøyte<br>først</li></ul>
        <h3>Rekkefølge</h3><ol><li>Lillestrøm</li><li>Fet</li></ol>
        <h2>Drift</h2><div>Grusen skal feies.</div></main>
        <footer>Kontakt oss</footer></body></html>""",
        encoding="utf-8",
    )
    doc = read_document(page)
    assert doc.title == "Sykkelplan"
    assert doc.sections == [
        (("Innledning",), ["Planen gjelder hele kommunen."]),
        (("Tiltak",), ["Kommunen vil:", "• bygge sykkelveier", "• brøyte først"]),
        (("Tiltak", "Rekkefølge"), ["1. Lillestrøm", "2. Fet"]),
        (("Drift",), ["Grusen skal feies."]),
    ]


def test_docx_keeps_title_headings_and_lists(tmp_path: Path):
    from docx import Document

    word = Document()
    word.add_paragraph(TITLE, style="Title")
    word.add_paragraph("Vedtatt av kommunestyret", style="Subtitle")
    word.add_heading("1. Innledning", level=1)
    word.add_paragraph(PLAN)
    word.add_heading("Tiltak", level=1)
    word.add_paragraph("Kommunen vil:")
    word.add_paragraph("bygge flere sykkelveier", style="List Bullet")
    word.add_paragraph("brøyte sykkelveiene", style="List Bullet")
    word.add_heading("Rekkefølge", level=2)
    word.add_paragraph("Lillestrøm", style="List Number")
    word.add_paragraph("Fet", style="List Number")
    path = tmp_path / "plan.docx"
    word.save(str(path))
    doc = read_document(path)
    assert doc.title == TITLE
    assert doc.subtitle == "Vedtatt av kommunestyret"
    assert doc.sections == [
        (("1. Innledning",), [PLAN]),
        (("Tiltak",), ["Kommunen vil:", "• bygge flere sykkelveier", "• brøyte sykkelveiene"]),
        (("Tiltak", "Rekkefølge"), ["1. Lillestrøm", "2. Fet"]),
    ]


def test_plain_text_subtitle_numbered_headings_and_bullets():
    raw = (
        "Sykkelplan for Lillestrøm\nVedtatt av kommunestyret\n\n1. Innledning\n"
        f"{PLAN}\n\n2. Tiltak\nKommunen vil:\n• bygge sykkelveier\n• brøyte først\n"
        "2.1 Vedlikehold\nGrusen skal feies.\n"
    )
    doc = parse_raw(raw)
    assert doc.title == "Sykkelplan for Lillestrøm"
    assert doc.subtitle == "Vedtatt av kommunestyret"
    assert doc.sections == [
        (("1. Innledning",), [PLAN]),
        (("2. Tiltak",), ["Kommunen vil:", "• bygge sykkelveier", "• brøyte først"]),
        (("2. Tiltak", "2.1 Vedlikehold"), ["Grusen skal feies."]),
    ]


def test_list_items_in_a_clean_source_are_paragraphs_of_their_own(tmp_path: Path):
    path = tmp_path / "x.md"
    path.write_text(
        "---\nid: x\ntitle: t\ndescription: d\ndate: '2020'\n---\n\n# A\n\nKommunen vil:\n\n"
        "• bygge\n• brøyte\n1. først\n",
        encoding="utf-8",
    )
    texts = [p.text for p in parse_clean(path).sections["A"].paragraphs]
    assert texts == ["Kommunen vil:", "• bygge", "• brøyte", "1. først"]


# --- ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "made"),
    [
        ("Sykkel_Plan", "sykkel-plan"),
        ("Lillestrøm Æ-plan", "lillestrom-ae-plan"),
        ("  --plan 2024--  ", "plan-2024"),
        ("Café", "cafe"),
    ],
)
def test_source_ids_are_made_valid(given: str, made: str):
    assert source_id(given) == made


def test_a_source_id_without_letters_is_a_usage_error():
    with pytest.raises(UsageError, match="no letters or digits"):
        source_id("!!!")


def test_draft_ids_are_valid_short_and_unique_even_against_existing_ones():
    heading = "Et svært langt kapittelnavn om sykkelparkering og vedlikehold " * 3
    paragraph = "Dette er et avsnitt med mange ord som gir en lang id " * 5 + "."
    doc = parse_raw(f"Tittel\nIntro.\n\n{heading.strip()[:60]}\n{paragraph}\n\n{paragraph}\n")
    taken = {slug(f"innledning {'intro'}")}
    data = load_yaml_text(draft_entries(doc, source_id="lang", taken=taken))
    ids = [e["id"] for e in data["entries"]]
    assert len(ids) == len(set(ids)) == 3
    assert not set(ids) & taken
    for entry_id in ids:
        assert len(entry_id) <= ID_LIMIT
        assert re.fullmatch(ID_PATTERN, entry_id)


def test_import_into_a_base_never_reuses_an_existing_id(run_cli, tiny_knowledge, tmp_path):
    raw = tmp_path / "helse.txt"
    raw.write_text(
        "Helseplan\nIntro.\n\nLegevakt\nLegevakten på Nordby skal beholdes.\n", encoding="utf-8"
    )
    (tiny_knowledge / "demo.yaml").write_text(
        (tiny_knowledge / "demo.yaml")
        .read_text(encoding="utf-8")
        .replace("id: legevakt-nordby", "id: legevakt-legevakten-pa-nordby-skal-beholdes"),
        encoding="utf-8",
    )
    proc = run_cli(
        "import", str(raw), "--id", "helse", "--date", "2024", "--output", str(tiny_knowledge)
    )
    assert proc.returncode == 0, proc.stderr
    check = run_cli("check", "--knowledge", str(tiny_knowledge))
    assert check.returncode == 0, check.stderr
    assert "2 draft entries wait" in check.stdout


# --- bad arguments: one line ---------------------------------------------------------------


def test_id_with_capitals_and_underscore_is_normalised(run_cli, tmp_path: Path, plan_pdf):
    proc = run_cli(
        "import", str(plan_pdf), "--id", "Sykkel_Plan", "--date", "2024", "--output", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "is written 'sykkel-plan'" in proc.stdout
    assert (tmp_path / "sources" / "sykkel-plan.md").exists()
    assert (tmp_path / "sykkel-plan-draft.yaml").exists()


@pytest.mark.parametrize(
    ("name", "content", "args", "expected"),
    [
        ("plan.txt", "Tittel\nTekst.\n", ("--id", "!!!"), "no letters or digits"),
        ("missing.pdf", None, ("--id", "plan"), "no such file"),
        ("broken.pdf", b"%PDF-1.4 not really", ("--id", "plan"), "as a PDF"),
        ("broken.docx", b"PK not a zip", ("--id", "plan"), "Word (.docx)"),
        ("latin1.txt", "Tittel\nBlåbær.\n".encode("latin-1"), ("--id", "plan"), "not UTF-8"),
        ("empty.html", "<html><body></body></html>", ("--id", "plan"), "no paragraphs"),
    ],
)
def test_bad_import_arguments_are_one_line(run_cli, tmp_path, name, content, args, expected):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    proc = run_cli("import", str(path), *args, "--date", "2024", "--output", str(tmp_path / "out"))
    assert proc.returncode in (1, 2)
    assert expected in _one_error_line(proc.stderr)


def test_ask_never_imports_the_document_readers(cli_env: dict[str, str]):
    script = (
        "import sys\n"
        "from bot.cli.main import main\n"
        "main(['ask', 'Blir legevakten på Sørumsand beholdt?'])\n"
        "heavy = ('pypdf', 'bs4', 'docx', 'reportlab', 'bot.authoring.readers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=cli_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == "[]"

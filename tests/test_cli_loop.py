"""Issue 12 on the command line: the console as Telegram, entries, safe teaching, operators."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO

from bot.core.knowledge import load_knowledge
from bot.core.messages import EXAMPLE_QUESTIONS, phrase
from bot.core.replies import smalltalk_text, welcome_text

SHIPPED = load_knowledge(REPO / "knowledge")

LEGEVAKT_QUESTION = "Blir legevakten på Sørumsand beholdt?"
LEGEVAKT_PASSAGE = "Legevakttjenesten på Sørumsand skal beholdes i perioden"


def _body(stdout: str) -> str:
    """Returns the chat's output after its two-line banner."""
    return stdout.split("\n", 2)[2]


def _ends_with_reply(output: str, reply: str) -> bool:
    """Tells whether the chat's output ends with a reply (each is followed by a blank line)."""
    return output.endswith(reply.strip() + "\n\n")


def _logged(db: Path) -> list[tuple[str, str]]:
    """Returns (ref, question) of every logged question, oldest first."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return list(conn.execute("SELECT ref, question FROM questions ORDER BY id"))


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- the console says what Telegram says ---------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/start", welcome_text(SHIPPED, "nb")),
        ("/hjelp", smalltalk_text("help", "nb", SHIPPED.known_sources)),
        ("/help", smalltalk_text("help", "nb", SHIPPED.known_sources)),
        ("/kilder", phrase("sources", "nb")),
        ("/spor", phrase("spor_usage", "nb", example=EXAMPLE_QUESTIONS[0])),
        ("/nosuchcommand", phrase("unknown_command", "nb")),
    ],
)
def test_chat_commands_reply_as_telegram_and_are_not_logged(
    run_cli, tmp_path: Path, command: str, expected: str
):
    db = tmp_path / "log.sqlite3"
    proc = run_cli("chat", input=f"{command}\n", env={"BOT_DATABASE": str(db)})
    assert proc.returncode == 0, proc.stderr
    reply = _body(proc.stdout)
    assert expected in reply
    assert "Beklager, det finner jeg ikke" not in reply
    assert _logged(db) == []


def test_chat_sources_list_every_document_of_the_knowledge(run_cli, tiny_knowledge: Path):
    proc = run_cli("chat", "--knowledge", str(tiny_knowledge), input="/kilder\n")
    assert proc.returncode == 0, proc.stderr
    reply = _body(proc.stdout).strip()
    meta = load_knowledge(tiny_knowledge).sources["demo"].meta
    assert reply.splitlines()[0] == phrase("sources", "nb")
    assert f"• {meta.title} ({meta.when})" in reply
    assert meta.description in reply


def test_chat_start_shows_the_examples_and_forgets_the_topic(run_cli):
    follow_up = "hva med Fet?"
    stdin = f"{LEGEVAKT_QUESTION}\n{follow_up}\n/start\n{follow_up}\n"
    proc = run_cli("chat", input=stdin)
    assert proc.returncode == 0, proc.stderr
    before, after = _body(proc.stdout).split(welcome_text(SHIPPED, "nb"))
    assert LEGEVAKT_PASSAGE in before
    for example in EXAMPLE_QUESTIONS:
        assert f"• {example}" in after
    alone = run_cli("ask", follow_up).stdout
    assert _ends_with_reply(after, alone)
    assert not _ends_with_reply(before, alone)  # before /start, the topic counted


def test_chat_spor_asks_the_question_and_logs_it(run_cli, tmp_path: Path):
    db = tmp_path / "log.sqlite3"
    proc = run_cli("chat", input=f"/spor {LEGEVAKT_QUESTION}\n", env={"BOT_DATABASE": str(db)})
    assert proc.returncode == 0, proc.stderr
    assert LEGEVAKT_PASSAGE in proc.stdout
    assert [q for _, q in _logged(db)] == [LEGEVAKT_QUESTION]


@pytest.fixture
def twin(tmp_path: Path) -> Path:
    """Two entries so alike that "Blir legevakten beholdt?" gets "Mente du …?"."""
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
    return twin


@pytest.mark.parametrize(
    ("lines", "picked"),
    [
        (["Blir legevakten beholdt?", "1"], True),
        (["1"], False),
        (["Blir legevakten beholdt?", "/kilder", "1"], False),
        (["Blir legevakten beholdt?", "7"], False),
    ],
    ids=["menu-open", "no-menu", "menu-closed-by-a-command", "not-an-option"],
)
def test_chat_number_picks_only_from_an_open_menu(
    run_cli, twin: Path, lines: list[str], picked: bool
):
    proc = run_cli("--knowledge", str(twin), "chat", input="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    alone = run_cli("--knowledge", str(twin), "ask", lines[-1]).stdout
    assert "Legevakten på" not in alone
    if picked:
        last = proc.stdout.rsplit(phrase("pick", "nb"), 1)[1]
        assert last.strip().startswith("«Legevakten på ")
    else:
        assert _ends_with_reply(proc.stdout, alone)  # a question, as Telegram takes it


@pytest.mark.parametrize(
    "args",
    [("--knowledge", "{dir}", "chat"), ("chat", "--knowledge", "{dir}")],
    ids=["before", "after"],
)
def test_global_options_work_before_or_after_the_command(
    run_cli, tiny_knowledge: Path, args: tuple[str, ...]
):
    argv = [a.replace("{dir}", str(tiny_knowledge)) for a in args]
    proc = run_cli(*argv, input="Blir legevakten på Nordby beholdt?\n")
    assert proc.returncode == 0, proc.stderr
    assert "«Legevakten på Nordby skal beholdes." in proc.stdout


# --- entries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "ids"),
    [
        ((), ["legevakt-nordby", "helsehus", "skolemat", "barnehageplass"]),
        (("helsehus",), ["helsehus"]),
        (("legevakten", "nordby"), ["legevakt-nordby"]),
        (("oppvekst",), ["skolemat", "barnehageplass"]),
        (("barnehage", "hjemmet"), ["barnehageplass"]),
        (("SKOLE",), ["skolemat"]),
    ],
    ids=["all", "id", "phrasing-words", "section", "two-words", "case"],
)
def test_entries_lists_and_searches_ids_and_titles(
    run_cli, tiny_knowledge: Path, search: tuple[str, ...], ids: list[str]
):
    proc = run_cli("entries", "--knowledge", str(tiny_knowledge), *search)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ids
    rows = json.loads(
        run_cli("entries", "--json", "--knowledge", str(tiny_knowledge), *search).stdout
    )
    assert [row["id"] for row in rows] == ids


def test_entries_json_fields_and_titles(run_cli, tiny_knowledge: Path):
    path = tiny_knowledge / "demo.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - id: helsehus\n", "  - id: helsehus\n    title: Helsehus\n"))
    proc = run_cli("entries", "--json", "--knowledge", str(tiny_knowledge), "helsehus")
    [row] = json.loads(proc.stdout)
    assert row == {
        "id": "helsehus",
        "title": "Helsehus",
        "label": "Helsehus",
        "section": "Helse",
        "source": "demo",
        "file": "demo.yaml",
        "questions": 2,
    }


def test_entries_finds_the_library_entry_and_says_when_nothing_matches(run_cli):
    proc = run_cli("entries", "bibliotek")
    assert proc.returncode == 0, proc.stderr
    assert "bibliotektilbud" in proc.stdout.split()
    none = run_cli("entries", "zzzqqq")
    assert none.returncode == 1
    assert "no entry's id, title or section holds 'zzzqqq'" in _one_error_line(none.stderr)


# --- teach refuses what would make a wrong answer; --force overrides ------------------------


@pytest.fixture
def library_log(run_cli, knowledge_copy: Path, tmp_path: Path) -> dict:
    """A question log with the library question and a redacted one, chatted on a copy."""
    db = tmp_path / "log" / "questions.sqlite3"
    env = {"BOT_DATABASE": str(db)}
    stdin = "når åpner biblioteket på lørdag\nring meg på 12345678 om eiendomsskatten\n"
    proc = run_cli("--knowledge", str(knowledge_copy), "chat", input=stdin, env=env)
    assert proc.returncode == 0, proc.stderr
    refs = [ref for ref, _ in _logged(db)]
    return {"env": env, "refs": refs, "knowledge": knowledge_copy}


@pytest.mark.parametrize(
    ("which", "entry", "reason"),
    [
        (0, "bibliotektilbud", "spør om når, men avsnittet i oppføringen bibliotektilbud sier"),
        (1, "eiendomsskatt-2-promille", "inneholder fortsatt plassholderen [telefon]"),
    ],
    ids=["library-on-saturday", "redaction-label"],
)
def test_teach_refuses_and_force_overrides(
    run_cli, library_log: dict, which: int, entry: str, reason: str
):
    knowledge, env = library_log["knowledge"], library_log["env"]
    ref = library_log["refs"][which]
    before = {p.name: p.read_bytes() for p in knowledge.glob("*.yaml")}
    proc = run_cli("teach", ref, entry, "--knowledge", str(knowledge), env=env)
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr)
    assert reason in line
    assert line.endswith(". Er du sikker likevel? Legg til --force")
    assert {p.name: p.read_bytes() for p in knowledge.glob("*.yaml")} == before

    forced = run_cli("teach", ref, entry, "--force", "--knowledge", str(knowledge), env=env)
    assert forced.returncode == 0, forced.stderr
    assert f"to entry '{entry}'" in forced.stdout


# --- run without network --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lines(stream) -> queue.Queue[str]:
    """Reads a subprocess stream line by line in a thread, into a queue."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], seen: list[str], text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {text!r} in:\n{''.join(seen)}"
        with contextlib.suppress(queue.Empty):
            seen.append(lines.get(timeout=remaining))


def test_run_without_network_says_so_once_and_connects_when_the_api_answers(
    cli_env: dict[str, str], tmp_path: Path
):
    port = _free_port()
    env = {
        **cli_env,
        "TELEGRAM_BOT_TOKEN": "123456:not-a-real-token",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "BOT_DATABASE": str(tmp_path / "bot.sqlite3"),
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    standin = None
    seen: list[str] = []
    try:
        lines = _lines(bot.stderr)
        _wait_for(lines, seen, "cannot reach the Telegram Bot API", timeout=60)
        time.sleep(2.5)  # retries meanwhile, quietly
        assert bot.poll() is None
        standin = subprocess.Popen(
            [sys.executable, "-m", "bot.devtools.standin", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lines, seen, "ready", timeout=60)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
        _wait_for(lines, seen, "bot stopped", timeout=10)
    finally:
        for proc in (bot, standin):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    output = "".join(seen)
    assert "Traceback" not in output
    assert len([line for line in seen if "Bot API" in line and "reach" in line]) == 2, output
    assert "123456:not-a-real-token" not in output

"""``python -m bot stats --chart`` and ``--json`` on a real log, through real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import REPO

from bot.core.events import utcnow
from bot.questionlog import Channel, Outcome, Pseudonymizer, QuestionEvent, QuestionLog
from bot.questionlog.chart import PNG_MAGIC


@pytest.fixture
async def database(tmp_path: Path) -> Path:
    """A real question log with a few questions of each outcome over the last days."""
    path = tmp_path / "log" / "questions.sqlite3"
    outcomes = [Outcome.ANSWERED] * 3 + [Outcome.DECLINED] * 2 + [Outcome.AMBIGUOUS]
    outcomes += [Outcome.RELATED, Outcome.SMALLTALK]
    async with QuestionLog(path, pseudonymizer=Pseudonymizer(b"s" * 32)) as log:
        for n, outcome in enumerate(outcomes):
            asked_at = utcnow() - timedelta(days=n % 3, minutes=5)
            log.record(
                QuestionEvent(
                    "Spørsmål", Channel.PRIVATE, outcome, latency_ms=1.0, asked_at=asked_at
                )
            )
        assert await log.flush()
    return path


def test_stats_chart_writes_a_png_and_json_counts_by_outcome(
    run_cli, database: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"
    proc = run_cli("stats", "--json", "--chart", str(chart), "--database", str(database))
    assert proc.returncode == 0, proc.stderr
    assert chart.read_bytes().startswith(PNG_MAGIC)
    data = json.loads(proc.stdout)  # the JSON alone on stdout
    assert data["by_outcome"] == {
        "answered": 3,
        "declined": 2,
        "ambiguous": 1,
        "smalltalk": 1,
        "related": 1,
    }
    assert len(data["by_day"]) == 30
    assert sum(day["answered"] for day in data["by_day"]) == 3
    assert sum(day["declined"] for day in data["by_day"]) == 2
    assert data["handover"] == {"cases": 0, "open": 0, "answered": 0, "by_day": {}}

    text = run_cli("stats", "--chart", str(tmp_path / "again.png"), "--database", str(database))
    assert text.returncode == 0, text.stderr
    assert f"chart of the last 30 days written to {tmp_path / 'again.png'}" in text.stdout


def test_stats_chart_to_a_bad_path_is_one_error_line(
    run_cli, database: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no-such-dir" / "chart.png"
    proc = run_cli("stats", "--chart", str(target), "--database", str(database))
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"error: cannot write the chart to {target}: No such file or directory"]
    assert proc.stdout == ""


def test_ask_never_imports_matplotlib(cli_env: dict[str, str]) -> None:
    script = (
        "import sys\n"
        "from bot.cli.main import main\n"
        "main(['ask', 'Blir legevakten på Sørumsand beholdt?'])\n"
        "print('matplotlib' in sys.modules, 'bot.questionlog.chart' in sys.modules)\n"
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
    assert proc.stdout.splitlines()[-1] == "False False"

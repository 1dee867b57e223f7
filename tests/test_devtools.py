"""`make chat-telegram`: the real bot process against the stand-in, driven from a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_chat_telegram_answers_what_is_typed(tmp_path: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from bot.devtools.chat_telegram import chat\n"
        f"sys.exit(asyncio.run(chat(database=Path({str(tmp_path / 'chat.sqlite3')!r}))))\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write("blir legevakten på Sørumsand beholdt?\n")
        proc.stdin.flush()
        lines = []
        for line in proc.stdout:  # until the answer and its buttons arrive
            lines.append(line)
            if "[👎]" in line:
                break
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    text = "".join(lines)
    assert "bot> Legevakttjenesten på Sørumsand skal beholdes i perioden." in text


def test_the_benchs_generated_base_is_written_read_and_measured(tmp_path: Path, shipped_kb) -> None:
    """The bench's own parts, not its timings: a generated base of the asked size and
    phrasings survives YAML files and the cache, and a child's peak memory is its own."""
    from bot.core.cache import load_answering
    from bot.devtools.bench import _peak_memory, synthetic_base, write_base

    base = synthetic_base(shipped_kb, 300, phrasings=7)
    assert len(base.entries) == 300
    assert {len(e.questions) for e in base.entries} == {7}
    write_base(base, tmp_path)
    kb, _ = load_answering(tmp_path)
    assert [e.id for e in kb.entries] == [e.id for e in base.entries]
    ballast = b"x" * 200_000_000  # a child of a large process must not report its size
    peak = _peak_memory(tmp_path)
    assert 10 < peak < 150, peak
    del ballast

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

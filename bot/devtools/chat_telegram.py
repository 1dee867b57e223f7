"""Chat with the real Telegram bot locally: `make chat-telegram`.

Starts the Bot API stand-in, runs the real `python -m bot run` against it (the same
process, inbox, handlers and buttons as in production, with a local question log in
``data/chat-telegram.sqlite3``), and turns what you type into messages from one
resident. Replies are printed with their buttons; ``!press DATA`` presses one. End with
Ctrl-D or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from bot.devtools.standin import BotApiStandIn, _chat_loop

ROOT = Path(__file__).resolve().parents[2]


async def chat(*, database: Path, staff_chat: int | None = None) -> int:
    """Runs the stand-in and the bot, and chats until the input ends."""
    async with BotApiStandIn(known_chats_only=False) as standin:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env.update(
            TELEGRAM_BOT_TOKEN=standin.token,
            TELEGRAM_BASE_URL=standin.base_url,
            BOT_DATABASE=str(database),
            PYTHONPATH=str(ROOT),
        )
        if staff_chat is not None:
            env["BOT_STAFF_CHAT_ID"] = str(staff_chat)
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        print("The bot runs against a local Bot API stand-in; type as a resident.", flush=True)
        print("'!press DATA' presses a button. Ctrl-D ends.", flush=True)
        try:
            await standin.wait_for(lambda: standin.commands, timeout=30)
            await _chat_loop(standin)
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            await bot.wait()
    return 0


def main() -> int:
    """Runs the local chat from the command line."""
    database = ROOT / "data" / "chat-telegram.sqlite3"
    database.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(chat(database=database))
    return 0


if __name__ == "__main__":
    sys.exit(main())

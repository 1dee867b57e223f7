"""Telegram throughput benchmark: questions from many users through the real Application.

It runs the bot's own ``Application`` over HTTP against the Bot API stand-in from
``tests/`` (so it needs a source checkout), with a real question log in a temporary
directory, and measures how fast every question is answered end to end.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bot.core.service import Answerer
from bot.questionlog import Pseudonymizer, QuestionLog
from bot.settings import load_settings
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.runner import Stop, serve

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = (
    "blir legevakten på Sørumsand beholdt?",
    "hva skjer med eiendomsskatten",
    "blir det gratis sfo for barn med funksjonsnedsettelse",
    "når ble fet skedsmo og sørum slått sammen",
    "skal kjeller flyplass bli boliger",
    "hva er været i morgen",
    "hei",
    "will the schools be kept",
)


async def telegram_burst(
    knowledge_dir: Path, *, questions: int, users: int, flood_limit: float = 30.0
) -> dict:
    """Pushes questions from many users at once and returns throughput and latency."""
    from bot.devtools.standin import BotApiStandIn

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        async with BotApiStandIn() as standin:
            settings = load_settings(
                telegram_bot_token=standin.token,
                telegram_base_url=standin.base_url,
                bot_database=Path(tmp) / "bench.sqlite3",
                bot_rate_limit=100_000,
                bot_flood_limit=flood_limit,
            )
            log = QuestionLog(
                settings.bot_database, pseudonymizer=Pseudonymizer.from_secret(b"b" * 32)
            )
            await log.open()
            app = build_application(settings, Answerer(knowledge_dir), log)
            stop = Stop()
            running = asyncio.create_task(
                serve(
                    app,
                    database=settings.bot_database,
                    allowed_updates=list(ALLOWED_UPDATES),
                    stop=stop,
                )
            )
            try:
                # Up once it polls: the inbox, the Application and the fetch loop.
                await standin.wait_for(
                    lambda: any(m == "getUpdates" for m, _ in standin.requests), timeout=30
                )
                pushed: dict[int, list[float]] = defaultdict(list)
                start = time.perf_counter()
                for i in range(questions):
                    user = 10_000 + i % users
                    standin.push_message(user, QUESTIONS[i % len(QUESTIONS)])
                    pushed[user].append(time.perf_counter())
                arrived: dict[int, list[float]] = defaultdict(list)
                seen = 0
                deadline = start + 60
                while seen < questions and time.perf_counter() < deadline:
                    messages = standin.sent_messages
                    for message in messages[seen:]:
                        arrived[int(message.chat_id)].append(time.perf_counter())
                    seen = len(messages)
                    await asyncio.sleep(0.002)
                seconds = time.perf_counter() - start
            finally:
                stop.set()
                await running
            await log.close()
    latencies = sorted(
        (a - p) * 1000.0
        for user, times in arrived.items()
        for p, a in zip(pushed[user], times, strict=False)
    )

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] if latencies else 0

    errors = [e for e in standin.errors if not e.injected]
    return {
        "questions": questions,
        "users": users,
        "flood_limit": flood_limit,
        "answered": seen,
        "seconds": seconds,
        "per_second": seen / seconds if seconds else 0.0,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "rejected_by_standin": len(errors),
    }


async def crash_burst(knowledge_dir: Path, *, questions: int = 500, kill_after: int = 100) -> dict:
    """SIGKILLs a real `python -m bot run` mid-burst, restarts it, and counts per resident
    the questions never answered and those answered twice."""
    import os
    import signal
    import sys
    from collections import Counter

    from bot.devtools.standin import BotApiStandIn

    users = range(40_000, 40_000 + questions)
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        async with BotApiStandIn() as standin:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
            env.update(
                PYTHONPATH=str(ROOT),
                TELEGRAM_BOT_TOKEN=standin.token,
                TELEGRAM_BASE_URL=standin.base_url,
                BOT_DATABASE=str(Path(tmp) / "crash.sqlite3"),
                BOT_KNOWLEDGE_DIR=str(knowledge_dir),
                BOT_RATE_LIMIT="100000",
            )

            def answered() -> Counter[int]:
                return Counter(
                    m.chat_id
                    for m in standin.sent_messages
                    if m.method == "sendMessage" and m.chat_id in users
                )

            async def start() -> asyncio.subprocess.Process:
                return await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    cwd=tmp,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )

            process = await start()
            for user in users:
                standin.push_message(user, QUESTIONS[user % len(QUESTIONS)])
            await standin.wait_for(lambda: sum(answered().values()) >= kill_after, timeout=60)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            started = time.perf_counter()
            process = await start()
            await standin.wait_for(lambda: len(answered()) == len(users), timeout=120)
            seconds = time.perf_counter() - started
            process.send_signal(signal.SIGTERM)
            await process.wait()
    counts = answered()
    return {
        "questions": questions,
        "killed_after": kill_after,
        "lost": sum(1 for u in users if counts[u] == 0),
        "doubled": sum(1 for u in users if counts[u] > 1),
        "restart_seconds": seconds,
    }

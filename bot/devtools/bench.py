"""Benchmarks: start-up, index build, memory and per-question latency, against plain rapidfuzz.

Timings are reported, never asserted: machines are noisy. Every figure is measured
in the same run as its baseline, plain ``rapidfuzz.process.extractOne`` with
``token_set_ratio`` over the passages, so the ratio between them is what to read.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from bot.core.dialogue import respond
from bot.core.knowledge import Entry, KnowledgeBase, load_knowledge
from bot.core.matcher import Matcher
from bot.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
DEV_SET = REPO / "tests" / "data" / "dev_questions.yaml"
DEV_MESSAGES = REPO / "tests" / "data" / "dev_messages.yaml"


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _latencies(
    fn: Callable[[str], object], questions: Sequence[str], *, rounds: int
) -> list[float]:
    """Returns per-call latencies in milliseconds over several rounds of the questions."""
    out = []
    for _ in range(rounds):
        for q in questions:
            start = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - start) * 1000.0)
    return out


def _questions(kb: KnowledgeBase) -> list[str]:
    """Returns realistic messages: the dev sets (long messages included) if present,
    else perturbed phrasings."""
    if DEV_SET.exists() and DEV_MESSAGES.exists():
        from bot.authoring.evaluate import load_eval_set

        return [item.q for path in (DEV_SET, DEV_MESSAGES) for item in load_eval_set(path)]
    rng = random.Random(7)
    phrasings = [q for e in kb.entries for q in e.questions]
    return [q.lower().replace("ø", "o") for q in rng.sample(phrasings, min(200, len(phrasings)))]


def _letters(number: int) -> str:
    """Returns a number spelled in letters a–z ("", "b", "c" … "ba" …)."""
    out = ""
    while number:
        number, digit = divmod(number, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[digit] + out
    return out


def synthetic_base(
    kb: KnowledgeBase, size: int, *, seed: int = 1, phrasings: int = 12
) -> KnowledgeBase:
    """Returns a knowledge base of ``size`` entries built from the real one's words.

    Each synthetic entry recombines real phrasings with invented place and topic
    words, so the vocabulary and posting lists grow as a real, larger base would.
    """
    rng = random.Random(seed)
    syllables = "ber by dal fjell gard haug holt li moen rud set sund vik vang strand".split()
    entries: list[Entry] = []
    for i in range(size):
        base = kb.entries[i % len(kb.entries)]
        # Each place is unique (a suffix spelled from the entry's number), as real ones are.
        place = "".join(rng.sample(syllables, 2)) + _letters(i)
        topic = "".join(rng.sample(syllables, 2)) + rng.choice(["tilbud", "plan", "senter"])
        # As many phrasings as the target bases (12), from the real entry's own.
        own = [base.questions[k % len(base.questions)] for k in range(phrasings)]
        questions = tuple(
            f"{q.rstrip('?')} i {place} {topic}{'' if k < len(base.questions) else k}?"
            for k, q in enumerate(own)
        )
        entries.append(
            replace(base, id=f"{base.id}-{i}", questions=questions, keywords=(place, topic))
        )
    return KnowledgeBase(
        directory=kb.directory, entries=entries, sources=kb.sources, synonyms=kb.synonyms
    )


def _measure_base(kb: KnowledgeBase, questions: Sequence[str], *, rounds: int) -> dict:
    gc.collect()
    start = time.perf_counter()
    matcher = Matcher(kb)
    _ = matcher.wording  # the running bot builds it at start
    build_ms = (time.perf_counter() - start) * 1000.0
    # Memory is traced in a second build: tracing slows the build it watches.
    tracemalloc.start()
    _ = Matcher(kb).wording
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def answer(q: str) -> object:
        # The whole reading of a message, as the bot answers it: its questions, the
        # story around them, and the wording model where the story carries the question.
        return respond(kb, matcher, q, now=0.0)

    ours = _latencies(answer, questions, rounds=rounds)
    passages = [e.answer for e in kb.entries]

    def plain(q: str) -> object:
        # The plain baseline: rapidfuzz's extractOne over every passage.
        return process.extractOne(
            q, passages, scorer=fuzz.token_set_ratio, processor=utils.default_process
        )

    base = _latencies(plain, questions, rounds=rounds)
    return {
        "entries": len(kb.entries),
        "index_build_ms": round(build_ms, 1),
        "index_memory_mb": round(peak / 1e6, 1),
        "p50_ms": round(_percentile(ours, 50), 3),
        "p99_ms": round(_percentile(ours, 99), 3),
        "mean_ms": round(statistics.fmean(ours), 3),
        "baseline_p50_ms": round(_percentile(base, 50), 3),
        "baseline_p99_ms": round(_percentile(base, 99), 3),
        "baseline_mean_ms": round(statistics.fmean(base), 3),
        "cost_vs_baseline": round(statistics.fmean(ours) / statistics.fmean(base), 2),
    }


def _startup(knowledge_dir: Path, *, runs: int) -> dict:
    """Times `python -m bot ask` end to end and checks it never imports telegram."""
    env = dict(os.environ)
    if knowledge_dir:
        env["BOT_KNOWLEDGE_DIR"] = str(knowledge_dir)
    probe = (
        "import sys, runpy; sys.argv = ['bot', 'ask', 'blir legevakten på Sørumsand beholdt?'];"
        "\ntry:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('telegram imported:', 'telegram' in sys.modules, file=sys.stderr)"
    )
    times = []
    imported = None
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO
        )
        times.append((time.perf_counter() - start) * 1000.0)
        imported = "telegram imported: True" in proc.stderr
    base_times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, env=env)
        base_times.append((time.perf_counter() - start) * 1000.0)
    return {
        "ask_startup_ms": round(statistics.median(times), 1),
        "python_startup_ms": round(statistics.median(base_times), 1),
        "imports_telegram": imported,
    }


def run_bench(
    *, knowledge_dir: Path, quick: bool = False, telegram: bool = True, full: bool = False
) -> int:
    """Runs every benchmark and prints a report (and JSON with BENCH_JSON=1)."""
    rounds = 1 if quick else 3
    kb = load_knowledge(knowledge_dir)
    questions = _questions(kb)
    report: dict = {"questions": len(questions)}
    report["startup"] = _startup(knowledge_dir, runs=2 if quick else 5)
    print(
        f"start-up of `ask`: {report['startup']['ask_startup_ms']} ms "
        f"(bare python {report['startup']['python_startup_ms']} ms; "
        f"imports telegram: {report['startup']['imports_telegram']})",
        flush=True,
    )
    sizes = [("shipped", kb), ("1,000", synthetic_base(kb, 1_000))]
    sizes.append(("10,000", synthetic_base(kb, 2_000 if quick else 10_000)))
    if full:
        sizes.append(("50,000", synthetic_base(kb, 50_000)))
    print(
        f"\n{'base':<9}{'entries':>8}{'build ms':>10}{'index MB':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'plain p50':>11}{'plain p99':>11}{'cost ×':>8}"
    )
    report["bases"] = {}
    # Long messages (a story, then the question) cost the most: measured on their own.
    long_messages = [q for q in questions if len(q) >= 200]
    runs = [(name, base, questions) for name, base in sizes]
    if long_messages:
        runs.insert(1, ("long msgs", kb, long_messages))
    for name, base, asked in runs:
        r = _measure_base(base, asked, rounds=rounds)
        report["bases"][name] = r
        print(
            f"{name:<9}{r['entries']:>8}{r['index_build_ms']:>10}{r['index_memory_mb']:>10}"
            f"{r['p50_ms']:>9}{r['p99_ms']:>9}{r['baseline_p50_ms']:>11}"
            f"{r['baseline_p99_ms']:>11}{r['cost_vs_baseline']:>8}",
            flush=True,
        )
    report["from_files"] = _startup_from_files(
        kb,
        questions,
        sizes=_file_bases(kb, quick=quick, full=full),
        rounds=rounds,
    )
    report["log"] = _log_queries(rows=100_000 if quick else 1_000_000)
    if telegram:
        report["telegram"] = _telegram_throughput(kb.directory, quick=quick)
    if os.environ.get("BENCH_JSON"):
        print(json.dumps(report, indent=2))
    return 0


def _telegram_throughput(knowledge_dir: Path, *, quick: bool) -> dict | None:
    """Measures questions answered per second through the real Application and the stand-in."""
    try:
        # The stand-in needs aiohttp, a development dependency.
        from bot.devtools.tg_bench import telegram_burst
    except ImportError as exc:
        print(f"\ntelegram: skipped ({exc})")
        return None
    questions, users = (100, 25) if quick else (200, 50)
    # Telegram allows about 30 messages a second across all chats, so that limit, not
    # the bot, bounds a burst; the run without it shows what the pipeline itself does.
    result = {}
    # BOT_FLOOD_LIMIT as configured (Telegram's 30/s unless raised), then none.
    configured = load_settings().bot_flood_limit or 30.0
    for label, limit in ((f"flood limit {configured:g}/s", configured), ("no overall limit", 0.0)):
        run = asyncio.run(
            telegram_burst(knowledge_dir, questions=questions, users=users, flood_limit=limit)
        )
        floor = max(0.0, (questions - limit) / limit) if limit else 0.0
        print(
            f"\ntelegram ({label}): {run['answered']}/{run['questions']} questions from "
            f"{users} users answered in {run['seconds']:.2f} s ({run['per_second']:.0f}/s"
            + (f"; the limit alone needs {floor:.2f} s" if limit else "")
            + f"); end-to-end p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms; "
            f"rejected by the stand-in: {run['rejected_by_standin']}"
        )
        result["limited" if limit else "unlimited"] = run
    # Nothing lost, nothing twice: a real `python -m bot run` killed mid-burst.
    from bot.devtools.tg_bench import crash_burst

    crash = asyncio.run(
        crash_burst(knowledge_dir, questions=100 if quick else 500, kill_after=30 if quick else 100)
    )
    print(
        f"\ncrash (SIGKILL after {crash['killed_after']} of {crash['questions']} answers, then "
        f"a restart): {crash['lost']} residents never answered, {crash['doubled']} answered "
        f"twice; the rest answered {crash['restart_seconds']:.1f} s after the restart"
    )
    result["crash"] = crash
    return result


def _log_queries(*, rows: int) -> dict:
    """Times the admin queries on a generated question log of ``rows`` rows."""
    return asyncio.run(_log_queries_async(rows))


async def _log_queries_async(rows: int) -> dict:
    import random as _random
    import sqlite3
    import tempfile
    from datetime import timedelta

    from bot.core.events import utcnow
    from bot.questionlog import Pseudonymizer, QuestionLog

    rng = _random.Random(3)
    outcomes = ["answered"] * 6 + ["declined"] * 2 + ["ambiguous", "related", "smalltalk"]
    asked = [
        "når åpner biblioteket",
        "hvem er ordfører",
        "bompenger på rv 159",
        "når går bussen til oslo",
        "snømåking i min gate",
    ]
    now = utcnow()
    with tempfile.TemporaryDirectory(prefix="bench-log-") as tmp:
        path = Path(tmp) / "log.sqlite3"
        log = QuestionLog(path, pseudonymizer=Pseudonymizer.from_secret(b"b" * 32))
        await log.open()
        await log.close()
        started = time.perf_counter()
        with sqlite3.connect(path) as conn:
            conn.executemany(
                "INSERT INTO questions (ref, asked_at, channel, user_key, question, outcome, "
                "entry_id, score, latency_ms) VALUES (?, ?, 'private', ?, ?, ?, NULL, 50, 1)",
                (
                    (
                        f"r{i}",
                        (now - timedelta(seconds=rng.randrange(365 * 86_400))).isoformat(),
                        f"u{rng.randrange(rows // 20 + 1)}",
                        f"{rng.choice(asked)} {rng.randrange(2_000)}",
                        rng.choice(outcomes),
                    )
                    for i in range(rows)
                ),
            )
        conn.close()
        generated = time.perf_counter() - started
        log = QuestionLog(path, pseudonymizer=Pseudonymizer.from_secret(b"b" * 32))
        await log.open()
        try:
            timings = {}
            for label, query in (
                ("stats (all time)", lambda: log.stats()),
                ("stats (30 days)", lambda: log.stats(days=30)),
                ("unanswered (7 days)", lambda: log.unanswered(days=7)),
                ("unanswered (30 days)", lambda: log.unanswered(days=30)),
            ):
                start = time.perf_counter()
                await query()
                timings[label] = round((time.perf_counter() - start) * 1000.0, 1)
        finally:
            await log.close()
    print(f"\nquestion log of {rows:,} rows (generated in {generated:.1f} s):", flush=True)
    for label, ms in timings.items():
        print(f"  {label:<22}{ms:>10} ms", flush=True)
    return {"rows": rows, "ms": timings}


def write_base(kb: KnowledgeBase, directory: Path, *, per_file: int = 500) -> None:
    """Writes a (generated) knowledge base as YAML files, with the real sources beside it."""
    import shutil

    import yaml

    shutil.copytree(kb.directory / "sources", directory / "sources")
    for synonyms in kb.directory.glob("synonyms*.yaml"):
        shutil.copy(synonyms, directory / synonyms.name)
    for k in range(0, len(kb.entries), per_file):
        chunk = kb.entries[k : k + per_file]
        entries = [
            {
                "id": e.id,
                "answer": e.answer,
                "source": e.source,
                "section": e.section,
                "questions": list(e.questions),
                "keywords": list(e.keywords),
            }
            for e in chunk
        ]
        text = yaml.safe_dump({"entries": entries}, allow_unicode=True, width=100)
        (directory / f"generated-{k // per_file:04d}.yaml").write_text(text, encoding="utf-8")


def _file_bases(kb: KnowledgeBase, *, quick: bool, full: bool) -> list[tuple[int, int]]:
    """Returns the generated bases to read from files: (entries, phrasings each).

    12 phrasings is what the targets are set for; with ``--full`` also as many as the
    shipped base has on average, and 50,000 entries.
    """
    if quick:
        return [(1_000, 12)]
    shipped = round(sum(len(e.questions) for e in kb.entries) / max(len(kb.entries), 1))
    return [(10_000, 12), (10_000, shipped), (50_000, 12)] if full else [(10_000, 12)]


def _startup_from_files(
    kb: KnowledgeBase,
    questions: Sequence[str],
    *,
    sizes: Sequence[tuple[int, int]],
    rounds: int,
) -> dict:
    """Times `ask` end to end on generated bases read from YAML files (entries, phrasings
    each), and answers on them as the bot does: from the cache, details read on need."""
    import tempfile

    out: dict[str, dict[str, float]] = {}
    print("\n`ask` on generated bases written as YAML files:")
    story = max(questions, key=len)
    for size, phrasings in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
            directory = Path(tmp)
            write_base(synthetic_base(kb, size, phrasings=phrasings), directory)
            megabytes = sum(p.stat().st_size for p in directory.glob("*.yaml")) / 1e6
            # The first run reads the YAML files and builds (and writes the cache); the
            # next ones load the cache.
            cold = _startup(directory, runs=1)["ask_startup_ms"]
            warm = _startup(directory, runs=3)["ask_startup_ms"]
            peak = _peak_memory(directory)
            # A long message needs the wording model: its first use builds and keeps it.
            start = time.perf_counter()
            _peak_memory(directory, story)
            wording_ms = (time.perf_counter() - start) * 1000.0
            peak_story = _peak_memory(directory, story)
            p50, p99, plain_p50, cost = _cached_latency(directory, questions, rounds=rounds)
        row = {
            "from_files_ms": cold,
            "from_cache_ms": warm,
            "peak_mb": peak,
            "peak_long_message_mb": peak_story,
            "first_long_message_ms": round(wording_ms, 1),
            "yaml_mb": round(megabytes, 1),
            "p50_ms": p50,
            "p99_ms": p99,
            "baseline_p50_ms": plain_p50,
            "cost_vs_baseline": cost,
        }
        out[f"{size}x{phrasings}"] = row
        print(
            f"  {size:>7,} entries of {phrasings} phrasings ({megabytes:.0f} MB of YAML): "
            f"from files {cold:.0f} ms, "
            f"from the cache {warm:.0f} ms, peak memory {peak:.0f} MB "
            f"({peak_story:.0f} MB for a long message; the first one, which builds and "
            f"keeps the wording model, {wording_ms:.0f} ms)\n"
            f"           answering from the cache: p50 {row['p50_ms']} ms, "
            f"p99 {row['p99_ms']} ms (plain p50 {row['baseline_p50_ms']} ms, "
            f"cost × {row['cost_vs_baseline']})",
            flush=True,
        )
    return out


def _cached_latency(
    directory: Path, questions: Sequence[str], *, rounds: int
) -> tuple[float, float, float, float]:
    """Returns p50 and p99 (ms) of answering from a base's cache, as the bot does, and
    the plain baseline's p50 and the cost against it, measured in the same run."""
    from bot.core.cache import load_answering

    gc.collect()
    kb, matcher = load_answering(directory)
    ours = _latencies(lambda q: respond(kb, matcher, q, now=0.0), questions, rounds=rounds)
    passages = [e.answer for e in kb.entries]

    def plain(q: str) -> object:
        return process.extractOne(
            q, passages, scorer=fuzz.token_set_ratio, processor=utils.default_process
        )

    base = _latencies(plain, questions, rounds=rounds)
    return (
        round(_percentile(ours, 50), 3),
        round(_percentile(ours, 99), 3),
        round(_percentile(base, 50), 3),
        round(statistics.fmean(ours) / statistics.fmean(base), 2),
    )


def _peak_memory(directory: Path, question: str = "blir legevakten beholdt?") -> float:
    """Returns the peak resident memory (MB) of one `ask` on a knowledge directory.

    Read from the process's own high-water mark (VmHWM): getrusage's ru_maxrss survives
    exec on Linux, so a child of this (large) process would report the parent's peak.
    """
    probe = (
        f"import runpy, sys; sys.argv = ['bot', 'ask', {question!r}];\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(status, file=sys.stderr)"
    )
    env = dict(os.environ, BOT_KNOWLEDGE_DIR=str(directory))
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO
    )
    try:
        return int(proc.stderr.strip().splitlines()[-1]) / 1024.0  # kilobytes on Linux
    except (IndexError, ValueError):
        return float("nan")

"""Shared fixtures: a tiny real knowledge base, a copy of the shipped one, one shared matcher."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_KNOWLEDGE = REPO / "knowledge"

TINY_SOURCE = """\
---
id: demo
title: Demo-plan for Nordby kommune
description: En liten plan til testene
date: vedtatt 01.02.2020
period: 2020–2024
---

# Helse

Legevakten på Nordby skal beholdes. Kvaliteten på legevakten skal være høy.

Det skal bygges et nytt helsehus i sentrum.

# Oppvekst

## Skole

Alle elever skal få gratis skolemat. Skolebiblioteket skal styrkes.

## Barnehage

Alle barn skal få barnehageplass nær hjemmet.
"""

TINY_ENTRIES = """\
# Demo entries: comments must survive teaching.
source: demo
entries:
  - id: legevakt-nordby
    section: Helse
    answer: >-
      Legevakten på Nordby skal beholdes. Kvaliteten på legevakten
      skal være høy.
    questions:
      - Blir legevakten på Nordby beholdt?
      - Skal legevakta i Nordby bestå?  # nynorsk-ish
      - Will the emergency clinic in Nordby stay open?
    keywords: [legevakt, legevakta,
      emergency]
    related: [helsehus]

  - id: helsehus
    section: Helse
    answer: Det skal bygges et nytt helsehus i sentrum.
    questions:
      - Blir det bygget et helsehus?
      - Kommer det et nytt helsehus i sentrum?

  # Oppvekst
  - id: skolemat
    section: Oppvekst › Skole
    answer: Alle elever skal få gratis skolemat.
    questions:
      - Blir det gratis skolemat?
      - "Skolemat: får elevene gratis mat?"

  - id: barnehageplass
    section: Oppvekst › Barnehage
    answer: Alle barn skal få barnehageplass nær hjemmet.
    questions:
      - Får alle barn barnehageplass nær hjemmet?
      - Kindergarten place close to home?
"""

TINY_SYNONYMS = """\
# Words residents use.
synonyms:
  legevakt: [emergency clinic, legevakta]
  barnehageplass: [kindergarten place]
"""


def write_tiny_knowledge(directory: Path) -> Path:
    """Writes the tiny knowledge base (one source, four entries, synonyms) into a directory."""
    (directory / "sources").mkdir(parents=True, exist_ok=True)
    (directory / "sources" / "demo.md").write_text(TINY_SOURCE, encoding="utf-8")
    (directory / "demo.yaml").write_text(TINY_ENTRIES, encoding="utf-8")
    (directory / "synonyms.yaml").write_text(TINY_SYNONYMS, encoding="utf-8")
    return directory


@pytest.fixture
def tiny_knowledge(tmp_path: Path) -> Path:
    """A tiny real knowledge directory: one source with three sections, four entries."""
    return write_tiny_knowledge(tmp_path / "knowledge")


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge directory, safe to edit."""
    target = tmp_path / "knowledge-copy"
    shutil.copytree(SHIPPED_KNOWLEDGE, target, ignore=shutil.ignore_patterns(".*"))
    return target


@pytest.fixture(scope="session")
def shipped_kb():
    """The shipped knowledge base, loaded once for the session."""
    from bot.core.knowledge import load_knowledge

    return load_knowledge(SHIPPED_KNOWLEDGE)


@pytest.fixture(scope="session")
def shipped_matcher(shipped_kb):
    """One matcher over the shipped knowledge base, shared by the session."""
    from bot.core.matcher import Matcher

    return Matcher(shipped_kb)


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for CLI subprocesses: a database in a temporary directory, no token."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "BOT_")) and k != "PYTHONPATH"
    }
    env["BOT_DATABASE"] = str(tmp_path_factory.mktemp("cli-db") / "bot.sqlite3")
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture(scope="session")
def run_cli(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs ``python -m bot ARGS`` in a real subprocess; returns the CompletedProcess."""

    def run(
        *args: str, input: str | None = None, env: dict | None = None, cwd: Path = REPO
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            env={**cli_env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
        )

    return run

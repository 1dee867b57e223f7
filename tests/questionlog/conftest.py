"""Fixtures of the question-log tests: a secret, a database path, an open log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.questionlog import Pseudonymizer, QuestionLog

from .helpers import FAST, SECRET


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer.from_secret(SECRET)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "questions.db"


@pytest.fixture
async def qlog(db_path: Path, pseudonymizer: Pseudonymizer) -> AsyncIterator[QuestionLog]:
    async with QuestionLog(db_path, pseudonymizer=pseudonymizer, **FAST) as log:
        yield log

"""The question log: what residents asked and how the bot answered, pseudonymous and redacted.

``privacy`` (user keys, secret, redaction), ``schema`` (table, migrations, rows),
``writer`` (the background writer), ``log`` (QuestionLog: open, record, query, delete)
and ``reports`` (grouping of unanswered questions, statistics, table/CSV/JSON output).
"""

from __future__ import annotations

from bot.core.events import Channel, Outcome, QuestionEvent, new_ref
from bot.questionlog.errors import StoreError
from bot.questionlog.log import QuestionLog, open_question_log
from bot.questionlog.privacy import (
    SECRET_ENV_VAR,
    Pseudonymizer,
    load_or_create_secret,
    redact_personal_data,
)
from bot.questionlog.reports import (
    AskedQuestion,
    Stats,
    UnansweredGroup,
    format_unanswered,
    normalise_question,
)
from bot.questionlog.schema import SCHEMA_VERSION, StoredQuestion

__all__ = [
    "SCHEMA_VERSION",
    "SECRET_ENV_VAR",
    "AskedQuestion",
    "Channel",
    "Outcome",
    "Pseudonymizer",
    "QuestionEvent",
    "QuestionLog",
    "Stats",
    "StoreError",
    "StoredQuestion",
    "UnansweredGroup",
    "format_unanswered",
    "load_or_create_secret",
    "new_ref",
    "normalise_question",
    "open_question_log",
    "redact_personal_data",
]

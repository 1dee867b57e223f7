"""Handover cases: questions residents chose to send to a person, and where to answer them.

To relay a staff member's answer, the bot must remember the resident's chat. That
mapping lives here, in its own table, never in the question log, and only for cases
the resident chose to send: the chat is deleted when the case is closed, the whole
case after ``BOT_HANDOVER_DAYS``, and every case of a person by ``forget``. The
question is stored with personal data redacted; the staff chat gets it as written.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from bot.questionlog.errors import StoreError
from bot.questionlog.privacy import redact_personal_data
from bot.questionlog.table import OwnTable

logger = logging.getLogger(__name__)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS handovers (
        case_no INTEGER PRIMARY KEY AUTOINCREMENT,
        ref TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        chat_id INTEGER,
        user_key TEXT,
        language TEXT NOT NULL DEFAULT 'nb',
        question TEXT NOT NULL,
        bot_reply TEXT NOT NULL,
        staff_message_id INTEGER,
        staff_answer TEXT,
        answered_at TEXT,
        closed_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS ix_handovers_staff_message ON handovers (staff_message_id)",
    "CREATE INDEX IF NOT EXISTS ix_handovers_created_at ON handovers (created_at)",
    "CREATE INDEX IF NOT EXISTS ix_handovers_user_key ON handovers (user_key)",
)
_COLUMNS = (
    "case_no, ref, created_at, chat_id, user_key, language, question, bot_reply, "
    "staff_message_id, staff_answer, answered_at, closed_at"
)
# What a case keeps of the bot's reply: enough for staff to see what was said.
MAX_REPLY_CHARS = 1000


@dataclass(frozen=True)
class Case:
    """One handover case."""

    case_no: int
    ref: str
    created_at: datetime
    chat_id: int | None  # None once closed: the way back to the resident is forgotten
    user_key: str | None
    language: str
    question: str
    bot_reply: str
    staff_message_id: int | None
    staff_answer: str | None
    answered_at: datetime | None
    closed_at: datetime | None

    @property
    def open(self) -> bool:
        """Tells whether the case still waits for staff (and can still be answered)."""
        return self.closed_at is None and self.chat_id is not None


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _case(row: sqlite3.Row) -> Case:
    return Case(
        case_no=int(row["case_no"]),
        ref=str(row["ref"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        chat_id=row["chat_id"],
        user_key=row["user_key"],
        language=str(row["language"]),
        question=str(row["question"]),
        bot_reply=str(row["bot_reply"]),
        staff_message_id=row["staff_message_id"],
        staff_answer=row["staff_answer"],
        answered_at=_when(row["answered_at"]),
        closed_at=_when(row["closed_at"]),
    )


class HandoverDesk(OwnTable):
    """The handover cases in SQLite (beside the question log, in its own table)."""

    name = "the handover cases"
    schema = _SCHEMA
    rows_as_mappings = True

    def __init__(self, path: Path, *, days: int) -> None:
        super().__init__(path)
        self.days = days

    async def _write(self, sql: str, params: tuple[object, ...]) -> int:
        """Runs one change and commits it; returns the rows changed."""
        try:
            async with self._change() as db:
                cursor = await db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot change the handover cases: {exc}") from exc
        return cursor.rowcount

    async def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[Case]:
        try:
            async with self._db().execute(sql, params) as cursor:
                return [_case(row) for row in await cursor.fetchall()]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the handover cases: {exc}") from exc

    async def open_case(
        self,
        *,
        ref: str,
        chat_id: int,
        user_key: str | None,
        question: str,
        bot_reply: str,
        language: str,
        now: datetime | None = None,
    ) -> Case | None:
        """Opens a case for a logged question; None if that question was already sent."""
        now = now or datetime.now(UTC)
        changed = await self._write(
            "INSERT INTO handovers (ref, created_at, chat_id, user_key, language, question, "
            "bot_reply) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING",
            (
                ref,
                now.isoformat(),
                chat_id,
                user_key,
                language,
                redact_personal_data(question),
                bot_reply[:MAX_REPLY_CHARS],
            ),
        )
        if not changed:
            return None
        found = await self._read(f"SELECT {_COLUMNS} FROM handovers WHERE ref = ?", (ref,))
        return found[0] if found else None

    async def sent_to_staff(self, case_no: int, message_id: int) -> None:
        """Remembers the staff-chat message a case was posted as (staff reply to it)."""
        await self._write(
            "UPDATE handovers SET staff_message_id = ? WHERE case_no = ?", (message_id, case_no)
        )

    async def by_staff_message(self, message_id: int) -> Case | None:
        """Returns the case posted as a staff-chat message, or None."""
        found = await self._read(
            f"SELECT {_COLUMNS} FROM handovers WHERE staff_message_id = ?", (message_id,)
        )
        return found[0] if found else None

    async def answered(self, case_no: int, text: str, *, now: datetime | None = None) -> None:
        """Records a staff answer (the latest one is kept, for the knowledge base review)."""
        now = now or datetime.now(UTC)
        await self._write(
            "UPDATE handovers SET staff_answer = ?, answered_at = ? WHERE case_no = ?",
            (redact_personal_data(text)[:MAX_REPLY_CHARS], now.isoformat(), case_no),
        )

    async def close_case(self, case_no: int, *, now: datetime | None = None) -> bool:
        """Closes a case and forgets the resident's chat; False if it was already closed."""
        now = now or datetime.now(UTC)
        changed = await self._write(
            "UPDATE handovers SET closed_at = ?, chat_id = NULL "
            "WHERE case_no = ? AND closed_at IS NULL",
            (now.isoformat(), case_no),
        )
        return changed > 0

    async def waiting(self, *, older_than: timedelta, now: datetime | None = None) -> list[Case]:
        """Returns the open cases older than a given age, oldest first."""
        cutoff = (now or datetime.now(UTC)) - older_than
        return await self._read(
            f"SELECT {_COLUMNS} FROM handovers WHERE closed_at IS NULL AND created_at < ? "
            "ORDER BY created_at",
            (cutoff.isoformat(),),
        )

    async def handled(self, *, limit: int = 20) -> list[Case]:
        """Returns the most recent cases staff answered: material for new entries."""
        return await self._read(
            f"SELECT {_COLUMNS} FROM handovers WHERE staff_answer IS NOT NULL "
            "ORDER BY answered_at DESC LIMIT ?",
            (limit,),
        )

    async def counts(self) -> dict[str, int]:
        """Returns how many cases are open, answered and kept in all."""
        cases = await self._read(f"SELECT {_COLUMNS} FROM handovers")
        return {
            "cases": len(cases),
            "open": sum(c.closed_at is None for c in cases),
            "answered": sum(c.staff_answer is not None for c in cases),
        }

    async def per_day(self, *, zone: tzinfo, since: datetime) -> dict[date, int]:
        """Returns how many cases were sent on each local day since a moment."""
        cases = await self._read(
            f"SELECT {_COLUMNS} FROM handovers WHERE created_at >= ?", (since.isoformat(),)
        )
        counts: dict[date, int] = {}
        for case in cases:
            day = case.created_at.astimezone(zone).date()
            counts[day] = counts.get(day, 0) + 1
        return counts

    async def purge(self, *, now: datetime | None = None) -> int:
        """Deletes the cases older than the retention period; returns how many."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.days)
        removed = await self._write(
            "DELETE FROM handovers WHERE created_at < ?", (cutoff.isoformat(),)
        )
        if removed:
            logger.info("deleted %d handover cases older than %d days", removed, self.days)
        return removed

    async def forget(self, user_key: str) -> int:
        """Deletes every case of one person (by their pseudonymous key); returns how many."""
        return await self._write("DELETE FROM handovers WHERE user_key = ?", (user_key,))


def handled_lines(cases: list[Case]) -> list[str]:
    """Returns plain lines on cases staff answered: the question and the staff answer."""
    if not cases:
        return []
    lines = ["Besvart av ansatte (stoff til nye oppføringer):"]
    for case in cases:
        lines.append(f"  Sak {case.case_no}: «{case.question}»")
        lines.append(f"    Svar: {case.staff_answer}")
    return lines

"""The durable inbox: every update Telegram sends, kept in SQLite until it is answered.

An update is written here before it is confirmed to Telegram (the next ``getUpdates``
offset, or the webhook's 200), and marked done once its reply has been sent. On start,
undone updates are answered first, so a crash loses nothing and repeats at most the few
replies that were in flight.

A raw update names its sender, so it is personal data: its body is deleted as soon as
it is answered. Only the update's number stays, until Telegram has been told (by the
next fetch) not to send it again, so a repeated delivery is recognised and not answered
twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.questionlog.errors import StoreError
from bot.questionlog.table import OwnTable

logger = logging.getLogger(__name__)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS inbox (
        update_id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        body TEXT,
        done INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX IF NOT EXISTS ix_inbox_done ON inbox (done, update_id)",
)


class Inbox(OwnTable):
    """Updates received and not yet answered, in their own table beside the question log."""

    name = "the inbox"
    schema = _SCHEMA
    # An update must be on disk before Telegram is told it arrived.
    pragmas = ("synchronous=FULL",)
    # The bot's own file: a lock on it is a fault to report soon, and a stop must not
    # wait out a long timeout (the updates are fetched again; marks are kept and retried).
    busy_seconds = 2.0

    async def add(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stores updates (one transaction); returns those not seen before, in order."""
        now = datetime.now(UTC).isoformat()
        fresh: list[dict[str, Any]] = []
        try:
            async with self._change() as db:
                for update in updates:
                    cursor = await db.execute(
                        "INSERT INTO inbox (update_id, received_at, body) VALUES (?, ?, ?) "
                        "ON CONFLICT (update_id) DO NOTHING",
                        (int(update["update_id"]), now, json.dumps(update, ensure_ascii=False)),
                    )
                    if cursor.rowcount:
                        fresh.append(update)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store updates in the inbox: {exc}") from exc
        return fresh

    async def undone(self) -> list[dict[str, Any]]:
        """Returns the updates received but not answered, oldest first."""
        try:
            async with self._db().execute(
                "SELECT body FROM inbox WHERE done = 0 ORDER BY update_id"
            ) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the inbox: {exc}") from exc
        found: list[dict[str, Any]] = []
        for (body,) in rows:
            try:
                update = json.loads(body)
                int(update["update_id"])
            except (TypeError, ValueError, KeyError):
                logger.warning("an unreadable inbox row was skipped")
                continue
            found.append(update)
        return found

    async def done(self, *update_ids: int) -> None:
        """Marks updates answered (in one transaction) and deletes their bodies (who sent
        them, what they said)."""
        try:
            async with self._change() as db:
                await db.executemany(
                    "UPDATE inbox SET done = 1, body = NULL WHERE update_id = ?",
                    [(update_id,) for update_id in update_ids],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot mark an update answered: {exc}") from exc

    async def confirmed(self, offset: int) -> None:
        """Forgets answered updates below an offset Telegram has been sent (it will not
        send them again)."""
        try:
            async with self._change() as db:
                await db.execute("DELETE FROM inbox WHERE done = 1 AND update_id < ?", (offset,))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot tidy the inbox: {exc}") from exc

    async def tidy(self, *, hours: float = 24.0) -> int:
        """Forgets answered updates older than Telegram would send again (webhook mode)."""
        cutoff = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
        try:
            async with self._change() as db:
                cursor = await db.execute(
                    "DELETE FROM inbox WHERE done = 1 AND received_at < ?", (cutoff,)
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot tidy the inbox: {exc}") from exc
        return cursor.rowcount

    async def next_offset(self) -> int | None:
        """Returns the offset after the newest update stored, or None when empty."""
        try:
            async with self._db().execute("SELECT max(update_id) FROM inbox") as cursor:
                row = await cursor.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the inbox: {exc}") from exc
        return None if row is None or row[0] is None else int(row[0]) + 1

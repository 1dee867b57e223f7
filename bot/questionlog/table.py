"""A small SQLite table of its own beside the question log (handover cases, the inbox)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Self

import aiosqlite

from bot.questionlog.errors import StoreError


class OwnTable:
    """Opens a database file, creates its table, and closes it; subclasses add the queries."""

    # What the table holds, for error messages ("the handover cases"), and its schema.
    name = "the table"
    schema: Sequence[str] = ()
    # Extra pragmas (e.g. "synchronous=FULL" where a row must be on disk before it counts).
    pragmas: Sequence[str] = ()
    rows_as_mappings = False
    # How long a change waits for another connection's lock before it fails.
    busy_seconds = 10.0

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # One change at a time: the connection is shared by concurrent tasks, and a
        # rollback after one task's failed change would undo another's uncommitted one.
        self._turn = asyncio.Lock()

    async def open(self) -> None:
        """Opens the database (WAL) and creates the table if needed."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = await aiosqlite.connect(self.path, timeout=self.busy_seconds)
            if self.rows_as_mappings:
                self._conn.row_factory = sqlite3.Row
            await self._conn.execute("PRAGMA journal_mode=WAL")
            for pragma in self.pragmas:
                await self._conn.execute(f"PRAGMA {pragma}")
            for statement in self.schema:
                await self._conn.execute(statement)
            await self._conn.commit()
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StoreError(f"cannot open {self.name} in {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Closes the database."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _change(self) -> AsyncIterator[aiosqlite.Connection]:
        """Runs one change as its own transaction: committed whole, or rolled back whole,
        also when it fails otherwise or is cancelled (raises sqlite3.Error, or StoreError
        when the table is not open)."""
        async with self._turn:
            db = self._db()
            try:
                yield db
                await db.commit()
            except BaseException:
                # Left open, the next task's change would commit this one's half.
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.shield(db.rollback())
                raise

    def _db(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreError(f"{self.name} is not open")
        return self._conn

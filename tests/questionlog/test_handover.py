"""Handover cases in SQLite: opening once per question, closing, retention and forget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.questionlog.handover import HandoverDesk

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def case_fields(ref: str, *, user_key: str = "kari") -> dict[str, object]:
    return {
        "ref": ref,
        "chat_id": 1001,
        "user_key": user_key,
        "question": "ring meg på 912 34 567 om bossdunken",
        "bot_reply": "Beklager …",
        "language": "nb",
    }


async def test_a_question_opens_one_case_with_personal_data_redacted(tmp_path: Path) -> None:
    async with HandoverDesk(tmp_path / "bot.sqlite3", days=14) as desk:
        case = await desk.open_case(**case_fields("abcd"), now=NOW)
        assert case is not None
        assert case.case_no == 1
        assert case.open
        assert "912" not in case.question
        assert await desk.open_case(**case_fields("abcd"), now=NOW) is None  # a double tap

        await desk.sent_to_staff(case.case_no, 77)
        found = await desk.by_staff_message(77)
        assert found is not None
        assert found.case_no == 1
        assert await desk.by_staff_message(78) is None

        assert await desk.close_case(1, now=NOW)
        closed = await desk.by_staff_message(77)
        assert closed is not None
        assert closed.chat_id is None
        assert not closed.open
        assert not await desk.close_case(1, now=NOW)


async def test_retention_and_forget_delete_cases(tmp_path: Path) -> None:
    async with HandoverDesk(tmp_path / "bot.sqlite3", days=14) as desk:
        await desk.open_case(**case_fields("old1"), now=NOW - timedelta(days=15))
        await desk.open_case(**case_fields("new1"), now=NOW - timedelta(days=3))
        await desk.open_case(**case_fields("new2", user_key="ola"), now=NOW)

        waiting = await desk.waiting(older_than=timedelta(days=2), now=NOW)
        assert [c.ref for c in waiting] == ["old1", "new1"]

        assert await desk.purge(now=NOW) == 1
        assert await desk.forget("kari") == 1
        assert await desk.counts() == {"cases": 1, "open": 1, "answered": 0}


async def test_staff_answers_are_kept_for_review(tmp_path: Path) -> None:
    async with HandoverDesk(tmp_path / "bot.sqlite3", days=14) as desk:
        case = await desk.open_case(**case_fields("abcd"), now=NOW)
        assert case is not None
        await desk.answered(case.case_no, "Tømming skjer hver tirsdag.", now=NOW)
        [handled] = await desk.handled()
        assert handled.staff_answer == "Tømming skjer hver tirsdag."


async def test_cases_are_counted_per_local_day(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    oslo = ZoneInfo("Europe/Oslo")
    async with HandoverDesk(tmp_path / "bot.sqlite3", days=14) as desk:
        # 23:30 UTC on the 28th is already the 29th in Oslo.
        await desk.open_case(**case_fields("a"), now=datetime(2026, 11, 28, 23, 30, tzinfo=UTC))
        await desk.open_case(**case_fields("b"), now=datetime(2026, 11, 29, 10, 0, tzinfo=UTC))
        counts = await desk.per_day(zone=oslo, since=NOW - timedelta(days=30))
    assert counts == {datetime(2026, 11, 29).date(): 2}


async def test_a_failed_inbox_batch_leaves_nothing_half_stored(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from bot.questionlog import StoreError
    from bot.questionlog.inbox import Inbox

    path = tmp_path / "inbox.sqlite3"
    async with Inbox(path) as inbox:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON inbox WHEN NEW.update_id = 11"
                " BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
            )
        conn.close()
        with pytest.raises(StoreError):
            await inbox.add([{"update_id": 10}, {"update_id": 11}])
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TRIGGER refuse")
        conn.close()
        # The retry stores and hands out both: update 10 was not left half-stored.
        fresh = await inbox.add([{"update_id": 10}, {"update_id": 11}])
        assert [u["update_id"] for u in fresh] == [10, 11]


async def test_a_cancelled_inbox_change_is_rolled_back_not_committed_by_the_next(
    tmp_path: Path,
) -> None:
    import asyncio
    import contextlib
    import sqlite3

    from bot.questionlog.inbox import Inbox

    path = tmp_path / "inbox.sqlite3"
    async with Inbox(path) as inbox:
        await inbox.add([{"update_id": 1}, {"update_id": 2}])
        other = sqlite3.connect(path, isolation_level=None, timeout=5)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        adding = asyncio.create_task(inbox.add([{"update_id": 3}]))
        await asyncio.sleep(0.3)
        adding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await adding
        other.execute("ROLLBACK")
        other.close()
        await inbox.done(1)  # another task's change: it must not commit update 3
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute("SELECT update_id, done FROM inbox ORDER BY update_id").fetchall()
    assert rows == [(1, 1), (2, 0)]

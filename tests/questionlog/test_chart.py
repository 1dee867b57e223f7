"""Questions per day from a real log, in local days, and the chart drawn from them."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.questionlog import Outcome, QuestionLog
from bot.questionlog.chart import CHART_DAYS, PNG_MAGIC, render_chart
from bot.questionlog.daily import DayCounts

from .helpers import NOW, event

OSLO = ZoneInfo("Europe/Oslo")


async def _fill(qlog: QuestionLog) -> None:
    """Logs a small week: outcomes on known days, one at each side of Oslo's midnight."""
    for hours_ago, outcome in [
        (1, Outcome.ANSWERED),
        (2, Outcome.ANSWERED),
        (3, Outcome.DECLINED),
        (4, Outcome.SMALLTALK),
        (13.5, Outcome.AMBIGUOUS),  # 22:30 UTC on 31 May = 00:30 on 1 June in Oslo
        (14.5, Outcome.RELATED),  # 21:30 UTC = 23:30 on 31 May in Oslo
        (24 * 3, Outcome.DECLINED),
        (24 * 40, Outcome.ANSWERED),  # outside the 30 days
    ]:
        qlog.record(event(outcome=outcome, asked_at=NOW - timedelta(hours=hours_ago)))
    assert await qlog.flush()


async def test_daily_counts_are_local_days_by_outcome(qlog: QuestionLog) -> None:
    await _fill(qlog)
    days = await qlog.daily(days=CHART_DAYS, now=NOW, zone=OSLO)
    assert len(days) == CHART_DAYS
    assert days[0].day == date(2024, 5, 3)
    assert days[-1] == DayCounts(date(2024, 6, 1), answered=2, declined=1, smalltalk=1, ambiguous=1)
    assert days[-1].questions == 4
    assert days[-1].answer_rate == pytest.approx(0.5)
    assert days[-2] == DayCounts(date(2024, 5, 31), related=1)
    assert days[-4] == DayCounts(date(2024, 5, 29), declined=1)
    assert sum(d.questions + d.smalltalk for d in days) == 7
    assert days[0].answer_rate is None
    # In UTC the ambiguous question falls on 31 May.
    utc = await qlog.daily(days=2, now=NOW)
    assert [(d.day, d.ambiguous, d.related) for d in utc] == [
        (date(2024, 5, 31), 1, 1),
        (date(2024, 6, 1), 0, 0),
    ]


async def test_the_chart_is_a_png_of_the_log(qlog: QuestionLog) -> None:
    await _fill(qlog)
    days = await qlog.daily(days=CHART_DAYS, now=NOW, zone=OSLO)
    image = render_chart(days, handed_over={date(2024, 5, 31): 1})
    assert image.startswith(PNG_MAGIC)
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    assert (width, height) == (1000, 500)
    empty = render_chart([DayCounts(date(2024, 6, 1) - timedelta(days=n)) for n in range(7)])
    assert empty.startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="at least one day"):
        render_chart([])

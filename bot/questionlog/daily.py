"""Questions per day, by outcome, in the municipality's local days: what the chart draws."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from bot.questionlog.reports import rate

__all__ = ["DayCounts", "count_by_day", "first_moment", "local_days"]


@dataclass(frozen=True)
class DayCounts:
    """Counts one local day's logged messages by outcome."""

    day: date
    answered: int = 0
    ambiguous: int = 0
    related: int = 0
    declined: int = 0
    smalltalk: int = 0

    @property
    def questions(self) -> int:
        """Counts the day's real questions (small talk left out, as in the statistics)."""
        return self.answered + self.ambiguous + self.related + self.declined

    @property
    def answer_rate(self) -> float | None:
        """Returns the share of real questions answered, or None on a day without any."""
        return rate(self.answered, self.questions)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict."""
        return {
            "day": self.day.isoformat(),
            "answered": self.answered,
            "ambiguous": self.ambiguous,
            "related": self.related,
            "declined": self.declined,
            "smalltalk": self.smalltalk,
            "answer_rate": self.answer_rate,
        }


def local_days(days: int, now: datetime, zone: tzinfo) -> list[date]:
    """Returns the last days local dates up to and including now's, oldest first."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = now.astimezone(zone).date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def first_moment(days: int, now: datetime, zone: tzinfo) -> datetime:
    """Returns the UTC instant the first of the last days began (local midnight)."""
    first = local_days(days, now, zone)[0]
    return datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)


def count_by_day(
    hourly: Iterable[tuple[str, str, int]], *, days: int, now: datetime, zone: tzinfo
) -> list[DayCounts]:
    """Sums (UTC hour "YYYY-MM-DDTHH", outcome, count) rows into local days, oldest first."""
    # Hours, not instants, are summed: the log's query stays small, and every time zone
    # offset in whole hours (Norway's among them) puts an hour wholly in one local day.
    sums: dict[date, dict[str, int]] = {day: {} for day in local_days(days, now, zone)}
    for hour, outcome, count in hourly:
        start = datetime.fromisoformat(f"{hour}:00:00+00:00")
        bucket = sums.get(start.astimezone(zone).date())
        if bucket is not None:
            bucket[outcome] = bucket.get(outcome, 0) + int(count)
    return [
        DayCounts(
            day=day,
            answered=counts.get("answered", 0),
            ambiguous=counts.get("ambiguous", 0),
            related=counts.get("related", 0),
            declined=counts.get("declined", 0),
            smalltalk=counts.get("smalltalk", 0),
        )
        for day, counts in sums.items()
    ]

"""The picture of what residents ask: questions per day by outcome, and the answer rate, as a PNG.

matplotlib is imported inside :func:`render_chart` only, so nothing else that imports the
question log (``python -m bot ask`` among them) pays for it. It draws with the Agg backend
on its own Figure (no pyplot, no global state), so it may run in a worker thread.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.core.messages import phrase
from bot.questionlog.daily import DayCounts

__all__ = ["CHART_DAYS", "PNG_MAGIC", "render_chart"]

CHART_DAYS = 30
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Outcome, label key and colour, stacked from the bottom up.
_SERIES = (
    ("answered", "chart_answered", "#2e7d32"),
    ("ambiguous", "chart_ambiguous", "#f9a825"),
    ("related", "chart_related", "#64b5f6"),
    ("declined", "chart_declined", "#c62828"),
)
_RATE_COLOUR = "#212121"
_HANDOVER_COLOUR = "#6a1b9a"
_MAX_TICKS = 10


def _label(key: str, **values: str) -> str:
    """Returns a chart label in Norwegian, the admins' language."""
    return phrase(key, "nb", **values)


def render_chart(
    days: Sequence[DayCounts],
    *,
    handed_over: Mapping[date, int] | None = None,
    title: str | None = None,
) -> bytes:
    """Draws questions per day (stacked by outcome) and the answer rate; returns PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    if not days:
        raise ValueError("the chart needs at least one day")
    fig = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    positions = list(range(len(days)))
    bottom = [0] * len(days)
    handles: list[Any] = []
    for outcome, key, colour in _SERIES:
        heights = [getattr(day, outcome) for day in days]
        handles.append(
            ax.bar(positions, heights, bottom=bottom, color=colour, width=0.8, label=_label(key))
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if handed_over is not None:
        # Handed-over questions are also counted in their outcome's bar: markers, not a stack.
        counts = [handed_over.get(day.day, 0) for day in days]
        handles += ax.plot(
            positions,
            [n if n else math.nan for n in counts],
            linestyle="none",
            marker="D",
            color=_HANDOVER_COLOUR,
            label=_label("chart_handed_over"),
        )
    ax.set_ylabel(_label("chart_questions"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if max(bottom) == 0:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, _label("chart_empty"), transform=ax.transAxes, ha="center")
    step = max(1, math.ceil(len(days) / _MAX_TICKS))
    ax.set_xticks(positions[::step], [f"{d.day.day}.{d.day.month}." for d in days[::step]])
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)

    rates = ax.twinx()
    values = [math.nan if d.answer_rate is None else d.answer_rate for d in days]
    rates.plot(positions, values, color=_RATE_COLOUR, marker="o", markersize=3, linewidth=1.5)
    rates.set_ylim(0, 1.05)
    rates.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    rates.set_ylabel(_label("chart_rate"))
    handles += rates.plot([], [], color=_RATE_COLOUR, marker="o", label=_label("chart_rate"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    ax.set_title(title or _label("chart_title", days=str(len(days))))

    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()

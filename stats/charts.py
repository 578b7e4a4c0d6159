"""Daily views as a bar chart drawn on the server (SVG, no script).

The bars are drawn in a viewBox stretched to the box's width; numbers and
dates are HTML beside it, so they keep their size on a phone. The template
(templates/_chart.html) adds a table of the same figures for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

WIDTH = 1000
HEIGHT = 300


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    views: int


@dataclass
class Chart:
    bars: list[Bar]
    top: int  # the axis's upper value, a round number
    ticks: list[tuple[int, float]]  # (value, percent from the top)
    labels: list[tuple[date, float]]  # (day, percent from the left, of its centre)
    total: int
    peak: tuple[date, int] | None
    days: int


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above value (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def daily_chart(daily: list[tuple[date, int]]) -> Chart:
    count = len(daily)
    top = nice_ceiling(max((views for _day, views in daily), default=0))
    slot = WIDTH / max(count, 1)
    gap = slot * 0.2 if slot > 4 else 0
    bars = []
    for index, (day, views) in enumerate(daily):
        height = HEIGHT * views / top
        bars.append(
            Bar(
                x=round(index * slot + gap / 2, 2),
                y=round(HEIGHT - height, 2),
                width=round(slot - gap, 2),
                height=round(height, 2),
                day=day,
                views=views,
            )
        )
    # Dates under the axis: the first, the last and a few between, evenly.
    shown = min(count, 5)
    positions = (
        sorted({round(n * (count - 1) / (shown - 1)) for n in range(shown)})
        if shown > 1
        else [0] * shown
    )
    labels = [
        (daily[i][0], round((i + 0.5) * 100 / max(count, 1), 2)) for i in positions
    ]
    peak = max(daily, key=lambda item: (item[1], -item[0].toordinal()), default=None)
    return Chart(
        bars=bars,
        top=top,
        ticks=[(top, 0.0), (top // 2, 50.0), (0, 100.0)]
        if top % 2 == 0
        else [(top, 0.0), (0, 100.0)],
        labels=labels,
        total=sum(views for _day, views in daily),
        peak=peak if peak and peak[1] else None,
        days=count,
    )

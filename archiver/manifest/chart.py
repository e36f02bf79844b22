"""Geometry of the stacked-column chart of rot over time (inline SVG, no JavaScript).

Pure: points in, rectangles and labels out; the template only draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 30


@dataclass(frozen=True)
class Segment:
    cls: str
    y: float
    h: float


@dataclass(frozen=True)
class Column:
    x: float
    w: float
    title: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    columns: tuple[Column, ...]
    yticks: tuple[Label, ...]
    xlabels: tuple[Label, ...]
    legend: tuple[str, ...]


def _ticks(n: int, most: int = 5) -> list[int]:
    """Round y-axis ticks from 0 to at least ``n``: steps of 1, 2, 5 × 10^k, ≤ ``most`` steps."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if math.ceil(n / (m * step)) <= most:
                return [i * m * step for i in range(math.ceil(n / (m * step)) + 1)]
        step *= 10


def _column(x: float, w: float, day: date, counts: dict[str, int], classes, scale: float):
    segments, base = [], TOP + (HEIGHT - TOP - BOTTOM)
    for cls in classes:
        n = counts.get(cls, 0)
        if n:
            h = n * scale
            base -= h
            segments.append(Segment(cls, round(base, 2), round(h, 2)))
    parts = ", ".join(f"{cls} {counts[cls]}" for cls in classes if counts.get(cls))
    return Column(
        round(x, 2), round(w, 2), f"{day.isoformat()}: {parts or 'no checks'}", tuple(segments)
    )


def _xlabels(points, col_w: float, most: int = 6) -> tuple[Label, ...]:
    n = len(points)
    picks = sorted({round(i * (n - 1) / (most - 1)) for i in range(most)}) if n > 1 else [0]
    y = HEIGHT - BOTTOM + 18
    return tuple(
        Label(round(LEFT + (i + 0.5) * col_w, 2), y, points[i][0].isoformat()) for i in picks
    )


def stacked_chart(points: list[tuple[date, dict[str, int]]], classes: tuple[str, ...]) -> Chart:
    """Columns left to right in time, classes stacked bottom-up in ``classes`` order."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ticks = _ticks(max((sum(c.values()) for _, c in points), default=0) or 1)
    scale = plot_h / ticks[-1]
    col_w = plot_w / max(1, len(points))
    gap = 1 if col_w > 4 else 0
    columns = tuple(
        _column(LEFT + i * col_w + gap / 2, col_w - gap, day, counts, classes, scale)
        for i, (day, counts) in enumerate(points)
    )
    yticks = tuple(Label(LEFT - 6, round(TOP + plot_h - v * scale, 2), str(v)) for v in ticks)
    used = {cls for _, counts in points for cls in counts}
    return Chart(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        plot_w,
        plot_h,
        columns,
        yticks,
        _xlabels(points, col_w) if points else (),
        tuple(cls for cls in classes if cls in used),
    )

"""Rot over time and per-article counts for index.html.

Pure folds over the store's plain rows (`Store.citation_rows`, `Store.check_events`),
so the chart's numbers can be tested from a table of cases.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from archiver.manifest.view import UNCHECKED
from archiver.states import ReviewState

Counts = dict[str, int]

# ------------------------------------------------------------------ pure folds


def article_counts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Per article: citations, and counts by rot class, capture state, review; dead."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        art = out.setdefault(
            r.id,
            {
                "id": r.id,
                "title": r.title,
                "source_url": r.source_url,
                "citations": 0,
                "rot": Counter(),
                "capture": Counter(),
                "review": Counter(),
                "dead": 0,
            },
        )
        if r.n is None:
            continue
        art["citations"] += 1
        art["rot"][r.rot or UNCHECKED] += 1
        art["capture"][r.capture_state] += 1
        art["review"][r.review or ReviewState.PENDING.value] += 1  # plain str keys
        art["dead"] += int(bool(r.dead))
    return list(out.values())


def totals(articles: list[dict[str, Any]]) -> dict[str, Any]:
    rot: Counter = Counter()
    capture: Counter = Counter()
    for a in articles:
        rot.update(a["rot"])
        capture.update(a["capture"])
    return {
        "articles": len(articles),
        "citations": sum(a["citations"] for a in articles),
        "rot": rot,
        "capture": capture,
        "dead": sum(a["dead"] for a in articles),
    }


def rot_series(
    events: Iterable[tuple[int, datetime, str]], weights: dict[int, int]
) -> list[tuple[date, Counts]]:
    """Per day with checks: citations in each class by their target's latest check so far."""
    latest: dict[int, str] = {}
    counts: Counter = Counter()
    out: list[tuple[date, Counts]] = []
    for target_id, at, cls in events:
        weight = weights.get(target_id, 0)
        if target_id in latest:
            counts[latest[target_id]] -= weight
        latest[target_id] = cls
        counts[cls] += weight
        day = at.date()
        now = {k: v for k, v in counts.items() if v}
        if out and out[-1][0] == day:
            out[-1] = (day, now)
        else:
            out.append((day, now))
    return out


def _days(first: date, last: date, step: int) -> Iterator[date]:
    day = first
    while day < last:
        yield day
        day += timedelta(days=step)
    yield last


def resample(series: list[tuple[date, Counts]], max_points: int = 120) -> list[tuple[date, Counts]]:
    """Evenly spaced days from the first check to the last, each with the state then.

    A day without checks carries the previous state forward; long histories are thinned
    to at most ``max_points`` columns so the chart stays light.
    """
    if not series:
        return []
    first, last = series[0][0], series[-1][0]
    step = max(1, math.ceil(((last - first).days + 1) / max_points))
    points: list[tuple[date, Counts]] = []
    i, state = 0, {}
    for day in _days(first, last, step):
        while i < len(series) and series[i][0] <= day:
            state = series[i][1]
            i += 1
        points.append((day, state))
    return points

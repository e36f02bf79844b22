"""Rot over time and per-article counts for index.html.

The two queries sit at the top; everything after them is a pure fold over plain rows,
so the chart's numbers can be tested from a table of cases.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from archiver.manifest.view import UNCHECKED
from archiver.store import schema as t

Counts = dict[str, int]

# ------------------------------------------------------------------ queries


def citation_rows(store) -> list[Any]:
    """One row per citation (or one empty row for an article without any)."""
    a, c, tg, rv = t.article, t.citation, t.target, t.review
    q = (
        select(
            a.c.id,
            a.c.title,
            a.c.source_url,
            a.c.added_at,
            c.c.n,
            tg.c.rot,
            tg.c.capture_state,
            tg.c.dead,
            rv.c.state.label("review"),
        )
        .select_from(
            a.outerjoin(c, c.c.article_id == a.c.id)
            .outerjoin(tg, tg.c.id == c.c.target_id)
            .outerjoin(rv, rv.c.citation_id == c.c.id)
        )
        .order_by(a.c.added_at, a.c.id, c.c.n)
    )
    with store.read() as conn:
        return conn.execute(q).all()


def check_events(store) -> tuple[list[tuple[int, datetime, str]], dict[int, int]]:
    """Every check (target, time, class) in time order, and how many citations each target has.

    One narrow row per check; at weekly checks of 10,000 targets that is ~0.5 M rows a
    year, read once per index rewrite.
    """
    c, ck = t.citation, t.check
    with store.read() as conn:
        weights = {
            r.target_id: r.n
            for r in conn.execute(
                select(c.c.target_id, func.count().label("n")).group_by(c.c.target_id)
            )
        }
        events = [
            (r.target_id, r.checked_at, r.classification)
            for r in conn.execute(
                select(ck.c.target_id, ck.c.checked_at, ck.c.classification).order_by(
                    ck.c.checked_at, ck.c.id
                )
            )
        ]
    return events, weights


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
        art["review"][r.review or "pending"] += 1
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

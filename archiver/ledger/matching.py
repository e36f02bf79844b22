"""Rows and ledger lines matched both ways, for `archive verify`: every row of a kind
with lines has its line and agrees with it (`row_digest`, `described`), every line names
a row the store still has (or one recovery dropped, `DROPPED`), and no row has two.

Pure: the rows come from the store (`LedgeredMixin.all_paired_rows`), the lines from
one pass over the ledger (`PairedLines.take`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archiver.ledger.events import DROPPED, Paired
from archiver.ledger.pairs import HISTORY, described, row_digest, row_key
from archiver.times import iso_micro


@dataclass
class PairedLines:
    """The ledger's lines that name a row, gathered in verify's one pass."""

    by_row: dict[tuple[str, str], list[tuple[int, dict]]] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    dropped_shots: set[str] = field(default_factory=set)  # screenshots recovery removed
    counts: dict[str, int] = field(default_factory=dict)
    # check lines written before lines named their rows, by (target, checked_at)
    legacy_checks: dict[tuple[str, str], tuple[int, dict]] = field(default_factory=dict)

    def take(self, n: int, obj: dict) -> None:
        event = obj.get("event")
        if event == DROPPED:
            self.dropped.update(str(r) for r in obj.get("rows") or [])
            self.dropped_shots.update(str(r) for r in obj.get("screenshots") or [])
            return
        if event == Paired.CHECK.value and "row" not in obj:
            key = (str(obj.get("target")), str(obj.get("checked_at")))
            self.legacy_checks[key] = (n, obj)
            return
        if event not in _EVENTS or "row" not in obj:
            return  # another event, or a line written before lines named their rows
        self.by_row.setdefault((event, str(obj["row"])), []).append((n, obj))
        self.counts[event] = self.counts.get(event, 0) + 1


_EVENTS = frozenset(kind.value for kind in Paired)


def _current(kind: Paired, row: Any, entries: list[tuple[int, dict]]) -> tuple[int, dict]:
    """The line that speaks for the row now: the one with the row's seq, else the last."""
    for n, obj in entries:
        if obj.get("seq") == row.ledger_seq:
            return n, obj
    return entries[-1]


def _what_differs(kind: Paired, row: Any, obj: dict) -> list[str]:
    """The described fields where the line and the row disagree (a WARC's are compared
    with the file itself by verify's closed-file check)."""
    if kind == Paired.WARC_CLOSED:
        return []
    return [k for k, v in described(kind, row).items() if obj.get(k) != v]


def _name(kind: Paired, row: Any) -> str:
    """How a line's problem names its row (a snapshot by its WARC record, as before)."""
    return row.record_id if kind == Paired.SNAPSHOT else str(row_key(kind, row))


def _row_problems(
    kind: Paired, row: Any, lines: PairedLines
) -> Iterator[tuple[str, int | None, str]]:
    """(where, line number or None, what) for one row."""
    where = f"{kind.value} {row_key(kind, row)}"
    entries = lines.by_row.get((kind.value, str(row_key(kind, row))))
    if not entries:
        if row.ledger_seq is None:
            yield from _legacy_problems(kind, row, lines, where)
        else:
            yield where, None, f"no ledger line (the row names seq {row.ledger_seq})"
        return
    n, obj = _current(kind, row, entries)
    differ = _what_differs(kind, row, obj)  # the more telling of the two, if both
    if differ:
        what = f"disagrees with the store on {', '.join(differ)}"
        yield where, n, f"{kind.value} line for {_name(kind, row)} {what}"
    elif obj.get("digest") != row_digest(kind, row):
        yield where, None, f"content differs from its ledger line {n} (digest)"


def _legacy_problems(
    kind: Paired, row: Any, lines: PairedLines, where: str
) -> Iterator[tuple[str, int | None, str]]:
    """A row stored before lines named their rows (an archive made before schema v5,
    until its next writer gives the row a line of the new form) is matched with the line
    its writer wrote then, the way verify matched before: snapshots by record id,
    reviews by citation and WARC files by path (verify's other checks do those), checks
    by target and time, here."""
    if kind in (Paired.TIMESTAMP, Paired.SCREENSHOT):  # born with the rule: no old lines
        yield where, None, "no ledger line naming it (its writers have always written one)"
        return
    if kind != Paired.CHECK:
        return
    entry = lines.legacy_checks.get((row.target_url, iso_micro(row.checked_at)))
    if entry is None:
        why = "nor one of its target and time from before lines named rows"
        yield where, None, f"no ledger line naming it ({why})"
        return
    n, obj = entry
    differ = [k for k, v in described(kind, row).items() if obj.get(k) != v]
    if differ:
        yield where, n, f"check line for {row.id} disagrees with the store on {', '.join(differ)}"


def _dropped(kind: Paired, key: str, lines: PairedLines) -> bool:
    """Was the row a line names removed by recovery, as a `snapshot-dropped` line says?"""
    if kind == Paired.SNAPSHOT:
        return key in lines.dropped
    return kind == Paired.SCREENSHOT and key in lines.dropped_shots


def _line_problems(
    kind: Paired, rows: dict[str, Any], lines: PairedLines
) -> Iterator[tuple[int, str]]:
    for (event, key), entries in lines.by_row.items():
        if event != kind.value:
            continue
        row = rows.get(key)
        if row is None:
            if not _dropped(kind, key, lines):
                yield from ((n, f"{event} {key} is not in the store") for n, _ in entries)
            continue
        if kind in HISTORY:
            continue  # each decision, each close of the file, is a line; the last speaks
        current, _ = _current(kind, row, entries)
        for n, _ in entries:
            if n != current:
                yield n, f"a second line for {event} {key} (line {current} describes the row)"


def pair_problems(
    rows: dict[Paired, list[Any]], lines: PairedLines
) -> tuple[list[tuple[str, int | None, str]], list[tuple[int, str]]]:
    """(row problems as (where, line number or None, what), line problems as (line
    number, what)): rows without a line or unlike it, lines without a row or doubled."""
    by_row: list[tuple[str, int | None, str]] = []
    by_line: list[tuple[int, str]] = []
    for kind, kind_rows in rows.items():
        for row in kind_rows:
            by_row += _row_problems(kind, row, lines)
        keyed = {str(row_key(kind, row)): row for row in kind_rows}
        by_line += _line_problems(kind, keyed, lines)
    return by_row, sorted(by_line)

"""What changed in a page's main text between two snapshots, for an editor to read.

Texts are split into sentences (a drifted news page is usually a rewritten paragraph,
not a changed line), compared with difflib, and returned as plain (kind, text) pairs:
the template escapes them. Long unchanged stretches are folded to their count.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
MAX_TEXT = 200_000  # characters per side: difflib is quadratic in the worst case


@dataclass(frozen=True)
class Piece:
    kind: str  # "same", "removed", "added", "folded"
    text: str


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text[:MAX_TEXT]) if s.strip()]


def text_diff(before: str, after: str, *, context: int = 1) -> list[Piece]:
    """Removed and added sentences with ``context`` unchanged ones around each change."""
    old, new = sentences(before), sentences(after)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.extend(_fold(old[i1:i2], context, first=i1 == 0, last=i2 == len(old)))
            continue
        pieces.extend(Piece("removed", s) for s in old[i1:i2])
        pieces.extend(Piece("added", s) for s in new[j1:j2])
    return pieces


def _fold(same: list[str], context: int, *, first: bool, last: bool) -> list[Piece]:
    head = [] if first else same[:context]
    tail = [] if last else same[len(same) - context :] if context else []
    hidden = len(same) - len(head) - len(tail)
    if hidden <= 0:
        return [Piece("same", s) for s in same]
    folded = Piece("folded", f"{hidden} unchanged sentence{'s' if hidden != 1 else ''}")
    return [*(Piece("same", s) for s in head), folded, *(Piece("same", s) for s in tail)]

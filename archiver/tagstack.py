"""The open elements of an lxml parser-target walk, with O(1) questions about them.

A hostile page nests tags without ever closing them (hundreds of thousands deep in 8 MiB):
scanning the stack at every text event is quadratic there. This stack counts its tags,
so "is a <script> open?" and "is this tag open at all?" cost the same at any depth.
"""

from __future__ import annotations

from collections import Counter


class TagStack:
    """Open tag names, innermost last; ``watched`` tags are counted for `any_watched`."""

    def __init__(self, watched: frozenset[str] = frozenset()) -> None:
        self._tags: list[str] = []
        self._open: Counter[str] = Counter()
        self._watched = watched
        self._watched_open = 0

    def __len__(self) -> int:
        return len(self._tags)

    def __contains__(self, tag: str) -> bool:
        return self._open[tag] > 0

    @property
    def innermost(self) -> str:
        return self._tags[-1] if self._tags else ""

    def any_watched(self) -> bool:
        """Whether any of the ``watched`` tags is open."""
        return self._watched_open > 0

    def push(self, tag: str) -> None:
        self._tags.append(tag)
        self._open[tag] += 1
        if tag in self._watched:
            self._watched_open += 1

    def close(self, tag: str) -> None:
        """An end tag: close up to its most recent namesake; a stray one closes nothing."""
        if tag not in self:
            return
        while self._tags:
            popped = self._tags.pop()
            self._open[popped] -= 1
            if popped in self._watched:
                self._watched_open -= 1
            if popped == tag:
                break

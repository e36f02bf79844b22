"""justext's all-languages stoplist in ~1.2 MB instead of ~18 MB.

trafilatura falls back to justext for short or unclean pages and, not knowing the
language, hands it the union of justext's ~100 stoplists: 154,484 words. Kept as a
frozenset of str (what justext makes of it) that is ~18 MB of a capture process's peak
RSS (issue 18: goal 120 MB). justext only asks ``word.lower() in stoplist``, so this keeps
the sorted 64-bit ``hash()`` of each word in one ``array`` and answers by bisection:
~0.5 µs a word instead of ~0.06 µs, on pages justext reads at all (a few thousand words
at most), and the same answers. Two different words share a 64-bit SipHash with odds of
about 2**-64 a pair, so a word outside the list is taken for a stopword with odds of
~154,484 / 2**64 (1e-14) a lookup. ``hash()`` of str is salted per process; the array
is built in the process that uses it and never stored.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from itertools import groupby


class HashedStoplist:
    """A read-only set of words that answers ``in`` (and ``len``) from their hashes."""

    __slots__ = ("_hashes",)

    def __init__(self, lists: Iterable[Iterable[str]]):
        # one sorted array per list, merged: no set or list of 150k objects on the way
        parts = [array("q", sorted(map(hash, map(str.lower, words)))) for words in lists]
        self._hashes = array("q", (value for value, _ in groupby(heapq.merge(*parts))))

    def __contains__(self, word: object) -> bool:
        try:
            h = hash(word)
        except TypeError:
            return False
        hashes = self._hashes
        i = bisect_left(hashes, h)
        return i < len(hashes) and hashes[i] == h

    def __len__(self) -> int:
        return len(self._hashes)

    def __bool__(self) -> bool:
        return True  # built, even if every list was empty: never built again

    def __repr__(self) -> str:
        return f"<HashedStoplist of {len(self)} words>"

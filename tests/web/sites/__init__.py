"""Every site of the fixture web; each module exports ``SITES``.

- sample.py: the sources the demo article cites (themoscowtimes.com, tjournal.ru,
  bbc.com, vedomosti.ru and their static hosts), in the "now" and "later" worlds.
- telegram.py: t.me / telegram.me posts, embed widget, channel preview; telegram.org.
- cases.py (+ cases_wire.py, cases_pages.py): cases.test, one behaviour per path.
- special.py: soft404.test, *.badssl.test, private.test/localhost/127.0.0.1,
  fixture.control.
- bench.py: bench00.test … bench99.test, article pages with requisites and link-check
  pages, each answer delayed 20–50 ms (for the benchmarks in bench/).
- faults.py: faults.test, hostile answers for the fault suite (tests/test_faults.py).
- feeds.py: news.example.test, a publication with RSS/Atom feeds (article intake).
- cdnnews.py: news00.test … news19.test sharing cdn.news.test, 30 ms a response, in
  flight counted per host (requisite reuse, per-visit politeness, bench/cdn.py).
- fleet.py: fleet0.test … fleet7.test, small pages that track requests in flight per
  host (the many-worker PostgreSQL tests and bench/workers.py).
"""

from __future__ import annotations

from tests.web.routing import Router, Site
from tests.web.sites import (
    bench,
    cases,
    cdnnews,
    faults,
    feeds,
    fleet,
    sample,
    special,
    telegram,
)

SITES: tuple[Site, ...] = (
    *sample.SITES,
    *telegram.SITES,
    *cases.SITES,
    *special.SITES,
    *bench.SITES,
    *faults.SITES,
    *feeds.SITES,
    *fleet.SITES,
    *cdnnews.SITES,
)


def make_router() -> Router:
    return Router(SITES)

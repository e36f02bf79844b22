"""Every site of the fixture web; each module exports ``SITES``.

- sample.py: the sources the demo article cites (themoscowtimes.com, tjournal.ru,
  bbc.com, vedomosti.ru and their static hosts), in the "now" and "later" worlds.
- telegram.py: t.me / telegram.me posts, embed widget, channel preview; telegram.org.
- cases.py (+ cases_wire.py, cases_pages.py): cases.test, one behaviour per path.
- special.py: soft404.test, *.badssl.test, private.test/localhost/127.0.0.1,
  fixture.control.
"""

from __future__ import annotations

from tests.web.routing import Router, Site
from tests.web.sites import cases, sample, special, telegram

SITES: tuple[Site, ...] = (*sample.SITES, *telegram.SITES, *cases.SITES, *special.SITES)


def make_router() -> Router:
    return Router(SITES)

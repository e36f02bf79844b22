"""Site plans: which URLs make up one capture of a cited page, and where its text is.

A plan module is small and data-like: `match(url) -> Plan | None`. The engine asks
each registered module in order and falls back to the default plan (the URL alone).
A plan's ``frames`` and ``extra`` pages are always fetched and counted as resources; the
frames are part of the primary page's visit (a browser loads them with it), each extra
page is a visit of its own (see README, "Politeness: what a site operator sees").
Adding a site (YouTube, X, VK, …) is a new module here plus one line in PLANS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from archiver.capture.plans import telegram


@dataclass(frozen=True, kw_only=True)
class Plan:
    name: str
    primary: str  # the cited page itself: its snapshot row points here
    # pages the primary page loads in an iframe: fetched within its page visit (no
    # per_host_delay before them, a concurrency slot still), never reused
    frames: list[str] = field(default_factory=list)
    # other pages captured alongside, each its own page visit (paced)
    extra: list[str] = field(default_factory=list)
    text_from: str | None = None  # which URL's page gives the snapshot's title/text
    text_parser: Callable[[str], tuple[str, str] | None] | None = None
    requisites: bool = True


PLANS = [telegram.match]


def plan_for(url: str) -> Plan:
    for match in PLANS:
        found = match(url)
        if found is not None:
            return Plan(**found)
    return Plan(name="page", primary=url)

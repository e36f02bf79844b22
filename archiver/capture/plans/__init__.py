"""Site plans: which URLs make up one capture of a cited page, and where its text is.

A plan module is small and data-like: `match(url) -> Plan | None`. The engine asks
each registered module in order and falls back to the default plan (the URL alone).
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
    extra: list[str] = field(default_factory=list)  # captured alongside, counted as resources
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

"""The archive's ledger in the core: the hash-chained file (`chain`), its events
(`events`), the rule pairing rows and lines (`pairs`) and verify's matching of the two
(`matching`). Imports no archiver package above the core: the store is passed in."""

from __future__ import annotations

from archiver.ledger.chain import LEDGER_NAME, Ledger
from archiver.times import Clock, now


def ledger_for(settings, *, clock: Clock = now) -> Ledger:
    """The archive's ledger (under its manifests folder), stamped by ``clock``."""
    return Ledger(settings.manifests_path / LEDGER_NAME, clock=clock)

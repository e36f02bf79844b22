"""Check one target: fetch it live, compare with its latest good snapshot, classify.

Per target: fetch the cited URL (every redirect hop followed by hand and listed in the
result); for a site plan with a text source (a Telegram post's embed widget) fetch that
too and take the text from it; compare with the latest good snapshot; fetch the sibling
probe only when the snapshot does not vouch for the page (`classify.wants_probe`).

A check reads at most ``check.max_bytes`` of each page and writes no WARC. The engine
touches neither store nor ledger: it returns a frozen `CheckResult` that the run
(`archiver.runs.check`) applies. The caller passes the site plan (`capture.plans`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from archiver.check.classify import Observation, Verdict, classify, wants_probe
from archiver.check.gate import HostDeferred
from archiver.check.probe import ProbeAnswer, ProbeCache
from archiver.config import CheckSettings
from archiver.judge import Response, reasons_of
from archiver.net.fetch import Chain, Client
from archiver.pages import PageInfo, analyse, decode_html, plan_page
from archiver.states import Rot

if TYPE_CHECKING:
    from archiver.capture.plans import Plan


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """What one check saw: the live answer's facts, the verdict, and Retry-After."""

    checked_at: datetime
    status: int | None
    final_url: str | None
    redirects: list[Any]
    verdict: Verdict
    retry_after: float | None


def _ok_status(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _answered(chain: Chain) -> bool:
    return chain.error is None and chain.final is not None and _ok_status(chain.final.status)


def unchanged_page(final, snapshot) -> PageInfo | None:
    """The snapshot's page analysis when the live document is byte for byte the one it
    was made from (same document digest, both read whole, same media type); else None.

    Title, main text, fingerprint and quality are functions of the document's bytes (and
    its charset), so analysing it again would find what the snapshot holds: a page that
    did not change is not parsed again (trafilatura is most of a check's CPU). A body
    that differs in any byte is analysed and compared as before.
    """
    if snapshot is None or not snapshot.payload_digest or snapshot.truncated:
        return None
    if final.truncated or final.error or final.doc_digest != snapshot.payload_digest:
        return None
    if final.content_type != snapshot.content_type:
        return None
    return PageInfo(
        title=snapshot.title or "",
        text=snapshot.text or "",
        fingerprint=snapshot.text_fingerprint or "",
        quality=snapshot.quality,
        reasons=reasons_of(getattr(snapshot, "reasons", None)),
    )


def _parsed_page(plan: Plan, html: str) -> PageInfo:
    parsed = plan.text_parser(html) if plan.text_parser else None
    # None: e.g. Telegram's "Post not found" widget
    return plan_page(plan.name, parsed, None)


class CheckEngine:
    """Checks targets with the run's client; one per run (its probe answers are shared)."""

    def __init__(
        self, client: Callable[[], Client], settings: CheckSettings, clock: Callable[[], Any]
    ) -> None:
        self.client = client
        self.cs = settings
        self.clock = clock
        self.probes = ProbeCache(self._probe)
        self.probes_made = 0
        self._lock = threading.Lock()

    def fetch(self, url: str) -> Chain:
        """GET with every hop followed; nothing recorded; the bodies' first bytes kept.

        Raises HostDeferred when the host's Retry-After keeps us from fetching.
        """
        chain = self.client().fetch_chain(
            url, record=False, max_bytes=self.cs.max_bytes, head_limit=self.cs.max_bytes
        )
        chain.close()  # hop.head and headers stay readable
        if isinstance(chain.error, HostDeferred):
            raise chain.error
        return chain

    def _probe(self, url: str) -> ProbeAnswer:
        chain = self.fetch(url)
        with self._lock:
            self.probes_made += 1
        final = chain.final
        if not _answered(chain):
            return ProbeAnswer(url=url, status=final.status if final else None)
        info = analyse(final.head, final.header("content-type"))
        return ProbeAnswer(
            url=url,
            final_url=final.url,
            status=final.status,
            text=info.text,
            fingerprint=info.fingerprint or None,
        )

    def observe(self, url: str, plan: Plan, snapshot) -> tuple[Chain, Observation, str]:
        """The live answer as an Observation, and a prefix for the verdict's reason when
        a plan's text source (the embed widget) decided it."""
        chain = self.fetch(url)
        now = self.clock()
        if not _answered(chain):
            return chain, Observation.from_chain(url, chain, None, snapshot, now=now), ""
        final = chain.final
        assert final is not None
        if not (plan.text_from and plan.text_parser):
            page = unchanged_page(final, snapshot) or analyse(
                final.head, final.header("content-type"), Response.of_chain(url, chain)
            )
            return chain, Observation.from_chain(url, chain, page, snapshot, now=now), ""
        source = self.fetch(plan.text_from)
        if not _answered(source):
            # the part that holds the text did not answer: its failure decides
            obs = Observation.from_chain(url, source, None, snapshot, now=now)
            return chain, obs, f"{plan.name} text source {plan.text_from}: "
        assert source.final is not None
        html = decode_html(source.final.head, source.final.header("content-type"))
        page = _parsed_page(plan, html)
        told = f"{plan.name} text source {plan.text_from}: " if page.quality else ""
        return chain, Observation.from_chain(url, chain, page, snapshot, now=now), told

    def judge(self, url: str, plan: Plan, obs: Observation) -> Verdict:
        threshold = self.cs.drift_threshold
        verdict = classify(obs, threshold=threshold)
        # a plan with a text source knows how the site says "deleted"; no probe needed
        if not plan.text_from and wants_probe(obs, verdict, threshold=threshold):
            obs = replace(obs, probe=self.probes.get(url))
            verdict = classify(obs, threshold=threshold)
        return verdict

    def inspect(self, url: str, plan: Plan, snapshot) -> CheckResult:
        """Check ``url`` given its latest good snapshot (None: it has none)."""
        started = self.clock()
        try:
            chain, obs, prefix = self.observe(url, plan, snapshot)
            verdict = self.judge(url, plan, obs)
        except HostDeferred as exc:
            verdict = Verdict(rot=Rot.RATE_LIMITED, reason=f"not fetched: {exc}")
            return CheckResult(
                checked_at=started,
                status=None,
                final_url=None,
                redirects=[],
                verdict=verdict,
                retry_after=exc.wait,
            )
        if prefix:
            verdict = replace(verdict, reason=prefix + verdict.reason)
        final = chain.final
        return CheckResult(
            checked_at=started,
            status=final.status if final else None,
            final_url=final.url if final else None,
            redirects=chain.redirects,
            verdict=verdict,
            retry_after=obs.retry_after,
        )

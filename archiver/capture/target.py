"""Capture one target: plan → fetch every hop → requisites → WARC records → outcome.

`capture_target` never raises for a network problem: everything that happened is
written to the WARC (redirect hops, error pages) and summarised in a CaptureOutcome
that the run applies through the store in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from archiver import SOFTWARE, urls
from archiver.capture.engine import CaptureJob, Written
from archiver.capture.outcome import CaptureOutcome, Snapshot
from archiver.capture.plans import Plan, plan_for
from archiver.capture.requisites import outlinks
from archiver.evidence import summary as evidence_summary
from archiver.judge import Response
from archiver.net.fetch import Chain, Hop
from archiver.pages import STAND_IN_WORDS, PageInfo, analyse, decode_html, is_html, plan_page
from archiver.states import CaptureState
from archiver.warcfiles import records as rec


def _page_info(url: str, plan: Plan, chain: Chain, extra_texts: dict[str, str]) -> PageInfo:
    final = chain.final
    assert final is not None
    info = analyse(final.head, final.header("content-type"), Response.of_chain(url, chain))
    if plan.text_from and plan.text_parser:
        html = extra_texts.get(plan.text_from)
        return plan_page(plan.name, plan.text_parser(html) if html else None, info)
    return info


def _metadata(
    job: CaptureJob,
    plan: Plan,
    page: Written,
    chain: Chain,
    citing: list[str],
    html: str | None,
    resources: int,
    date: datetime,
    truncated: str | None = None,
) -> None:
    data = {
        "software": SOFTWARE,
        "plan": plan.name,
        "citing_articles": citing,
        "redirects": chain.redirects,
        "resources": resources,
        # the requisites relied on without fetching them: the stored copies used
        "reused": [
            {
                "url": r.url,
                "record_id": r.record_id,
                "warc": r.warc,
                "offset": r.offset,
                "date": r.warc_date,
            }
            for r in job.reused
        ],
        "via_proxy": bool(page.hop.exchange and page.hop.exchange.via_proxy),
        "outlinks": outlinks(html, page.hop.url) if html else [],
    }
    if truncated:
        data["truncated"] = truncated
    record = rec.json_record(
        "metadata",
        plan.primary,
        data,
        date=date,
        record_id=job.ids(),
        extra={"WARC-Concurrent-To": page.record_id},
    )
    job.add([record])


def _evidence(written: Written, by: dict[str, str]) -> dict | None:
    """The snapshot's evidence summary: its connection's facts, as its record holds them."""
    c = written.connection
    if c is None:
        return None
    return evidence_summary.snapshot_evidence(c.facts, c.dns, c.record_id, by)


def _cut_reason(hop: Hop) -> str | None:
    """Why a body is not the page although the status is: cut short, or undecodable.

    Such a response is kept as evidence (marked truncated) but never counts as archived;
    a body cut by the size cap ("length") is a policy, not a failure.
    """
    if hop.truncated in ("disconnect", "time"):
        why = hop.error or "timeout: page time limit reached"
        return f"{why}; body cut after {hop.doc_size} bytes"
    return hop.error


def _failure_reason(chain: Chain) -> str:
    if chain.error is not None:
        return str(chain.error)
    final = chain.final
    if final is None:
        return "no response"
    cut = _cut_reason(final)
    if cut and final.status is not None and 200 <= final.status < 300:
        return cut
    return f"HTTP {final.status} {final.reason}".strip()


def _judged_as(page: PageInfo) -> str:
    """ "blocked: Cloudflare challenge (cf-mitigated: challenge, HTTP 403)"."""
    return f"{STAND_IN_WORDS.get(page.quality or '', 'not the page')}: {page.summary()}"


def _error_of(chain: Chain, page: PageInfo) -> str:
    """What the answer was: the judgement when it saw more than a status, else the failure."""
    final = chain.final
    seen_more = any(not r.rule.startswith("http-") for r in page.reasons)
    if page.quality and seen_more and final is not None and not _cut_reason(final):
        return _judged_as(page)
    return _failure_reason(chain)


def _plan_pages(job: CaptureJob, plan: Plan) -> tuple[int, dict[str, str]]:
    """Fetch the plan's other pages: its frames within the primary's page visit (no
    per_host_delay: a browser loads an iframe with its page), each extra page as a visit
    of its own. Returns how many were fetched and each one's decoded HTML."""
    texts: dict[str, str] = {}
    fetched_pages = 0
    for page_url, paced in [(u, False) for u in plan.frames] + [(u, True) for u in plan.extra]:
        fetched = job.fetch_and_write(page_url, paced=paced)
        if fetched is None:
            continue
        chain, _ = fetched
        fetched_pages += 1
        job.seen.add(urls.normalise(page_url, drop_tracking=False))
        if chain.final is not None and chain.final.head:
            texts[page_url] = decode_html(chain.final.head, chain.final.header("content-type"))
    return fetched_pages, texts


def capture_target(url: str, job: CaptureJob, citing: list[str]) -> CaptureOutcome:
    """Capture one target; its records are in the WARC (fsync'd) when this returns."""
    try:
        return _capture(url, job, citing)
    except BaseException:
        job.discard()
        raise


def _capture(url: str, job: CaptureJob, citing: list[str]) -> CaptureOutcome:
    plan = plan_for(url)
    fetched = job.fetch_and_write(plan.primary)
    if fetched is None:  # a capture_time shorter than getting here
        assert job.budget is not None
        return CaptureOutcome(
            state=CaptureState.FAILED, error=job.budget.reason, resources=job.resources
        )
    chain, written = fetched
    job.seen.add(urls.normalise(plan.primary, drop_tracking=False))
    final_w = written[-1] if written and written[-1].hop is chain.final else None
    if final_w is None:
        job.write_connections()
        job.flush()
        return CaptureOutcome(
            state=CaptureState.FAILED, error=_failure_reason(chain), resources=job.resources
        )
    final = final_w.hop
    resources, extra_texts = _plan_pages(job, plan)
    html = None
    if is_html(final.content_type, final.head):
        html = decode_html(final.head, final.header("content-type"))
    ok = final.status is not None and 200 <= final.status < 300 and not _cut_reason(final)
    try:
        if ok and html and job.settings.requisites and plan.requisites:
            resources += job.requisites(html, final.url, job.settings.max_requisites)
        page = _page_info(url, plan, chain, extra_texts)
        assert job.budget is not None
        cut = job.budget.reason
        # the evidence before the capture's metadata record, which stays its last record
        # (a WACZ export walks a capture's files forward up to it: `interop.wacz`)
        job.write_connections()
        _metadata(job, plan, final_w, chain, citing, html, resources, final.started_at, cut)
        job.flush()
    finally:
        # after the flush: each requisite this capture fetched is offered to the run with
        # its place in the WARC (if the flush failed, as nothing to reuse: waiters fetch)
        job.publish()
    assert final_w.loc is not None
    snapshot = Snapshot(
        captured_at=final.started_at,
        warc=final_w.loc.warc,
        offset=final_w.loc.offset,
        length=final_w.loc.length,
        record_id=final_w.record_id,
        record_type=final_w.record_type,
        status=final.status,
        final_url=final.url,
        redirects=chain.redirects,
        content_type=final.content_type,
        payload_digest=final.doc_digest,
        warc_payload_digest=final_w.warc_payload_digest,
        size=final.doc_size,
        title=page.title or None,
        text=page.text or None,
        text_fingerprint=page.fingerprint or None,
        resources=resources,
        truncated=bool(final.truncated) or cut is not None,
        good=ok and page.quality is None,
        quality=page.quality,
        reasons=[r.as_json() for r in page.reasons],
        evidence=_evidence(final_w, job.captured_by()),
    )
    retry = final.retry_after() if final.status in (429, 503) else None
    if ok:  # a 2xx stand-in is kept as evidence, never good; the citation says what it is
        state, error = CaptureState.ARCHIVED, (_judged_as(page) if page.quality else None)
    elif retry is not None:
        state, error = CaptureState.PENDING, f"HTTP {final.status}: retry after {retry:.0f}s"
    else:
        state, error = CaptureState.FAILED, _error_of(chain, page)
    return CaptureOutcome(
        state=state,
        snapshots=[snapshot],
        resources=job.resources,
        error=error,
        retry_after=retry,
        reused=[r.row() for r in job.reused],
    )

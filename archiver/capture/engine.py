"""One capture's machinery: fetch every hop, write its WARC records, load requisites.

`CaptureJob` holds what a capture of one target needs (client, sink, settings, the
run's dedup and reuse caches) and what it has written so far; `capture.target`
drives it from a site plan to the `CaptureOutcome`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from archiver import urls
from archiver.capture.budget import Budget
from archiver.capture.connections import ConnectionRecord, Connections
from archiver.capture.requisites import css_text, css_urls, html_requisites
from archiver.capture.reuse import ReuseCache, Reused
from archiver.config import CaptureSettings
from archiver.evidence import summary as evidence_summary
from archiver.net.fetch import Chain, Client, Hop
from archiver.pages import decode_html, is_html
from archiver.warcfiles import records as rec
from archiver.warcfiles.writer import RecordLoc, WarcSink

logger = logging.getLogger(__name__)


# a capture's records are appended to the WARC in a few pieces, not a piece per fetch:
# when this many bytes of finished gzip members are waiting, and when it ends (before
# its rows are committed); one lock and one fsync a piece. Bigger pieces save little
# more CPU and hold more in memory (4 MiB: +58 MB peak RSS with 64 capture threads;
# 256 KiB: +18 MB, the same CPU)
FLUSH_BYTES = 256 << 10
# longest wait for another thread's fetch of a requisite before fetching it too
REUSE_WAIT = 30.0


@dataclass
class Written:
    """A response (or revisit) record that was written, and what it held.

    ``loc`` is known once the record has been appended to the WARC (`CaptureJob.flush`).
    """

    hop: Hop
    loc: RecordLoc | None
    record_id: str
    record_type: str
    warc_payload_digest: str
    revisit_of: str | None = None
    connection: ConnectionRecord | None = None  # the evidence of its connection


@dataclass
class CaptureJob:
    """Everything one capture needs; one per worker thread and target."""

    client: Client
    sink: WarcSink
    settings: CaptureSettings
    find_resource: Callable[[str, str], object | None]
    ids: Callable[[], str] = rec.make_record_id
    resources: list[dict] = field(default_factory=list)
    # the resources written as full responses after a dedup lookup found nothing: once
    # stored, they are what later lookups of the same URL and digest find
    looked_up: list[dict] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    written: int = 0
    # called after every fetch: a long capture (hundreds of requisites) renews its
    # claim on the target so no other worker takes it over mid-capture
    keepalive: Callable[[], None] = lambda: None
    # the run's requisite reuse (None: every requisite is fetched)
    reuse: ReuseCache | None = None
    # the stored copies this capture relies on instead of fetching (in the order met)
    reused: list[Reused] = field(default_factory=list)
    # requisites this capture is fetching for the run (`ReuseCache.take` gave None):
    # url → its written final response, published once in the WARC
    _mine: dict[str, Written | None] = field(default_factory=dict)
    # finished gzip members not yet appended, a group per `add`, each group with what
    # learns where its first record landed
    _pending: list[tuple[list, Written | None, dict | None]] = field(default_factory=list)
    _pending_bytes: int = 0
    # time and bytes for the whole capture (settings.capture_time, capture_bytes)
    budget: Budget | None = None
    # who captures (the evidence's captured_by): the worker id of the run
    worker: str = ""
    # the connections used, each written as one evidence record when the capture ends
    connections: Connections = field(default_factory=Connections)

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = Budget(self.settings.capture_time, self.settings.capture_bytes)

    # ------------------------------------------------------------ the WARC

    def add(self, records: list, written: Written | None = None, resource: dict | None = None):
        """Queue records for the WARC, together; the first one's location goes to
        ``written`` and ``resource`` (warc, offset) when they are appended (`flush`)."""
        members = self.sink.compress(records)
        self._pending.append((members, written, resource))
        for m in members:
            self._pending_bytes += m.seek(0, 2)
            m.seek(0)
        self.written += len(records)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Append the queued records to the WARC (in order, fsync'd) and place them."""
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending:
            return
        locs = iter(self.sink.append([members for members, _, _ in pending]))
        for members, written, resource in pending:
            first = next(locs)
            for _ in members[1:]:
                next(locs)
            if written is not None:
                written.loc = first
            if resource is not None:
                resource.update(warc=first.warc, offset=first.offset)

    def discard(self) -> None:
        """Drop queued records (a capture that stopped on an exception)."""
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        for members, _, _ in pending:
            for m in members:
                m.close()

    # ------------------------------------------------------------ records

    def captured_by(self) -> dict[str, str]:
        return evidence_summary.captured_by(self.worker, self.settings.operator)

    def write_connections(self) -> None:
        """Queue the evidence record of every connection this capture used."""
        for record in self.connections.records(self.captured_by()):
            self.add([record])

    @staticmethod
    def _dedupable(hop: Hop) -> bool:
        return hop.status == 200 and not hop.truncated and bool(hop.doc_digest)

    def _dedup(self, hop: Hop):
        if not self._dedupable(hop):
            return None
        return self.find_resource(hop.url, hop.doc_digest)

    def _response(self, hop: Hop, response_id: str) -> tuple[object, str, object | None]:
        ex = hop.exchange
        assert ex is not None
        extra = {"WARC-IP-Address": ex.peer_ip or "", "WARC-Truncated": hop.truncated or ""}
        original = self._dedup(hop)
        if original is not None:
            body_start, _ = rec.http_header_end(ex.response, is_request=False)
            ex.response.seek(0)
            header_bytes = ex.response.read(body_start)
            record = rec.revisit_record(
                hop.url,
                header_bytes,
                date=hop.started_at,
                record_id=response_id,
                refers_to=original.record_id,
                refers_to_uri=original.url,
                refers_to_date=original.warc_date,
                payload_digest=original.warc_payload_digest,
                extra=extra,
            )
            return record, "revisit", original
        ex.response.seek(0, 2)
        length = ex.response.tell()
        record = rec.http_record(
            "response",
            hop.url,
            ex.response,
            length,
            date=hop.started_at,
            record_id=response_id,
            extra=extra,
        )
        return record, "response", None

    def write_hop(self, hop: Hop) -> Written | None:
        """Write one hop's response (or revisit) and request records."""
        ex = hop.exchange
        if ex is None or hop.status is None or ex.response_bytes == 0:
            return None
        response_id = self.ids()
        response, rtype, original = self._response(hop, response_id)
        ex.request.seek(0, 2)
        req_len = ex.request.tell()
        request = rec.http_record(
            "request",
            hop.url,
            ex.request,
            req_len,
            date=hop.started_at,
            record_id=self.ids(),
            extra={"WARC-Concurrent-To": response_id},
        )
        warc_digest = response.rec_headers.get_header("WARC-Payload-Digest") or ""
        resource = None
        if rtype == "response" and hop.status and hop.doc_digest:
            resource = dict(
                url=hop.url,
                payload_digest=hop.doc_digest,
                warc_payload_digest=warc_digest,
                record_id=response_id,
                warc_date=rec.warc_date(hop.started_at),
                warc=None,  # warc and offset: set when appended (flush)
                offset=None,
            )
            # only a complete 2xx response may be reused by later captures
            resource["status"] = None if hop.truncated else hop.status
            self.resources.append(resource)
            if self._dedupable(hop):
                self.looked_up.append(resource)
        written = Written(
            hop,
            None,
            response_id,
            rtype,
            warc_digest,
            original.record_id if original is not None else None,
            self.connections.note(hop, response_id, self.ids),
        )
        self.add([response, request], written, resource)
        return written

    def fetch_and_write(
        self, url: str, *, paced: bool = True
    ) -> tuple[Chain, list[Written]] | None:
        """Fetch a URL (all hops) and write what came back; the chain is closed after.

        ``paced``: a page visit, spaced by per_host_delay; a requisite of the visit (or a
        page it frames, `Plan.frames`) is not.
        None, fetching nothing, once the capture's budget is spent.
        """
        assert self.budget is not None
        limits = self.budget.limits()
        if limits is None:
            self.budget.skip()
            return None
        deadline, bytes_left = limits
        chain = self.client.fetch_chain(
            url,
            record=True,
            deadline=deadline,
            max_bytes=min(self.settings.max_bytes, bytes_left),
            paced=paced,
        )
        self.budget.spend(sum(h.exchange.response_bytes for h in chain.hops if h.exchange))
        try:
            written = [w for hop in chain.hops if (w := self.write_hop(hop)) is not None]
        finally:
            chain.close()
        self.keepalive()
        return chain, written

    # ------------------------------------------------------------ requisites

    def requisites(self, html: str, page_url: str, budget: int) -> int:
        """Fetch (or reuse) a page's requisites: one level into CSS, one into iframes.

        Returns how many the page relies on (fetched and reused).
        """
        found, iframes = html_requisites(html, page_url)
        queue = [(u, "req") for u in found] + [(u, "iframe") for u in iframes]
        waiting: list[tuple[str, str, object]] = []
        count = 0
        try:
            while (queue or waiting) and count < budget:
                assert self.budget is not None
                if self.budget.limits() is None:  # spent: the rest is recorded as not made
                    self.budget.skip(len(queue) + len(waiting))
                    break
                if not queue:  # ours are written and published first: nobody waits on us
                    self.flush()
                    self.publish()
                    url, kind, event = waiting.pop(0)
                    left = self.budget.deadline - self.budget.clock()
                    event.wait(max(0.0, min(REUSE_WAIT, left)))  # type: ignore[attr-defined]
                    count += self._requisite(url, kind, queue, waiting, again=True)
                    continue
                url, kind = queue.pop(0)
                key = urls.normalise(url, drop_tracking=False) if urls.is_http_url(url) else url
                if key in self.seen:
                    continue
                self.seen.add(key)
                count += self._requisite(url, kind, queue, waiting)
        except BaseException:
            self.publish()  # what is not in the WARC is published as nothing to reuse
            raise
        # the rest is published once the capture's last piece is written (`_capture`):
        # one append for the whole capture, as before reuse
        return count

    def _requisite(self, url: str, kind: str, queue: list, waiting: list, again=False) -> int:
        """Reuse, wait for, or fetch one requisite; its children go on the queue."""
        if self.reuse is not None and kind != "iframe" and urls.is_http_url(url):
            got = self.reuse.take(url)
            if isinstance(got, Reused):
                self.reused.append(got)
                if kind == "req":  # one level into CSS, as when fetched
                    queue += [(u, "css-child") for u in got.children]
                return 1
            if got is not None and not again:
                waiting.append((url, kind, got))
                return 0
            if got is None:
                self._mine[url] = None
        fetched = self.fetch_and_write(url, paced=False)
        if fetched is None:  # the capture's budget ran out just now (counted there)
            return 0
        chain, written = fetched
        final = chain.final
        if url in self._mine and written and written[0].hop is final and _reusable(final):
            self._mine[url] = written[0]
        if final is None or final.status is None or final.status >= 400:
            return 1
        if kind == "req" and final.content_type == "text/css":
            css = css_text(final.head, final.header("content-type"))
            queue += [(u, "css-child") for u in css_urls(css, final.url)]
        elif kind == "iframe" and is_html(final.content_type, final.head):
            sub, _ = html_requisites(
                decode_html(final.head, final.header("content-type")), final.url
            )
            queue += [(u, "req") for u in sub]
        return 1

    def publish(self) -> None:
        """Offer the requisites this capture fetched (written, fsync'd) to the run."""
        mine, self._mine = self._mine, {}
        for url, w in mine.items():
            copy = None
            if w is not None and w.loc is not None:
                children = ()
                if w.hop.content_type == "text/css":
                    css = css_text(w.hop.head, w.hop.header("content-type"))
                    children = tuple(css_urls(css, w.hop.url))
                copy = Reused(
                    url=url,
                    record_id=w.record_id,
                    warc=w.loc.warc,
                    offset=w.loc.offset,
                    warc_date=rec.warc_date(w.hop.started_at),
                    children=children,
                )
            assert self.reuse is not None
            self.reuse.publish(url, copy)


def _reusable(hop: Hop | None) -> bool:
    """A complete 2xx response that later page visits may rely on."""
    return (
        hop is not None
        and hop.status is not None
        and 200 <= hop.status < 300
        and not hop.truncated
        and not hop.error
    )

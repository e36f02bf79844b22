"""The connection evidence records of one capture, written when the capture ends.

`evidence.connection` states the rule (one metadata record per connection per capture,
``WARC-Concurrent-To`` every response the connection carried) and builds its body;
`Connections` keeps the capture's tally of connections and turns it into the records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from archiver import urls
from archiver.evidence import connection as conn_evidence
from archiver.net.fetch import Hop
from archiver.net.resolve import Lookup
from archiver.warcfiles import records as rec


@dataclass
class ConnectionRecord:
    """A connection's evidence record of this capture, written when the capture ends."""

    facts: conn_evidence.ConnectionFacts
    dns: Lookup | None
    uri: str
    date: datetime
    record_id: str
    responses: list[str] = field(default_factory=list)


@dataclass
class Connections:
    """The connections one capture used: (connection id, host) → its evidence record."""

    _known: dict[tuple[str, str], ConnectionRecord] = field(default_factory=dict)

    def note(
        self, hop: Hop, response_id: str, new_id: Callable[[], str]
    ) -> ConnectionRecord | None:
        """The evidence record of the connection that carried ``hop`` (a new one, with an
        id from ``new_id``, for a connection first seen); None when nothing was observed."""
        ex = hop.exchange
        facts = ex.connection if ex is not None else None
        if facts is None:
            return None
        key = (facts.id, urls.host_of(hop.url))
        known = self._known.get(key)
        if known is None:
            known = ConnectionRecord(
                facts=facts, dns=ex.dns, uri=hop.url, date=hop.started_at, record_id=new_id()
            )
            self._known[key] = known
        known.responses.append(response_id)
        return known

    def records(self, captured_by: dict[str, str]) -> list:
        """The WARC records of the connections noted so far, in the order met (then
        forgotten: each is written once)."""
        known, self._known = self._known, {}
        return [self._record(host, c, captured_by) for (_, host), c in known.items()]

    @staticmethod
    def _record(host: str, c: ConnectionRecord, captured_by: dict[str, str]):
        body = conn_evidence.evidence_body(
            c.facts, host=host, dns=c.dns, responses=c.responses, captured_by=captured_by
        )
        record = rec.json_record(
            "metadata",
            c.uri,
            body,
            date=c.date,
            record_id=c.record_id,
            extra={"WARC-Concurrent-To": c.responses[0]},
            content_type=conn_evidence.CONTENT_TYPE,
        )
        for other in c.responses[1:]:  # WARC 1.1 §5.7: the field may repeat
            record.rec_headers.add_header("WARC-Concurrent-To", other)
        return record

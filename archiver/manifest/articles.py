"""The per-article document (DESIGN.md "Per-article JSON"), built from the store's rows.

The store reads the rows (`Store.article_histories`); this module shapes them into the
document that the JSON, CSV and HTML manifests, exports and the web app show. The
evidence summary of a snapshot (``evidence``, with the timestamp token of its WARC
file and the archive's signing key) is `archiver.evidence.summary`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archiver.errors import UsageError
from archiver.evidence.summary import manifest_evidence, stamp_summary
from archiver.states import ReviewState
from archiver.store.histories import SCREENSHOT_KEYS, ArticleHistories
from archiver.times import iso


def article_doc(store, article_id: str) -> dict[str, Any]:
    """The per-article document of DESIGN.md ("Per-article JSON"), exactly."""
    for doc in article_docs(store, [article_id]):
        return doc
    raise UsageError(f"no article {article_id!r} in this archive (see `archive status`)")


def article_docs(store, article_ids: list[str], *, chunk: int = 500) -> Iterator[dict[str, Any]]:
    """`article_doc` of each id, in the order given (unknown ids are left out).

    Reads ``chunk`` articles at a time in four queries (articles; citations with
    their target and review; snapshots; checks) instead of four per article.
    """
    for i in range(0, len(article_ids), chunk):
        part = article_ids[i : i + chunk]
        yield from build_docs(store.article_histories(part), part, store.signing_fingerprint)


def build_docs(
    rows: ArticleHistories, ids: list[str], signed_by: str | None
) -> list[dict[str, Any]]:
    """The documents of ``ids`` (those with an article row), in that order."""
    arts = {r.id: r for r in rows.articles}
    cits: dict[str, list] = {i: [] for i in arts}
    for r in rows.citations:
        cits[r.article_id].append(r)
    snaps: dict[int, list] = {}
    for r in rows.snapshots:
        snaps.setdefault(r.target_id, []).append(snapshot_doc(r, signed_by))
    checks: dict[int, list] = {}
    for r in rows.checks:
        checks.setdefault(r.target_id, []).append(check_doc(r))
    history = _Histories(snaps, checks)
    return [
        {
            "article": _article_part(art),
            "citations": [_citation_doc(r, *history.of(r.target_id)) for r in cits[art.id]],
        }
        for art in (arts[i] for i in ids if i in arts)
    ]


class _Histories:
    """Each target's snapshot and check documents; a target cited by several articles
    gives each document its own copies."""

    def __init__(self, snaps: dict[int, list], checks: dict[int, list]) -> None:
        self.snaps, self.checks = snaps, checks
        self.used: set[int] = set()

    def of(self, target_id: int) -> tuple[list, list]:
        ss, ks = self.snaps.get(target_id, []), self.checks.get(target_id, [])
        if target_id in self.used:
            return [_copy(x) for x in ss], [_copy(x) for x in ks]
        self.used.add(target_id)
        return list(ss), list(ks)


def _article_part(art) -> dict[str, Any]:
    return {
        "id": art.id,
        "title": art.title,
        "source": art.source,
        "source_url": art.source_url,
        "added_at": iso(art.added_at),
    }


def _citation_doc(r, snapshots: list, checks: list) -> dict[str, Any]:
    return {
        "id": r.n,
        "url": r.url,
        "url_as_written": r.url_as_written,
        "role": r.role,
        "context": r.context,
        "capture_state": r.capture_state,
        "rot": r.rot,
        "dead": bool(r.dead),
        "last_error": r.last_error,
        "snapshots": snapshots,
        "checks": checks,
        "review": {
            "state": r.state or ReviewState.PENDING,
            "note": r.note,
            "by": r.by,
            "at": iso(r.at),
        },
    }


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    copied = {**doc, "redirects": list(doc["redirects"]), "reasons": list(doc.get("reasons") or [])}
    if "screenshot" in doc:
        copied["screenshot"] = dict(doc["screenshot"])
    return copied


def snapshot_doc(r, signed_by: str | None = None) -> dict[str, Any]:
    """A snapshot row as the manifest shows it; ``signed_by``: the fingerprint of the
    archive's signing key, named in the evidence summary."""
    return {
        "captured_at": iso(r.captured_at),
        "warc": r.warc,
        "offset": r.offset,
        "length": r.length,
        "record_id": r.record_id,
        "record_type": r.record_type,
        "status": r.status,
        "final_url": r.final_url,
        "redirects": list(r.redirects or []),
        "content_type": r.content_type,
        "payload_digest": r.payload_digest,
        "size": r.size,
        "title": r.title,
        "resources": r.resources,
        "truncated": bool(r.truncated),
        "good": bool(r.good),
        "quality": r.quality,
        "reasons": list(r.reasons or []),
        **_screenshot_doc(r),
        **_evidence_key(r, signed_by),
    }


def _screenshot_doc(r) -> dict[str, Any]:
    if getattr(r, "shot_warc", None) is None:
        return {}
    shot = {k: getattr(r, f"shot_{k}") for k in SCREENSHOT_KEYS}
    shot["taken_at"] = iso(shot["taken_at"])
    return {"screenshot": shot}


def _evidence_key(r, signed_by: str | None) -> dict[str, Any]:
    """The optional ``evidence`` key: only snapshots captured with evidence have it;
    its ``timestamped_by`` is the token of the snapshot's WARC file, if one was asked."""
    stamp = None
    if getattr(r, "stamp_kind", None) is not None:
        stamp = stamp_summary(r.stamp_tsa, bool(r.stamp_done), r.stamp_gen_time)
    found = manifest_evidence(r.evidence, stamp=stamp, key_fingerprint=signed_by)
    return {} if found is None else {"evidence": found}


def check_doc(r) -> dict[str, Any]:
    return {
        "checked_at": iso(r.checked_at),
        "status": r.status,
        "final_url": r.final_url,
        "redirects": list(r.redirects or []),
        "classification": r.classification,
        "similarity": r.similarity,
        "error": r.error,
        "reasons": list(r.reasons or []),
    }

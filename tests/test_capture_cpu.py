"""The capture's CPU savings keep what is sent and written: dedup cache, batched appends,
cached environment settings, no netrc, the shared page-time watchdog."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import select

from archiver.config import CaptureSettings
from archiver.evidence.connection import CONTENT_TYPE
from archiver.net import fetch, watchdog
from archiver.runs.add import add_sources
from archiver.runs.dedup import DedupCache
from archiver.store import schema as t
from archiver.warcfiles import writer as warc

from .conftest import make_archive
from .warc_tools import all_records, record_at


def _article(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "article.txt"
    path.write_text("A test article\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- dedup cache


def test_dedup_cache_asks_the_store_until_it_knows():
    asked: list[tuple[str, str]] = []
    rows = {("u1", "d1"): SimpleNamespace(record_id="<r1>")}

    def lookup(url, digest):
        asked.append((url, digest))
        return rows.get((url, digest))

    cache = DedupCache(lookup)
    assert cache.find("u1", "d1").record_id == "<r1>"
    assert cache.find("u1", "d1").record_id == "<r1>"  # a hit is kept
    assert cache.find("u2", "d2") is None
    assert cache.find("u2", "d2") is None  # a miss is not: the store may gain it
    assert asked == [("u1", "d1"), ("u2", "d2"), ("u2", "d2")]
    cache.stored([{"url": "u2", "payload_digest": "d2", "record_id": "<r2>"}])
    cache.stored([{"url": "u2", "payload_digest": "d2", "record_id": "<later>"}])
    assert cache.find("u2", "d2").record_id == "<r2>"  # the first stored one stays
    assert len(asked) == 3


def test_dedup_cache_is_bounded():
    cache = DedupCache(lambda url, digest: None, limit=3)
    cache.stored([{"url": f"u{i}", "payload_digest": "d", "record_id": str(i)} for i in range(5)])
    assert cache.find("u0", "d") is None and cache.find("u1", "d") is None
    assert [cache.find(f"u{i}", "d").record_id for i in (2, 3, 4)] == ["2", "3", "4"]


# ---------------------------------------------------------------- batched appends


@pytest.mark.parametrize("flush_bytes", [1 << 30, 1])
def test_a_capture_is_appended_in_pieces(archive, tmp_path, monkeypatch, flush_bytes):
    """Few appends (one fsync each) for a page and its requisites, not one per fetch;
    every row points at its record, however the pieces fell."""
    from archiver.capture import engine

    monkeypatch.setattr(engine, "FLUSH_BYTES", flush_bytes)
    appends: list[int] = []
    real = warc.WarcSink.append

    def append(self, groups):
        appends.append(sum(len(g) for g in groups))
        return real(self, groups)

    monkeypatch.setattr(warc.WarcSink, "append", append)
    url = "https://cases.test/page-with-requisites"
    add_sources(archive, [str(_article(tmp_path, url))], capture=True)
    (snap,) = _rows(archive, t.snapshot)
    assert snap.resources >= 15
    # the page's response, request and metadata, a response + request per requisite, and
    # an evidence record per connection (issue 21; an append each when flushed per add)
    evidence = sum(
        h.get_header("Content-Type") == CONTENT_TYPE for *_, h in all_records(archive.root)
    )
    assert evidence >= 1
    records = 2 * (snap.resources + 1) + 1 + evidence
    if flush_bytes > 1:
        assert appends == [records]  # the whole capture at once
    else:
        assert sum(appends) == records and len(appends) == snap.resources + 2 + evidence
    headers, _, _ = record_at(archive.root, snap.warc, snap.offset)
    assert headers.get_header("WARC-Record-ID") == snap.record_id
    resources = _rows(archive, t.resource)
    assert len(resources) >= snap.resources
    for r in resources:
        headers, _, _ = record_at(archive.root, r.warc, r.offset)
        assert headers.get_header("WARC-Record-ID") == r.record_id
        assert headers.get_header("WARC-Target-URI") == r.url


def test_shared_requisites_revisit_through_the_cache(tmp_path, web, monkeypatch):
    """Two pages sharing requisites, one after the other: the second page's copies are
    revisits of the first page's records, found without asking the store again."""
    from archiver.store.work import WorkMixin

    asked: list[str] = []
    real = WorkMixin.find_resource

    def find_resource(self, url, digest):
        asked.append(url)
        return real(self, url, digest)

    monkeypatch.setattr(WorkMixin, "find_resource", find_resource)
    # reuse off: with it, the second page would not fetch the shared requisites at all
    # (tests/test_reuse.py); this is the dedup path for requisites fetched again
    app = make_archive(tmp_path / "a", web, capture={"workers": 1, "reuse_window": "0"})
    try:
        pages = ["https://bench00.test/article/0", "https://bench00.test/article/50"]
        add_sources(app, [str(_article(tmp_path, *pages))], capture=True)
        stored = {r.record_id: r for r in _rows(app, t.resource)}
        revisits = [(uri, rec) for typ, uri, rec in _records(app) if typ == "revisit"]
        assert len(revisits) >= 3, "the shared CSS, JS, font and images are revisits"
        for uri, rec in revisits:
            original = stored[rec.rec_headers.get_header("WARC-Refers-To")]
            assert original.url == uri
        responses = [typ for typ, _, _ in _records(app) if typ in ("response", "revisit")]
        # the store answered the first lookup of each URL; the revisits came from memory
        assert len(asked) == len(responses) - len(revisits)
    finally:
        app.close()


def _records(app) -> list:
    from warcio.archiveiterator import ArchiveIterator

    out = []
    for path in sorted((app.root / "warcs").rglob("*.warc.gz")):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), rec))
    return out


def _rows(app, table) -> list:
    with app.store.read() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


# ---------------------------------------------------------------- requests settings


def test_environment_is_merged_as_requests_does(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example,.inner.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/tmp/ca.pem")
    client = fetch.Client(CaptureSettings())
    for url in [
        "https://direct.example/a",
        "https://x.inner.example:8443/b",
        "https://elsewhere.example/c",
        "http://elsewhere.example/d",
        "https://elsewhere.example/e",  # the cached answer of the same origin
    ]:
        expected = client.session.merge_environment_settings(url, {}, True, None, None)
        assert client._environment(url) == expected, url
    assert client._environment("https://direct.example/a")["proxies"] == {}
    assert client._environment("https://elsewhere.example/")["proxies"]["https"].startswith(
        "http://proxy.example"
    )


def test_netrc_credentials_are_never_looked_up(tmp_path, monkeypatch):
    """A cited host is anyone's: ~/.netrc entries never go to it (issue #23); the URL's
    own credentials still do, as in requests."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine secret.example login alice password s3cret\ndefault login a b\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = fetch.Client(CaptureSettings())
    for url in ["https://secret.example/a", "https://open.example/"]:
        ours = client.session.prepare_request(requests.Request("GET", url, auth=client._auth(url)))
        assert "Authorization" not in ours.headers, url
    url = "https://bob:pw@secret.example/"
    ours = client.session.prepare_request(requests.Request("GET", url, auth=client._auth(url)))
    assert ours.headers["Authorization"] == requests.auth._basic_auth_str("bob", "pw")


# ---------------------------------------------------------------- watchdog


class _Sock:
    def __init__(self) -> None:
        self.shut = threading.Event()

    def shutdown(self, how) -> None:
        self.shut.set()


def test_watchdog_shuts_only_requests_still_armed():
    dog = watchdog.Watchdog()
    late, done, later = _Sock(), _Sock(), _Sock()
    now = watchdog.time.monotonic()
    kept = dog.arm(now + 0.05, SimpleNamespace(sock=done))
    dog.disarm(kept)  # the request ended in time
    dog.arm(now + 0.05, SimpleNamespace(sock=late))
    thread = dog._thread
    dog.arm(now + 0.2, SimpleNamespace(sock=later))
    assert late.shut.wait(30) and later.shut.wait(30)
    assert not done.shut.is_set()
    # nothing armed any more: the thread ends (a process that stopped fetching keeps
    # no extra thread; `archive verify` forks its workers only from a lone thread)
    thread.join(30)
    assert not thread.is_alive() and dog._thread is None


def test_watchdog_thread_ends_when_every_request_ended_in_time():
    dog = watchdog.Watchdog()
    sock = _Sock()
    entries = [
        dog.arm(watchdog.time.monotonic() + 60, SimpleNamespace(sock=sock)) for _ in range(3)
    ]
    thread = dog._thread
    for e in entries:
        dog.disarm(e)
    thread.join(30)
    assert not thread.is_alive() and not sock.shut.is_set()


def test_find_resource_answers_as_the_sqlalchemy_query(tmp_path):
    from archiver.store.core import open_store
    from archiver.store.work import _FIND_RESOURCE

    store = open_store(f"sqlite:///{tmp_path / 's.db'}", create=True)
    try:
        rows = [
            dict(
                url=f"https://h.test/{i % 3}",
                payload_digest=f"sha256:{i % 2}",
                warc_payload_digest=f"sha256:W{i}",
                record_id=f"<urn:uuid:{i}>",
                warc_date="2026-01-01T00:00:00.000000Z",
                warc="warcs/a.warc.gz",
                offset=1000 * i,
            )
            for i in range(12)
        ]
        with store.tx() as conn:
            conn.execute(t.resource.insert(), rows)
        for url in ("https://h.test/0", "https://h.test/1", "https://h.test/9"):
            for digest in ("sha256:0", "sha256:1"):
                with store.read() as conn:
                    want = conn.execute(
                        _FIND_RESOURCE, {"url": url, "payload_digest": digest}
                    ).first()
                got = store.find_resource(url, digest)
                if want is None:
                    assert got is None
                else:
                    assert vars(got) == dict(want._mapping)
        first = store.find_resource("https://h.test/0", "sha256:0")
        assert first.record_id == "<urn:uuid:0>" and first.offset == 0  # the first stored
    finally:
        store.close()

"""Issue #23, the network half: each finding's regression test (all loopback, bounded).

1 a drip-fed plain-http body stops at the page time limit; 2 a proxy never reaches a
name that resolves to a private address, and socks5:// (local DNS) is refused; 3 no
proxy password or netrc entry in a recorded request; 6 Retry-After is capped and
counted; 8 the size cap holds without recording; 9 stacked codings and decompression
are bounded, and capture and verify agree on the digest; 12 an open and a closed
private port read alike. Plus the per-capture budget and the special-purpose ranges.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import json
import socket
import threading
import time
from urllib.parse import quote

import pytest

from archiver import urls
from archiver.capture.budget import Budget
from archiver.config import CaptureSettings
from archiver.errors import RefusedAddress
from archiver.manifest.verify import verify
from archiver.net import fetch, recorded, resolve
from archiver.runs.add import add_sources

from .conftest import make_archive
from .test_capture import article, assert_valid_archive, snapshots, targets
from .warc_tools import all_records, warc_files


def proxied(web, **kw) -> CaptureSettings:
    base = dict(
        proxy=web.proxy_url,
        ca_bundle=str(web.ca_path),
        per_host_delay=0.0,
        connect_timeout=2.0,
        read_timeout=5.0,
        page_timeout=10.0,
    )
    return CaptureSettings(**{**base, **kw})


@pytest.fixture
def resolve_to_loopback(monkeypatch):
    """Names in the returned set resolve to 127.0.0.1 (for this process, both sides)."""
    names: set[str] = set()
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if isinstance(host, str) and host.rstrip(".").lower() in names:
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return names


def request_bytes(hop: fetch.Hop) -> bytes:
    assert hop.exchange is not None
    hop.exchange.request.seek(0)
    return hop.exchange.request.read()


# ---------------------------------------------------------------- 1: drip-fed plain http


@pytest.mark.parametrize("route", ["proxy", "direct"])
@pytest.mark.parametrize("record", [True, False])
def test_drip_fed_plain_http_body_stops_at_the_page_time_limit(
    web, resolve_to_loopback, record, route
):
    if route == "proxy":
        client = fetch.Client(proxied(web, page_timeout=1.5))
        url = "http://cases.test/trickle"
    else:  # the fixture origin itself, reached as a name resolving to loopback
        resolve_to_loopback.add("cases.test")
        client = fetch.Client(
            CaptureSettings(allow_private=True, per_host_delay=0.0, page_timeout=1.5)
        )
        url = f"http://cases.test:{web.http_port}/trickle"
    box: dict = {}

    def run() -> None:
        box["chain"] = client.fetch_chain(url, record=record)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(8)  # bounded: today's code would read the drip for ten minutes
    assert not worker.is_alive(), "the fetch outlived its page time limit"
    assert time.monotonic() - started < 4.5
    chain = box["chain"]
    assert chain.final is not None and chain.final.status == 200
    assert chain.final.truncated == "time"
    if record:  # the drip so far is kept (without recording, urllib3 drops a failed read)
        assert chain.final.doc_size >= 1
    chain.close()


# ---------------------------------------------------------------- 2: proxy and private names


@pytest.mark.parametrize("source", ["config", "environment"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_mode_refuses_a_name_resolving_to_loopback(
    web, resolve_to_loopback, monkeypatch, scheme, source
):
    resolve_to_loopback.add("cases.test")
    if source == "environment":  # HTTP_PROXY / HTTPS_PROXY, as the review saw
        for name, value in web.env().items():
            monkeypatch.setenv(name, value)
        client = fetch.Client(CaptureSettings(per_host_delay=0.0))
    else:
        client = fetch.Client(proxied(web))
    chain = client.fetch_chain(f"{scheme}://cases.test/ok")
    assert isinstance(chain.error, RefusedAddress), chain.error
    assert str(chain.error) == "refused: cases.test resolves to a loopback address 127.0.0.1"
    assert not chain.hops and web.hits.count(host="cases.test") == 0
    # an intranet archive may
    allowed = fetch.Client(proxied(web, allow_private=True)).fetch_chain(
        f"{scheme}://cases.test/ok"
    )
    assert allowed.error is None and allowed.final.status == 200
    allowed.close()


@pytest.mark.parametrize("source", ["config", "environment"])
@pytest.mark.parametrize("scheme", ["socks5", "socks4"])
def test_socks_with_local_dns_is_refused(web, monkeypatch, scheme, source):
    proxy = f"{scheme}://127.0.0.1:9"
    if source == "config":
        settings = CaptureSettings(proxy=proxy, connect_timeout=1.0)
    else:
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        settings = CaptureSettings(connect_timeout=1.0)
    chain = fetch.Client(settings).fetch_chain("https://cases.test/ok")
    assert isinstance(chain.error, RefusedAddress), chain.error
    assert f"{scheme}:// proxy resolves names unchecked" in str(chain.error)


# ---------------------------------------------------------------- 3: credentials


def test_proxy_password_is_not_in_the_recorded_request(web):
    proxy = web.proxy_url.replace("http://", "http://alice:s3cret@")
    client = fetch.Client(proxied(web, proxy=proxy))
    chain = client.fetch_chain("http://cases.test/ok", record=True)
    assert chain.final is not None and chain.final.status == 200
    sent = request_bytes(chain.final)
    chain.close()
    assert sent.startswith(b"GET http://cases.test/ok HTTP/1.1\r\n")
    assert b"proxy-authorization" not in sent.lower()
    assert base64.b64encode(b"alice:s3cret") not in sent and b"s3cret" not in sent


def test_proxy_password_is_not_in_the_warc(tmp_path, web):
    proxy = web.proxy_url.replace("http://", "http://alice:s3cret@")
    app = make_archive(tmp_path / "a", web, capture={"proxy": proxy})
    add_sources(app, [str(article(tmp_path, "http://cases.test/ok"))], capture=True)
    assert targets(app)["http://cases.test/ok"].capture_state == "archived"
    token = base64.b64encode(b"alice:s3cret")
    for path in warc_files(app.root):
        plain = gzip.decompress(path.read_bytes())
        assert token not in plain and b"s3cret" not in plain
    app.close()


def test_netrc_default_entry_is_never_sent(web, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("default login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain("http://cases.test/ok", record=True)
    sent = request_bytes(chain.final)
    chain.close()
    assert b"authorization" not in sent.lower()
    # credentials the cited URL carries itself are the URL's own: still sent
    chain = client.fetch_chain("http://bob:pw@cases.test/ok", record=True)
    sent = request_bytes(chain.final)
    chain.close()
    assert b"Authorization: Basic " + base64.b64encode(b"bob:pw") in sent


# ---------------------------------------------------------------- 6: Retry-After


def test_capture_of_a_huge_retry_after_finishes(archive, tmp_path):
    url = "https://cases.test/429?retry=999999999999"
    report = add_sources(archive, [str(article(tmp_path, url))], capture=True)
    assert report.capture.waiting == 1
    target = targets(archive)[url]
    assert target.capture_state == "pending" and target.attempts == 1


# ---------------------------------------------------------------- 8: size cap without recording


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_size_cap_holds_without_recording(web, path):
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain(
        f"https://cases.test{path}?size={32 * 2**20}", record=False, max_bytes=2**20
    )
    hop = chain.final
    assert hop is not None and hop.truncated == "length"
    assert hop.doc_size <= 2**20 + fetch.CHUNK
    assert hop.exchange.response_bytes <= 2**20 + 2 * fetch.CHUNK
    chain.close()


# ---------------------------------------------------------------- 9: codings and bombs


def test_stacked_codings_are_kept_as_received_and_digests_agree(web):
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain("https://cases.test/gzip-bomb?mb=64&layers=2", record=True)
    hop = chain.final
    assert hop is not None and hop.status == 200 and not hop.truncated
    assert hop.doc_size < 2**20  # not 64 MiB of zeros: the body as received
    assert hop.doc_digest == recorded.document_of(hop.exchange.response, 16)[0]
    chain.close()
    chain = client.fetch_chain("https://cases.test/gzip-twice", record=True)
    hop = chain.final
    assert hop.doc_digest == recorded.document_of(hop.exchange.response, 16)[0]
    assert hop.head.startswith(b"\x1f\x8b")  # still gzip: one layer is not "the" document
    chain.close()


def test_stacked_codings_capture_passes_verify(archive, tmp_path):
    url = "https://cases.test/gzip-twice"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert snap.status == 200
    assert_valid_archive(archive)  # the row's digest is what warcio decodes
    assert verify(archive).problems == ()  # `archive verify` finds no digest mismatch


def test_decoding_is_bounded_without_recording(web):
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain("https://cases.test/gzip-bomb?mb=64", record=False, max_bytes=2**20)
    hop = chain.final
    assert hop is not None and hop.truncated == "length"
    assert hop.doc_size <= 2**20 + fetch.CHUNK
    chain.close()


def test_decoding_is_bounded_when_recording(web, monkeypatch):
    monkeypatch.setattr(recorded, "DOCUMENT_LIMIT", 2**20)
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain("https://cases.test/gzip-bomb?mb=64", record=True)
    hop = chain.final
    assert hop is not None and hop.truncated == "length"
    # the digest of the cut record is over what verify decodes from it: bounded alike
    assert hop.doc_size == 2**20
    assert hop.doc_digest == recorded.document_of(hop.exchange.response, 16)[0]
    chain.close()


# ---------------------------------------------------------------- 12: port probe


def test_open_and_closed_private_ports_read_alike(resolve_to_loopback):
    resolve_to_loopback.add("probe.example")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    client = fetch.Client(CaptureSettings(connect_timeout=2.0, page_timeout=5.0))
    try:
        errors = []
        for port in (listener.getsockname()[1], closed_port):
            chain = client.fetch_chain(f"http://probe.example:{port}/")
            errors.append(str(chain.error))
        assert (
            errors[0]
            == errors[1]
            == ("refused: probe.example resolves to a loopback address 127.0.0.1")
        )
        with pytest.raises(BlockingIOError):
            listener.accept()  # not even a handshake reached the open port
    finally:
        listener.close()


# ---------------------------------------------------------------- special-purpose ranges


@pytest.mark.parametrize("ip", ["192.0.0.192", "192.0.0.8", "192.0.0.170", "fec0::1", "fef0::5"])
def test_special_purpose_ranges_are_not_public(ip):
    assert urls.address_refusal(ipaddress.ip_address(ip)) is not None


@pytest.mark.parametrize("ip", ["192.0.0.9", "192.0.0.10", "93.184.216.34", "2606:4700::1"])
def test_global_special_purpose_addresses_stay_public(ip):
    assert urls.address_refusal(ipaddress.ip_address(ip)) is None


# ---------------------------------------------------------------- the per-capture budget


def test_budget_runs_out_by_time_and_by_bytes():
    now = [100.0]
    budget = Budget(30.0, 1000, clock=lambda: now[0])
    assert budget.limits() == (130.0, 1000)
    budget.spend(400)
    assert budget.limits() == (130.0, 600)
    now[0] = 130.0
    assert budget.limits() is None
    budget.skip(3)
    assert budget.reason == "capture budget spent: 30 s (capture_time); 3 fetches not made"
    by_bytes = Budget(30.0, 1000, clock=lambda: 0.0)
    by_bytes.spend(1000)
    assert by_bytes.limits() is None
    assert by_bytes.reason == "capture budget spent: 1000 bytes received (capture_bytes = 1000)"
    assert Budget(30.0, 1000, clock=lambda: 0.0).reason is None


def _metadata(app) -> dict:
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in warc_files(app.root):
        with open(path, "rb") as f:
            found += [
                json.loads(r.content_stream().read())
                for r in ArchiveIterator(f)
                if r.rec_type == "metadata" and r.content_type == "application/json"
            ]
    (data,) = found
    return data


def test_capture_budget_in_bytes_cuts_requisites_and_says_so(tmp_path, web):
    url = "https://cases.test/page-with-requisites"
    whole = make_archive(tmp_path / "whole", web)
    add_sources(whole, [str(article(tmp_path, url))], capture=True)
    (full,) = snapshots(whole, url)
    assert not full.truncated and "truncated" not in _metadata(whole)
    sizes = {
        u: int(h.get_header("Content-Length"))
        for typ, u, h in all_records(whole.root)
        if typ == "response"
    }
    whole.close()

    # room for the page and a little more: a few requisites, the rest not fetched
    budget = sizes[url] + 1000
    app = make_archive(tmp_path / "cut", web, capture={"capture_bytes": budget})
    add_sources(app, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(app, url)
    assert targets(app)[url].capture_state == "archived"  # the page itself is whole
    assert snap.truncated
    reason = _metadata(app)["truncated"]
    assert reason.startswith("capture budget spent: ")
    assert f"(capture_bytes = {budget}); " in reason and "fetches not made" in reason
    cut = {
        u: int(h.get_header("Content-Length"))
        for typ, u, h in all_records(app.root)
        if typ == "response"
    }
    assert url in cut and len(cut) < len(sizes)
    assert sum(cut.values()) <= budget + fetch.CHUNK  # the last fetch stops at its cap
    assert_valid_archive(app)
    app.close()


def test_capture_budget_in_time_bounds_slow_requisites(tmp_path, web):
    """Each requisite has its own page time limit; the budget bounds them together
    (eight requisites of 0.4 s each, fetched one after another, against 1 s)."""
    page = "https://cases.test/page-with-slow-requisites"
    app = make_archive(tmp_path / "a", web, capture={"capture_time": "1s", "page_timeout": "5s"})
    started = time.monotonic()
    add_sources(app, [str(article(tmp_path, page))], capture=True)
    assert time.monotonic() - started < 4
    (snap,) = snapshots(app, page)
    assert snap.truncated
    assert _metadata(app)["truncated"].startswith("capture budget spent: 1 s (capture_time)")
    app.close()


def test_proxy_mode_looks_a_host_up_once_a_minute(web, monkeypatch):
    asked: list[str] = []
    real = resolve.lookup
    monkeypatch.setattr(resolve, "lookup", lambda host, port=None: asked.append(host) or real(host))
    client = fetch.Client(proxied(web))
    for path in ("/ok", "/redirect/2"):
        chain = client.fetch_chain(f"https://cases.test{path}")
        assert chain.error is None and chain.final.status == 200
        chain.close()
    assert asked == ["cases.test"]  # four hops, one lookup
    monkeypatch.setattr(fetch, "LOOKUP_TTL", 0.0)
    client.fetch_chain("https://cases.test/ok").close()
    assert asked == ["cases.test", "cases.test"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("no-such-host.invalid", None),  # no answer here is no refusal: the connect says so
        ("a" * 300, None),
        ("bad\x00name", None),
        ("[::1", "loopback address ::1"),
        ("", None),
    ],
)
def test_lookup_of_hostile_names_never_raises(host, expected):
    assert resolve.refusal(host) == expected


def test_lookup_refuses_local_names_and_literals_without_asking(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("no lookup for a literal or a local name")

    monkeypatch.setattr(socket, "getaddrinfo", boom)
    assert resolve.refusal("localhost") == "local host name 'localhost'"
    assert resolve.refusal("127.1") == "loopback address 127.0.0.1"
    assert resolve.refusal("[::ffff:10.0.0.1]") == "private address 10.0.0.1"
    assert resolve.refusal("93.184.216.34") is None


def test_a_budget_spent_before_the_page_fails_the_capture_cleanly(tmp_path, web, monkeypatch):
    monkeypatch.setattr(Budget, "limits", lambda self: setattr(self, "cut", "spent") or None)
    app = make_archive(tmp_path / "a", web)
    url = "https://cases.test/ok"
    add_sources(app, [str(article(tmp_path, url))], capture=True)
    target = targets(app)[url]
    assert target.capture_state == "failed" and target.last_error == "spent; 1 fetches not made"
    assert web.hits.count(host="cases.test") == 0
    app.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_password_is_not_in_a_proxy_error(scheme):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    settings = CaptureSettings(proxy=f"http://alice:s3cret@127.0.0.1:{port}", connect_timeout=1.0)
    chain = fetch.Client(settings).fetch_chain(f"{scheme}://cases.test/ok")
    assert chain.error is not None
    assert "s3cret" not in str(chain.error) and "alice" not in str(chain.error)


@pytest.mark.parametrize(
    "coding",
    ["gzip", "GZIP", "x-gzip", "gzip, identity", "identity, gzip", "compress", "deflate", "br"],
)
def test_capture_and_verify_agree_on_any_content_encoding(web, coding):
    # the body is always gzip; the header says whatever a hostile server likes
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain(f"https://cases.test/coded?ce={quote(coding)}", record=True)
    hop = chain.final
    assert hop is not None and hop.status == 200
    assert hop.doc_digest == recorded.document_of(hop.exchange.response, 16)[0], hop.error
    chain.close()


def test_a_turn_at_the_host_after_the_deadline_is_a_timeout_not_a_sleep():
    """A Retry-After of an hour must not hold a worker (and a host slot) asleep past the
    fetch's time limit: the turn that would come too late is a timeout at once."""
    from archiver.errors import FetchTimeout
    from archiver.net.gate import HostGate

    gate = HostGate(concurrency=1, delay=0.0)
    gate.defer("cdn.test", 3600)
    started = time.monotonic()
    for paced in (True, False):
        with (
            pytest.raises(FetchTimeout),
            gate.slot("cdn.test", paced=paced, deadline=time.monotonic() + 2),
        ):
            pass
    assert time.monotonic() - started < 1
    with gate.slot("other.test", deadline=time.monotonic() + 2):  # other hosts: no wait
        pass

"""A hostile web, one row per fault: `archive add` survives every one and keeps the archive whole.

Each row cites one URL in a fresh archive and captures it as `archive add` does
(``add_sources(app, [article], capture=True)``) with short timeouts (read 2 s, connect
2 s, page 5 s), then checks:

- it finished within the row's bound (the page time limit plus a little);
- the target's state and ``last_error`` are right and say what happened;
- what could be captured was (a body cut by a reset keeps the bytes that came);
- the archive is whole: every WARC passes ``warcio check`` and ``archive verify``, no
  ``.open`` file is left, every snapshot row's record reads back with its record id and
  (for a response) the document digest the row claims — no half row.

The figures (tried / survived / data lost) are printed at the end of the run by the
``tests.faults_report`` plugin.
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archiver.runs.add import add_sources
from archiver.store import schema as t

from .conftest import make_archive
from .fault_tools import archive_problems
from .warc_tools import raw_block

TIMEOUTS = {"read_timeout": "2s", "page_timeout": "5s", "connect_timeout": "2s"}
PAGE = 5.0


# ---------------------------------------------------------------- hosts that never answer


@contextlib.contextmanager
def silent_host() -> Iterator[int]:
    """A loopback port whose kernel completes every handshake and nobody ever answers."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)  # never accept(): connections wait in the backlog, unread
        yield srv.getsockname()[1]


@contextlib.contextmanager
def full_backlog_host() -> Iterator[int]:
    """A loopback port whose accept queue is full: a new SYN is dropped, connect() hangs."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        port = srv.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    s.connect(("127.0.0.1", port))
                fillers.append(s)
            time.sleep(0.2)
            yield port
        finally:
            for s in fillers:
                s.close()


@pytest.fixture(scope="module")
def holes() -> Iterator[dict[str, int]]:
    with silent_host() as silent, full_backlog_host() as full:
        yield {"silent": silent, "full": full}


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Fault:
    name: str
    url: str  # {http}: the origin's plain HTTP port; {silent} / {full}: the holes above
    state: str  # the target's capture_state afterwards
    reason: str | None  # regex the target's last_error must match (None: no error)
    status: int | None = None  # HTTP status of the snapshot row (None: no snapshot at all)
    truncated: bool = False
    kept: int | None = None  # body bytes the snapshot's record must hold, at least
    title: str | None = None  # regex the snapshot's title must match
    bound: float = PAGE + 3  # seconds `archive add` may take
    capture: dict[str, Any] = field(default_factory=dict)  # config overrides
    proxy: str = "web"  # "web": the fixture proxy; "none"; "silent"/"full": a hole
    dns: dict[str, str | None] = field(default_factory=dict)  # name → address (None: NXDOMAIN)
    article: str = "text"  # "text" or "html" (the URL goes into an <a href>)
    rss_mb: int | None = None  # peak RSS may grow at most this much
    check: Callable[..., None] | None = None  # more checks: check(app, web, article_id)


def no_private_hits(app, web, article_id) -> None:
    local = {"127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433", "169.254.169.254"}
    assert not [h for h in web.hits if h.host in local or h.host.startswith("rebind.")]


def manifest_is_inert(app, web, article_id) -> None:
    """Page-derived text is only ever text in the manifests: no script, no handler, no
    javascript: link, valid JSON that matches the schema."""
    import jsonschema
    import lxml.html

    from archiver.manifest.documents import json_schema

    folder = app.settings.manifests_path
    doc = json.loads((folder / f"{article_id}.json").read_text("utf-8"))
    jsonschema.validate(doc, json_schema())
    tree = lxml.html.fromstring((folder / f"{article_id}.html").read_bytes())
    assert not tree.xpath("//script | //iframe | //object | //embed")
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        assert not [a for a in el.attrib if a.lower().startswith("on")], el.tag
        for attr in ("href", "src", "action"):
            value = (el.get(attr) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:")), (el.tag, value)
    titles = [s["title"] for c in doc["citations"] for s in c["snapshots"] if s["title"]]
    text = tree.text_content()
    for title in titles:
        visible = re.sub(r"\s+", " ", title).strip()
        assert visible[:40] in re.sub(r"\s+", " ", text), visible


SSRF = r"^refused: "

FAULTS = [
    # redirects and loops
    Fault(
        "redirect-loop",
        "https://cases.test/loop/a",
        "failed",
        r"^redirect loop at https://cases\.test/loop/a$",
        status=302,
    ),
    # hosts that never answer: read timeout, connect timeout; through the proxy and not
    Fault(
        "silent-host-direct",
        "http://127.0.0.1:{silent}/",
        "failed",
        r"^timeout: read timed out$",
        proxy="none",
        capture={"allow_private": True},
    ),
    Fault("silent-host-proxy", "https://cases.test/ok", "failed", r"^timeout: ", proxy="silent"),
    Fault(
        "full-backlog-direct",
        "http://127.0.0.1:{full}/",
        "failed",
        r"^timeout: connect timed out$",
        proxy="none",
        capture={"allow_private": True},
    ),
    Fault("full-backlog-proxy", "https://cases.test/ok", "failed", r"^timeout: ", proxy="full"),
    Fault(
        "slow-headers",
        "https://cases.test/slow-headers?delay=8",
        "failed",
        r"^timeout: read timed out$",
    ),
    # bodies that stall, trickle, lie, break or never end
    Fault(
        "stall-after-headers",
        "https://cases.test/stall-body",
        "failed",
        r"^timeout: read timed out; body cut after 1008 bytes$",
        status=200,
        truncated=True,
        kept=1008,
    ),
    Fault(
        "trickle",
        "https://cases.test/trickle",
        "failed",
        r"^timeout: page time limit reached; body cut after \d+ bytes$",
        status=200,
        truncated=True,
        kept=5,
    ),
    Fault(
        "chunked-64mib-capped",
        "https://cases.test/big-chunked?size=67108864",
        "archived",
        None,
        status=200,
        truncated=True,
        kept=8 * 2**20,
        capture={"max_bytes": 8 * 2**20},
        rss_mb=150,
    ),
    Fault(
        "length-64mib-capped",
        "https://cases.test/big?size=67108864",
        "archived",
        None,
        status=200,
        truncated=True,
        kept=8 * 2**20,
        capture={"max_bytes": 8 * 2**20},
        rss_mb=150,
    ),
    Fault(
        "chunked-cut-mid-chunk",
        "https://faults.test/chunked-cut",
        "failed",
        r"^connection closed early .*; body cut after \d+ bytes$",
        status=200,
        truncated=True,
        kept=4000,
    ),
    Fault(
        "chunked-without-last-chunk",
        "https://faults.test/chunked-no-end",
        "failed",
        r"^connection closed early .*; body cut after \d+ bytes$",
        status=200,
        truncated=True,
        kept=20000,
    ),
    Fault(
        "lying-length-short",
        "https://cases.test/lying-length-short",
        "failed",
        r"^connection closed early \(63 bytes read, 937 more expected\); "
        r"body cut after 63 bytes$",
        status=200,
        truncated=True,
        kept=63,
    ),
    Fault(
        "lying-length-long",
        "https://cases.test/lying-length-long",
        "archived",
        None,
        status=200,
        kept=64,
    ),
    Fault(
        "broken-gzip",
        "https://cases.test/broken-gzip",
        "failed",
        r"^content coding broken: body kept as received$",
        status=200,
        kept=140,
    ),
    Fault(
        "gzip-broken-late",
        "https://faults.test/gzip-broken-late",
        "failed",
        r"^content coding broken: body kept as received$",
        status=200,
        kept=20000,
    ),
    Fault(
        "gzip-bomb-64mib",
        "https://faults.test/gzip-bomb?mb=64",
        "archived",
        None,
        status=200,
        rss_mb=150,
    ),
    Fault(
        "tcp-reset-mid-body",
        "http://cases.test/reset",
        "failed",
        r"^connection reset; body cut after 504 bytes$",
        status=200,
        truncated=True,
        kept=504,
    ),
    # a CONNECT tunnel turns the origin's RST into a close: the length says what is missing
    Fault(
        "tcp-reset-mid-body-tunnel",
        "https://cases.test/reset",
        "failed",
        r"^connection closed early \(504 bytes read, 99496 more expected\); "
        r"body cut after 504 bytes$",
        status=200,
        truncated=True,
        kept=504,
    ),
    # text and markup
    Fault(
        "invalid-utf8",
        "https://cases.test/bad-utf8",
        "archived",
        None,
        status=200,
        title=r"^Bad UTF-8$",
        check=manifest_is_inert,
    ),
    Fault(
        "wrong-charset",
        "https://cases.test/wrong-charset",
        "archived",
        None,
        status=200,
        title=r"^Кодировка$",
    ),
    Fault(
        "malformed-html",
        "https://faults.test/malformed",
        "archived",
        None,
        status=200,
        title=r"^Malformed",
        check=manifest_is_inert,
    ),
    Fault(
        "html-50mb-capped",
        "https://cases.test/huge-html?mb=50",
        "archived",
        None,
        status=200,
        truncated=True,
        kept=8 * 2**20,
        title=r"^Huge$",
        capture={"max_bytes": 8 * 2**20},
        rss_mb=150,
    ),
    Fault(
        "hostile-title",
        "https://faults.test/hostile-title",
        "archived",
        None,
        status=200,
        title=r"^Title ",
        check=manifest_is_inert,
    ),
    Fault(
        "script-in-title",
        "https://cases.test/xss",
        "archived",
        None,
        status=200,
        title=r"^<script>alert\(1\)</script>$",
        check=manifest_is_inert,
    ),
    Fault(
        "script-in-urls",
        'https://faults.test/script-links?q="><script>alert(1)</script>',
        "archived",
        None,
        status=200,
        article="html",
        check=manifest_is_inert,
    ),
    # rate limits
    Fault(
        "429-retry-after-seconds",
        "https://cases.test/429?retry=2",
        "pending",
        r"^HTTP 429: retry after 2s$",
        status=429,
    ),
    Fault(
        "429-retry-after-date",
        "https://cases.test/429-date?in=30",
        "pending",
        r"^HTTP 429: retry after (29|30)s$",
        status=429,
    ),
    Fault(
        "503-retry-after",
        "https://cases.test/503?retry=2",
        "pending",
        r"^HTTP 503: retry after 2s$",
        status=503,
    ),
    # TLS: recorded as failures with the reason, never ignored
    Fault(
        "tls-untrusted",
        "https://untrusted.badssl.test/",
        "failed",
        r"^tls: certificate verify failed: unable to get local issuer certificate$",
    ),
    Fault(
        "tls-expired",
        "https://expired.badssl.test/",
        "failed",
        r"^tls: certificate verify failed: certificate has expired$",
    ),
    Fault(
        "tls-wrong-host",
        "https://wrong-host.badssl.test/",
        "failed",
        r"^tls: certificate verify failed: hostname mismatch",
    ),
    # names that do not resolve
    Fault(
        "unknown-host-proxy", "https://nonexistent.invalid/", "failed", r"^proxy: .*502 Bad Gateway"
    ),
    Fault(
        "unknown-host-direct",
        "https://nonexistent.invalid/",
        "failed",
        r"^dns: host name not found$",
        proxy="none",
        dns={"nonexistent.invalid": None},
    ),
    # SSRF
    Fault(
        "redirect-to-127.0.0.1",
        "https://cases.test/redirect-to-localhost",
        "failed",
        SSRF + r"loopback address 127\.0\.0\.1$",
        status=302,
        check=no_private_hits,
    ),
    Fault(
        "redirect-to-metadata",
        "https://cases.test/redirect-to-metadata",
        "failed",
        SSRF + r"link-local address 169\.254\.169\.254$",
        status=302,
    ),
    Fault(
        "redirect-to-file",
        "https://cases.test/redirect-to-file",
        "failed",
        SSRF + r"not an http\(s\) URL: 'file:///etc/passwd'$",
        status=302,
    ),
    Fault(
        "redirect-to-mapped-ipv6",
        "https://faults.test/redirect-to-mapped-v6",
        "failed",
        SSRF + r"link-local address 169\.254\.169\.254$",
        status=302,
    ),
    Fault(
        "redirect-to-decimal-ip",
        "https://faults.test/redirect-to-decimal-ip",
        "failed",
        SSRF + r"loopback address 127\.0\.0\.1$",
        status=302,
        check=no_private_hits,
    ),
    Fault(
        "redirect-to-localhost-name",
        "https://faults.test/redirect-to-localhost-name",
        "failed",
        SSRF + r"local host name 'localhost'$",
        status=302,
        check=no_private_hits,
    ),
    Fault(
        "literal-private-address",
        "http://127.0.0.1:{http}/ok",
        "failed",
        SSRF + r"loopback address 127\.0\.0\.1$",
        check=no_private_hits,
    ),
    Fault(
        "requisites-on-private-addresses",
        "https://faults.test/private-requisites",
        "archived",
        None,
        status=200,
        check=no_private_hits,
    ),
    # names that are not host names: a page's requisites, a redirect
    Fault(
        "requisites-with-bad-host-names",
        "https://faults.test/bad-hosts",
        "archived",
        None,
        status=200,
    ),
    Fault(
        "redirect-to-bad-host-name",
        "https://faults.test/redirect-to-bad-host",
        "failed",
        SSRF + r"invalid host name: 'a{70}\.example'$",
        status=302,
    ),
    Fault(
        "links-urllib-cannot-parse",
        "https://faults.test/unparseable-links",
        "archived",
        None,
        status=200,
    ),
    Fault(
        "redirect-to-unparseable-url",
        "https://faults.test/redirect-unparseable",
        "failed",
        r"^bad redirect: Location 'http://\[::1' is not a URL$",
        status=302,
    ),
    Fault(
        "public-name-private-address",
        "http://rebind.test:{http}/ok",
        "failed",
        SSRF + r"rebind\.test resolves to a loopback address 127\.0\.0\.1$",
        proxy="none",
        dns={"rebind.test": "127.0.0.1"},
        check=no_private_hits,
    ),
]


# ---------------------------------------------------------------- checks


def _patch_dns(monkeypatch, names: dict[str, str | None]) -> None:
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host in names:
            address = names[host]
            if address is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def _archive(tmp_path: Path, web, fault: Fault, holes: dict[str, int]):
    capture = {**TIMEOUTS, "workers": 2, **fault.capture}
    if fault.proxy in ("silent", "full"):
        capture.update(proxy=f"http://127.0.0.1:{holes[fault.proxy]}", ca_bundle=web.ca_path)
        return make_archive(tmp_path / "a", capture=capture)
    return make_archive(tmp_path / "a", web if fault.proxy == "web" else None, capture=capture)


def _article(tmp_path: Path, fault: Fault, url: str) -> Path:
    if fault.article == "html":
        from html import escape

        path = tmp_path / "article.html"
        path.write_text(
            "<!DOCTYPE html><html><head><title>Fault case</title></head><body>"
            f'<p>A fault case cites <a href="{escape(url)}">this page</a>.</p></body></html>',
            encoding="utf-8",
        )
        return path
    path = tmp_path / "article.txt"
    path.write_text(f"Fault case {fault.name}\n\nIt cites {url} and nothing else.\n", "utf-8")
    return path


def _target_and_snapshots(app, article_id: str):
    (target_id,) = app.store.target_ids_for_articles([article_id])
    with app.store.read() as conn:
        target = conn.execute(select(t.target).where(t.target.c.id == target_id)).one()
        snaps = list(
            conn.execute(
                select(t.snapshot)
                .where(t.snapshot.c.target_id == target_id)
                .order_by(t.snapshot.c.id)
            )
        )
    return target, snaps


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fault(fault: Fault, app, web, tmp_path: Path, holes: dict[str, int], figures) -> None:
    url = fault.url.format(http=web.http_port, **holes)
    rss_before = _max_rss_mb()
    started = time.monotonic()
    report = add_sources(app, [str(_article(tmp_path, fault, url))], capture=True)
    took = time.monotonic() - started
    grew = _max_rss_mb() - rss_before
    problems, lost = archive_problems(app)
    survived = False
    try:
        assert not report.errors, report.errors
        (result,) = report.results
        assert took < fault.bound, f"took {took:.1f}s (bound {fault.bound}s)"
        target, snaps = _target_and_snapshots(app, result.article_id)
        assert target.capture_state == fault.state, (target.capture_state, target.last_error)
        if fault.reason is None:
            assert target.last_error is None, target.last_error
        else:
            assert target.last_error and re.search(fault.reason, target.last_error), (
                target.last_error
            )
        if fault.status is None:
            assert not snaps, [(s.status, s.final_url) for s in snaps]
        else:
            snap = snaps[-1]
            assert snap.status == fault.status
            assert bool(snap.truncated) == fault.truncated
            if fault.state != "archived":
                assert not snap.good, "a cut or failed page is never the copy to cite"
            if fault.kept is not None:
                body = raw_block(app.root, snap.warc, snap.offset).partition(b"\r\n\r\n")[2]
                assert len(body) >= fault.kept, f"kept {len(body)} body bytes"
            if fault.title is not None:
                assert snap.title and re.search(fault.title, snap.title), snap.title
        if fault.rss_mb is not None:
            assert grew < fault.rss_mb, f"peak RSS grew {grew:.0f} MB"
        if fault.check is not None:
            fault.check(app, web, result.article_id)
        assert not problems, problems
        survived = True
    finally:
        figures.fault(fault.name, survived=survived, lost=lost)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault(fault, web, tmp_path, holes, figures, monkeypatch):
    if fault.dns:
        _patch_dns(monkeypatch, fault.dns)
    app = _archive(tmp_path, web, fault, holes)
    try:
        run_fault(fault, app, web, tmp_path, holes, figures)
    finally:
        app.close()


def test_every_listed_fault_has_a_row():
    """The issue's list, by name: a row may not silently disappear from the table."""
    wanted = {
        "redirect-loop", "silent-host-direct", "silent-host-proxy", "full-backlog-direct",
        "full-backlog-proxy", "stall-after-headers", "chunked-64mib-capped",
        "lying-length-short", "lying-length-long", "broken-gzip", "invalid-utf8",
        "wrong-charset", "malformed-html", "html-50mb-capped", "429-retry-after-seconds",
        "429-retry-after-date", "503-retry-after", "tcp-reset-mid-body", "tls-untrusted",
        "tls-expired", "tls-wrong-host", "unknown-host-proxy", "script-in-title",
        "script-in-urls", "redirect-to-127.0.0.1", "redirect-to-metadata",
        "redirect-to-file", "public-name-private-address",
    }  # fmt: skip
    assert wanted <= {f.name for f in FAULTS}


# ---------------------------------------------------------------- the big ones, uncapped


@pytest.mark.slow
def test_one_gib_chunked_body_is_streamed_and_capped(web, tmp_path, figures):
    """1 GiB chunked, the default 256 MiB cap: bounded time, flat memory, a valid record."""
    fault = Fault("chunked-1gib-default-cap", "https://cases.test/big-chunked?size=1073741824",
                  "archived", None, status=200, truncated=True, kept=256 * 2**20 - 2**20,
                  bound=120, capture={"page_timeout": "110s", "read_timeout": "10s"},
                  rss_mb=150)  # fmt: skip
    app = _archive(tmp_path, web, fault, {})
    try:
        run_fault(fault, app, web, tmp_path, {}, figures)
    finally:
        app.close()


@pytest.mark.slow
def test_fifty_mb_html_whole(web, tmp_path, figures):
    """50 MB of never-closed tags, stored whole (default cap): parsing stays bounded."""
    fault = Fault("html-50mb-whole", "https://cases.test/huge-html?mb=50", "archived", None,
                  status=200, kept=50 * 2**20, title=r"^Huge$", bound=60,
                  capture={"page_timeout": "50s", "read_timeout": "10s"},
                  rss_mb=150)  # fmt: skip
    app = _archive(tmp_path, web, fault, {})
    try:
        run_fault(fault, app, web, tmp_path, {}, figures)
    finally:
        app.close()

"""Capture into WARC through the offline fixture web: evidence that standard tools read."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.runs.add import add_sources
from archiver.runs.capture import capture_pending
from archiver.store import schema as t

from .conftest import make_archive
from .test_extract import SAMPLE_CITED, SAMPLE_SOURCE
from .warc_tools import (
    all_records,
    cdxj_index,
    raw_block,
    record_at,
    sha256_hex,
    warc_files,
    warcio_check,
)


def article(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "article.txt"
    path.write_text("A test article\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    return path


def targets(app) -> dict[str, object]:
    with app.store.read() as conn:
        return {r.url: r for r in conn.execute(select(t.target))}


def snapshots(app, url: str) -> list:
    with app.store.read() as conn:
        tid = conn.execute(select(t.target.c.id).where(t.target.c.url == url)).scalar_one()
        return list(
            conn.execute(
                select(t.snapshot).where(t.snapshot.c.target_id == tid).order_by(t.snapshot.c.id)
            )
        )


def assert_valid_archive(app) -> None:
    """Every WARC passes warcio check and cdxj-indexer; every snapshot row points at its
    record, whose decoded document hashes to the row's payload_digest."""
    files = warc_files(app.root)
    assert files, "no WARC written"
    assert not list((app.root / "warcs").rglob("*.open"))
    for path in files:
        warcio_check(path)
        assert cdxj_index(path)
    with app.store.read() as conn:
        rows = list(conn.execute(select(t.snapshot)))
    for row in rows:
        headers, _http, document = record_at(app.root, row.warc, row.offset)
        assert headers.get_header("WARC-Record-ID") == row.record_id
        if row.record_type == "response":
            assert sha256_hex(document) == row.payload_digest
            assert len(document) == row.size


def test_sample_article_is_captured(archive, sample_article, web):
    report = add_sources(archive, [str(sample_article)], capture=True)
    summary = report.capture
    by_url = targets(archive)
    missing = "https://themoscowtimes.com/news/russias-big-brother-law-enters-into-force-62066"
    for url in [SAMPLE_SOURCE, *SAMPLE_CITED]:
        expected = "failed" if url == missing else "archived"
        assert by_url[url].capture_state == expected, (url, by_url[url].last_error)
    assert summary.archived == 7 and summary.failed == 1
    (gone,) = snapshots(archive, missing)
    assert gone.status == 404 and not gone.good
    assert "HTTP 404" in by_url[missing].last_error
    # the moved MT URL: the snapshot keeps the redirect chain
    moved = SAMPLE_CITED[2]
    (snap,) = snapshots(archive, moved)
    assert snap.status == 200 and snap.redirects[0] == moved and len(snap.redirects) == 2
    assert snap.final_url.startswith("https://www.themoscowtimes.com/")
    # requisites were captured for the source article
    (src,) = snapshots(archive, SAMPLE_SOURCE)
    assert src.resources >= 5 and src.good and src.title
    assert_valid_archive(archive)


def test_gzip_chunked_bytes_are_kept_as_sent(archive, web, tmp_path):
    url = "https://cases.test/gzip-chunked"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    block = raw_block(archive.root, snap.warc, snap.offset)
    head, _, body = block.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"content-encoding: gzip" in head.lower()
    # compare with the bytes the origin sends on a plain socket
    with socket.create_connection(("127.0.0.1", web.http_port)) as s:
        s.sendall(
            b"GET /gzip-chunked HTTP/1.1\r\nHost: cases.test\r\n"
            b"Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n"
        )
        wire = b""
        while chunk := s.recv(65536):
            wire += chunk
    assert body == wire.partition(b"\r\n\r\n")[2]
    # and the document digest is over the decoded page
    dechunked = _dechunk(body)
    assert sha256_hex(gzip.decompress(dechunked)) == snap.payload_digest
    assert_valid_archive(archive)


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, rest = out + rest[:size], rest[size + 2 :]


def test_redirect_chain_every_hop_recorded(archive, tmp_path):
    url = "https://cases.test/redirect/3"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert snap.redirects == [
        "https://cases.test/redirect/3",
        "https://cases.test/redirect/2",
        "https://cases.test/redirect/1",
        "https://cases.test/ok",
    ]
    responses = [u for typ, u, _ in all_records(archive.root) if typ == "response"]
    requests_ = [u for typ, u, _ in all_records(archive.root) if typ == "request"]
    for hop in snap.redirects:
        assert responses.count(hop) == 1 and requests_.count(hop) == 1
    assert_valid_archive(archive)


def test_redirect_loop_and_too_many(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture={"max_redirects": 3})
    loop, many = "https://cases.test/loop/a", "https://cases.test/redirect/6"
    add_sources(app, [str(article(tmp_path, loop, many))], capture=True)
    by_url = targets(app)
    assert by_url[loop].capture_state == "failed"
    assert "redirect loop" in by_url[loop].last_error
    assert "too many redirects" in by_url[many].last_error
    assert_valid_archive(app)


def test_timeouts_fail_cleanly(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture={"read_timeout": "1s", "page_timeout": "3s"})
    slow, trickle = "https://cases.test/slow-headers?delay=3", "https://cases.test/trickle"
    add_sources(app, [str(article(tmp_path, slow, trickle))], capture=True)
    by_url = targets(app)
    assert by_url[slow].capture_state == "failed"
    assert by_url[slow].last_error.startswith("timeout")
    # a trickling body is cut at the page time limit, kept, and marked truncated
    (snap,) = snapshots(app, trickle)
    assert snap.truncated
    headers, _, _ = record_at(app.root, snap.warc, snap.offset)
    assert headers.get_header("WARC-Truncated") == "time"


def test_size_cap_truncates(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture={"max_bytes": 1_000_000})
    url = "https://cases.test/big?size=5000000"
    add_sources(app, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(app, url)
    assert snap.truncated and snap.size < 1_200_000
    headers, _, _ = record_at(app.root, snap.warc, snap.offset)
    assert headers.get_header("WARC-Truncated") == "length"
    assert_valid_archive(app)


def test_requisites_html_css_iframe(archive, tmp_path):
    url = "https://cases.test/page-with-requisites"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    captured = {u for typ, u, _ in all_records(archive.root) if typ == "response"}
    base = "https://cases.test"
    for path in [
        "/static/style.css",
        "/static/bg.png",
        "/static/font.woff2",
        "/static/more.css",
        "/static/app.js",
        "/static/a.png",
        "/static/a-2x.png",
        "/static/a-3x.png",
        "/static/b.webp",
        "/static/poster.png",
        "/static/v.mp4",
        "/frame",
        "/static/frame-img.png",
        "/favicon.ico",
        "/static/inline.png",
    ]:
        assert base + path in captured, path
    # one level into fetched CSS: more.css is fetched, but not what more.css refers to
    assert base + "/static/deep.png" not in captured
    (snap,) = snapshots(archive, url)
    assert snap.resources >= 15
    assert_valid_archive(archive)


def test_telegram_post_plan(archive, tmp_path):
    url = "https://t.me/PlushevChannel/2850"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    captured = [u for typ, u, _ in all_records(archive.root) if typ == "response"]
    assert url in captured
    assert "https://t.me/PlushevChannel/2850?embed=1&mode=tme" in captured
    assert "https://t.me/s/PlushevChannel/2850" in captured
    (snap,) = snapshots(archive, url)
    assert snap.good and snap.text and snap.quality is None
    assert snap.title


def test_telegram_deleted_post_is_not_a_good_snapshot(archive, web, tmp_path):
    web.set_state("later")
    url = "https://telegram.me/PlushevChannel/2850"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert snap.status == 200 and not snap.good and snap.quality == "not-found"


def test_identical_recapture_is_a_revisit(archive, tmp_path):
    url = "https://cases.test/ok"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    with archive.store.tx() as conn:
        conn.execute(t.target.update().values(recapture=True))
    capture_pending(archive)
    first, second = snapshots(archive, url)
    assert first.record_type == "response" and second.record_type == "revisit"
    assert first.payload_digest == second.payload_digest
    headers, _, _ = record_at(archive.root, second.warc, second.offset)
    assert headers.get_header("WARC-Refers-To") == first.record_id
    assert headers.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
    assert_valid_archive(archive)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/redirect-to-localhost", "loopback address 127.0.0.1"),
        ("/redirect-to-metadata", "link-local address 169.254.169.254"),
        ("/redirect-to-file", "not an http(s) URL"),
    ],
)
def test_redirects_to_unsafe_places_are_refused(archive, web, tmp_path, path, reason):
    url = "https://cases.test" + path
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    target = targets(archive)[url]
    assert target.capture_state == "failed"
    assert "refused" in target.last_error and reason in target.last_error
    # the first hop (the redirect) is kept as evidence
    assert [u for typ, u, _ in all_records(archive.root) if typ == "response"] == [url]


def test_literal_private_address_refused_before_sending(archive, web, tmp_path):
    url = f"http://127.0.0.1:{web.http_port}/ok"
    report = add_sources(archive, [str(article(tmp_path, url))], capture=True)
    assert report.capture.failed == 1
    assert "refused" in targets(archive)[url].last_error
    assert not [h for h in web.hits if "/ok" in h[2]]


def test_public_name_resolving_to_private_address(tmp_path, web, monkeypatch):
    """Without a proxy the connected address is checked: a rebinding name is caught."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "private.test":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    app = make_archive(tmp_path / "a")
    url = f"http://private.test:{web.http_port}/ok"
    add_sources(app, [str(article(tmp_path, url))], capture=True)
    assert "resolves to a loopback address" in targets(app)[url].last_error
    assert not [h for h in web.hits if h[1].startswith("private.test")]
    # ... and allowed when the archive is an intranet archive
    app2 = make_archive(tmp_path / "b", capture={"allow_private": True})
    add_sources(app2, [str(article(tmp_path, url))], capture=True)
    assert targets(app2)[url].capture_state == "archived"
    (snap,) = snapshots(app2, url)
    headers, _, _ = record_at(app2.root, snap.warc, snap.offset)
    assert headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_standard_proxy_variables_are_honoured(tmp_path, web, monkeypatch):
    app = make_archive(tmp_path / "a")  # no proxy / CA in config
    for key, value in web.env().items():
        monkeypatch.setenv(key, value)
    url = "https://www.bbc.com/russian/news-45188838"
    add_sources(app, [str(article(tmp_path, url))], capture=True)
    assert targets(app)[url].capture_state == "archived"
    assert any(h[1] == "www.bbc.com" for h in web.hits)


def test_retry_after_requeues(archive, tmp_path):
    url = "https://cases.test/429?retry=120"
    report = add_sources(archive, [str(article(tmp_path, url))], capture=True)
    assert report.capture.waiting == 1
    target = targets(archive)[url]
    # a rate-limited attempt counts (issue #23): a host cannot keep a target pending forever
    assert target.capture_state == "pending" and target.attempts == 1
    (snap,) = snapshots(archive, url)
    assert snap.status == 429  # kept as evidence


def test_unknown_host_and_bad_certificates(archive, tmp_path):
    urls = [
        "https://nonexistent.invalid/",
        "https://expired.badssl.test/",
        "https://wrong-host.badssl.test/",
        "https://untrusted.badssl.test/",
    ]
    add_sources(archive, [str(article(tmp_path, *urls))], capture=True)
    by_url = targets(archive)
    assert all(by_url[u].capture_state == "failed" for u in urls)
    for u in urls[1:]:
        assert by_url[u].last_error.startswith("tls: certificate verify failed"), by_url[u]


def test_metadata_record_names_citing_articles(archive, tmp_path):
    url = "https://cases.test/ok"
    report = add_sources(archive, [str(article(tmp_path, url))], capture=True)
    metas = [h for typ, _u, h in all_records(archive.root) if typ == "metadata"]
    # the capture's own metadata record, beside its connections' evidence (issue 21)
    evidence = [h for h in metas if h.get_header("Content-Type") != "application/json"]
    metas = [h for h in metas if h.get_header("Content-Type") == "application/json"]
    assert len(metas) == 1 and len(evidence) == 1
    (snap,) = snapshots(archive, url)
    assert metas[0].get_header("WARC-Concurrent-To") == snap.record_id
    path = warc_files(archive.root)[0]
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "metadata" and rec.content_type == "application/json":
                data = json.loads(rec.content_stream().read())
    assert data["citing_articles"] == [report.results[0].article_id]
    assert data["software"].startswith("archiver/")


def test_killed_writer_leaves_a_recoverable_file(archive, tmp_path):
    """A `.open` file with a torn last record is cut back and closed on the next run."""
    add_sources(archive, [str(article(tmp_path, "https://cases.test/ok"))], capture=True)
    (closed,) = warc_files(archive.root)
    data = closed.read_bytes()
    torn = closed.with_name("archive-20260101000000-00099.warc.gz.open")
    torn.write_bytes(data + data[:100])  # complete records + the start of a gzip member
    capture_pending(archive)  # every run starts by recovering
    recovered = closed.with_name("archive-20260101000000-00099.warc.gz")
    assert recovered.exists() and not torn.exists()
    assert recovered.read_bytes() == data
    assert Path(str(torn) + ".tail").exists()  # the torn bytes are set aside, not destroyed
    warcio_check(recovered)


def test_socks5h_proxy_from_config(tmp_path, web):
    """socks5h:// (requests[socks]): a real SOCKS5 server chained to the fixture proxy."""
    import shutil
    import subprocess
    import sys
    import time

    pproxy = shutil.which("pproxy") or str(Path(sys.executable).parent / "pproxy")
    if not Path(pproxy).exists():
        pytest.skip("pproxy (test extra) is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [pproxy, "-l", f"socks5://127.0.0.1:{port}", "-r", web.proxy_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        app = make_archive(
            tmp_path / "a",
            capture={"proxy": f"socks5h://127.0.0.1:{port}", "ca_bundle": str(web.ca_path)},
        )
        url = "https://www.bbc.com/russian/news-45188838"
        add_sources(app, [str(article(tmp_path, url))], capture=True)
        assert targets(app)[url].capture_state == "archived"
        assert_valid_archive(app)
        # issue 21: the SOCKS proxy is the peer (not the target PySocks asked it for)
        (snap,) = snapshots(app, url)
        assert snap.evidence["via_proxy"] == f"socks5h://127.0.0.1:{port}"
        assert snap.evidence["served_by"]["address"] is None
        assert snap.evidence["served_by"]["tls_version"].startswith("TLSv1")
    finally:
        proc.terminate()
        proc.wait(5)


def test_revisit_record_block_is_the_raw_headers(archive, tmp_path):
    """warcio skips revisits in `warcio check`: read the block back ourselves."""
    url = "https://cases.test/gzip-chunked"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    with archive.store.tx() as conn:
        conn.execute(t.target.update().values(recapture=True))
    capture_pending(archive)
    _first, second = snapshots(archive, url)
    assert second.record_type == "revisit"
    block = raw_block(archive.root, second.warc, second.offset)
    assert block.startswith(b"HTTP/1.1 200 ") and block.endswith(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in block
    from warcio.archiveiterator import ArchiveIterator

    with open(archive.root / second.warc, "rb") as f:
        f.seek(second.offset)
        rec = next(iter(ArchiveIterator(f, no_record_parse=True)))
        assert int(rec.rec_headers.get_header("Content-Length")) == len(block)
        import base64
        import hashlib

        digest = rec.rec_headers.get_header("WARC-Block-Digest").split(":", 1)[1]
        assert base64.b32decode(digest) == hashlib.sha256(block).digest()


def test_no_proxy_is_honoured(tmp_path, web, monkeypatch):
    """NO_PROXY=cases.test: that host is fetched directly (and so not found), others proxied."""
    app = make_archive(tmp_path / "a")
    for key, value in web.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NO_PROXY", "cases.test")
    monkeypatch.setenv("no_proxy", "cases.test")
    direct, proxied = "https://cases.test/ok", "https://www.bbc.com/russian/news-45188838"
    add_sources(app, [str(article(tmp_path, direct, proxied))], capture=True)
    by_url = targets(app)
    assert by_url[direct].capture_state == "failed"
    assert by_url[direct].last_error == "dns: host name not found"
    assert by_url[proxied].capture_state == "archived"
    assert not [h for h in web.hits if h[1] == "cases.test"]


def test_replay_through_the_cdxj_index(archive, web, tmp_path):
    """Look the page up the way replay tools do (cdxj-indexer), get the original back."""
    import requests as rq

    url = "https://www.bbc.com/russian/news-45188838"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (path,) = warc_files(archive.root)
    entries = [line.split(" ", 2) for line in cdxj_index(path)]
    hits = [json.loads(e[2]) for e in entries if json.loads(e[2])["url"] == url]
    responses = [h for h in hits if h.get("mime") != "warc/request" and "status" in h]
    assert len(responses) == 1
    entry = responses[0]
    _headers, http, document = record_at(
        archive.root, "warcs/" + str(path.relative_to(archive.root / "warcs")), int(entry["offset"])
    )
    assert http.get_statuscode() == entry["status"] == "200"
    original = rq.get(url, proxies=web.proxies, verify=web.ca_path).content
    assert document == original


def test_long_capture_renews_its_lease(tmp_path, web, monkeypatch):
    """A capture that outlasts a third of the lease renews its claim as it goes."""
    app = make_archive(tmp_path / "a", web, daemon={"lease": "0.6s"})
    url = "https://news01.test/article/7?ms=300"  # 7 requests of 0.3 s
    calls = []
    real = app.store.extend_lease
    monkeypatch.setattr(
        app.store,
        "extend_lease",
        lambda tid, worker, lease: calls.append(tid) or real(tid, worker, lease),
    )
    add_sources(app, [str(article(tmp_path, url))], capture=True)
    assert targets(app)[url].capture_state == "archived"
    assert len(calls) >= 3 and set(calls) == {targets(app)[url].id}
    assert targets(app)[url].claimed_by is None  # released at the end


def test_replay_index_follows_closed_warcs(archive, tmp_path):
    """warcs/index.cdxj is brought up to date when a capture run closes its file."""
    add_sources(archive, [str(article(tmp_path, "https://cases.test/ok"))], capture=True)
    index = (archive.root / "warcs" / "index.cdxj").read_text().splitlines()
    assert any('"url": "https://cases.test/ok"' in line for line in index)
    assert not any('"mime": "warc/request"' in line for line in index)
    add_sources(archive, [str(article(tmp_path, "https://cases.test/plain"))], capture=True)
    index = (archive.root / "warcs" / "index.cdxj").read_text().splitlines()
    assert any('"url": "https://cases.test/plain"' in line for line in index)
    assert index == sorted(index)


def test_every_response_names_its_peer_also_on_a_reused_connection(tmp_path, web, monkeypatch):
    """WARC-IP-Address is on every response record, not only the first on a connection
    (kept-alive connections are reused by the next requests to the host)."""
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **kw: real("127.0.0.1" if host == "private.test" else host, *a, **kw),
    )
    app = make_archive(tmp_path / "a", capture={"allow_private": True, "workers": 1})
    urls = [f"http://private.test:{web.http_port}/ok?n={i}" for i in range(3)]
    add_sources(app, [str(article(tmp_path, *urls))], capture=True)
    peers = []
    for url in urls:
        (snap,) = snapshots(app, url)
        headers, _, _ = record_at(app.root, snap.warc, snap.offset)
        peers.append(headers.get_header("WARC-IP-Address"))
    assert peers == ["127.0.0.1"] * 3


# ---------------------------------------------------------------- judgement (issue 17)


def test_redirect_to_a_consent_host_is_not_a_good_snapshot(archive, tmp_path):
    """A story URL sent to another host's "accept cookies" page was captured as good."""
    url = "https://cases.test/to-consent"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert snap.status == 200 and snap.final_url.startswith("https://consent.cases.test/")
    assert not snap.good and snap.quality == "consent"
    assert snap.reasons[0] == {
        "rule": "redirect-host",
        "detail": "redirected to consent.cases.test",
    }
    error = targets(archive)[url].last_error
    assert error.startswith("blocked: consent host consent.cases.test (redirected to")


def test_bot_wall_capture_says_what_it_saw(archive, tmp_path):
    url = "https://cases.test/bot-wall"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert not snap.good and snap.quality == "bot-wall"
    assert {"rule": "markup", "detail": "reCAPTCHA markup (g-recaptcha)"} in snap.reasons
    assert targets(archive)[url].last_error == "blocked: reCAPTCHA (reCAPTCHA markup (g-recaptcha))"


def test_good_snapshot_keeps_why_it_is_the_page(archive, tmp_path):
    url = "https://soft404.test/real-article"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert snap.good and snap.quality is None
    assert [r["rule"] for r in snap.reasons] == ["article-structure"]
    assert targets(archive)[url].last_error is None

"""The offline fixture web itself: sites in both worlds, wire fidelity, proxy, TLS, CLI."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.web import start_web
from tests.web.sites.cases_wire import ENCODED_PAGE, pattern
from tests.web.sites.texts_ru import TELEGRAM_CHANNEL, TELEGRAM_POST

pytest_plugins = ["tests.web.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
MT = "https://www.themoscowtimes.com"
MAILRU = f"{MT}/2018/08/15/mail-ru-asks-government-to-stop-prosecuting-social-media-posts-a62532"
TJ = (
    "https://tjournal.ru/75077-mail-ru-group-obratilas-v-gosdumu-s-prosboy-vnesti-"
    "zakonoproekt-o-dekriminalizacii-repostov-i-amnistii-osuzhdennyh"
)
VK_2026 = (
    f"{MT}/2026/06/17/vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions"
)
VK_BARE = (
    "https://themoscowtimes.com/news/"
    "vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions-62512"
)
BBC = "https://www.bbc.com/russian/news-45188838"
TG = "https://t.me/PlushevChannel/2850"
BIG_BROTHER = "https://themoscowtimes.com/news/russias-big-brother-law-enters-into-force-62066"
VEDOMOSTI = "https://www.vedomosti.ru/politics/articles/2018/08/14/778045-ne-otsenili-v-kontakte"


@pytest.fixture
def session(web):
    with web.session() as s:
        yield s


def get(session, url, **kw):
    kw.setdefault("timeout", 10)
    return session.get(url, **kw)


# -- the sample article's sources ------------------------------------------------------

SAMPLE_NOW = [
    (MAILRU, 200, []),
    (TJ, 200, []),
    (VK_2026, 200, []),
    (VK_BARE, 200, [301]),
    (BBC, 200, []),
    (TG, 200, []),
    (BIG_BROTHER, 404, []),
    (VEDOMOSTI, 200, []),
]
SAMPLE_LATER = [
    (MAILRU, 200, []),
    (TJ, 200, [301]),
    (VK_2026, 410, []),
    (VK_BARE, 200, [301]),
    (BBC, 200, []),
    (TG, 200, []),
    (BIG_BROTHER, 404, []),
    (VEDOMOSTI, 451, []),
]


@pytest.mark.parametrize(("url", "status", "history"), SAMPLE_NOW)
def test_sample_sources_now(session, url, status, history):
    r = get(session, url)
    assert (r.status_code, [h.status_code for h in r.history]) == (status, history)
    assert r.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("url", "status", "history"), SAMPLE_LATER)
def test_sample_sources_later(web, session, url, status, history):
    web.set_state("later")
    r = get(session, url)
    assert (r.status_code, [h.status_code for h in r.history]) == (status, history)


def test_articles_look_like_real_pages(session):
    page = get(session, MAILRU).text
    for part in (
        "<title>",
        'name="description"',
        'rel="canonical"',
        'rel="stylesheet"',
        "<nav",
        "<article>",
        "<footer",
        "srcset=",
        'rel="icon"',
        "<script src=",
    ):
        assert part in page, part
    article = page.split("<article>")[1].split("</article>")[0]
    assert len(article.split()) > 300
    assert "Mail.ru Group" in article


def test_article_requisites_are_served(session):
    css = get(session, "https://static.themoscowtimes.com/css/main.css")
    assert css.headers["Content-Type"].startswith("text/css")
    assert '@import url("print.css")' in css.text and "url(" in css.text
    for path, kind in [
        ("/css/print.css", "text/css"),
        ("/img/bg.png", "image/png"),
        ("/fonts/body.woff2", "font/woff2"),
        ("/js/app.js", "text/javascript"),
        ("/img/lead-2x.png", "image/png"),
        ("/favicon.ico", "image/x-icon"),
    ]:
        r = get(session, "https://static.themoscowtimes.com" + path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), path
    assert get(session, "https://static.themoscowtimes.com/img/lead.png").content[:4] == b"\x89PNG"


def test_tjournal_later_redirects_everything_home(web, session):
    assert get(session, "https://tjournal.ru/some-random-path").status_code == 404
    web.set_state("later")
    r = get(session, "https://tjournal.ru/some-random-path")
    assert r.history[0].status_code == 301 and r.url == "https://tjournal.ru/"
    assert "закрыт" in r.text


def test_bbc_drifts_but_stays_200(web, session):
    now = get(session, BBC)
    web.set_state("later")
    later = get(session, BBC)
    assert now.status_code == later.status_code == 200
    before, after = (r.text.split("<article>")[1].split("</article>")[0] for r in (now, later))
    assert "Mail.ru" in before and "Mail.ru" not in after and "Марс" in after


def test_site_roots_and_unknown_paths(session):
    for host in ("www.themoscowtimes.com", "www.bbc.com", "www.vedomosti.ru", "tjournal.ru"):
        assert get(session, f"https://{host}/").status_code == 200
    for host in ("www.themoscowtimes.com", "www.bbc.com", "www.vedomosti.ru"):
        r = get(session, f"https://{host}/no/such/page-123")
        assert r.status_code == 404 and "<html" in r.text


def test_telegram_post_now(session):
    page = get(session, TG).text
    assert f'<meta property="og:description" content="{TELEGRAM_POST}">' in page
    assert '<meta property="og:title" content="Плюшев">' in page
    assert 'class="tgme_page_widget"' in page
    embed = get(session, TG + "?embed=1&mode=tme").text
    assert '<div class="tgme_widget_message_text js-message_text" dir="auto">' in embed
    assert TELEGRAM_POST in embed
    assert '<time datetime="2018-08-14T12:00:00+00:00"' in embed
    assert "tgme_widget_message_date" in embed
    preview = get(session, "https://t.me/s/PlushevChannel/2850").text
    assert preview.count('class="tgme_widget_message ') >= 4
    assert 'data-post="PlushevChannel/2850"' in preview


def test_telegram_post_deleted_later(web, session):
    web.set_state("later")
    for host in ("t.me", "telegram.me"):
        post = get(session, f"https://{host}/PlushevChannel/2850")
        assert post.status_code == 200
        assert f'property="og:description" content="{TELEGRAM_CHANNEL}"' in post.text
        assert TELEGRAM_POST not in post.text
        embed = get(session, f"https://{host}/PlushevChannel/2850?embed=1")
        assert embed.status_code == 200
        assert '<div class="tgme_widget_message_error">Post not found</div>' in embed.text
    preview = get(session, "https://t.me/s/PlushevChannel/2850").text
    assert 'data-post="PlushevChannel/2850"' not in preview


# -- wire fidelity -----------------------------------------------------------------------


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def dechunk(body: bytes) -> tuple[bytes, int]:
    out, rest, count = b"", body, 0
    while True:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line, 16)
        if size == 0:
            return out, count
        out, rest, count = out + rest[:size], rest[size + 2 :], count + 1


REQUEST = (
    b"GET %s HTTP/1.1\r\nHost: cases.test\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
)


def test_gzip_chunked_is_byte_exact_direct_and_through_the_proxy(web):
    with socket.create_connection(("127.0.0.1", web.http_port)) as s:
        s.sendall(REQUEST % b"/gzip-chunked")
        direct = read_all(s)
    with socket.create_connection(("127.0.0.1", int(web.proxy_url.rsplit(":", 1)[1]))) as s:
        s.sendall(REQUEST % b"http://cases.test/gzip-chunked")
        proxied = read_all(s)
    head, _, body = direct.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head and b"\r\nContent-Encoding: gzip" in head
    assert b"Content-Length" not in head
    assert proxied.partition(b"\r\n\r\n")[2] == body
    compressed, chunks = dechunk(body)
    assert chunks >= 3
    assert gzip.decompress(compressed) == ENCODED_PAGE


def test_gzip_chunked_through_the_tls_tunnel_matches_the_origin(web):
    ctx = ssl.create_default_context(cafile=web.ca_path)
    port = int(web.proxy_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"CONNECT www.bbc.com:443 HTTP/1.1\r\nHost: www.bbc.com:443\r\n\r\n")
        assert raw.recv(1024) == b"HTTP/1.1 200 Connection established\r\n\r\n"
        with ctx.wrap_socket(raw, server_hostname="www.bbc.com") as tls:
            tls.sendall(
                b"GET /russian/news-45188838 HTTP/1.1\r\nHost: www.bbc.com\r\n"
                b"Connection: close\r\n\r\n"
            )
            tunnelled = read_all(tls)
    with socket.create_connection(("127.0.0.1", web.http_port)) as s:
        s.sendall(
            b"GET /russian/news-45188838 HTTP/1.1\r\nHost: www.bbc.com\r\nConnection: close\r\n\r\n"
        )
        direct = read_all(s)
    assert tunnelled.partition(b"\r\n\r\n")[2] == direct.partition(b"\r\n\r\n")[2]
    compressed, chunks = dechunk(direct.partition(b"\r\n\r\n")[2])
    assert chunks >= 3 and "Mail.ru" in gzip.decompress(compressed).decode()


@pytest.mark.parametrize(
    ("path", "encoding", "chunked"),
    [("/chunked", None, True), ("/gzip", "gzip", False), ("/deflate", "deflate", False)],
)
def test_content_codings(session, path, encoding, chunked):
    r = get(session, "http://cases.test" + path)
    assert r.headers.get("Content-Encoding") == encoding
    assert ("Transfer-Encoding" in r.headers) == chunked
    assert r.content == ENCODED_PAGE


def test_proxy_keeps_the_client_connection_alive(web):
    port = int(web.proxy_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        statuses, sockets = [], set()
        for target in ("/ok", "/chunked", "/gzip", "/404", "/big?size=100000", "/plain"):
            conn.request("GET", "http://cases.test" + target)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            sockets.add(id(conn.sock))
        assert statuses == [200, 200, 200, 404, 200, 200]
        assert len(sockets) == 1  # one client connection for all of them
    finally:
        conn.close()


def test_proxy_serves_many_connections_at_once(web):
    urls = [f"https://cases.test/delay?ms=200&n={i}" for i in range(40)]
    urls += [f"http://www.bbc.com/russian/news-45188838?n={i}" for i in range(40)]

    def fetch(url):
        with web.session() as s:  # a session each: a connection each
            return get(s, url).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        assert set(pool.map(fetch, urls)) == {200}
    assert time.monotonic() - started < 5  # in parallel, not one after another
    assert len(web.hits) == len(urls)


def test_big_bodies_stream(session):
    size = 3_000_001
    expected = hashlib.sha256(b"".join(pattern(size))).hexdigest()
    for path, length in ((f"/big?size={size}", str(size)), (f"/big-chunked?size={size}", None)):
        with get(session, "https://cases.test" + path, stream=True) as r:
            assert r.headers.get("Content-Length") == length
            digest, total = hashlib.sha256(), 0
            for piece in r.iter_content(65536):
                digest.update(piece)
                total += len(piece)
        assert (total, digest.hexdigest()) == (size, expected)


def test_huge_html_has_the_asked_size(session):
    with get(session, "http://cases.test/huge-html?mb=2", stream=True) as r:
        assert r.headers["Content-Length"] == str(2 * 2**20)
        assert sum(len(p) for p in r.iter_content(65536)) == 2 * 2**20


# -- misbehaving routes ------------------------------------------------------------------


def test_lying_lengths_and_broken_bodies(session):
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(session, "http://cases.test/lying-length-short")
    long = get(session, "http://cases.test/lying-length-long")
    assert len(long.content) == 64  # the client stops at Content-Length
    with pytest.raises(requests.exceptions.ContentDecodingError):
        get(session, "https://cases.test/broken-gzip")
    with pytest.raises(requests.exceptions.RequestException):
        get(session, "https://cases.test/reset")
    with pytest.raises(requests.exceptions.RequestException):
        get(session, "http://cases.test/reset")


def test_reset_is_a_reset_on_the_origin_port(web):
    with socket.create_connection(("127.0.0.1", web.http_port)) as s:
        s.sendall(REQUEST % b"/reset")
        with pytest.raises(ConnectionResetError):
            for _ in range(100):
                if not s.recv(65536):
                    break


def test_stalls_and_slowness_hit_client_timeouts(session):
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(session, "https://cases.test/slow-headers?delay=2", timeout=(5, 0.5))
    with get(session, "https://cases.test/stall-body", stream=True, timeout=(5, 0.5)) as r:
        assert r.status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            r.content  # noqa: B018
    started = time.monotonic()
    with get(session, "http://cases.test/trickle", stream=True, timeout=(5, 2)) as r:
        got = b""
        for piece in r.iter_content(1):
            got += piece
            if len(got) == 3:
                break
    assert got == b"..." and time.monotonic() - started >= 0.9
    started = time.monotonic()
    assert get(session, "http://cases.test/delay?ms=300").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_charsets(session):
    bad = get(session, "http://cases.test/bad-utf8")
    assert bad.headers["Content-Type"] == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        bad.content.decode("utf-8")
    wrong = get(session, "http://cases.test/wrong-charset")
    assert "Кодировка".encode("cp1251") in wrong.content


# -- statuses, redirects, pages ----------------------------------------------------------

STATUSES = [
    ("/ok", 200),
    ("/plain", 200),
    ("/500", 500),
    ("/502", 502),
    ("/404", 404),
    ("/410", 410),
    ("/451", 451),
    ("/403", 403),
    ("/no-such-case", 404),
    ("/redirect-to-root", 200),
    ("/bot-wall", 200),
    ("/consent", 200),
    ("/xss", 200),
    ("/page-with-requisites", 200),
]


@pytest.mark.parametrize(("path", "status"), STATUSES)
def test_case_statuses(session, path, status):
    assert get(session, "https://cases.test" + path).status_code == status


def test_retry_after(session):
    r = get(session, "https://cases.test/429?retry=7")
    assert (r.status_code, r.headers["Retry-After"]) == (429, "7")
    r = get(session, "https://cases.test/503?retry=3")
    assert (r.status_code, r.headers["Retry-After"]) == (503, "3")
    r = get(session, "https://cases.test/429-date")
    assert r.status_code == 429 and r.headers["Retry-After"].endswith(" GMT")


def test_flaky_fails_once_until_reset(web, session):
    codes = [get(session, "https://cases.test/flaky").status_code for _ in range(3)]
    assert codes == [503, 200, 200]
    assert "Retry-After" not in get(session, "https://cases.test/404").headers
    web.reset()
    assert get(session, "https://cases.test/flaky").status_code == 503


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/redirect/3", 302, "/redirect/2"),
        ("/redirect/1", 302, "/ok"),
        ("/redirect-301", 301, "/ok"),
        ("/redirect-307", 307, "/ok"),
        ("/redirect-308", 308, "/ok"),
        ("/loop/a", 302, "/loop/b"),
        ("/loop/b", 302, "/loop/a"),
        ("/redirect-relative", 302, "ok"),
        ("/redirect-to-root", 302, "/"),
        ("/redirect-to-metadata", 302, "http://169.254.169.254/latest/meta-data/"),
        ("/redirect-to-file", 302, "file:///etc/passwd"),
        ("/redirect-other-host", 302, BBC),
    ],
)
def test_redirects(session, path, status, location):
    r = get(session, "https://cases.test" + path, allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (status, location)


def test_redirect_chains(web, session):
    r = get(session, "https://cases.test/redirect/4")
    assert [h.status_code for h in r.history] == [302] * 4 and r.url == "https://cases.test/ok"
    with pytest.raises(requests.exceptions.TooManyRedirects):
        get(session, "https://cases.test/loop/a")
    r = get(session, "https://cases.test/redirect-to-localhost", allow_redirects=False)
    assert r.headers["Location"] == f"http://127.0.0.1:{web.http_port}/ok"
    assert get(session, r.headers["Location"]).status_code == 200


def test_later_drift_and_move(web, session):
    now_drift = get(session, "https://cases.test/later-drift").text
    assert get(session, "https://cases.test/later-moved").history == []
    web.set_state("later")
    assert get(session, "https://cases.test/later-drift").text != now_drift
    moved = get(session, "https://cases.test/later-moved")
    assert [h.status_code for h in moved.history] == [301]
    assert moved.url == "https://cases.test/moved-here" and "ferry" in moved.text


def test_requisites_page_links_and_types(session):
    page = get(session, "https://cases.test/page-with-requisites").text
    types = {
        "/static/style.css": "text/css",
        "/static/more.css": "text/css",
        "/static/app.js": "text/javascript",
        "/static/font.woff2": "font/woff2",
        "/static/b.webp": "image/webp",
        "/static/v.mp4": "video/mp4",
        "/favicon.ico": "image/x-icon",
        "/frame": "text/html",
        **{
            f"/static/{n}.png": "image/png"
            for n in ("bg", "deep", "a", "a-2x", "a-3x", "poster", "frame-img", "inline")
        },
    }
    for path, kind in types.items():
        r = get(session, "https://cases.test" + path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind), path
    for ref in (
        "/static/a-3x.png 3x",
        'poster="/static/poster.png"',
        "url('/static/inline.png')",
        '<iframe src="/frame"',
        'srcset="/static/b.webp"',
    ):
        assert ref in page, ref
    assert (
        '@import url("/static/more.css")'
        in get(session, "https://cases.test/static/style.css").text
    )
    assert "/static/deep.png" in get(session, "https://cases.test/static/more.css").text
    assert "/static/frame-img.png" in get(session, "https://cases.test/frame").text


def test_xss_title_is_literal_text(session):
    page = get(session, "https://cases.test/xss").text
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert 'href="javascript:alert(1)"' in page
    assert 'href="https://cases.test/&lt;script&gt;"' in page


def test_soft_404_host(session):
    one = get(session, "https://soft404.test/soft404-probe-target")
    two = get(session, "https://soft404.test/some/other/random-path-8f2e")
    assert one.status_code == two.status_code == 200 and one.text == two.text
    assert "couldn't find that page" in one.text
    real = get(session, "https://soft404.test/real-article")
    assert real.status_code == 200 and "<article>" in real.text


# -- TLS, unknown hosts, control, bookkeeping -------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("expired.badssl.test", "certificate has expired"),
        ("wrong-host.badssl.test", "Hostname mismatch"),
        ("untrusted.badssl.test", "unable to get local issuer certificate"),
    ],
)
def test_bad_certificates_fail_verification(web, session, host, reason):
    with pytest.raises(requests.exceptions.SSLError, match=reason):
        get(session, f"https://{host}/")
    # ... while plain HTTP to the same host works, so it is the certificate that fails
    assert get(session, f"http://{host}/").status_code == 200


def test_unknown_hosts_fail_like_dns(web, session):
    with pytest.raises(requests.exceptions.ProxyError):
        get(session, "https://nonexistent.invalid/")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(session, "http://nonexistent.invalid/")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(session, "http://169.254.169.254/latest/meta-data/")
    port = int(web.proxy_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"CONNECT nonexistent.invalid:443 HTTP/1.1\r\nHost: nonexistent.invalid\r\n\r\n")
        assert read_all(s).startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET http://nonexistent.invalid/ HTTP/1.1\r\nHost: nonexistent.invalid\r\n\r\n")
        assert read_all(s) == b""
    assert len(web.hits) == 0


def test_direct_https_with_sni(web):
    ctx = ssl.create_default_context(cafile=web.ca_path)
    conn = http.client.HTTPSConnection("127.0.0.1", web.https_port, context=ctx, timeout=10)
    conn.request("GET", "/ok", headers={"Host": "private.test"})
    assert conn.getresponse().status == 200  # the leaf also covers 127.0.0.1
    conn.close()
    with (
        socket.create_connection(("127.0.0.1", web.https_port)) as raw,
        ctx.wrap_socket(raw, server_hostname="cases.test") as tls,
    ):
        tls.sendall(REQUEST % b"/plain")
        assert read_all(tls).startswith(b"HTTP/1.1 200 OK\r\n")


def test_state_switch_through_the_control_host(web, session):
    r = get(session, "http://fixture.control/state?set=later")
    assert (r.status_code, r.text.strip()) == (200, "later")
    assert web.state == "later"
    assert get(session, VEDOMOSTI).status_code == 451
    assert get(session, "http://fixture.control/state?set=never").status_code == 400
    assert get(session, "https://fixture.control/state?set=now").text.strip() == "now"
    assert all(hit.host != "fixture.control" for hit in web.hits)


def test_hits_record_what_the_origin_served(web, session):
    get(session, "https://cases.test/ok?x=1")
    session.head("http://www.bbc.com/", timeout=10)
    assert list(web.hits) == [("GET", "cases.test", "/ok?x=1"), ("HEAD", "www.bbc.com", "/")]
    assert web.hits.count(host="cases.test") == 1
    env = web.env()
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == web.proxy_url and env["NO_PROXY"] == ""
    assert env["REQUESTS_CA_BUNDLE"] == web.ca_path and Path(web.ca_path).is_file()


def test_stop_closes_every_port():
    web = start_web(state="later")
    ports = [web.http_port, web.https_port, int(web.proxy_url.rsplit(":", 1)[1])]
    ca = Path(web.ca_path)
    with web.session() as s:
        assert get(s, VEDOMOSTI).status_code == 451
    web.stop()
    web.stop()  # idempotent
    assert not ca.exists()
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


# -- the CLI -------------------------------------------------------------------------------


def test_cli_serve_ready_file_and_sigterm(tmp_path):
    ready = tmp_path / "web.json"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    command = ["serve", "--state", "later", "--ready-file", str(ready)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.web", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        info = json.loads(ready.read_text())
        assert json.loads(line) == info
        assert info["pid"] == proc.pid and Path(info["ca_path"]) == Path(str(ready) + ".ca.pem")
        with requests.Session() as s:
            s.trust_env = False
            s.proxies = {"http": info["proxy_url"], "https": info["proxy_url"]}
            s.verify = info["ca_path"]
            assert get(s, VEDOMOSTI).status_code == 451
            assert get(s, "http://fixture.control/state?set=now").text.strip() == "now"
            assert get(s, VEDOMOSTI).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert not ready.exists() and not Path(info["ca_path"]).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

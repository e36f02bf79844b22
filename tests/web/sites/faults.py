"""faults.test: hostile answers the fault suite (tests/test_faults.py) needs beyond cases.test.

- /chunked-cut: a chunked body whose connection closes in the middle of a chunk.
- /chunked-no-end: whole chunks, then a close without the last (zero) chunk.
- /gzip-broken-late: a gzip body that decodes for a while, then turns to garbage.
- /gzip-bomb?mb=N: a few hundred KB of gzip that inflate to N MiB of zeros.
- /malformed: markup a parser must survive (unclosed and stray tags, NULs, a bare '<').
- /hostile-title: a title with control characters, lone surrogate-looking bytes, quotes,
  a bidi override and markup, in a page that declares UTF-8 but is partly latin-1.
- /script-links: links and requisites whose URLs carry ``<script>`` and ``"`` and quotes.
- /redirect-to-mapped-v6, /redirect-to-decimal-ip, /redirect-to-localhost-name: SSRF
  bypasses seen in the wild (IPv4-mapped IPv6, 2130706433 = 127.0.0.1, a local name).
- /private-requisites: a page whose images point at loopback and metadata addresses.
- /noise?size=N&seed=S: N bytes that do not compress (a seeded PRNG), to fill disks.
- /bad-hosts: requisites and links whose host names are not host names (a 70-character
  label, an empty label, a space, a '<'); /redirect-to-bad-host: a Location like that.
- /unparseable-links: a <base> and links urllib cannot parse ("http://[::1": "Invalid
  IPv6 URL"); /redirect-unparseable: a Location like that.

Everything is deterministic: the same request always gets the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import random
import zlib

from tests.web.replies import HTML, Raw, RawIO, Reply, html, redirect
from tests.web.routing import Request, Site
from tests.web.sites.common import NOT_FOUND_TEXT

HOST = "faults.test"
BLOCK = 64 * 1024


def _page(title: str, words: int = 3000) -> bytes:
    text = " ".join(f"word{i % 97}" for i in range(words))
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    ).encode()


def _head(*fields: str) -> bytes:
    return ("\r\n".join(("HTTP/1.1 200 OK", *fields)) + "\r\n\r\n").encode()


CUT_BODY = _page("Cut chunked page")


def _chunked_cut(io: RawIO) -> None:
    io.send(_head("Content-Type: text/html; charset=utf-8", "Transfer-Encoding: chunked"))
    first, second = CUT_BODY[:4000], CUT_BODY[4000:]
    io.send(b"%x\r\n%s\r\n" % (len(first), first))
    # announce the rest, send a third of it, hang up
    io.send(b"%x\r\n%s" % (len(second), second[: len(second) // 3]))


def _chunked_no_end(io: RawIO) -> None:
    io.send(_head("Content-Type: text/html; charset=utf-8", "Transfer-Encoding: chunked"))
    for i in range(0, len(CUT_BODY), 3000):
        piece = CUT_BODY[i : i + 3000]
        io.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    # no "0\r\n\r\n": the server just closes


def _gzip_broken_late() -> bytes:
    """~180 KB of page in valid gzip, flushed to a block boundary, then an invalid block."""
    # hex words compress about 2:1, so the valid part outgrows one 16 KiB read block
    words = " ".join(hashlib.sha256(b"%d" % i).hexdigest()[:8] for i in range(40000))
    page = _page("Gzip broken late", words=10).replace(b"</p>", words.encode() + b"</p>")
    z = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    start = z.compress(page) + z.flush(zlib.Z_FULL_FLUSH)
    return start + b"\xff" * 64 + b"garbage, not deflate data" * 200  # 0xff: block type 3


GZIP_BROKEN_LATE = Reply(
    headers=(("Content-Type", HTML), ("Content-Encoding", "gzip")), body=_gzip_broken_late()
)


@functools.cache
def _bomb(mb: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(BLOCK)
    parts = [z.compress(zeros) for _ in range(mb * 16)]
    return b"".join(parts) + z.flush()


def gzip_bomb(request: Request) -> Reply:
    mb = int(min(4096, max(1, request.number("mb", 64))))
    return Reply(
        headers=(("Content-Type", HTML), ("Content-Encoding", "gzip")),
        body=_bomb(mb),
    )


MALFORMED = (
    b"<!DOCTYPE html><html><head><title>Malformed <b>page</title><title>Second title"
    b"<meta charset=utf-8><link rel=stylesheet href='/style.css\n<script>var a = '</scr' +"
    b" 'ipt>';</script></head><body><div><p>Unclosed <a href=/one>one<a href=\"/two\">two"
    b"</div></div></div></span></html><p>after html</p>\x00\x00 nul bytes <img src=/img.png"
    b" srcset=', , ,,' alt=x><img srcset='/a.png 1x,'><img src=\"\"><img src=' '>"
    b"<!-- an unterminated comment <a href=/hidden>hidden</a>"
    b" < a lone lt & an & amp &#xFFFFFF; &#0; &#xD800; <iframe src=javascript:alert(1)>"
    b"<object data=data:text/html,<script>alert(1)</script>></object>"
    b"<base href='http://[::1'><style>@import url(  );x{background:url()}</style>"
    + b"<div>" * 3000
    + b"deep"
)


def _hostile_title() -> bytes:
    title = (
        "Title \x00\x01\x1b[31m \u202eevil\u202c \u2028 \"quoted\" 'single' "
        "&amp; <b>bold</b> <script>alert('t')</script> ]]> --> {{ 7*7 }} ${x}"
    ).encode("utf-8")
    latin1 = "  Café naïve ".encode("latin-1")  # invalid as UTF-8
    return (
        b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + title
        + latin1
        + b"\xff\xfe\xed\xa0\x80</title></head><body><h1>Hostile title</h1>"
        + b"<p>"
        + b"Body text that is long enough to be the page. " * 40
        + b"</p></body></html>\n"
    )


SCRIPT_LINKS = (
    b"<!DOCTYPE html><html><head><title>Links with script tags</title>"
    b'<link rel="stylesheet" href="/s.css?&lt;script&gt;alert(1)&lt;/script&gt;">'
    b"</head><body><p>Links:</p>"
    b'<a href="/p?q=&lt;script&gt;alert(1)&lt;/script&gt;">one</a>'
    b'<a href="/p?q=%22%3E%3Cscript%3Ealert(2)%3C/script%3E">two</a>'
    b"<a href=\"javascript:alert('x')\">three</a>"
    b'<img src="/i.png?&quot;onerror=&quot;alert(3)">'
    b"</body></html>\n"
)


def _private_requisites(request: Request) -> Reply:
    port = request.ports.http
    images = "".join(
        f'<img src="{src}" alt="">'
        for src in (
            f"http://127.0.0.1:{port}/ok",
            f"http://localhost:{port}/ok",
            f"http://[::ffff:127.0.0.1]:{port}/ok",
            "http://169.254.169.254/latest/meta-data/",
            f"http://2130706433:{port}/ok",
            "/s.css",
        )
    )
    body = f"<h1>Private requisites</h1><p>{'Text of the page. ' * 60}</p>{images}"
    return html(
        "<!DOCTYPE html><html><head><title>Private requisites</title></head>"
        f"<body>{body}</body></html>\n"
    )


def noise(request: Request) -> Reply:
    size = int(min(2**30, max(0, request.number("size", 2**20))))
    data = random.Random(int(request.number("seed", 0))).randbytes(size)
    return Reply(headers=(("Content-Type", "application/octet-stream"),), body=data)


BAD_HOSTS = ("a" * 70 + ".example", "a..b.example", "ex ample.org", "ex<ample.org", "\u0080")


def _bad_hosts(_request: Request) -> Reply:
    tags = "".join(
        f'<img src="http://{h}/i.png"><a href="https://{h}/page">{i}</a>'
        for i, h in enumerate(BAD_HOSTS)
    )
    return html(
        "<!DOCTYPE html><html><head><title>Bad host names</title>"
        f'<link rel="stylesheet" href="http://{BAD_HOSTS[0]}/s.css"></head><body>'
        f'<p>{"Text of the page. " * 60}</p>{tags}<img src="/s.css"></body></html>\n'
    )


UNPARSEABLE = (
    "<!DOCTYPE html><html><head><title>Unparseable links</title>"
    '<base href="http://[x"><link rel="icon" href="http://[::1"></head><body>'
    + "<p>"
    + "Text of the page. " * 60
    + '</p><a href="a://[">one</a><img src="http://[::1"><img srcset="https://[ 2x">'
    + "<style>b{background:url(http://[)}</style></body></html>\n"
)


def _ok_page(title: str) -> Reply:
    return html(_page(title, words=400))


def _static(_request: Request) -> Reply:
    return Reply(headers=(("Content-Type", "text/css"),), body=b"body{color:#333}\n")


FAULTS = Site(
    hosts=(HOST,),
    routes={
        "/": _ok_page("faults.test"),
        "/ok": _ok_page("A plain page"),
        "/chunked-cut": Raw(_chunked_cut),
        "/chunked-no-end": Raw(_chunked_no_end),
        "/gzip-broken-late": GZIP_BROKEN_LATE,
        "/gzip-bomb": gzip_bomb,
        "/malformed": html(MALFORMED),
        "/hostile-title": html(_hostile_title()),
        "/script-links": html(SCRIPT_LINKS),
        "/s.css": _static,
        "/private-requisites": _private_requisites,
        "/noise": noise,
        "/bad-hosts": _bad_hosts,
        "/redirect-to-bad-host": redirect(f"http://{BAD_HOSTS[0]}/"),
        "/unparseable-links": html(UNPARSEABLE),
        "/redirect-unparseable": redirect("http://[::1"),
        "/redirect-to-mapped-v6": redirect("http://[::ffff:169.254.169.254]/latest/meta-data/"),
        "/redirect-to-decimal-ip": lambda r: redirect(f"http://2130706433:{r.ports.http}/ok"),
        "/redirect-to-localhost-name": lambda r: redirect(f"http://localhost:{r.ports.http}/ok"),
    },
    fallback=NOT_FOUND_TEXT,
)


SITES = (FAULTS,)

"""bench00.test … bench99.test: the sites the benchmarks in ``bench/`` run against.

Each host is a small news site. ``/article/N`` is an article page (~50 KB of HTML with
navigation, an inline script and related links) whose requisites are what a browser
would load: the site's stylesheet (with ``@import`` and ``url()`` children: print
stylesheet, web font, background image), its script and favicon — shared by every
article of the host — and the article's own stylesheet (with a ``url()`` hero image)
and five photos. 12 requests per page, ~0.8 MB, images incompressible like real JPEGs.

``/link/N`` is a ~15 KB page for link checking. In the "now" world every one answers
200; "later", 5 in 100 have rotted: 404 (2), 410, 500, or a 301 to ``/link/N/moved``
(the same N always answers the same way).

Every response waits 20–50 ms first (fixed per URL), like a real server's think time,
so a client that works one request at a time pays it on every request. ``/random``
streams incompressible bytes (``?size=N``) with no delay, for the large-body benchmark.
"""

from __future__ import annotations

import functools
import random
import time
import zlib
from collections.abc import Iterator
from html import escape

from tests.web.replies import Reply, html, redirect
from tests.web.routing import Request, Site

HOSTS = tuple(f"bench{i:02d}.test" for i in range(100))
DELAY_MS = (20, 50)
PHOTOS = 5
CSS = "text/css; charset=utf-8"
JS = "text/javascript; charset=utf-8"
BLOCK = 64 * 1024

_VOCABULARY = (
    "court ruling appeal post channel editor source archive report law prosecutor "
    "statement police minister journalist evidence video message network ruled "
    "access citizens protest region official decision sentence article publication "
    "the of and to in a that for on with as was by it from at an be this which"
)
_WORDS = tuple(_VOCABULARY.split())


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def _wait(request: Request) -> None:
    lo, hi = DELAY_MS
    time.sleep((lo + _crc(request.host + request.target) % (hi - lo + 1)) / 1000)


@functools.cache
def _pool() -> bytes:
    """8 MiB of fixed pseudo-random bytes: the flesh of every image (incompressible)."""
    return random.Random(20240601).randbytes(8 * 2**20)


def _opaque(name: str, size: int, magic: bytes) -> bytes:
    """``size`` incompressible bytes, different for every name, the same on every run."""
    pool = _pool()
    start = _crc(name) % (len(pool) - size)
    head = magic + name.encode() + b"\x00"
    return head + pool[start : start + size - len(head)]


def _asset(body: bytes | str, content_type: str) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(
        headers=(("Content-Type", content_type), ("Cache-Control", "max-age=86400")), body=data
    )


def _jpeg(name: str, lo: int, hi: int) -> Reply:
    size = lo + _crc(name) % (hi - lo)
    return _asset(_opaque(name, size, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "image/jpeg")


def _text(seed: str, words: int) -> str:
    rnd = random.Random(seed)
    return " ".join(rnd.choice(_WORDS) for _ in range(words))


# ------------------------------------------------------------------ shared per host


def _site_css(host: str) -> str:
    rules = "\n".join(
        f".block-{i} {{ margin: {i % 7}px {i % 5}em; color: #{_crc(host + str(i)) % 0xFFFFFF:06x};"
        f" padding: {i % 3}px; }}"
        for i in range(220)
    )
    return (
        '@import url("/static/print.css");\n'
        '@font-face { font-family: "Bench Serif"; src: url("/static/serif.woff2") '
        'format("woff2"); }\n'
        'body { font: 18px/1.6 "Bench Serif", Georgia, serif; }\n'
        '.site-header { background: #fff url("/static/bg.png") repeat-x; }\n' + rules + "\n"
    )


PRINT_CSS = "@media print { nav, aside, footer { display: none; } }\n"


def _app_js(host: str) -> str:
    lines = [f"// {host} front-end bundle"]
    lines += [
        f"function handler{i}(e) {{ var x = {i} * e.detail; return x + {_crc(host) % 97}; }}"
        for i in range(1200)
    ]
    return "\n".join(lines) + "\n"


def _shared(request: Request) -> Reply | None:
    host, path = request.host, request.path
    if path == "/static/site.css":
        return _asset(_site_css(host), CSS)
    if path == "/static/print.css":
        return _asset(PRINT_CSS, CSS)
    if path == "/static/app.js":
        return _asset(_app_js(host), JS)
    if path == "/static/serif.woff2":
        return _asset(_opaque(host + "/font", 30_000, b"wOF2"), "font/woff2")
    if path == "/static/bg.png":
        return _asset(_opaque(host + "/bg", 4_000, b"\x89PNG\r\n\x1a\n"), "image/png")
    if path == "/static/favicon.ico":
        return _asset(_opaque(host + "/ico", 2_000, b"\x00\x00\x01\x00"), "image/x-icon")
    return None


# ------------------------------------------------------------------ articles


def article_html(host: str, n: int) -> str:
    base = f"/article/{n}"
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(40))
    paragraphs = "\n".join(f"<p>{escape(_text(f'{host}{n}p{i}', 90))}</p>" for i in range(24))
    photos = "\n".join(
        f'<figure><img src="{base}/img/{k}.jpg" alt="photo {k}" loading="lazy">'
        f"<figcaption>{escape(_text(f'{host}{n}c{k}', 12))}</figcaption></figure>"
        for k in range(1, PHOTOS + 1)
    )
    related = "".join(
        f'<li><a href="/article/{n + k}">{escape(_text(f"{host}{n}r{k}", 8))}</a></li>'
        for k in range(1, 21)
    )
    state = escape(_text(f"{host}{n}state", 4500))
    title = f"Article {n} on {host}: " + _text(f"{host}{n}t", 6)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{escape(title)}">
<link rel="canonical" href="https://{host}{base}">
<link rel="stylesheet" href="/static/site.css">
<link rel="stylesheet" href="{base}/style.css">
<link rel="icon" href="/static/favicon.ico">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="site-header"><a class="logo" href="/">{host}</a><nav><ul>{nav}</ul></nav></header>
<main>
<article>
<h1>{escape(title)}</h1>
<p class="byline">By A. Reporter, <time datetime="2024-05-01">2024-05-01</time></p>
<div class="hero"></div>
{paragraphs}
{photos}
</article>
<aside class="related"><h2>Read more</h2><ul>{related}</ul></aside>
</main>
<footer><p>&copy; {host}</p><a href="/about">About</a> <a href="/privacy">Privacy</a></footer>
<script type="application/json" id="state">{{"words": "{state}"}}</script>
</body>
</html>
"""


def _article(request: Request) -> Reply:
    parts = request.path.strip("/").split("/")  # article, N[, …]
    if len(parts) < 2 or not parts[1].isdigit():
        return NOT_FOUND
    n, rest = int(parts[1]), "/".join(parts[2:])
    name = f"{request.host}/article/{n}"
    if rest == "":
        return html(article_html(request.host, n))
    if rest == "style.css":
        css = '.hero { background: url("hero.jpg") center / cover; height: 420px; }\n'
        return _asset(css + f"/* {name} */\n", CSS)
    if rest == "hero.jpg":
        return _jpeg(name + "/hero", 150_000, 250_000)
    if rest.startswith("img/") and rest.removeprefix("img/").removesuffix(".jpg").isdigit():
        return _jpeg(name + "/" + rest, 40_000, 120_000)
    return NOT_FOUND


# ------------------------------------------------------------------ link checking


def _link(request: Request) -> Reply:
    tail = request.path.removeprefix("/link/")
    n_text, _, rest = tail.partition("/")
    if not n_text.isdigit():
        return NOT_FOUND
    n = int(n_text)
    if rest == "moved":
        return _link_page(request.host, n)
    if rest:
        return NOT_FOUND
    kind = n % 100 if request.state == "later" else -1
    if kind in (7, 57):
        return html(_small(f"{request.host}: page not found", "Not found."), status=404)
    if kind == 29:
        return html(_small(f"{request.host}: gone", "This page was removed."), status=410)
    if kind == 31:
        return html(_small(f"{request.host}: error", "Internal error."), status=500)
    if kind == 13:
        return redirect(f"/link/{n}/moved", status=301)
    return _link_page(request.host, n)


def _small(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"</head><body><h1>{escape(title)}</h1><p>{escape(body)}</p></body></html>\n"
    )


def _link_page(host: str, n: int) -> Reply:
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(30))
    paragraphs = "\n".join(
        f"<p>{escape(_text(f'{host}/link/{n}/{i}', 120))}</p>" for i in range(18)
    )
    title = f"Page {n} on {host}: " + _text(f"{host}/link/{n}/t", 5)
    return html(
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body>\n<header><nav><ul>{nav}</ul></nav>"
        f"</header>\n<main><article><h1>{escape(title)}</h1>\n{paragraphs}\n</article></main>"
        f"\n<footer><p>&copy; {host}</p></footer></body></html>\n"
    )


# ------------------------------------------------------------------ large bodies


def _random_body(request: Request) -> Reply:
    size = max(0, int(request.number("size", 2**20)))

    def blocks() -> Iterator[bytes]:
        pool, sent = _pool(), 0
        while sent < size:
            start = (sent * 7 + 12345) % (len(pool) - BLOCK)  # never a 32 KiB-near repeat
            piece = pool[start : start + min(BLOCK, size - sent)]
            sent += len(piece)
            yield piece

    return Reply(
        headers=(("Content-Type", "application/octet-stream"), ("Content-Length", str(size))),
        stream=blocks,
    )


NOT_FOUND = html(_small("Not found", "No such page."), status=404)


def _route(request: Request) -> Reply:
    if request.path == "/random":
        return _random_body(request)
    _wait(request)
    shared = _shared(request)
    if shared is not None:
        return shared
    if request.path.startswith("/article/"):
        return _article(request)
    if request.path.startswith("/link/"):
        return _link(request)
    return NOT_FOUND


BENCH = Site(hosts=HOSTS, routes={}, prefixes=(("/", _route),), fallback=_route)

SITES = (BENCH,)

__all__ = ["HOSTS", "SITES", "article_html"]

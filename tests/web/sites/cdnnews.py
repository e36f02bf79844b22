"""news00.test … news19.test and cdn.news.test: news sites sharing one CDN host.

The shape of most real outlets: ``/article/N`` on a news host loads its own photo
(``/photo/N.jpg`` on the same host) plus a stylesheet, a script and two images from the
shared CDN host; the stylesheet loads a web font from the CDN too. 7 requests a page,
5 of them distinct CDN files shared by every page of every host.

Every response waits ``DELAY`` seconds (30 ms; ``?ms=`` on a page changes the wait of
the page and of every requisite it names, which then carry the same ``?ms=``;
``?with=gone`` adds a CDN image that answers 404) while
counted in flight for its host: `IN_FLIGHT` keeps each host's peak, so a test
can prove per-host concurrency held (`IN_FLIGHT.reset()` first, `IN_FLIGHT.peak(host)`
after). Used by ``bench/cdn.py`` and the requisite reuse tests.
"""

from __future__ import annotations

import time
from html import escape

from tests.web.replies import Reply, html
from tests.web.routing import Request, Site
from tests.web.sites.bench import _opaque
from tests.web.sites.fleet import InFlight

HOSTS = tuple(f"news{i:02d}.test" for i in range(20))
CDN = "cdn.news.test"
DELAY = 0.03
MAX_MS = 5000
CDN_FILES = ("/site.css", "/app.js", "/serif.woff2", "/logo.png", "/banner.jpg")

IN_FLIGHT = InFlight()

SITE_CSS = (
    '@font-face { font-family: "News Serif"; src: url("/serif.woff2") format("woff2"); }\n'
    'body { font: 18px/1.6 "News Serif", Georgia, serif; }\n'
)
APP_JS = "".join(f"function f{i}(x) {{ return x + {i}; }}\n" for i in range(400))


def _wait(request: Request) -> None:
    seconds = min(MAX_MS, max(0.0, request.number("ms", DELAY * 1000))) / 1000
    IN_FLIGHT.enter(request.host)
    try:
        time.sleep(seconds)
    finally:
        IN_FLIGHT.leave(request.host)


def _asset(body: bytes | str, content_type: str) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(
        headers=(("Content-Type", content_type), ("Cache-Control", "max-age=86400")), body=data
    )


def article_html(host: str, n: str, query: str = "", gone: bool = False) -> str:
    title = f"Report {n} from {host}"
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        f'<link rel="stylesheet" href="https://{CDN}/site.css{query}">'
        f'<script src="https://{CDN}/app.js{query}"></script></head><body>'
        f'<header><img src="https://{CDN}/logo.png{query}" alt="logo"></header>'
        f"<h1>{title}</h1><p>The court heard the appeal against the ruling; the press "
        f"office of {host} published the statement on the decision.</p>"
        f'<figure><img src="/photo/{n}.jpg{query}" alt="photo"></figure>'
        f'<aside><img src="https://{CDN}/banner.jpg{query}" alt="banner"></aside>'
        + (f'<img src="https://{CDN}/gone.png" alt="gone">' if gone else "")
        + "</body></html>"
    )


def article(request: Request) -> Reply:
    n = escape(request.path.rsplit("/", 1)[-1])
    _wait(request)
    ms = request.query.get("ms")
    query = f"?ms={int(request.number('ms', 0))}" if ms is not None else ""
    return html(article_html(request.host, n, query, gone=request.query.get("with") == "gone"))


def photo(request: Request) -> Reply:
    _wait(request)
    name = request.host + request.path
    return _asset(_opaque(name, 20_000, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "image/jpeg")


def _cdn(path: str, body: bytes | str, content_type: str):
    def answer(request: Request) -> Reply:
        _wait(request)
        return _asset(body, content_type)

    return answer


NEWS = Site(
    hosts=HOSTS,
    routes={},
    prefixes=(("/article/", article), ("/photo/", photo)),
    fallback=html("<html><body>Not here</body></html>", status=404),
)

CDN_SITE = Site(
    hosts=(CDN,),
    routes={
        "/site.css": _cdn("/site.css", SITE_CSS, "text/css"),
        "/app.js": _cdn("/app.js", APP_JS, "text/javascript"),
        "/serif.woff2": _cdn("/serif.woff2", _opaque("cdn/font", 30_000, b"wOF2"), "font/woff2"),
        "/logo.png": _cdn(
            "/logo.png", _opaque("cdn/logo", 4_000, b"\x89PNG\r\n\x1a\n"), "image/png"
        ),
        "/banner.jpg": _cdn(
            "/banner.jpg", _opaque("cdn/banner", 40_000, b"\xff\xd8\xff\xe0"), "image/jpeg"
        ),
    },
    fallback=html("<html><body>Not here</body></html>", status=404),
)

SITES = (NEWS, CDN_SITE)

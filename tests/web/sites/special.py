"""Hosts that exist for one property: soft 404s, bad certificates, loopback, control.

- soft404.test answers 200 with the same "not found" page for every path but one.
- sameanswer.test answers 200 with one wordless page for every path (issue 17).
- *.badssl.test serve an ordinary page; what matters is the certificate (see tls.py).
- private.test / localhost / 127.0.0.1: a page for SSRF tests to (fail to) reach.
- fixture.control: switches the world from another process (``/state?set=later``).
"""

from __future__ import annotations

import json

from tests.web.assets import publisher_assets
from tests.web.pages import Publisher, Story, article_page, simple_page, summary
from tests.web.replies import Reply, html, text
from tests.web.routing import Request, Site
from tests.web.sites import texts_en
from tests.web.sites.common import NOT_FOUND_TEXT
from tests.web.tls import EXPIRED_HOST, UNTRUSTED_HOST, WRONG_HOST
from tests.web.world import STATES

LIBRARY = Publisher(
    name="Regional Library News",
    origin="https://soft404.test",
    static="/assets",
    lang="en",
    nav=(("Collections", "/collections"), ("Events", "/events"), ("Visit", "/visit")),
    tagline="News from the regional library",
)

SOFT_404 = html(
    simple_page(
        title="Page not found - Regional Library News",
        body="""<div class="error-page">
<h1>Sorry, we couldn't find that page</h1>
<p>The page you are looking for may have been moved or deleted. Try the search, or go back
to the <a href="/">home page</a>.</p>
<form action="/search"><input name="q" aria-label="Search"><button>Search</button></form>
</div>""",
    )
)

REAL_ARTICLE = html(
    article_page(
        LIBRARY,
        Story(
            url="https://soft404.test/real-article",
            title="A Century of Local Newspapers Is Now Online",
            description=summary(texts_en.SOFT404_REAL),
            author="Library staff",
            published="2024-03-02T12:00:00+00:00",
            paragraphs=texts_en.SOFT404_REAL,
            caption="Bound volumes of the town gazette",
        ),
    )
)

SOFT404 = Site(
    hosts=("soft404.test",),
    routes={
        "/real-article": REAL_ARTICLE,
        **{f"/assets{path}": reply for path, reply in publisher_assets("soft404.test").items()},
    },
    fallback=SOFT_404,  # every other path, "/" included: a classic soft 404
)


def _plain_site(hosts: tuple[str, ...], title: str) -> Site:
    page = html(simple_page(title=title, body=f"<h1>{title}</h1>\n<p>It works.</p>"))
    return Site(hosts=hosts, routes={"/": page, "/ok": page}, fallback=NOT_FOUND_TEXT)


BADSSL = tuple(_plain_site((host,), host) for host in (EXPIRED_HOST, WRONG_HOST, UNTRUSTED_HOST))
LOOPBACK = _plain_site(("private.test", "localhost", "127.0.0.1"), "Private service")


def state(request: Request) -> Reply:
    wanted = request.query.get("set")
    if wanted is None:
        return text(request.state + "\n")
    if wanted not in STATES:
        return text(f"state must be one of {', '.join(STATES)}\n", status=400)
    return text(request.world.set_state(wanted) + "\n")


def reset(request: Request) -> Reply:
    request.world.reset()
    return text(request.state + "\n")


def hits(request: Request) -> Reply:
    body = json.dumps([list(hit) for hit in request.world.hits], ensure_ascii=False)
    return Reply(headers=(("Content-Type", "application/json"),), body=body.encode())


CONTROL = Site(
    hosts=("fixture.control",),
    routes={"/state": state, "/reset": reset, "/hits": hits},
    fallback=NOT_FOUND_TEXT,
)

# Issue 17: every path answers 200 with the same short page and no telling words, so
# neither the page's wording nor a comparison with its own snapshot can unmask it.
SAME_ANSWER = Site(
    hosts=("sameanswer.test",),
    routes={},
    fallback=html(
        simple_page(
            title="Harbour Gazette",
            body="<h1>Harbour Gazette</h1>\n<p>Try the search, or browse today's stories.</p>\n"
            '<form action="/search"><input name="q"></form>',
        )
    ),
)

SITES = (SOFT404, *BADSSL, LOOPBACK, CONTROL, SAME_ANSWER)

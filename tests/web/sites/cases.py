"""cases.test: one path, one behaviour (statuses, redirects; see also cases_wire/_pages).

Every status page carries a small HTML body, as real servers' error pages do. Counters
(``/flaky``) live in the `World`, so ``web.reset()`` starts them over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tests.web.pages import simple_page
from tests.web.replies import Reply, html, redirect, text
from tests.web.routing import Request, Route, Site
from tests.web.sites import cases_pages, cases_wire
from tests.web.sites.common import BLOCK_PAGE

HOST = "cases.test"
CONSENT_HOST = "consent.cases.test"  # a consent host, as consent.google.com is Google's


def status_page(status: int, title: str, *, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    body = simple_page(title=f"{status} {title}", body=f"<h1>{status} {title}</h1>")
    return html(body, status=status, headers=headers)


def _retry(status: int, title: str) -> Route:
    def route(request: Request) -> Reply:
        seconds = int(request.number("retry", 1))
        return status_page(status, title, headers=(("Retry-After", str(seconds)),))

    return route


def too_many_date(request: Request) -> Reply:
    # RFC 9110 §10.2.3: Retry-After may be an HTTP-date instead of seconds.
    when = datetime.now(UTC) + timedelta(seconds=request.number("in", 2))
    retry = format_datetime(when, usegmt=True)
    return status_page(429, "Too Many Requests", headers=(("Retry-After", retry),))


def flaky(request: Request) -> Reply:
    if request.world.bump(f"{HOST}/flaky") == 1:
        return status_page(503, "Service Unavailable")
    return cases_pages.OK


def redirect_hops(request: Request) -> Reply:
    """/redirect/N: N 302 hops (/redirect/N-1 … /redirect/1 → /ok)."""
    tail = request.path.removeprefix("/redirect/")
    if not tail.isdigit():
        return status_page(404, "Not Found")
    hops = int(tail)
    if hops == 0:
        return cases_pages.OK
    return redirect("/ok" if hops == 1 else f"/redirect/{hops - 1}")


def to_localhost(request: Request) -> Reply:
    return redirect(f"http://127.0.0.1:{request.ports.http}/ok")


STATUS_ROUTES: dict[str, Route] = {
    "/plain": text("Plain text body.\nSecond line.\n"),
    "/429": _retry(429, "Too Many Requests"),
    "/429-date": too_many_date,
    "/503": _retry(503, "Service Unavailable"),
    "/500": status_page(500, "Internal Server Error"),
    "/502": status_page(502, "Bad Gateway"),
    "/403": status_page(403, "Forbidden"),
    "/404": status_page(404, "Not Found"),
    "/410": status_page(410, "Gone"),
    "/451": html(BLOCK_PAGE, status=451),
    "/flaky": flaky,
}

REDIRECT_ROUTES: dict[str, Route] = {
    "/redirect-301": redirect("/ok", status=301),
    "/redirect-307": redirect("/ok", status=307),
    "/redirect-308": redirect("/ok", status=308),
    "/loop/a": redirect("/loop/b"),
    "/loop/b": redirect("/loop/a"),
    "/redirect-relative": redirect("ok"),  # resolves against /redirect-relative → /ok
    "/redirect-to-root": redirect("/"),
    "/redirect-to-localhost": to_localhost,
    "/redirect-to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
    "/redirect-to-file": redirect("file:///etc/passwd"),
    "/redirect-other-host": redirect("https://www.bbc.com/russian/news-45188838"),
    # a story URL sent to another host's "accept cookies" page (issue 17)
    "/to-consent": redirect(
        f"https://{CONSENT_HOST}/m?continue=https%3A%2F%2Fcases.test%2Fto-consent"
    ),
}


def home(_request: Request) -> Reply:
    paths = sorted({*CASES.routes, "/redirect/3"} - {"/"})
    items = "\n".join(f'<li><a href="{path}">{path}</a></li>' for path in paths)
    return html(simple_page(title=HOST, body=f"<h1>Test cases</h1>\n<ul>\n{items}\n</ul>"))


CASES = Site(
    hosts=(HOST,),
    routes={
        "/": home,
        **STATUS_ROUTES,
        **REDIRECT_ROUTES,
        **cases_wire.ROUTES,
        **cases_pages.ROUTES,
    },
    prefixes=(("/redirect/", redirect_hops),),
    fallback=status_page(404, "Not Found"),
)

# Every path: the consent dialog a story redirect lands on
CONSENT_SITE = Site(hosts=(CONSENT_HOST,), routes={}, fallback=html(cases_pages.CONSENT))

SITES = (CASES, CONSENT_SITE)

"""cases.test pages: an article, requisites of every kind, walls, hostile markup, drift.

``/page-with-requisites`` links a requisite in each way a page can (stylesheet, @import,
url() in CSS, a style attribute and a <style> block, srcset, <picture>, <video> poster and
source, an iframe with its own image, a favicon), each served with its own type.
"""

from __future__ import annotations

from tests.web.assets import CSS, JS, MP4, WEBP, WOFF2, asset, ico, image, publisher_assets
from tests.web.pages import Publisher, Story, article_page, simple_page, summary
from tests.web.replies import Reply, html, redirect
from tests.web.routing import by_state
from tests.web.sites import texts_en

GAZETTE = Publisher(
    name="Riverside Gazette",
    origin="https://cases.test",
    static="/assets",  # same host, whichever scheme the page came over
    lang="en",
    nav=(("City", "/city"), ("Transport", "/transport"), ("Culture", "/culture")),
    tagline="Local news from both banks of the river",
)


def _story(path: str, title: str, paragraphs: tuple[str, ...]) -> Story:
    return Story(
        url=f"https://cases.test{path}",
        title=title,
        description=summary(paragraphs),
        author="Anna Novak",
        published="2024-05-14T09:30:00+00:00",
        paragraphs=paragraphs,
        caption="The old ferry landing on the east bank",
    )


def article(path: str, title: str, paragraphs: tuple[str, ...]) -> Reply:
    return html(article_page(GAZETTE, _story(path, title, paragraphs)))


FERRY = "City Council Votes to Bring Back the River Ferry"
SWIFTS = "Swifts Return to the Old Town as Nest Boxes Fill Up"
OK = article("/ok", FERRY, texts_en.CASE_ARTICLE)

REQUISITES_PAGE = simple_page(
    title="Page with requisites",
    head="""<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/favicon.ico">
<script src="/static/app.js"></script>
<style>
.banner { background-image: url("/static/style-block.png"); }
</style>
""",
    body="""<h1>Page with requisites</h1>
<div class="banner" style="background:url('/static/inline.png')">Banner</div>
<p>An image with density variants:</p>
<img src="/static/a.png" srcset="/static/a-2x.png 2x, /static/a-3x.png 3x" alt="a">
<picture><source srcset="/static/b.webp" type="image/webp"><img src="/static/b.png" alt="b">
</picture>
<video poster="/static/poster.png" controls><source src="/static/v.mp4" type="video/mp4">
</video>
<iframe src="/frame" title="frame"></iframe>""",
)

FRAME = simple_page(title="Frame", body='<p>Framed content</p>\n<img src="/static/frame-img.png">')

STYLE_CSS = """\
@import url("/static/more.css");
@font-face { font-family: "Fixture"; src: url(/static/font.woff2) format("woff2"); }
body { font-family: "Fixture", sans-serif; background: #fff url(/static/bg.png) repeat; }
"""

STATIC = {
    "/static/style.css": asset(STYLE_CSS, CSS),
    "/static/more.css": asset(".deep { background: url(/static/deep.png); }\n", CSS),
    "/static/app.js": asset('document.documentElement.className += " js";\n', JS),
    "/static/font.woff2": asset(WOFF2, "font/woff2"),
    "/static/b.webp": asset(WEBP, "image/webp"),
    "/static/v.mp4": asset(MP4, "video/mp4"),
    "/favicon.ico": asset(ico("cases.test"), "image/x-icon"),
    **{
        f"/static/{name}.png": image(f"cases.test/{name}")
        for name in (
            "bg",
            "deep",
            "a",
            "a-2x",
            "a-3x",
            "b",
            "poster",
            "frame-img",
            "inline",
            "style-block",
        )
    },
    **{f"/assets{path}": reply for path, reply in publisher_assets("cases.test").items()},
}

# The title text is literally the script tag; escaped, so it never runs.
XSS = simple_page(
    title="<script>alert(1)</script>",
    body="""<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>
<p><a href="javascript:alert(1)">click me</a></p>
<p><a href="https://cases.test/&lt;script&gt;">a path with a tag</a></p>
<p onmouseover="alert(1)">Hover text.</p>""",
)

BOT_WALL = simple_page(
    title="Just a moment...",
    head='<meta name="robots" content="noindex,nofollow">\n',
    body="""<div class="main-wrapper" role="main">
<h1>Checking your browser before accessing cases.test.</h1>
<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>
<div id="challenge-form"><p>Please complete the CAPTCHA to continue.</p>
<div class="g-recaptcha" data-sitekey="fixture-site-key"></div></div>
<p>Please allow up to 5 seconds&hellip;</p>
<p class="ray-id">Ray ID: 0123456789abcdef</p>
</div>""",
)

CONSENT = simple_page(
    title="Before you continue",
    body="""<div class="consent-wall" role="dialog" aria-modal="true">
<h1>We value your privacy</h1>
<p>We and our 842 partners store and access information on your device, such as cookies,
and process personal data for personalised advertising and content, measurement and
audience insights. You can accept, or manage your choices below.</p>
<form method="post" action="/consent/accept"><button type="submit">Accept all</button>
<button type="submit" name="reject" value="1">Reject all</button></form>
<p><a href="/consent/manage">Manage options</a></p>
</div>""",
)


# eight images, each answered after 0.4 s: 3.2 s of requisites, one after another
SLOW_REQUISITES_PAGE = simple_page(
    title="Slow requisites",
    body="".join(f'<img src="/delay?ms=400&amp;n={i}" alt="">' for i in range(8)),
)


ROUTES = {
    "/ok": OK,
    "/page-with-slow-requisites": html(SLOW_REQUISITES_PAGE),
    "/page-with-requisites": html(REQUISITES_PAGE),
    "/frame": html(FRAME),
    "/xss": html(XSS),
    "/bot-wall": html(BOT_WALL),
    "/consent": html(CONSENT),
    "/later-drift": by_state(
        now=article("/later-drift", FERRY, texts_en.CASE_ARTICLE),
        later=article("/later-drift", SWIFTS, texts_en.DRIFT_AFTER),
    ),
    "/later-moved": by_state(
        now=article("/later-moved", FERRY, texts_en.CASE_ARTICLE),
        later=redirect("/moved-here", status=301),
    ),
    "/moved-here": article("/moved-here", FERRY, texts_en.CASE_ARTICLE),
    **STATIC,
}

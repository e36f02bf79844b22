"""news.example.test: a publication with RSS and Atom feeds, for article intake.

- ``/rss.xml`` (RSS 2.0, ETag + Last-Modified, answers 304 to a matching conditional
  GET): stories 1 and 2 in the "now" world; story 3 joins them "later".
- ``/atom.xml`` (Atom 1.0, ETag): story 1 again (the same article from a second feed)
  and story 4, whose link is relative to the feed's ``xml:base``.
- ``/modified.xml`` (Last-Modified only, 304 to If-Modified-Since): story 2.
- ``/retracted.xml``: a retracted story whose page is 404, and story 4.
- ``/broken.xml``: not well-formed XML "now", a valid feed (story 5) "later".
- ``/error.xml``: 500. ``/slow.xml?s=N``: a valid feed after N seconds (default 3).
- ``/ssrf.xml``: entries linking to loopback and cloud-metadata addresses.
- ``/page.html``: an HTML page, not a feed.

Story pages carry navigation, a "read more" aside and a footer linking around the site:
only the links inside ``<article>`` (story 2: inside ``<main>``, a page without
``<article>``) are citations. They cite pages on records.example.test, which answers
every path with a small page.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from html import escape

from tests.web.pages import Publisher, Story, article_page, linked, simple_page, summary
from tests.web.replies import Reply, html, text
from tests.web.routing import Request, Site, by_state
from tests.web.sites.common import NOT_FOUND_TEXT, static_site

HOST = "news.example.test"
ORIGIN = f"https://{HOST}"
STATIC = "static.news.example.test"
RECORDS = "records.example.test"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

NEWS = Publisher(
    name="Example News",
    origin=ORIGIN,
    static=f"https://{STATIC}",
    lang="en",
    nav=(("Politics", "/politics"), ("World", "/world"), ("Opinion", "/opinion")),
    tagline="Independent reporting since 1999",
)


def _story(n: int, slug: str, title: str, paragraphs: tuple[str, ...]) -> Story:
    return Story(
        url=f"{ORIGIN}/2024/05/0{n}/{slug}.html",
        title=title,
        description=summary(paragraphs),
        author="Staff reporter",
        published=f"2024-05-0{n}T09:00:00+00:00",
        paragraphs=paragraphs,
        caption="A courthouse",
    )


S1 = _story(
    1,
    "court-upholds-fine",
    "Court upholds fine for reposting a meme",
    (
        "The regional court upheld the fine on Tuesday, according to the "
        f"[published ruling](https://{RECORDS}/rulings/2024-117).",
        "The ministry repeated its position in a "
        f"[statement](https://{RECORDS}/statements/ministry-0501) the same evening.",
        "Lawyers for the defendant said they would appeal.",
    ),
)
S2 = _story(
    2,
    "blogger-detained",
    "Blogger detained after a livestream",
    (
        "Police detained the blogger hours after the stream ended, as the "
        f"[arrest record](https://{RECORDS}/records/detention-0502) shows.",
        f"Her channel had [warned followers](https://{RECORDS}/posts/warning-0502) a day before.",
    ),
)
S3 = _story(
    3,
    "channel-blocked",
    "Regulator blocks a news channel",
    (
        "The regulator added the channel to its register, according to the "
        f"[blocking report](https://{RECORDS}/reports/blocking-2024).",
    ),
)
S4 = _story(
    4,
    "archive-closes",
    "Local archive closes its reading room",
    (
        "The archive announced the closure in a "
        f"[notice](https://{RECORDS}/notices/reading-room) posted on its door.",
    ),
)
S5 = _story(
    5,
    "feed-fixed",
    "Publisher restores its feed",
    (f"The outage was [explained](https://{RECORDS}/statements/outage-0505) on Sunday.",),
)
RETRACTED_URL = f"{ORIGIN}/2024/05/06/retracted.html"

# Outside <article>: the related-stories aside (inside <main>), nav and footer.
RELATED = (("Earlier coverage of the case", f"{ORIGIN}/2024/04/30/first-hearing.html"),)


def _main_only_page(story: Story) -> str:
    """Story 2's page: the story in <main>, with no <article> element."""
    nav = "".join(
        f'<li><a href="{ORIGIN}{path}">{escape(label)}</a></li>' for label, path in NEWS.nav
    )
    paragraphs = "\n".join(f"<p>{linked(p)}</p>" for p in story.paragraphs)
    body = f"""<header><a href="{ORIGIN}/">Example News</a><nav><ul>{nav}</ul></nav></header>
<main>
<h1>{escape(story.title)}</h1>
{paragraphs}
</main>
<footer><a href="{ORIGIN}/about">About</a>
<a href="https://social.example.test/examplenews">Follow us</a></footer>"""
    head = f'<link rel="canonical" href="{story.url}">\n'
    return simple_page(title=f"{story.title} - Example News", body=body, head=head)


def _path(story: Story) -> str:
    return story.url.removeprefix(ORIGIN)


STORY_PAGES = {
    _path(S1): html(article_page(NEWS, S1, related=RELATED)),
    _path(S2): html(_main_only_page(S2)),
    **{_path(s): html(article_page(NEWS, s, related=RELATED)) for s in (S3, S4, S5)},
}


# ------------------------------------------------------------------ feeds


def _rss(items: list[tuple[Story | None, str]], *, title: str = "Example News") -> bytes:
    """RSS 2.0; each item is (story, link) — a None story is a bare title."""
    parts = []
    for story, link in items:
        name = story.title if story else "Retracted story"
        guid = link if story is None else f"{ORIGIN}/?p={story.published[8:10]}"
        parts.append(
            f"<item><title>{escape(name)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{escape(guid)}</guid>'
            f"<pubDate>{_rfc822(story)}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{ORIGIN}/</link>"
        f"<description>{escape(NEWS.tagline)}</description>{''.join(parts)}"
        "</channel></rss>\n"
    ).encode()


def _rfc822(story: Story | None) -> str:
    day = story.published[8:10] if story else "06"
    return f"Thu, {day} May 2024 09:00:00 GMT"


def _atom() -> bytes:
    entries = []
    for story, href in ((S4, _path(S4).lstrip("/")), (S1, S1.url)):
        entries.append(
            f"<entry><title>{escape(story.title)}</title><id>tag:{HOST},2024:{_path(story)}</id>"
            f'<link rel="alternate" type="text/html" href="{escape(href)}"/>'
            f"<updated>{story.published}</updated><summary>{escape(story.description)}</summary>"
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{ORIGIN}/">'
        f"<title>Example News</title><id>tag:{HOST},2024:feed</id>"
        f'<link rel="self" href="{ORIGIN}/atom.xml"/><updated>2024-05-04T09:00:00Z</updated>'
        f"{''.join(entries)}</feed>\n"
    ).encode()


def _not_modified(request: Request, etag: str | None, last_modified: str) -> bool:
    """RFC 9110 §13.1.1-13.1.3: If-None-Match wins; If-Modified-Since otherwise."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return etag is not None and (
            inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]
        )
    ims = request.headers.get("if-modified-since")
    if not ims:
        return False
    try:
        return parsedate_to_datetime(ims) >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False


def conditional(body: bytes, ctype: str, *, etag: str | None, last_modified: str):
    validators = (("Last-Modified", last_modified),) + ((("ETag", etag),) if etag else ())

    def route(request: Request) -> Reply:
        if _not_modified(request, etag, last_modified):
            return Reply(status=304, headers=validators)
        return Reply(headers=(("Content-Type", ctype), *validators), body=body)

    return route


RSS_NOW = _rss([(S2, S2.url), (S1, S1.url)])
RSS_LATER = _rss([(S3, S3.url), (S2, S2.url), (S1, S1.url)])
BROKEN = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Example News</title><item><title>Half an item</title>"
    b"<link>https://news.example.test/2024/05/0"
)


def slow(request: Request) -> Reply:
    time.sleep(min(60.0, max(0.0, request.number("s", 3))))
    return Reply(headers=(("Content-Type", RSS_TYPE),), body=_rss([(S1, S1.url)]))


FEEDS = {
    "/rss.xml": by_state(
        now=conditional(RSS_NOW, RSS_TYPE, etag='"rss-now"', last_modified=_rfc822(S2)),
        later=conditional(RSS_LATER, RSS_TYPE, etag='"rss-later"', last_modified=_rfc822(S3)),
    ),
    "/atom.xml": conditional(_atom(), ATOM_TYPE, etag='"atom-1"', last_modified=_rfc822(S4)),
    "/modified.xml": conditional(
        _rss([(S2, S2.url)]), RSS_TYPE, etag=None, last_modified=_rfc822(S2)
    ),
    "/retracted.xml": Reply(
        headers=(("Content-Type", RSS_TYPE),), body=_rss([(None, RETRACTED_URL), (S4, S4.url)])
    ),
    "/broken.xml": by_state(
        now=Reply(headers=(("Content-Type", RSS_TYPE),), body=BROKEN),
        later=Reply(headers=(("Content-Type", RSS_TYPE),), body=_rss([(S5, S5.url)])),
    ),
    "/error.xml": text("Internal Server Error\n", status=500),
    "/slow.xml": slow,
    "/ssrf.xml": Reply(
        headers=(("Content-Type", RSS_TYPE),),
        body=_rss([(S1, "http://127.0.0.1/admin"), (S2, "http://169.254.169.254/latest/")]),
    ),
}

FRONT = html(
    simple_page(
        title="Example News",
        body=f'<h1>Example News</h1><ul><li><a href="{S1.url}">{escape(S1.title)}</a></li></ul>',
        head=f'<link rel="alternate" type="application/rss+xml" href="{ORIGIN}/rss.xml">\n',
    )
)


def record(request: Request) -> Reply:
    """records.example.test: a small page for any path (the stories' sources)."""
    name = request.path.strip("/").replace("/", " ") or "index"
    return html(
        simple_page(
            title=f"Record {name}",
            body=f"<h1>Record {escape(name)}</h1>\n<p>The text of record {escape(name)}.</p>",
        )
    )


NEWS_SITE = Site(
    hosts=(HOST,),
    routes={"/": FRONT, "/page.html": FRONT, **FEEDS, **STORY_PAGES},
    fallback=NOT_FOUND_TEXT,
)
RECORDS_SITE = Site(hosts=(RECORDS,), routes={}, fallback=record)

SITES = (NEWS_SITE, RECORDS_SITE, static_site(STATIC, HOST))

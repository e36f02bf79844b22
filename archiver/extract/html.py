"""Citations in HTML: links inside the article body, resolved against <base>."""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from archiver import urls
from archiver.extract.common import (
    _NON_CITATION_SCHEMES,
    Extraction,
    _clip,
    _Collector,
    _sha256,
    _squash,
)

_BLOCKS = ["p", "li", "td", "th", "blockquote", "figcaption", "dd", "h1", "h2", "h3", "h4", "h5"]
_CHROME = ["nav", "header", "footer", "aside", "script", "style", "noscript", "form"]

# what we parse is always markup (an article or a fetched page), even when it is short
# and looks like a file name or a URL: bs4's warning about that is noise here
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)


def _article_body(soup: BeautifulSoup):
    """The element holding the article: <article>, <main>, [role=main], else <body>."""
    for finder in (
        lambda: soup.find("article"),
        lambda: soup.find("main"),
        lambda: soup.find(attrs={"role": "main"}),
        lambda: soup.find(attrs={"itemprop": "articleBody"}),
    ):
        node = finder()
        if node is not None:
            return node
    body = soup.body or soup
    for tag in body.find_all(_CHROME):
        tag.decompose()
    return body


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if tag and tag.get("content"):
            return str(tag["content"]).strip()
    return None


def html_source_url(soup: BeautifulSoup, page_url: str | None) -> str | None:
    link = soup.find("link", rel=lambda v: v and "canonical" in v, href=True)
    for candidate in (link["href"] if link else None, _meta(soup, "og:url")):
        if candidate:
            absolute = urls.join(page_url or "", str(candidate).strip())
            if absolute and urls.is_http_url(absolute):
                return absolute
    return page_url


def html_title(soup: BeautifulSoup) -> str:
    title = _meta(soup, "og:title", "twitter:title")
    if not title and soup.title and soup.title.string:
        title = soup.title.string
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ") if h1 else ""
    return _squash(title or "")[:300]


def extract_html(html: str, *, page_url: str | None = None) -> Extraction:
    soup = BeautifulSoup(html, "lxml")
    base = soup.find("base", href=True)
    base_url = (urls.join(page_url or "", str(base["href"])) or "") if base else (page_url or "")
    col = _Collector()
    source = html_source_url(soup, page_url)
    if source:
        col.add(source, -1, "", role="source")
    title = html_title(soup)
    body = _article_body(soup)
    cursor = 0
    for a in body.find_all("a", href=True):
        href = str(a["href"]).strip()
        if not href or href.startswith("#") or href.lower().startswith(_NON_CITATION_SCHEMES):
            continue
        absolute = urls.join(base_url, href)
        if absolute is None or not urls.is_http_url(absolute):
            continue
        if page_url and urls.normalise(absolute).split("#")[0] == urls.normalise(page_url):
            continue  # a link to the page itself is navigation, not a citation
        pos = html.find(href, cursor)
        cursor = pos + 1 if pos >= 0 else cursor
        block = a.find_parent(_BLOCKS)
        context = _squash((block or a).get_text(" "))
        anchor = _squash(a.get_text(" "))
        col.add(
            absolute,
            pos if pos >= 0 else len(html),
            _clip(context, context.find(anchor), len(anchor)),
        )
    return Extraction(
        kind="html",
        title=title,
        source_url=urls.normalise(source) if source else None,
        sha256=_sha256(html),
        citations=col.citations(),
    )

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
from archiver.states import CitationRole

_BLOCKS = ["p", "li", "td", "th", "blockquote", "figcaption", "dd", "h1", "h2", "h3", "h4", "h5"]
_BLOCK_NAMES = frozenset(_BLOCKS)
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


_MOBILE_PREFIXES = ("www.", "m.", "mobile.", "amp.")


def _site(url: str) -> str | None:
    """A URL's host without a www/mobile prefix: what "the same site" compares."""
    try:
        host = urls.host_of(url)
    except urls.BadURL:
        return None
    for prefix in _MOBILE_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host


def same_site(url: str, other: str) -> bool:
    site = _site(url)
    return site is not None and site == _site(other)


def html_source_url(soup: BeautifulSoup, page_url: str | None) -> str | None:
    """The article's own URL: <link rel=canonical>, else og:url, else the fetched URL.

    A fetched page may name only a URL of its own site (www./m. variants included) as
    its canonical one: any page can claim any URL, and another site's URL would make it
    stand in for that site's article.
    """
    link = soup.find("link", rel=lambda v: v and "canonical" in v, href=True)
    for candidate in (link["href"] if link else None, _meta(soup, "og:url")):
        if candidate:
            absolute = urls.join(page_url or "", str(candidate).strip())
            if not (absolute and urls.is_http_url(absolute)):
                continue
            if page_url is None or same_site(absolute, page_url):
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


def _block_of(a):
    """The nearest block element around a link (bs4's find_parent builds a matcher per
    call: a walk up is much cheaper, for thousands of links)."""
    for parent in a.parents:
        if parent.name in _BLOCK_NAMES:
            return parent
    return None


def _block_text(block, texts: dict[int, str]) -> str:
    """A block's text, squashed once per block (not once per link in it)."""
    key = id(block)
    if key not in texts:
        texts[key] = _squash(block.get_text(" "))
    return texts[key]


def extract_html(
    html: str, *, page_url: str | None = None, max_citations: int | None = None
) -> Extraction:
    soup = BeautifulSoup(html, "lxml")
    base = soup.find("base", href=True)
    base_url = (urls.join(page_url or "", str(base["href"])) or "") if base else (page_url or "")
    col = _Collector(max_citations)
    source = html_source_url(soup, page_url)
    if source:
        col.add(source, -1, "", role=CitationRole.SOURCE)
    title = html_title(soup)
    body = _article_body(soup)
    cursor = 0
    texts: dict[int, str] = {}
    own = urls.normalise(page_url) if page_url and urls.is_http_url(page_url) else None
    for a in body.find_all("a", href=True):
        href = str(a["href"]).strip()
        if not href or href.startswith("#") or href.lower().startswith(_NON_CITATION_SCHEMES):
            continue
        absolute = urls.join(base_url, href)
        if absolute is None or not urls.is_http_url(absolute):
            continue
        if own and urls.normalise(absolute).split("#")[0] == own:
            continue  # a link to the page itself is navigation, not a citation
        pos = html.find(href, cursor)
        cursor = pos + 1 if pos >= 0 else cursor
        block = _block_of(a)
        context = _block_text(block, texts) if block is not None else _squash(a.get_text(" "))
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
        source_fetched=page_url is not None,
    )

"""HTML that looks like a news site's: head metadata, requisites, nav, article, footer.

The archiver extracts main text and compares captures, so pages carry real boilerplate
around the article (navigation, related links, footer) for the extractor to discard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

# Inline links in article text, written as [anchor](https://…): the archiver takes the
# links inside <article> as the article's citations.
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


@dataclass(frozen=True, kw_only=True)
class Publisher:
    name: str
    origin: str  # "https://www.themoscowtimes.com"
    static: str  # origin of the static host the requisites live on
    lang: str
    nav: tuple[tuple[str, str], ...]  # (label, path on origin)
    tagline: str


@dataclass(frozen=True, kw_only=True)
class Story:
    url: str  # canonical URL
    title: str
    description: str
    author: str
    published: str  # ISO 8601
    paragraphs: tuple[str, ...]
    caption: str = ""


def _head(pub: Publisher, *, title: str, description: str, canonical: str, extra: str = "") -> str:
    return f"""<head>
<meta charset="utf-8">
<title>{escape(title)} - {escape(pub.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{escape(description)}">
<link rel="canonical" href="{escape(canonical)}">
<meta property="og:site_name" content="{escape(pub.name)}">
<meta property="og:title" content="{escape(title)}">
<meta property="og:description" content="{escape(description)}">
<meta property="og:url" content="{escape(canonical)}">
<meta property="og:image" content="{pub.static}/img/lead.png">
{extra}<link rel="stylesheet" href="{pub.static}/css/main.css">
<link rel="icon" href="{pub.static}/favicon.ico">
<script src="{pub.static}/js/app.js" defer></script>
</head>"""


def _header(pub: Publisher) -> str:
    items = "".join(
        f'<li><a href="{pub.origin}{path}">{escape(label)}</a></li>' for label, path in pub.nav
    )
    return (
        f'<header class="site-header"><a class="logo" href="{pub.origin}/">{escape(pub.name)}'
        f'</a>\n<nav aria-label="Sections"><ul>{items}</ul></nav></header>'
    )


def _footer(pub: Publisher) -> str:
    return f"""<footer class="site-footer">
<p>{escape(pub.tagline)}</p>
<ul><li><a href="{pub.origin}/about">About</a></li><li><a href="{pub.origin}/contacts">Contacts</a>
</li><li><a href="{pub.origin}/privacy">Privacy policy</a></li></ul>
<p>&copy; {escape(pub.name)}. All rights reserved.</p>
</footer>"""


def _page(pub: Publisher, head: str, main: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{pub.lang}">\n{head}\n<body>\n{_header(pub)}\n'
        f"<main>\n{main}\n</main>\n{_footer(pub)}\n</body>\n</html>\n"
    )


def article_page(pub: Publisher, story: Story, *, related: tuple[tuple[str, str], ...] = ()) -> str:
    extra = (
        '<meta property="og:type" content="article">\n'
        f'<meta property="article:published_time" content="{story.published}">\n'
        f'<meta name="author" content="{escape(story.author)}">\n'
    )
    head = _head(
        pub, title=story.title, description=story.description, canonical=story.url, extra=extra
    )
    paragraphs = [f"<p>{linked(p)}</p>" for p in story.paragraphs]
    # A second image mid-article, as news sites place a photo after a few paragraphs.
    paragraphs.insert(
        min(3, len(paragraphs)),
        f'<figure><img src="{pub.static}/img/photo.png" alt="" loading="lazy"></figure>',
    )
    body = "\n".join(paragraphs)
    return _page(
        pub,
        head,
        f"""<article>
<h1>{escape(story.title)}</h1>
<p class="byline">By <span class="author">{escape(story.author)}</span>,
<time datetime="{story.published}">{story.published[:10]}</time></p>
<figure class="lead"><img src="{pub.static}/img/lead.png"
 srcset="{pub.static}/img/lead.png 1x, {pub.static}/img/lead-2x.png 2x"
 alt="{escape(story.caption)}" width="800" height="450">
<figcaption>{escape(story.caption)}</figcaption></figure>
{body}
</article>
{_related(related)}""",
    )


def linked(text: str) -> str:
    """``text`` as HTML, its ``[anchor](url)`` marks turned into links."""
    return _LINK.sub(r'<a href="\2">\1</a>', escape(text, quote=False))


def plain(text: str) -> str:
    """``text`` without its link marks, as a reader (or a meta description) sees it."""
    return _LINK.sub(r"\1", text)


def summary(paragraphs: tuple[str, ...], limit: int = 160) -> str:
    """A meta description: the first paragraph, cut at a word, links removed."""
    text = plain(paragraphs[0])
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _related(links: tuple[tuple[str, str], ...]) -> str:
    if not links:
        return ""
    items = "".join(f'<li><a href="{escape(u)}">{escape(t)}</a></li>' for t, u in links)
    return f'<aside class="related"><h2>Read more</h2><ul>{items}</ul></aside>'


def front_page(pub: Publisher, headlines: tuple[tuple[str, str], ...], *, title: str) -> str:
    head = _head(pub, title=title, description=pub.tagline, canonical=f"{pub.origin}/")
    items = "\n".join(
        f'<li class="headline"><a href="{escape(url)}">{escape(text)}</a></li>'
        for text, url in headlines
    )
    return _page(pub, head, f'<h1>{escape(title)}</h1>\n<ul class="headlines">\n{items}\n</ul>')


def notice_page(pub: Publisher, *, title: str, message: str, canonical: str) -> str:
    """A short non-article page: not found, gone, blocked, closed."""
    head = _head(pub, title=title, description=message, canonical=canonical)
    return _page(
        pub,
        head,
        f'<section class="notice">\n<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>\n'
        f'<p><a href="{pub.origin}/">{escape(pub.name)}</a></p>\n</section>',
    )


def simple_page(*, title: str, body: str, lang: str = "en", head: str = "") -> str:
    """A standalone page (block page, bot wall, test page): ``body`` is trusted HTML."""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )

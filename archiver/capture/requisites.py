"""Page requisites: what a browser would load to show a page — pure: markup in, URLs out.

Markup is parsed with lxml's HTML parser directly: the parser bs4's "lxml" builder
drives, fed the same way, so the tree (and the URLs found) are the same — without bs4
building a Python object per tag, which cost ~10× the parse itself.
"""

from __future__ import annotations

import re

from lxml import etree

from archiver import urls

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(['"])([^'"]+)\1""", re.I)
_LINK_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "preload",
    "modulepreload",
    "mask-icon",
    "manifest",
}


def _srcset(value: str) -> list[str]:
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


_CSS_CHARSET = re.compile(rb'^@charset "([A-Za-z0-9_.:-]{1,40})";')
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def css_text(body: bytes, content_type_header: str | None) -> str:
    """A stylesheet's text, decoded as CSS Syntax §3.2 says: BOM, the Content-Type's
    charset, ``@charset``, else UTF-8 (undecodable bytes replaced: only its URLs matter).

    Never a guess from the bytes: guessing loaded chardet's models (~25 MB of RSS) for
    every stylesheet served without a charset, which is most of them."""
    names = [enc for bom, enc in _BOMS if body.startswith(bom)]
    if content_type_header and "charset=" in content_type_header.lower():
        names.append(content_type_header.lower().split("charset=")[-1].split(";")[0].strip())
    if m := _CSS_CHARSET.match(body):
        names.append(m.group(1).decode("ascii"))
    for name in [*names, "utf-8"]:
        try:
            return body.decode(name, errors="replace").lstrip("\ufeff")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")  # not reached: utf-8 is always known


def css_urls(css: str, base: str) -> list[str]:
    """url() and @import targets of a stylesheet, absolute."""
    found = [m.group(2) for m in _CSS_IMPORT.finditer(css)]
    found += [m.group(2) for m in _CSS_URL.finditer(css)]
    return _absolute(found, base)


def _absolute(candidates: list[str], base: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for c in candidates:
        c = c.strip()
        if not c or c.startswith(("data:", "#", "javascript:", "about:", "blob:")):
            continue
        absolute = urls.join(base, c)
        if absolute is None or not urls.is_http_url(absolute):
            continue
        key = absolute.split("#")[0]
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


class _Tags:
    """lxml parser target: every start tag with its attributes, in document order, and the
    text of each <style>.

    A target sees the parser's events — the ones bs4 builds its tree from — including
    tags after ``</html>`` (tracking pixels, injected scripts), which lxml's own tree
    builder drops.
    """

    def __init__(self) -> None:
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[list[str]] = []
        self._style: list[str] | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.tags.append((tag, dict(attrib)))
        self._style = [] if tag == "style" else None
        if self._style is not None:
            self.styles.append(self._style)

    def end(self, tag: str) -> None:
        self._style = None

    def data(self, text: str) -> None:
        if self._style is not None:
            self._style.append(text)

    def close(self) -> _Tags:
        return self


def _parse(html: str) -> _Tags:
    """The tags of a page, parsed as bs4's "lxml" builder parses it.

    bs4's strategies for text: lxml's HTML parser on the text (a leading BOM dropped),
    then, if lxml rejects that, on its UTF-8 bytes.
    """
    attempts = ((html.removeprefix("\ufeff"), None), (html.encode("utf-8"), "utf-8"))
    for markup, encoding in attempts:
        target = _Tags()
        parser = etree.HTMLParser(target=target, recover=True, encoding=encoding)
        try:
            parser.feed(markup)
            return parser.close()
        except (UnicodeDecodeError, LookupError, etree.ParserError):
            continue
    return _Tags()


def html_requisites(html: str, page_url: str) -> tuple[list[str], list[str]]:
    """(requisites, iframes) of a page, absolute, in document order, de-duplicated."""
    page = _parse(html)
    tags = page.tags

    def having(names: tuple[str, ...], attr: str) -> list[str]:
        return [a[attr] for t, a in tags if t in names and a.get(attr) is not None]

    bases = having(("base",), "href")
    base = (urls.join(page_url, bases[0]) or page_url) if bases else page_url
    found: list[str] = []
    for _, attrs in (x for x in tags if x[0] in ("img", "source", "input")):
        found += [attrs[a] for a in ("src", "data-src") if attrs.get(a)]
        for attr in ("srcset", "data-srcset"):
            if attrs.get(attr):
                found += _srcset(attrs[attr])
    for tag, attrs in tags:
        if tag != "link" or attrs.get("href") is None:
            continue
        if {r.lower() for r in (attrs.get("rel") or "").split()} & _LINK_RELS:
            found.append(attrs["href"])
    media = ("script", "video", "audio", "track", "embed")
    found += [a["src"] for t, a in tags if t in media and a.get("src")]
    found += having(("video",), "poster") + having(("object",), "data")
    for _, attrs in tags:
        if attrs.get("style") is not None:
            found += [m.group(2) for m in _CSS_URL.finditer(attrs["style"])]
    for parts in page.styles:
        css = "".join(parts)
        found += [m.group(2) for m in _CSS_IMPORT.finditer(css)]
        found += [m.group(2) for m in _CSS_URL.finditer(css)]
    iframes = having(("iframe", "frame"), "src")
    return _absolute(found, base), _absolute(iframes, base)


def outlinks(html: str, page_url: str, limit: int = 1000) -> list[str]:
    hrefs = [a["href"] for t, a in _parse(html).tags if t == "a" and a.get("href") is not None]
    return _absolute(hrefs, page_url)[:limit]

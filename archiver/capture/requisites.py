"""Page requisites: what a browser would load to show a page — pure: markup in, URLs out."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from bs4 import BeautifulSoup

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
        absolute = urljoin(base, c)
        if not urls.is_http_url(absolute):
            continue
        key = absolute.split("#")[0]
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def html_requisites(html: str, page_url: str) -> tuple[list[str], list[str]]:
    """(requisites, iframes) of a page, absolute, in document order, de-duplicated."""
    soup = BeautifulSoup(html, "lxml")
    base_tag = soup.find("base", href=True)
    base = urljoin(page_url, str(base_tag["href"])) if base_tag else page_url
    found: list[str] = []
    for tag in soup.find_all(["img", "source", "input"]):
        for attr in ("src", "data-src"):
            if tag.get(attr):
                found.append(str(tag[attr]))
        for attr in ("srcset", "data-srcset"):
            if tag.get(attr):
                found += _srcset(str(tag[attr]))
    for tag in soup.find_all("link", href=True):
        rels = {r.lower() for r in (tag.get("rel") or [])}
        if rels & _LINK_RELS:
            found.append(str(tag["href"]))
    for tag in soup.find_all(["script", "video", "audio", "track", "embed"]):
        if tag.get("src"):
            found.append(str(tag["src"]))
    for tag in soup.find_all("video", poster=True):
        found.append(str(tag["poster"]))
    for tag in soup.find_all("object", data=True):
        found.append(str(tag["data"]))
    for tag in soup.find_all(style=True):
        found += [m.group(2) for m in _CSS_URL.finditer(str(tag["style"]))]
    for tag in soup.find_all("style"):
        css = tag.get_text()
        found += [m.group(2) for m in _CSS_IMPORT.finditer(css)]
        found += [m.group(2) for m in _CSS_URL.finditer(css)]
    iframes = [str(t["src"]) for t in soup.find_all(["iframe", "frame"], src=True)]
    return _absolute(found, base), _absolute(iframes, base)


def outlinks(html: str, page_url: str, limit: int = 1000) -> list[str]:
    soup = BeautifulSoup(html, "lxml")
    hrefs = [str(a["href"]) for a in soup.find_all("a", href=True)]
    return _absolute(hrefs, page_url)[:limit]

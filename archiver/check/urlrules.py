"""What a final URL says about the cited one: a site root, a not-found URL, a section
front page, or the same page with trivial differences (rules 5 and 8 of
`check.classify`)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from archiver import urls

_ROOT_PATHS = frozenset(
    {
        "/",
        "/index.html",
        "/index.htm",
        "/index.php",
        "/index.asp",
        "/default.asp",
        "/default.aspx",
        "/home",
        "/home.html",
        "/main",
    }
)
# a language's front page (/en/, /ru, /pt-br/): only common codes, as /ok or /tv are pages
_LANGUAGES = "en|ru|uk|ua|be|kk|de|fr|es|it|pt|pl|nl|sv|fi|cs|tr|ar|fa|he|hi|zh|ja|ko"
_LANGUAGE_ROOT = re.compile(rf"^/(?:{_LANGUAGES})(?:[-_][a-z]{{2}})?/?$", re.IGNORECASE)
# IABot's final-URL soft-404 patterns, and their usual spellings
_NOT_FOUND_URL = re.compile(r"(/404(?:\.html?|/|$)|notfound|not-found|not_found|error404)", re.I)


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _site(url: str) -> str:
    """The host without a leading ``www.``: http/https and www are the same site."""
    host = urls.host_of(url)
    return host.removeprefix("www.")


def equivalence_key(url: str) -> str:
    """A URL with scheme, a leading ``www.`` and a trailing slash ignored."""
    norm = urls.normalise(url)
    parts = urlsplit(norm)
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def equivalent(a: str, b: str) -> bool:
    return equivalence_key(a) == equivalence_key(b)


def is_site_root(url: str) -> bool:
    path = _path(url)
    return path.lower() in _ROOT_PATHS or bool(_LANGUAGE_ROOT.match(path))


def is_not_found_url(final_url: str, cited_url: str) -> bool:
    return bool(_NOT_FOUND_URL.search(final_url)) and not _NOT_FOUND_URL.search(cited_url)


def is_front_page_of(final_url: str, cited_url: str) -> bool:
    """Same site, and the final path is a strict prefix (by segments) of the cited path."""
    if _site(final_url) != _site(cited_url):
        return False
    final = [p for p in _path(final_url).split("/") if p]
    cited = [p for p in _path(cited_url).split("/") if p]
    return 0 < len(final) < len(cited) and cited[: len(final)] == final

"""The evidence a judgement looks at, and the judgement itself (frozen plain values).

`markup_of` reads a page's structure with lxml's parser events (no tree): script, iframe,
form and link targets, element ids and classes, inline script text, meta tags and the
first visible text. Wall markers are looked for in that structure, never in the text a
reader sees, so an article *about* CAPTCHAs or DataDome is not a wall.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from archiver.tagstack import TagStack

LEAD_CHARS = 1500  # visible text kept for wording and the Akamai reference
INLINE_CHARS = 20_000  # inline script text kept for challenge markers
# Article structure: main text of article length, or a marked-up article with a body
ARTICLE_CHARS = 1200
MARKED_ARTICLE_CHARS = 300
_ARTICLE_TYPES = re.compile(
    r'"@type"\s*:\s*"(NewsArticle|Article|BlogPosting|ReportageNewsArticle)"'
)
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "svg", "head", "title"})


class Kind(StrEnum):
    """What a page is. Every value but PAGE is a stand-in for the cited content."""

    PAGE = "page"
    NOT_FOUND = "not-found"  # a 404/410, or a 200 that says the page is not there
    BOT_WALL = "bot-wall"  # a bot-protection challenge, CAPTCHA or block
    CONSENT = "consent"  # a cookie/consent wall in place of the content
    BLOCK_PAGE = "block-page"  # a regulator's or ISP's block (451, block hosts)
    PAYWALL = "paywall"  # a login or subscription wall with no content
    PARKED = "parked"  # a parked or for-sale domain
    REFUSED = "refused"  # 401/402/403 with no known wall
    ERROR = "server-error"  # a 5xx page


WORD_RULES = frozenset({"title-words", "headline-words", "lead-words"})


@dataclass(frozen=True)
class Reason:
    """One piece of evidence: a machine-readable rule name and what was seen."""

    rule: str
    detail: str

    @property
    def weak(self) -> bool:
        """Wording only."""
        return self.rule in WORD_RULES

    def as_json(self) -> dict[str, str]:
        return {"rule": self.rule, "detail": self.detail}


def reasons_of(stored: Any) -> tuple[Reason, ...]:
    """Reasons back from a stored JSON list (anything else, or odd items: none)."""
    if isinstance(stored, str):
        try:
            stored = json.loads(stored)
        except ValueError:
            return ()
    if not isinstance(stored, list):
        return ()
    return tuple(
        Reason(str(item["rule"])[:64], str(item.get("detail", ""))[:500])
        for item in stored
        if isinstance(item, dict) and isinstance(item.get("rule"), str)
    )


@dataclass(frozen=True, kw_only=True)
class Judgement:
    kind: Kind
    reasons: tuple[Reason, ...] = ()
    label: str = ""  # who or what put the wall up: "Cloudflare challenge", …

    @property
    def stand_in(self) -> bool:
        return self.kind is not Kind.PAGE


@dataclass(frozen=True, kw_only=True)
class Response:
    """The protocol evidence of a fetch: the last hop's answer and the chain before it."""

    url: str  # what was asked for (the cited URL)
    final_url: str | None = None
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()  # the final hop's, names lower-cased
    chain: tuple[str, ...] = ()  # every URL fetched, in order
    cookies: tuple[str, ...] = ()  # names of the cookies set along the chain

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @classmethod
    def of_chain(cls, url: str, chain) -> Response:
        """From an `archiver.net.fetch.Chain` whose last hop answered."""
        final = chain.final
        cookies = tuple(
            v.split("=", 1)[0].strip()
            for hop in chain.hops
            for k, v in hop.headers
            if k.lower() == "set-cookie"
        )
        return cls(
            url=url,
            final_url=final.url if final else None,
            status=final.status if final else None,
            headers=tuple((k.lower(), v) for k, v in (final.headers if final else [])),
            chain=tuple(h.url for h in chain.hops),
            cookies=cookies,
        )


@dataclass(frozen=True, kw_only=True)
class Markup:
    """A page's structure, as far as judging it goes."""

    title: str = ""
    h1: str = ""
    text: str = ""  # the main text (trafilatura / bs4)
    lead: str = ""  # the first visible text, lower-cased
    srcs: tuple[str, ...] = ()  # script, iframe, form action, link and anchor targets
    names: frozenset[str] = frozenset()  # element ids and classes, lower-cased
    inputs: frozenset[str] = frozenset()  # input names and types, lower-cased
    inline: str = ""  # inline script text, lower-cased
    metas: tuple[tuple[str, str], ...] = ()  # (name or property, content), lower-cased
    article_tag: bool = False
    article_type: bool = False  # og:type article or JSON-LD *Article

    @property
    def structure(self) -> str:
        """Every non-text marker in one lower-cased string, for substring signatures."""
        return " ".join((*self.srcs, *sorted(self.names), self.inline)).lower()

    def meta(self, key: str) -> str:
        return next((v for k, v in self.metas if k == key), "")

    def article(self) -> str | None:
        """Why this page has article structure ("<article>, 2400 chars"), or None."""
        size = len(self.text)
        if size >= ARTICLE_CHARS:
            return f"{size} chars of main text"
        marked = self.article_tag or self.article_type
        if marked and size >= MARKED_ARTICLE_CHARS and self.h1:
            what = "<article>" if self.article_tag else "article metadata"
            return f"{what} with a headline and {size} chars of main text"
        return None


class _Structure:
    """lxml parser target collecting `Markup` fields from parser events."""

    def __init__(self) -> None:
        self.srcs: list[str] = []
        self.names: set[str] = set()
        self.inputs: set[str] = set()
        self.inline: list[str] = []
        self.metas: list[tuple[str, str]] = []
        self.lead: list[str] = []
        self.h1: list[str] | None = None
        self.article_tag = False
        self._stack = TagStack(_INVISIBLE)
        self._lead_size = 0
        self._inline_size = 0

    def _gap(self) -> None:
        """A tag ends a run of text (lxml splits one run at each entity reference)."""
        if self.lead and self.lead[-1] != " ":
            self.lead.append(" ")

    def start(self, tag: str, attrib) -> None:
        tag = tag.lower() if isinstance(tag, str) else ""
        self._gap()
        self._stack.push(tag)
        for key in ("src", "action", "href", "data-src"):
            if attrib.get(key):
                self.srcs.append(attrib[key].strip().lower()[:500])
        for key in ("id", "class"):
            self.names.update(attrib.get(key, "").lower().split())
        if tag == "input":
            self.inputs.update(v.lower() for v in (attrib.get("name"), attrib.get("type")) if v)
        elif tag == "meta":
            key = attrib.get("name") or attrib.get("property") or attrib.get("http-equiv")
            if key:
                self.metas.append((key.lower(), (attrib.get("content") or "").lower()))
        elif tag == "article":
            self.article_tag = True
        elif tag == "h1" and self.h1 is None:
            self.h1 = []

    def end(self, tag: str) -> None:
        self._gap()
        self._stack.close(tag)

    def data(self, text: str) -> None:
        inside = self._stack.innermost
        if inside == "script" and self._inline_size < INLINE_CHARS:
            self.inline.append(text)
            self._inline_size += len(text)
        if self._stack.any_watched():
            return
        if self._lead_size < LEAD_CHARS and (text.strip() or self.lead):
            self.lead.append(text)
            self._lead_size += len(text)
        if "h1" in self._stack and self.h1 is not None:
            self.h1.append(text)

    def close(self) -> _Structure:
        return self


def _squash(parts: list[str] | None) -> str:
    return re.sub(r"\s+", " ", "".join(parts or [])).strip()


def markup_of(html: str, *, title: str = "", text: str = "") -> Markup:
    """The structure of a page's markup; ``title`` and ``text`` from `archiver.pages`."""
    found = _Structure()
    parser = etree.HTMLParser(target=found, recover=True)
    try:
        parser.feed(html or "<html></html>")
        parser.close()
    except (etree.ParserError, ValueError, LookupError):
        pass  # what was read before the error is still evidence
    inline = "".join(found.inline)[:INLINE_CHARS].lower()
    og_type = next((v for k, v in found.metas if k == "og:type"), "")
    return Markup(
        title=title,
        h1=_squash(found.h1)[:300],
        text=text,
        lead=re.sub(r"\s+", " ", "".join(found.lead)).strip().lower()[:LEAD_CHARS],
        srcs=tuple(found.srcs[:2000]),
        names=frozenset(list(found.names)[:5000]),
        inputs=frozenset(found.inputs),
        inline=inline,
        metas=tuple(found.metas[:200]),
        article_tag=found.article_tag,
        article_type=og_type == "article" or bool(_ARTICLE_TYPES.search(inline)),
    )


def host_of(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


# second-level labels under which registrations happen (co.uk, com.au, …): enough for
# telling "another site" without the public suffix list
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gov", "ac", "edu", "ne", "or", "msk", "spb"})


def registrable(host: str) -> str:
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])

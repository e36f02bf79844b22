"""What a fetched page is: title, main text, fingerprint, and whether it is the page.

Pure functions shared by capture (is this snapshot "good"?) and check (did it rot?).
Main text comes from trafilatura (a maintained boilerplate remover); bs4 text is the
fallback when trafilatura finds nothing (short pages, widgets).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from types import ModuleType

from bs4 import BeautifulSoup, UnicodeDammit

from archiver.judge import Judgement, Kind, Reason, Response, judge, markup_of
from archiver.stoplist import HashedStoplist
from archiver.tagstack import TagStack

logger = logging.getLogger(__name__)
logging.getLogger("trafilatura").setLevel(logging.ERROR)

TEXT_MAX = 200_000
# A parser's time and memory grow with the markup it is handed, worst with dense nesting
# (bs4 builds a Python object per tag: 8 MiB of nested tags took a minute and ~1 GB,
# parsed three times). Title, text, requisites and outlinks come from the first
# PARSE_BYTES of a page, cut earlier once it holds PARSE_TAGS tags; real pages rarely
# reach either.
PARSE_BYTES = 2 * 2**20
PARSE_TAGS = 25_000
_HTML_TYPES = ("text/html", "application/xhtml+xml")

# How a citation names a stand-in: "blocked: Cloudflare challenge (…)"
STAND_IN_WORDS = {
    Kind.BOT_WALL.value: "blocked",
    Kind.CONSENT.value: "blocked",
    Kind.BLOCK_PAGE.value: "blocked",
    Kind.PAYWALL.value: "blocked",
    Kind.REFUSED.value: "blocked",
    Kind.NOT_FOUND.value: "not found",
    Kind.PARKED.value: "not found",
    Kind.ERROR.value: "server error",
}


@dataclass(frozen=True, kw_only=True)
class PageInfo:
    title: str
    text: str
    fingerprint: str
    quality: str | None  # None = the page itself; else a `judge.Kind` value (not-found, …)
    reasons: tuple[Reason, ...] = ()  # the judgement's evidence, strongest first
    label: str = ""  # who or what stands in: "Cloudflare challenge", …

    @property
    def by_words(self) -> bool:
        """A stand-in by wording alone (weak: a matching snapshot overrules it)."""
        return self.quality is not None and all(r.weak for r in self.reasons)

    @property
    def article(self) -> bool | None:
        """Has article structure; None: not known (a snapshot from before reasons)."""
        rules = {r.rule for r in self.reasons}
        if "article-structure" in rules:
            return True
        return False if "short-page" in rules else None

    def summary(self) -> str:
        """ "Cloudflare challenge (cf-mitigated: challenge, HTTP 403)"."""
        details = ", ".join(r.detail for r in self.reasons[:3])
        what = self.label or self.quality or "page"
        return f"{what} ({details})" if details else what


def is_html(content_type: str | None, head: bytes) -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() in _HTML_TYPES
    return head.lstrip()[:100].lower().startswith((b"<!doctype html", b"<html"))


def parse_window(head: bytes) -> bytes:
    """The part of a page's first bytes worth parsing, cut just before a ``<``.

    Cutting before a tag never splits a multi-byte character (which would make the
    charset guess fall back to a wrong encoding for the whole page).
    """
    window = head
    if len(window) > PARSE_BYTES:
        window = window[:PARSE_BYTES]
        cut = window.rfind(b"<")
        if cut <= 0:  # no tag to cut before: drop the last character, whole or split
            cut = len(window) - 1
            while cut > 0 and window[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte
                cut -= 1
        window = window[:cut]
    if window.count(b"<") > PARSE_TAGS:
        pos = -1
        for _ in range(PARSE_TAGS + 1):
            pos = window.find(b"<", pos + 1)
        window = window[:pos]
    return window


def decode_html(head: bytes, content_type_header: str | None) -> str:
    """Markup (or text) to parse: the page's parse window, decoded."""
    head = parse_window(head)
    declared = []
    if content_type_header and "charset=" in content_type_header.lower():
        declared.append(content_type_header.lower().split("charset=")[-1].split(";")[0].strip())
    markup = UnicodeDammit(head, declared, is_html=True).unicode_markup or ""
    # NUL is never content (HTML drops or replaces it) and lxml logs an error for each
    # one: 2 MiB of NULs took seconds and ~180 MB to parse
    return markup.replace("\x00", "")


_TRAFILATURA: list[ModuleType] = []
_TRAFILATURA_LOCK = threading.Lock()


def _trafilatura() -> ModuleType:
    """trafilatura, imported on first use, its justext stoplist built once per process.

    trafilatura builds the union of justext's ~100 stoplists into a module global the
    first time a short page needs justext, and justext lower-cases it into a frozenset
    (an lru_cache), both unguarded: capture threads that got there together each built
    their own (16 threads: ~28 s of CPU and ~300 MB of peak RSS on 200 short pages).
    Both are made once-only here, behind locks, and the list is kept as one
    `HashedStoplist` (~1.2 MB; a frozenset of the words took ~18 MB), which justext
    takes as it is.
    """
    with _TRAFILATURA_LOCK:
        if not _TRAFILATURA:
            import trafilatura
            from justext import core as justext_core
            from trafilatura import external

            built = threading.Lock()
            lower, lowered = justext_core.define_stoplist, threading.Lock()

            def jt_stoplist_init():
                with built:
                    if not external.JT_STOPLIST:
                        external.JT_STOPLIST = HashedStoplist(
                            external.get_stoplist(language) for language in external.get_stoplists()
                        )
                    return external.JT_STOPLIST

            @functools.wraps(lower)
            def define_stoplist(stoplist):
                if isinstance(stoplist, HashedStoplist):
                    return stoplist  # lower-cased as built
                with lowered:
                    return lower(stoplist)

            external.jt_stoplist_init = jt_stoplist_init
            justext_core.define_stoplist = define_stoplist
            _TRAFILATURA.append(trafilatura)
        return _TRAFILATURA[0]


def main_text(html: str) -> str:
    """The article text of a page, whitespace-normalised."""
    text = None
    try:
        trafilatura = _trafilatura()
        text = trafilatura.extract(
            html, include_comments=False, include_tables=True, favor_recall=True, deduplicate=False
        )
    except Exception as exc:
        logger.debug("trafilatura failed: %s", exc)
    if not text or len(text) < 80:
        soup = BeautifulSoup(html, "lxml")
        for tag in soup(["script", "style", "noscript", "template", "svg"]):
            tag.decompose()
        fallback = soup.get_text(" ")
        if len(fallback.strip()) > len(text or ""):
            text = fallback
    return re.sub(r"\s+", " ", text or "").strip()[:TEXT_MAX]


def title_of(soup: BeautifulSoup) -> str:
    for attrs in ({"property": "og:title"}, {"name": "twitter:title"}):
        tag = soup.find("meta", attrs=attrs)
        if tag and tag.get("content"):
            return re.sub(r"\s+", " ", str(tag["content"])).strip()[:500]
    if soup.title and soup.title.get_text():
        return re.sub(r"\s+", " ", soup.title.get_text()).strip()[:500]
    h1 = soup.find("h1")
    return re.sub(r"\s+", " ", h1.get_text(" ")).strip()[:500] if h1 else ""


# bs4 keeps the text inside these in its own string classes, which get_text() skips
_STRING_CONTAINERS = frozenset({"rt", "rp", "style", "script", "template"})


class _TitleParts:
    """lxml parser target: what `title_of` reads from a bs4 tree, without building one.

    bs4's "lxml" builder makes its tree from these same events: each run of text between
    two tags is one string, typed by the innermost open rt/rp/style/script/template;
    an end tag closes up to its most recent namesake. Kept: every <meta>'s attributes,
    and the strings of the first <title> and the first <h1> that get_text() would join.
    """

    def __init__(self) -> None:
        self.metas: list[dict[str, str]] = []
        self.title: list[str] | None = None
        self.h1: list[str] | None = None
        self._stack = TagStack(_STRING_CONTAINERS)
        self._open: dict[str, int] = {}  # "title"/"h1" → its depth while it is open
        self._data: list[str] = []

    def _flush(self) -> None:
        if not self._data:
            return
        text, self._data = "".join(self._data), []
        if self._stack.any_watched():
            return  # a Script/Stylesheet/… string, which get_text() leaves out
        for which in self._open:
            getattr(self, which).append(text)

    def start(self, tag: str, attrib) -> None:
        self._flush()
        self._stack.push(tag)
        if tag == "meta":
            self.metas.append(dict(attrib))
        elif tag in ("title", "h1") and getattr(self, tag) is None:
            setattr(self, tag, [])
            self._open[tag] = len(self._stack)

    def end(self, tag: str) -> None:
        self._flush()
        if tag not in self._stack:
            return
        self._stack.close(tag)
        self._open = {k: d for k, d in self._open.items() if d <= len(self._stack)}

    def data(self, text: str) -> None:
        self._data.append(text)

    def comment(self, text: str) -> None:
        self._flush()

    def pi(self, target: str, data: str) -> None:
        self._flush()

    def doctype(self, *args) -> None:
        self._flush()

    def close(self) -> _TitleParts:
        self._flush()
        return self


def page_title(html: str) -> str:
    """`title_of(BeautifulSoup(html, "lxml"))`, from lxml's parser events alone (~10×
    cheaper than bs4 building its tree)."""
    from lxml import etree

    parts = _TitleParts()  # bs4's strategies: the text, then its UTF-8 bytes
    for markup, encoding in ((html.removeprefix("\ufeff"), None), (html.encode(), "utf-8")):
        parts = _TitleParts()
        parser = etree.HTMLParser(target=parts, recover=True, encoding=encoding)
        try:
            parser.feed(markup)
            parser.close()
            break
        except (UnicodeDecodeError, LookupError, etree.ParserError):
            continue
    for key, value in (("property", "og:title"), ("name", "twitter:title")):
        meta = next((m for m in parts.metas if m.get(key) == value), None)
        if meta is not None and meta.get("content"):
            return re.sub(r"\s+", " ", meta["content"]).strip()[:500]
    if parts.title is not None and "".join(parts.title):
        return re.sub(r"\s+", " ", "".join(parts.title)).strip()[:500]
    if parts.h1 is None:
        return ""
    return re.sub(r"\s+", " ", " ".join(parts.h1)).strip()[:500]


def fingerprint(text: str) -> str:
    norm = re.sub(r"\W+", " ", text.lower()).strip()
    return "sha256:" + hashlib.sha256(norm.encode("utf-8")).hexdigest()


def analyse(
    head: bytes, content_type_header: str | None, response: Response | None = None
) -> PageInfo:
    """Title, main text, fingerprint and judgement of a page's first bytes.

    ``response`` is the protocol evidence (status, headers, redirect chain); without it
    the page is judged by its markup alone.
    """
    response = response or Response(url="")
    ctype = (content_type_header or "").split(";")[0].strip().lower() or None
    if not is_html(ctype, head):
        if ctype and ctype.startswith("text/"):
            text = decode_html(head, content_type_header)[:TEXT_MAX]
            return _judged("", text, fingerprint(text), judge(response, None))
        return _judged("", "", "", judge(response, None))
    html = decode_html(head, content_type_header)
    title = page_title(html)
    text = main_text(html)
    markup = markup_of(html, title=title, text=text)
    return _judged(title, text, fingerprint(text), judge(response, markup))


def _judged(title: str, text: str, fp: str, judgement: Judgement) -> PageInfo:
    return PageInfo(
        title=title,
        text=text,
        fingerprint=fp,
        quality=judgement.kind.value if judgement.stand_in else None,
        reasons=judgement.reasons,
        label=judgement.label,
    )


def plan_page(plan: str, parsed: tuple[str, str] | None, page: PageInfo | None) -> PageInfo:
    """A site plan's reading of its page: ``parsed`` (title, text) is the post, whatever
    its words (a Telegram post with a post text is the post); None: the plan's text
    source says the post is not there (Telegram's "Post not found" widget)."""
    if parsed is None:
        reason = Reason("site-plan", f"{plan}: the text source holds no post (deleted)")
        base = page or PageInfo(title="", text="", fingerprint="", quality=None)
        return PageInfo(
            title=base.title,
            text=base.text,
            fingerprint=base.fingerprint,
            quality=Kind.NOT_FOUND.value,
            reasons=(reason,),
            label=f"{plan} post not found",
        )
    title, text = parsed
    reason = Reason("site-plan", f"{plan}: the post text ({len(text)} chars)")
    return PageInfo(
        title=title, text=text, fingerprint=fingerprint(text), quality=None, reasons=(reason,)
    )


def shingles(text: str, k: int = 3) -> set[int]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < k:
        return {hash(" ".join(words))} if words else set()
    return {hash(" ".join(words[i : i + k])) for i in range(len(words) - k + 1)}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of word 3-gram sets (1.0 identical … 0.0 nothing shared)."""
    sa, sb = shingles(a), shingles(b)
    if not sa and not sb:
        return 1.0
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)

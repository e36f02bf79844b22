"""Cited-URL extraction from plain text, Markdown and HTML — pure: text in, citations out.

Every extractor returns an `Extraction`: the article's own metadata (title, source URL)
and its citations in order of first appearance, one per normalised URL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from archiver import urls

CONTEXT_MAX = 300

# A URL runs until whitespace, angle brackets, quotes of any script, or a backslash.
_URL = re.compile(r"""https?://[^\s<>"'«»“”‘’`\\|\^{}\[\]]+""", re.I)
# Dropped from the end of a URL: sentence punctuation and closing brackets/quotes.
_TRAILING = ".,;:!?…)]}»\"'”’>*_"
_CONTINUATION = re.compile(r"[A-Za-z0-9\-._~%/?#=&+:@!$,;]+")
_ORIGINAL_URL = re.compile(r"^\s*(original\s+url|source|canonical(\s+url)?)\s*:\s*$", re.I)
_ORIGINAL_URL_INLINE = re.compile(
    r"^\s*(original\s+url|source|canonical(\s+url)?)\s*:\s*(https?://\S+)", re.I
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*\n")
_NON_CITATION_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "sms:", "ftp:")


@dataclass(frozen=True, kw_only=True)
class Citation:
    url: str  # normalised (the target key)
    url_as_written: str
    position: int
    context: str
    role: str = "cited"  # "source" for the article's own URL


@dataclass(frozen=True, kw_only=True)
class Extraction:
    kind: str  # "text", "markdown", "html"
    title: str
    source_url: str | None
    sha256: str
    citations: list[Citation] = field(default_factory=list)


# ------------------------------------------------------------------ shared helpers


def _strip_trailing(url: str) -> str:
    """Drop trailing punctuation, keeping a closing bracket that balances one in the URL."""
    while url and url[-1] in _TRAILING:
        last = url[-1]
        if last == ")" and url.count("(") >= url.count(")"):
            break
        if last == "]" and url.count("[") >= url.count("]"):
            break
        url = url[:-1]
    return url


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _clip(text: str, around: int, length: int) -> str:
    """≤ CONTEXT_MAX chars of ``text`` centred on [around, around+length)."""
    text = text.strip()
    if len(text) <= CONTEXT_MAX:
        return text
    start = max(0, around + length // 2 - CONTEXT_MAX // 2)
    start = min(start, len(text) - CONTEXT_MAX)
    return "…" + text[start + 1 : start + CONTEXT_MAX - 1].strip() + "…"


_SENT_SPLIT = re.compile(r"(?<=[.!?…])[\"'”»)]*\s+")
_PARA_SPLIT = re.compile(r"\n[ \t]*\n")


def _paragraph(text: str, start: int, end: int) -> tuple[int, int]:
    left = max((m.end() for m in _PARA_SPLIT.finditer(text, 0, start)), default=0)
    m = _PARA_SPLIT.search(text, end)
    return left, (m.start() if m else len(text))


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` holding [start, end) (hard wraps joined), ≤ CONTEXT_MAX chars."""
    p_left, p_right = _paragraph(text, start, end)
    left = p_left
    for m in _SENT_SPLIT.finditer(text, p_left, start):
        left = m.end()
    m = _SENT_SPLIT.search(text, end, p_right)
    right = m.start() if m else p_right
    sentence = _squash(text[left:right])
    written = _squash(text[start:end])
    return _clip(sentence, max(0, sentence.find(written[:40])), len(written))


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W\d_]{4,}", text.lower())}


def mention_context(text: str, url: str) -> str | None:
    """For a URL listed alone: the article sentence naming its site or most of its slug words."""
    host = urls.host_of(url).removeprefix("www.")
    site = host.split(".")[-2] if host.count(".") >= 1 else host
    slug = _words(re.sub(r"[^A-Za-z]+", " ", url.split(host, 1)[-1]))
    best, best_score = None, 0.0
    for para in _PARA_SPLIT.split(text):
        for sentence in _SENT_SPLIT.split(para):
            if _URL.search(sentence):
                continue
            words = _words(sentence)
            score = (1.0 if site.lower() in words else 0.0) + (
                len(slug & words) / len(slug) if slug else 0.0
            )
            if score > best_score:
                best, best_score = sentence, score
    return _clip(_squash(best), 0, 0) if best and best_score >= 0.6 else None


def _sha256(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class _Collector:
    """Keeps the first citation of each normalised URL."""

    def __init__(self) -> None:
        self.seen: dict[str, Citation] = {}

    def add(self, written: str, position: int, context: str, role: str = "cited") -> None:
        written = written.strip()
        try:
            key = urls.normalise(written)
        except urls.BadURL:
            return
        if key in self.seen:
            if role == "source" and self.seen[key].role != "source":
                old = self.seen[key]
                self.seen[key] = Citation(
                    url=key,
                    url_as_written=old.url_as_written,
                    position=old.position,
                    context=old.context,
                    role="source",
                )
            return
        self.seen[key] = Citation(
            url=key,
            url_as_written=written,
            position=position,
            context=context[:CONTEXT_MAX],
            role=role,
        )

    def citations(self) -> list[Citation]:
        ordered = sorted(self.seen.values(), key=lambda c: (c.role != "source", c.position))
        return ordered


# ------------------------------------------------------------------ plain text


def _line_is_wrapped(line: str, width: int) -> bool:
    return len(line.rstrip()) >= max(60, width - 8)


def find_text_urls(text: str) -> list[tuple[str, int, int]]:
    """(url, start, end) for each http(s) URL in plain text, joining hard-wrapped URLs.

    A URL that reaches the end of its line continues on the next line when that line
    starts with URL characters (no scheme of its own) and either holds nothing else or
    the URL's line is as long as the text's wrap width.
    """
    lines = text.split("\n")
    width = max((len(ln.rstrip()) for ln in lines), default=0)
    prose = sorted(len(ln.rstrip()) for ln in lines if " " in ln.strip() and len(ln) > 40)
    if prose:
        width = prose[len(prose) * 9 // 10]
    found: list[tuple[str, int, int]] = []
    for m in _URL.finditer(text):
        start, end = m.start(), m.end()
        while end < len(text) and text[end] in "\r\n":
            line_start = text.rfind("\n", 0, start) + 1
            nl = end + (2 if text.startswith("\r\n", end) else 1)
            cont = _CONTINUATION.match(text, nl)
            if not cont or re.match(r"https?://", text[nl:], re.I):
                break
            rest_of_line = text[cont.end() : text.find("\n", cont.end()) % (len(text) + 1)]
            alone = not rest_of_line.strip()
            url_line = text[line_start:end]
            urlish = bool(re.search(r"[-/._~%=&?0-9]", cont.group(0)))
            if not ((alone and urlish) or _line_is_wrapped(url_line, width)):
                break
            if not urls.is_http_url(text[start:end] + cont.group(0)):
                break
            end = cont.end()
        raw = text[start:end]
        joined = re.sub(r"\r?\n", "", raw)
        cleaned = _strip_trailing(joined)
        if cleaned and urls.is_http_url(cleaned):
            found.append((cleaned, start, end))
    return found


def _source_url_from_text(text: str) -> tuple[str, int] | None:
    """The URL after an 'Original url:' label (same line or the next)."""
    found = find_text_urls(text)
    lines = text.split("\n")
    offset = 0
    for i, line in enumerate(lines):
        if _ORIGINAL_URL.match(line) or _ORIGINAL_URL_INLINE.match(line):
            label_end = offset + len(line)
            for url, start, _end in found:
                if start >= offset and (
                    start <= label_end or _next_nonblank(lines, i, offset, start)
                ):
                    return url, start
            break
        offset += len(line) + 1
    return None


def _next_nonblank(lines: list[str], i: int, offset: int, start: int) -> bool:
    """True when ``start`` lies on the first non-blank line after line i."""
    pos = offset + len(lines[i]) + 1
    for line in lines[i + 1 :]:
        if line.strip():
            return pos <= start < pos + len(line) + 1
        pos += len(line) + 1
    return False


def _text_title(text: str) -> str:
    """The first line with at least two words once URLs are taken out."""
    for line in text.split("\n"):
        words = _squash(_URL.sub(" ", line))
        if len(words.split()) >= 2 or (words and not _URL.search(line)):
            return words[:300]
    return ""


def _text_context(text: str, url: str, start: int, end: int) -> str:
    """The sentence around the URL; for a URL alone on its line, the sentence naming it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    if re.fullmatch(r"[\s*\-•>\d.()]*", line.replace(text[start:end].split("\n")[0], "")):
        return mention_context(text, url) or _squash(text[start:end])
    return sentence_around(text, start, end)


def extract_text(text: str, *, source_url: str | None = None) -> Extraction:
    col = _Collector()
    src = _source_url_from_text(text)
    if source_url:
        col.add(source_url, -1, "", role="source")
    elif src:
        col.add(src[0], src[1], "", role="source")
    for url, start, end in find_text_urls(text):
        col.add(url, start, _text_context(text, url, start, end))
    source = source_url or (src[0] if src else None)
    return Extraction(
        kind="text",
        title=_text_title(text),
        source_url=urls.normalise(source) if source else None,
        sha256=_sha256(text),
        citations=col.citations(),
    )


# ------------------------------------------------------------------ Markdown

_MD = MarkdownIt("commonmark")


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for m in re.finditer("\n", text):
        offsets.append(m.end())
    return offsets


def _inline_plain(children) -> str:
    """Readable text of an inline token: text, code spans, line breaks as spaces."""
    parts = []
    for child in children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _link_text(children, j: int) -> str:
    parts = []
    for child in children[j + 1 :]:
        if child.type == "link_close":
            break
        parts.append(child.content)
    return _squash("".join(parts))


def _md_position(text: str, start: int, end: int, href: str, anchor: str) -> int:
    """Where a link is used: its URL in the block, else (a reference link) its text."""
    for needle in (href, f"[{anchor}]" if anchor else None):
        if needle:
            pos = text.find(needle, start, end)
            if pos >= 0:
                return pos
    return start


def extract_markdown(text: str, *, source_url: str | None = None) -> Extraction:
    """Inline, reference and autolinks, plus bare URLs in text — not in code or images.

    Parsed with markdown-it (CommonMark): each link's position is where it is used in
    the text (a reference link at its use, not at its definition).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as markdown-it sees it
    col = _Collector()
    src = source_url or (_source_url_from_text(text) or (None, 0))[0]
    if src:
        col.add(src, -1, "", role="source")
    lines = _line_offsets(text)
    title = ""
    tokens = _MD.parse(text)
    for i, tok in enumerate(tokens):
        if tok.type != "inline":
            continue
        block = lines[min(tok.map[0], len(lines) - 1)] if tok.map else 0
        block_end = lines[tok.map[1]] if tok.map and tok.map[1] < len(lines) else len(text)
        plain = _squash(_inline_plain(tok.children))
        if not title and i > 0 and tokens[i - 1].type == "heading_open":
            title = plain
        children = tok.children or []
        in_link = 0
        for j, child in enumerate(children):
            if child.type == "link_open":
                in_link += 1
                href = str(child.attrGet("href") or "")
                if urls.is_http_url(href):
                    anchor = _link_text(children, j)
                    pos = _md_position(text, block, block_end, href, anchor)
                    at = max(0, plain.find(anchor)) if anchor else 0
                    col.add(href, pos, sentence_around(plain, at, at + len(anchor)))
            elif child.type == "link_close":
                in_link -= 1
            elif child.type == "text" and not in_link:
                for url, _start, _end in find_text_urls(child.content):
                    pos = text.find(url, block)
                    at = plain.find(url)
                    context = sentence_around(plain, at, at + len(url)) if at >= 0 else plain
                    col.add(url, pos if pos >= 0 else block, context)
    return Extraction(
        kind="markdown",
        title=title or _text_title(text),
        source_url=urls.normalise(src) if src else None,
        sha256=_sha256(text),
        citations=col.citations(),
    )


# ------------------------------------------------------------------ HTML

_BLOCKS = ["p", "li", "td", "th", "blockquote", "figcaption", "dd", "h1", "h2", "h3", "h4", "h5"]
_CHROME = ["nav", "header", "footer", "aside", "script", "style", "noscript", "form"]


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
            absolute = urljoin(page_url or "", str(candidate).strip())
            if urls.is_http_url(absolute):
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
    base_url = urljoin(page_url or "", str(base["href"])) if base else (page_url or "")
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
        absolute = urljoin(base_url, href)
        if not urls.is_http_url(absolute):
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


def extract(text: str, kind: str, *, source_url: str | None = None) -> Extraction:
    if kind == "html":
        return extract_html(text, page_url=source_url)
    if kind == "markdown":
        return extract_markdown(text, source_url=source_url)
    return extract_text(text, source_url=source_url)

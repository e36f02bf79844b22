"""Citations in plain text, including URLs broken across lines by hard wrapping."""

from __future__ import annotations

import re

from archiver import urls
from archiver.extract.common import (
    _CONTINUATION,
    _ORIGINAL_URL,
    _ORIGINAL_URL_INLINE,
    _URL,
    Extraction,
    TextIndex,
    _Collector,
    _sha256,
    _squash,
    _strip_trailing,
)
from archiver.states import CitationRole


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
    lines = text.split("\n")
    if not any(_ORIGINAL_URL.match(ln) or _ORIGINAL_URL_INLINE.match(ln) for ln in lines):
        return None  # no label: the text's URLs need not be found twice
    found = [f for f in find_text_urls(text) if urls.is_http_url(f[0])]
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


_LIST_MARKS = re.compile(r"[\s*\-•>\d.()]*")  # what may share a line with a URL "alone"


def _text_context(index: TextIndex, url: str, start: int, end: int) -> str:
    """The sentence around the URL; for a URL alone on its line, the sentence naming it."""
    text = index.text
    first_end = text.find("\n", start, end)  # a hard-wrapped URL: its first line
    first_end = end if first_end < 0 else first_end
    line_start, _ = index.line(start)
    _, line_end = index.line(end)
    if _LIST_MARKS.fullmatch(text, line_start, start) and _LIST_MARKS.fullmatch(
        text, first_end, line_end
    ):
        return index.mention_context(url) or _squash(text[start:end])
    return index.sentence_around(start, end)


def extract_text(
    text: str, *, source_url: str | None = None, max_citations: int | None = None
) -> Extraction:
    col = _Collector(max_citations)
    src = _source_url_from_text(text)
    if source_url:
        col.add(source_url, -1, "", role=CitationRole.SOURCE)
    elif src:
        col.add(src[0], src[1], "", role=CitationRole.SOURCE)
    index = TextIndex(text)
    for url, start, end in find_text_urls(text):
        col.add(url, start, _text_context(index, url, start, end))
    source = source_url or (src[0] if src else None)
    return Extraction(
        kind="text",
        title=_text_title(text),
        source_url=urls.normalise(source) if source else None,
        sha256=_sha256(text),
        citations=col.citations(),
        source_fetched=source_url is not None,
    )

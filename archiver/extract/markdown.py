"""Citations in Markdown (CommonMark, parsed with markdown-it)."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from archiver import urls
from archiver.extract.common import Extraction, TextIndex, _Collector, _sha256, _squash
from archiver.extract.text import _source_url_from_text, _text_title, find_text_urls
from archiver.states import CitationRole

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
    for k in range(j + 1, len(children)):  # by index: no walk or copy of the tail per link
        if children[k].type == "link_close":
            break
        parts.append(children[k].content)
    return _squash("".join(parts))


def _find(text: str, needle: str, cursor: int, start: int, end: int | None = None) -> int:
    """``needle`` in text[start:end], looked for from ``cursor`` first: links come in
    order, so a block's search need not start over from its top for each of them."""
    pos = text.find(needle, cursor, end)
    return pos if pos >= 0 or cursor <= start else text.find(needle, start, end)


def _md_position(text: str, start: int, end: int, href: str, anchor: str, cursor: int) -> int:
    """Where a link is used: its URL in the block, else (a reference link) its text."""
    for needle in (href, f"[{anchor}]" if anchor else None):
        if needle:
            pos = _find(text, needle, cursor, start, end)
            if pos >= 0:
                return pos
    return start


def extract_markdown(
    text: str, *, source_url: str | None = None, max_citations: int | None = None
) -> Extraction:
    """Inline, reference and autolinks, plus bare URLs in text — not in code or images.

    Parsed with markdown-it (CommonMark): each link's position is where it is used in
    the text (a reference link at its use, not at its definition).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as markdown-it sees it
    col = _Collector(max_citations)
    src = source_url or (_source_url_from_text(text) or (None, 0))[0]
    if src:
        col.add(src, -1, "", role=CitationRole.SOURCE)
    lines = _line_offsets(text)
    title = ""
    tokens = _MD.parse(text)
    for i, tok in enumerate(tokens):
        if tok.type != "inline":
            continue
        block = lines[min(tok.map[0], len(lines) - 1)] if tok.map else 0
        block_end = lines[tok.map[1]] if tok.map and tok.map[1] < len(lines) else len(text)
        plain = _squash(_inline_plain(tok.children))
        index = TextIndex(plain)
        if not title and i > 0 and tokens[i - 1].type == "heading_open":
            title = plain
        children = tok.children or []
        in_link = 0
        cursor, plain_cursor = block, 0
        for j, child in enumerate(children):
            if child.type == "link_open":
                in_link += 1
                href = str(child.attrGet("href") or "")
                if urls.is_http_url(href):
                    anchor = _link_text(children, j)
                    pos = _md_position(text, block, block_end, href, anchor, cursor)
                    at = max(0, _find(plain, anchor, plain_cursor, 0)) if anchor else 0
                    col.add(href, pos, index.sentence_around(at, at + len(anchor)))
                    cursor, plain_cursor = max(cursor, pos), max(plain_cursor, at)
            elif child.type == "link_close":
                in_link -= 1
            elif child.type == "text" and not in_link:
                for url, _start, _end in find_text_urls(child.content):
                    pos = _find(text, url, cursor, block)
                    at = _find(plain, url, plain_cursor, 0)
                    context = index.sentence_around(at, at + len(url)) if at >= 0 else plain
                    col.add(url, pos if pos >= 0 else block, context)
                    cursor = max(cursor, pos)
                    plain_cursor = max(plain_cursor, at)
    return Extraction(
        kind="markdown",
        title=title or _text_title(text),
        source_url=urls.normalise(src) if src else None,
        sha256=_sha256(text),
        citations=col.citations(),
        source_fetched=source_url is not None,
    )

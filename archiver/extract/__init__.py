"""Cited-URL extraction from plain text, Markdown and HTML — pure: text in, citations out.

Every extractor returns an `Extraction`: the article's own metadata (title, source URL)
and its citations in order of first appearance, one per normalised URL.
"""

from __future__ import annotations

from archiver.extract.common import (
    CONTEXT_MAX,
    Citation,
    Extraction,
    mention_context,
    sentence_around,
)
from archiver.extract.html import extract_html, html_source_url, html_title
from archiver.extract.markdown import extract_markdown
from archiver.extract.text import extract_text, find_text_urls

__all__ = [
    "CONTEXT_MAX",
    "Citation",
    "Extraction",
    "extract",
    "extract_html",
    "extract_markdown",
    "extract_text",
    "find_text_urls",
    "html_source_url",
    "html_title",
    "mention_context",
    "sentence_around",
]


def extract(
    text: str, kind: str, *, source_url: str | None = None, max_citations: int | None = None
) -> Extraction:
    """``max_citations``: raise TooManyCitations past this many distinct URLs."""
    if kind == "html":
        return extract_html(text, page_url=source_url, max_citations=max_citations)
    if kind == "markdown":
        return extract_markdown(text, source_url=source_url, max_citations=max_citations)
    return extract_text(text, source_url=source_url, max_citations=max_citations)

"""Shared pieces of citation extraction: the records, URL patterns, context sentences."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

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
    try:
        host = urls.host_of(url).removeprefix("www.")
    except urls.BadURL:
        return None  # not a URL the archive would keep; its context does not matter
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

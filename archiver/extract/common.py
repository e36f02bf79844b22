"""Shared pieces of citation extraction: the records, URL patterns, context sentences."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from archiver import urls
from archiver.errors import TooManyCitations
from archiver.states import CitationRole

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
    role: CitationRole = CitationRole.CITED


@dataclass(frozen=True, kw_only=True)
class Extraction:
    kind: str  # "text", "markdown", "html"
    title: str
    source_url: str | None
    sha256: str
    citations: list[Citation] = field(default_factory=list)
    # source_url is the address the text was fetched from (or its own site's canonical
    # URL), not merely a claim made by a file: only then may it update another source's
    # article of that URL
    source_fetched: bool = False


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


class TextIndex:
    """Paragraph and sentence bounds of one text, found once: each citation's context is
    then a few binary searches, not a scan of the text before it (which made extraction
    quadratic: 5,000 URLs took minutes).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        paras = list(_PARA_SPLIT.finditer(text))
        self._para_starts = [m.start() for m in paras]
        self._para_ends = [m.end() for m in paras]
        sents = list(_SENT_SPLIT.finditer(text))
        self._sent_starts = [m.start() for m in sents]
        self._sent_ends = [m.end() for m in sents]
        self._mentions: _MentionIndex | None = None
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, at: int) -> tuple[int, int]:
        """[start, end) of the line holding offset ``at`` (end: its newline, or the end)."""
        i = bisect.bisect_left(self._newlines, at)
        start = self._newlines[i - 1] + 1 if i else 0
        return start, self._newlines[i] if i < len(self._newlines) else len(self.text)

    def paragraph(self, start: int, end: int) -> tuple[int, int]:
        """[left, right) of the paragraph holding [start, end)."""
        i = bisect.bisect_right(self._para_ends, start)  # separators ending at or before start
        left = self._para_ends[i - 1] if i else 0
        j = bisect.bisect_left(self._para_starts, end)  # the first separator from end on
        return left, self._para_starts[j] if j < len(self._para_starts) else len(self.text)

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """[left, right) of the sentence holding [start, end), within its paragraph."""
        p_left, p_right = self.paragraph(start, end)
        left = p_left
        i = bisect.bisect_right(self._sent_ends, start)
        if i and self._sent_starts[i - 1] >= p_left:
            left = self._sent_ends[i - 1]
        right = p_right
        j = bisect.bisect_left(self._sent_starts, end)
        if j < len(self._sent_starts) and self._sent_ends[j] <= p_right:
            right = self._sent_starts[j]
        return left, right

    def sentence_around(self, start: int, end: int) -> str:
        """The sentence holding [start, end) (hard wraps joined), ≤ CONTEXT_MAX chars."""
        left, right = self.sentence(start, end)
        sentence = _squash(self.text[left:right])
        written = _squash(self.text[start:end])
        return _clip(sentence, max(0, sentence.find(written[:40])), len(written))

    def mention_context(self, url: str) -> str | None:
        if self._mentions is None:
            self._mentions = _MentionIndex(self.text)
        return self._mentions.context(url)


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` holding [start, end) (hard wraps joined), ≤ CONTEXT_MAX chars."""
    return TextIndex(text).sentence_around(start, end)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[^\W\d_]{4,}", text.lower())}


class _MentionIndex:
    """The text's sentences without a URL, and which of them hold each word."""

    def __init__(self, text: str) -> None:
        self.sentences: list[str] = []
        self.holding: dict[str, list[int]] = defaultdict(list)
        for para in _PARA_SPLIT.split(text):
            for sentence in _SENT_SPLIT.split(para):
                if _URL.search(sentence):
                    continue
                for word in _words(sentence):
                    self.holding[word].append(len(self.sentences))
                self.sentences.append(sentence)

    def context(self, url: str) -> str | None:
        """The first sentence scoring best: 1 for naming the site, + the share of slug
        words it holds; None below 0.6."""
        try:
            host = urls.host_of(url).removeprefix("www.")
        except urls.BadURL:
            return None  # not a URL the archive would keep; its context does not matter
        site = host.split(".")[-2] if host.count(".") >= 1 else host
        slug = _words(re.sub(r"[^A-Za-z]+", " ", url.split(host, 1)[-1]))
        naming = set(self.holding.get(site.lower(), ()))
        slug_hits: Counter[int] = Counter()
        for word in slug:
            slug_hits.update(self.holding.get(word, ()))
        scores = {
            i: (1.0 if i in naming else 0.0) + (slug_hits[i] / len(slug) if slug else 0.0)
            for i in naming | set(slug_hits)
        }
        if not scores:
            return None
        best = min(scores, key=lambda i: (-scores[i], i))
        if scores[best] < 0.6:
            return None
        return _clip(_squash(self.sentences[best]), 0, 0)


def mention_context(text: str, url: str) -> str | None:
    """For a URL listed alone: the article sentence naming its site or most of its slug words."""
    return _MentionIndex(text).context(url)


def _sha256(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class _Collector:
    """Keeps the first citation of each normalised URL; at most ``limit`` URLs.

    The limit stops extraction as soon as it is passed: a hostile source (up to 50 MiB)
    can hold a million URLs, and each one costs a normalisation and a context.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.seen: dict[str, Citation] = {}
        self.limit = limit

    def add(
        self, written: str, position: int, context: str, role: CitationRole = CitationRole.CITED
    ) -> None:
        written = written.strip()
        try:
            key = urls.normalise(written)
        except urls.BadURL:
            return
        if key in self.seen:
            if role == CitationRole.SOURCE and self.seen[key].role != CitationRole.SOURCE:
                old = self.seen[key]
                self.seen[key] = Citation(
                    url=key,
                    url_as_written=old.url_as_written,
                    position=old.position,
                    context=old.context,
                    role=CitationRole.SOURCE,
                )
            return
        if self.limit is not None and len(self.seen) >= self.limit:
            raise TooManyCitations(
                f"cites more than {self.limit:,} distinct URLs, the limit"
                f" (max_citations = {self.limit} in config.toml): split the article,"
                " or raise the limit"
            )
        self.seen[key] = Citation(
            url=key,
            url_as_written=written,
            position=position,
            context=context[:CONTEXT_MAX],
            role=role,
        )

    def citations(self) -> list[Citation]:
        # the article's own URL first, then the citations in the order written
        return sorted(self.seen.values(), key=lambda c: (c.role != CitationRole.SOURCE, c.position))

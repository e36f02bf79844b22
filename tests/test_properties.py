"""Property tests (hypothesis): the parsers survive any text, the writers escape any string.

- extraction (text, Markdown, HTML) never fails and yields only normalised http(s) URLs;
- URL normalisation raises nothing but BadURL and is idempotent;
- requisites / outlinks / CSS url() never fail and yield only http(s) URLs;
- page analysis survives any bytes under any content type;
- the manifest writers: JSON round-trips and matches the schema, CSV round-trips, and in
  the HTML pages hostile text is only ever text (the element/attribute skeleton is the
  one a harmless document gets).

About 200 examples each by default; the tests marked slow run extraction and
normalisation with 10 000 examples each (`.ci/run` runs them: `make test` runs every
marker). The count of examples run is printed at the end (tests/faults_report.py).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re

import jsonschema
import lxml.html
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archiver import urls
from archiver.capture.requisites import css_urls, html_requisites, outlinks
from archiver.extract import CONTEXT_MAX, extract
from archiver.judge import Kind
from archiver.manifest import documents, history, html, view
from archiver.pages import PARSE_BYTES, analyse, decode_html

_COMMON = dict(
    deadline=None,
    database=None,  # nothing written to .hypothesis/ in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)  # fmt: skip
FAST = settings(max_examples=200, **_COMMON)
SLOW = settings(max_examples=10_000, **_COMMON)

# ---------------------------------------------------------------- strategies

PAYLOADS = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'><svg onload=alert(1)>",
    "</title><script>x</script>", "<!--", "-->", "]]>", "{{ 7*7 }}", "{% raw %}", "${x}",
    "javascript:alert(1)", "&lt;", "&amp;", "&#x3C;", "\u202e", "\u2028", "\ufeff", "`",
    "</textarea>", "<style>*{}</style>", "<a href='javascript:x'>x</a>", "\r\n", "\t", "%00",
    "%3Cscript%3E", "\\", "\"'", "<![CDATA[", "<iframe src=//evil>", "<base href=//evil/>",
]  # fmt: skip
HOSTS = ["example.org", "EXAMPLE.org.", "xn--80ak6aa92e.com", "пример.рф", "127.0.0.1",
         "[::1]", "[2001:db8::1]", "0x7f.1", "2130706433", "a_b.example", "", "ex ample.org",
         "[::ffff:169.254.169.254]", "localhost", "münchen.de", "a" * 70 + ".com", "%41.org",
         "[v1.x]", "[", "exa%mple.org", "xn--zz.com"]  # fmt: skip
SCHEMES = ["http", "https", "HTTP", "hTTpS", "ftp", "javascript", "file", "mailto", "data", ""]


def _piece(extra: list[str]):
    return st.one_of(st.sampled_from(extra), st.text(max_size=12))


@st.composite
def url_like(draw) -> str:
    scheme = draw(st.sampled_from(SCHEMES))
    sep = draw(st.sampled_from(["://", ":", ":/", ":///", "//", ""]))
    user = draw(st.sampled_from(["", "user@", "u:p@", "@", ":@"]))
    host = draw(st.one_of(st.sampled_from(HOSTS), st.text(max_size=15)))
    port = draw(st.sampled_from(["", ":80", ":443", ":0", ":65536", ":-1", ":x", ":8080", ":"]))
    path = "".join(draw(st.lists(_piece(["/", "//", "/../", "%2F", "%7e", "%e2%82%ac", "é", " ",
                                         "%", "%zz", ";p=1"]), max_size=5)))  # fmt: skip
    query = draw(st.sampled_from(["", "?", "?a=1&b=2", "?utm_source=x&id=3", "?fbclid=1",
                                  "?q=<script>", "?a=%20b+c", "?=&&="]))  # fmt: skip
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?b"]))
    return f"{scheme}{sep}{user}{host}{port}{path}{query}{fragment}"


def _words():
    return st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@st.composite
def plain_article(draw) -> str:
    parts = draw(st.lists(st.one_of(_words(), url_like(), st.sampled_from(
        ["\n\n", ". ", "Original url:\n", "Source: ", "(", ")", "«", "»", "<", ">", "\"", "…"]
    ) | st.sampled_from(PAYLOADS)), max_size=25))  # fmt: skip
    return "".join(parts)


@st.composite
def markdown_article(draw) -> str:
    def link(u: str, text: str) -> str:
        return draw(st.sampled_from([f"[{text}]({u})", f"<{u}>", f"![{text}]({u} \"t\")",
                                     f"[{text}]: {u}\n", f"[{text}][{text}]", f"`{u}`",
                                     f"```\n{u}\n```\n", f"# {text} {u}\n", f"> {u}\n",
                                     f"* [{text}]({u})\n", f"[{text}]({u}"]))  # fmt: skip

    parts = draw(st.lists(st.one_of(_words(), st.builds(link, url_like(), _words()),
                                    st.sampled_from(PAYLOADS)), max_size=20))  # fmt: skip
    return "".join(parts)


@st.composite
def html_article(draw) -> str:
    def tag(u: str, text: str) -> str:
        return draw(st.sampled_from([
            f'<a href="{u}">{text}</a>', f"<a href={u}>{text}", f"<p>{text} {u}</p>",
            f'<link rel="canonical" href="{u}">', f'<meta property="og:url" content="{u}">',
            f'<base href="{u}">', f"<title>{text}</title>", f"<article>{text}",
            f'<img src="{u}" srcset="{u} 2x, , {text}">', f"<script>{text}</script>",
            f"<!-- {text} -->", f"<nav><a href='{u}'>{text}</a></nav>", "</div></p></html>",
            f'<iframe src="{u}"></iframe>', f"<style>@import url({u});</style>",
        ]))  # fmt: skip

    head = draw(st.sampled_from(["", "<!DOCTYPE html><html><head>", "<html><body>", "<body"]))
    parts = draw(st.lists(st.one_of(_words(), st.builds(tag, url_like(), _words()),
                                    st.sampled_from(PAYLOADS)), max_size=20))  # fmt: skip
    return head + "".join(parts)


ARTICLES = {"text": plain_article(), "markdown": markdown_article(), "html": html_article()}

# ---------------------------------------------------------------- extraction


def check_extraction(kind: str, text: str) -> None:
    ex = extract(text, kind)
    assert ex.kind == kind and isinstance(ex.title, str)
    seen = set()
    for c in ex.citations:
        assert urls.is_http_url(c.url), c
        assert urls.normalise(c.url) == c.url, c  # a target key is its own normal form
        assert c.url not in seen
        seen.add(c.url)
        assert c.role in ("cited", "source")
        assert len(c.context) <= CONTEXT_MAX
    assert sum(c.role == "source" for c in ex.citations) <= 1
    assert extract(text, kind) == ex  # deterministic


@FAST
@given(data=st.data(), kind=st.sampled_from(sorted(ARTICLES)))
def test_extraction_survives_anything(data, kind, figures):
    text = data.draw(st.one_of(ARTICLES[kind], st.text()))
    figures.fuzz(f"extract-{kind}")
    check_extraction(kind, text)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(ARTICLES))
def test_extraction_survives_anything_10k(kind, figures):
    @SLOW
    @given(text=st.one_of(ARTICLES[kind], st.text()))
    def run(text):
        figures.fuzz(f"extract-{kind}-10k")
        check_extraction(kind, text)

    run()


# what the fuzzing found (each crashed `archive add` or made a target key that is no URL)
FOUND = [
    ("text", "HTTP://\x80"),  # BadURL escaped the context finder
    ("text", "Original url: http://\x80\n\nhttps://example.org/a"),  # …and the source URL
    ("html", '<A HREF="HTTP:// #">'),  # normalised to "http:///"
    ("html", '<base href="http://[::1"><a href="/x">x</a>'),  # urljoin: Invalid IPv6 URL
    ("html", '<a href="http://ex ample.org/">x</a>'),  # a space in the host was kept
    ("markdown", "[x](http://[)"),
]


@pytest.mark.parametrize(("kind", "text"), FOUND)
def test_what_fuzzing_found(kind, text):
    check_extraction(kind, text)
    found, iframes = html_requisites(text, "https://example.org/")
    assert all(urls.is_http_url(u) for u in [*found, *iframes, *outlinks(text, "https://e.org/")])


# ---------------------------------------------------------------- URL normalisation


def check_normalise(url: str) -> None:
    for drop in (True, False):
        try:
            n = urls.normalise(url, drop_tracking=drop)
        except urls.BadURL:
            continue
        assert urls.normalise(n, drop_tracking=drop) == n, (url, n)
        assert urls.is_http_url(n)
        assert n.split("://", 1)[0] in ("http", "https")
        assert "#" not in n
        assert not re.search(r"\s", n)
    urls.url_refusal(url, allow_private=False)  # never raises
    urls.url_refusal(url, allow_private=True)


@FAST
@given(url=st.one_of(url_like(), st.text()))
# dots UTS 46 maps to "." (found by this test in CI: "http://\u2024" became "http://./")
@example(url="http://\u2024")
@example(url="http://example\u3002com\u3002/x")
@example(url="http://a\u2024/")
def test_normalise_is_idempotent_and_raises_only_bad_url(url, figures):
    figures.fuzz("normalise")
    check_normalise(url)


@pytest.mark.slow
@SLOW
@given(url=st.one_of(url_like(), st.text()))
def test_normalise_is_idempotent_and_raises_only_bad_url_10k(url, figures):
    figures.fuzz("normalise-10k")
    check_normalise(url)


# ---------------------------------------------------------------- requisites and pages


@FAST
@given(page=st.one_of(html_article(), st.text()), base=url_like())
def test_requisites_and_outlinks_survive_anything(page, base, figures):
    figures.fuzz("requisites")
    page_url = base if urls.is_http_url(base) else "https://example.org/page"
    found, iframes = html_requisites(page, page_url)
    for u in [*found, *iframes, *outlinks(page, page_url), *css_urls(page, page_url)]:
        assert urls.is_http_url(u), u
        assert "#" not in u


CONTENT_TYPES = [None, "", "text/html", "text/html; charset=utf-8", "text/html; charset=nope",
                 "text/html; charset=utf-16", "text/plain; charset=windows-1251",
                 "application/xhtml+xml", "application/octet-stream", "image/png",
                 "text/html;charset=", "TEXT/HTML; CHARSET=KOI8-R"]  # fmt: skip


@FAST
@given(
    body=st.one_of(st.binary(max_size=4000), html_article().map(lambda s: s.encode("utf-8")),
                   html_article().map(lambda s: s.encode("utf-16")),
                   st.text().map(lambda s: s.encode("cp1251", "replace"))),
    ctype=st.sampled_from(CONTENT_TYPES),
)  # fmt: skip
def test_page_analysis_survives_any_bytes(body, ctype, figures):
    figures.fuzz("analyse")
    info = analyse(body, ctype)
    assert isinstance(info.title, str) and isinstance(info.text, str)
    assert info.quality in (None, *(k.value for k in Kind if k is not Kind.PAGE))
    assert info.reasons  # every judgement says why, the page included
    assert "\x00" not in decode_html(body, ctype)


def test_parse_window_never_splits_a_character():
    page = ("<p>" + "é" * 100 + "</p>").encode() * (PARSE_BYTES // 100)
    assert decode_html(page, "text/html; charset=utf-8").endswith("é" * 100 + "</p>")
    text = "é".encode() * PARSE_BYTES  # no tag to cut before
    assert set(decode_html(text, "text/plain; charset=utf-8")) == {"é"}


# ---------------------------------------------------------------- manifest writers

TIME = "2026-11-25T20:30:00Z"


def base_doc() -> dict:
    """A schema-valid article document whose every text field is harmless."""
    snapshot = {
        "captured_at": TIME, "warc": "warcs/2026/11/archive-20261125203000-00000.warc.gz",
        "offset": 0, "length": 100, "record_id": "<urn:uuid:0>", "record_type": "response",
        "status": 200, "final_url": "https://example.org/final", "redirects": [],
        "content_type": "text/html", "payload_digest": "sha256:" + "0" * 64, "size": 10,
        "title": "Snapshot title", "resources": 1, "truncated": False, "good": True,
        "quality": None,
    }  # fmt: skip
    check = {
        "checked_at": TIME,
        "status": 200,
        "final_url": "https://example.org/checked",
        "redirects": [],
        "classification": "ok",
        "similarity": 0.9,
        "error": "Check error",
    }
    citation = {
        "id": 1, "url": "https://example.org/cited", "url_as_written": "example text as written",
        "role": "cited", "context": "Context sentence.", "capture_state": "archived",
        "rot": "ok", "dead": False, "last_error": "Last error",
        "snapshots": [snapshot], "checks": [check],
        "review": {"state": "flagged", "note": "Review note", "by": "Reviewer", "at": TIME},
    }  # fmt: skip
    return {
        "article": {"id": "an-article", "title": "Article title", "source": "article.txt",
                    "source_url": "https://example.org/article", "added_at": TIME},
        "citations": [citation],
    }  # fmt: skip


# (path into the document, is it a URL?) of every field a page or an editor controls
FIELDS = [
    (("article", "title"), False), (("article", "source"), False),
    (("article", "source_url"), True), (("citations", 0, "url"), True),
    (("citations", 0, "url_as_written"), False), (("citations", 0, "context"), False),
    (("citations", 0, "last_error"), False),
    (("citations", 0, "snapshots", 0, "final_url"), True),
    (("citations", 0, "snapshots", 0, "title"), False),
    (("citations", 0, "snapshots", 0, "content_type"), False),
    (("citations", 0, "checks", 0, "final_url"), True),
    (("citations", 0, "checks", 0, "error"), False),
    (("citations", 0, "review", "note"), False), (("citations", 0, "review", "by"), False),
]  # fmt: skip
# shown as text on the article page (the others may sit in attributes or be elided)
VISIBLE = {("article", "title"), ("citations", 0, "context"), ("citations", 0, "last_error"),
           ("citations", 0, "snapshots", 0, "title"), ("citations", 0, "review", "note"),
           ("citations", 0, "checks", 0, "error")}  # fmt: skip

# printable hostile text: C0 controls other than tab/newline are not markup, and an
# HTML parser drops them, so they cannot be compared as text
_PRINTABLE = st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\t\n")
hostile = st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(_PRINTABLE, max_size=15)),
                   min_size=1, max_size=6).map("".join).map(
                       lambda s: s.replace("\r", "")).filter(lambda s: s.strip())  # fmt: skip


def _set(doc: dict, path: tuple, value) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _field_value(path, is_url: bool, text: str) -> str:
    if is_url:  # an http(s) URL with hostile bytes in it: a link, its href escaped
        return "https://example.org/" + text
    if path[-1] == "context":
        return text[:CONTEXT_MAX]
    return text


def _skeleton(page: str) -> list[tuple[str, tuple[str, ...]]]:
    root = lxml.html.document_fromstring(page)
    return [
        (el.tag if isinstance(el.tag, str) else "<!-- -->", tuple(sorted(el.attrib)))
        for el in root.iter()
    ]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _render(doc: dict) -> str:
    return html.render_article(view.article_view(doc, generated_at=TIME))


def test_the_harmless_document_is_schema_valid():
    jsonschema.validate(base_doc(), documents.json_schema())


@FAST
@given(values=st.lists(hostile, min_size=len(FIELDS), max_size=len(FIELDS)))
def test_manifest_writers_escape_anything(values, figures):
    figures.fuzz("manifest-writers")
    # each field's own prefix keeps the values distinct, as the harmless ones are: the
    # page shows some fields only where two differ (final URL vs cited URL)
    values = [f"f{i} {text}" for i, text in enumerate(values)]
    doc = base_doc()
    for (path, is_url), text in zip(FIELDS, values, strict=True):
        _set(doc, path, _field_value(path, is_url, text))
    # JSON: valid, the same document back, and schema-valid
    back = json.loads(documents.json_text(doc))
    assert back == doc
    jsonschema.validate(back, documents.json_schema())
    # CSV: one header, one row, every cell back as written
    rows = list(csv.reader(io.StringIO(documents.csv_text(doc), newline="")))
    assert rows[0] == list(documents.CSV_COLUMNS)
    assert rows[1:] == [list(documents.csv_row(doc["citations"][0]).values())]
    # HTML: the same elements and attributes as for harmless text; the text shows as text
    page = _render(doc)
    harmless = base_doc()
    for i, (path, is_url) in enumerate(FIELDS):
        _set(harmless, path, _field_value(path, is_url, f"f{i} harmless"))
    assert _skeleton(page) == _skeleton(_render(harmless))
    shown = _squash(lxml.html.document_fromstring(page).text_content())
    for (path, is_url), text in zip(FIELDS, values, strict=True):
        if path in VISIBLE:
            assert _squash(_field_value(path, is_url, text)) in shown, path


@FAST
@given(title=hostile, source_url=hostile)
def test_index_page_escapes_anything(title, source_url, figures):
    figures.fuzz("manifest-index")
    from collections import Counter

    def article(title: str, url: str) -> dict:
        return {"id": "an-article", "title": title, "source_url": url, "citations": 2,
                "rot": Counter(ok=1, unchecked=1), "capture": Counter(archived=2),
                "review": Counter(pending=2), "dead": 0}  # fmt: skip

    def render(a: dict) -> str:
        arts = [a, copy.deepcopy(a) | {"id": "another"}]
        return html.render_index(articles=arts, totals=history.totals(arts), chart=None,
                                 generated_at=TIME)  # fmt: skip

    page = render(article(title, "https://example.org/" + source_url))
    assert _skeleton(page) == _skeleton(render(article("harmless", "https://example.org/x")))
    assert _squash(title) in _squash(lxml.html.document_fromstring(page).text_content())

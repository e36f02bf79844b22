"""Citation extraction: the sample article, tables of forms, never crashing on junk."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.extract import extract, extract_html, extract_markdown, extract_text

SAMPLE_SOURCE = (
    "https://www.themoscowtimes.com/2018/08/15/"
    "mail-ru-asks-government-to-stop-prosecuting-social-media-posts-a62532"
)
SAMPLE_CITED = [
    "https://tjournal.ru/75077-mail-ru-group-obratilas-v-gosdumu-s-prosboy-vnesti-zakonoproekt-"
    "o-dekriminalizacii-repostov-i-amnistii-osuzhdennyh",
    "https://www.themoscowtimes.com/2026/06/17/vkontakte-announces-privacy-reforms-after-spate-"
    "of-extremism-prosecutions",
    "https://themoscowtimes.com/news/vkontakte-announces-privacy-reforms-after-spate-of-"
    "extremism-prosecutions-62512",
    "https://www.bbc.com/russian/news-45188838",
    "https://t.me/PlushevChannel/2850",
    "https://themoscowtimes.com/news/russias-big-brother-law-enters-into-force-62066",
    "https://www.vedomosti.ru/politics/articles/2018/08/14/778045-ne-otsenili-v-kontakte",
]


def test_sample_article(sample_article):
    ex = extract_text(sample_article.read_text(encoding="utf-8"))
    assert ex.source_url == SAMPLE_SOURCE
    assert ex.title == "Prosecuting Social Media Posts"
    sources = [c for c in ex.citations if c.role == "source"]
    cited = [c for c in ex.citations if c.role == "cited"]
    assert [c.url for c in sources] == [SAMPLE_SOURCE]
    assert [c.url for c in cited] == SAMPLE_CITED
    assert all(c.context for c in cited)
    by_url = {c.url: c for c in cited}
    assert "Vedomosti" in by_url[SAMPLE_CITED[-1]].context
    assert "Tjournal" in by_url[SAMPLE_CITED[0]].context
    assert all(len(c.context) <= 300 for c in ex.citations)


def urls_of(ex):
    return [c.url for c in ex.citations if c.role == "cited"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://example.com/a.", ["https://example.com/a"]),
        ("(https://example.com/a), and more", ["https://example.com/a"]),
        ("«https://example.com/путь»", ["https://example.com/%D0%BF%D1%83%D1%82%D1%8C"]),
        ('He said "https://example.com/q?x=1".', ["https://example.com/q?x=1"]),
        (
            "Wiki https://en.wikipedia.org/wiki/Foo_(bar) here",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
        ),
        ("https://example.com/a#one https://example.com/a#two", ["https://example.com/a"]),
        ("https://example.com/a?utm_source=x https://example.com/a", ["https://example.com/a"]),
        (
            "http://пример.рф/ and https://EXAMPLE.com/B",
            ["http://xn--e1afmkfd.xn--p1ai/", "https://example.com/B"],
        ),
        ("no links here, mailto:a@b.c and ftp://x.org/f", []),
        ("Go to https://example.com/a!", ["https://example.com/a"]),
        ("Two: https://a.org/x,https://b.org/y", ["https://a.org/x,https://b.org/y"]),
    ],
)
def test_text_forms(text, expected):
    assert urls_of(extract_text(text)) == expected


WRAP = "x" * 70 + " " * 3 + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a URL alone, broken mid-word, continuation alone on the next line
        (
            "Original url:\nhttps://example.com/some/long-article-na\nme-123\n\nEnd.",
            ["https://example.com/some/long-article-name-123"],
        ),
        # next line is a new URL: no join
        (
            "https://example.com/a\nhttps://example.com/b\n",
            ["https://example.com/a", "https://example.com/b"],
        ),
        # next line is prose: no join
        ("See https://example.com/a\nThe next paragraph starts here.\n", ["https://example.com/a"]),
    ],
)
def test_wrapped_urls(text, expected):
    ex = extract_text(text)
    assert [c.url for c in ex.citations] == expected


def test_wrapped_url_in_hard_wrapped_paragraph():
    line1 = "The report is at https://example.com/reports/2018/annual-report-on-social-media-pro"
    line2 = "secutions.html and it says a lot about the courts in the regions of Russia today."
    filler = "This paragraph is hard-wrapped at about eighty-five characters like email text."
    text = "\n".join([filler, filler, line1, line2, filler]) + "\n"
    assert len(line1) >= 80
    assert urls_of(extract_text(text)) == [
        "https://example.com/reports/2018/annual-report-on-social-media-prosecutions.html"
    ]


def test_markdown_forms():
    md = """# Title here

Inline [link](https://a.org/x "title") and [ref][r] and <https://b.org/y>.
Bare https://c.org/z too. An image ![i](https://img.org/i.png) counts as a link? no.

    code https://code.org/not-a-link-in-code-block

[r]: https://d.org/ref
"""
    ex = extract_markdown(md)
    got = urls_of(ex)
    assert got[:4] == ["https://a.org/x", "https://d.org/ref", "https://b.org/y", "https://c.org/z"]
    assert ex.title == "Title here"
    ctx = {c.url: c.context for c in ex.citations}
    assert "Inline" in ctx["https://a.org/x"]


def test_html_article_body_base_and_non_links():
    html = """<!doctype html><html><head><title>T</title>
    <base href="https://news.example/section/">
    <link rel="canonical" href="https://news.example/section/story-1">
    </head><body><nav><a href="/home">Home</a></nav>
    <article><p>First <a href="rel/page">relative</a> and
    <a href="https://other.org/a#x">abs</a>.</p>
    <p><a href="javascript:alert(1)">js</a> <a href="mailto:x@y.z">m</a> <a href="tel:123">t</a>
    <a href="#top">top</a> <a href="//cdn.example/p">proto-relative</a></p></article>
    <footer><a href="https://footer.example/">f</a></footer></body></html>"""
    ex = extract_html(html)
    assert ex.source_url == "https://news.example/section/story-1"
    assert urls_of(ex) == [
        "https://news.example/section/rel/page",
        "https://other.org/a",
        "https://cdn.example/p",
    ]
    ctx = {c.url: c.context for c in ex.citations}
    assert ctx["https://other.org/a"].startswith("First relative and abs")


def test_html_without_article_drops_chrome():
    html = (
        "<html><body><header><a href='https://h.org/'>h</a></header>"
        "<div><p>Text <a href='https://cited.org/a'>c</a></p></div>"
        "<footer><a href='https://f.org/'>f</a></footer></body></html>"
    )
    assert urls_of(extract_html(html, page_url="https://site.org/p")) == ["https://cited.org/a"]


def test_source_url_given_on_command_line_wins():
    ex = extract("See https://a.org/x", "text", source_url="https://news.org/story")
    assert ex.source_url == "https://news.org/story"
    assert ex.citations[0].role == "source"


def test_duplicate_of_source_is_one_citation():
    ex = extract_text("Original url: https://a.org/s\n\nAlso https://a.org/s#x and https://b.org")
    assert [(c.url, c.role) for c in ex.citations] == [
        ("https://a.org/s", "source"),
        ("https://b.org/", "cited"),
    ]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_text_extraction_never_crashes(text):
    ex = extract_text(text)
    for c in ex.citations:
        assert c.url.startswith(("http://", "https://"))
        assert len(c.context) <= 300


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=1500))
def test_markdown_and_html_extraction_never_crash(text):
    extract_markdown(text)
    extract_html(text)
    extract_html("<a href='" + text + "'>x</a>", page_url="https://base.org/")


@settings(max_examples=100)
@given(st.binary(max_size=500))
def test_text_from_arbitrary_bytes(data):
    extract_text(data.decode("utf-8", "replace"))

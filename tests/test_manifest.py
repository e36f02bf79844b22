"""Manifests: per-article JSON (schema), CSV, HTML (escaping, no requests), index, refresh."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import select

from archiver.app import App, init_archive
from archiver.cli import cli
from archiver.config import load_settings
from archiver.extract import extract_text
from archiver.manifest import documents, history, refresh, view, write_article
from archiver.manifest.articles import article_doc
from archiver.manifest.chart import stacked_chart
from archiver.store import schema as t

HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

ARTICLE = """Courts and posts

Prosecutors cited a post (https://t.me/channel/2850) as evidence of extremism.
The Moscow Times reported it at https://www.themoscowtimes.com/2018/08/15/a62532 last week.
A third outlet, https://closed.example.org/news/1, has since shut down.
"""


# ------------------------------------------------------------------ building archives


def make_app(tmp_path: Path) -> App:
    init_archive(tmp_path)
    return App(settings=load_settings(tmp_path / "config.toml"))


def add_article(app: App, text: str = ARTICLE, source: str = "article.txt") -> str:
    article_id, _, _ = app.store.save_article(extract_text(text), source)
    return article_id


def target_of(app: App, article_id: str, n: int) -> int:
    c = t.citation
    with app.store.read() as conn:
        return conn.execute(
            select(c.c.target_id).where(c.c.article_id == article_id, c.c.n == n)
        ).scalar_one()


def add_snapshot(app: App, target_id: int, **over) -> None:
    row = dict(
        target_id=target_id,
        captured_at=T0,
        warc="warcs/2026/11/archive-20261120093000-00000.warc.gz",
        offset=1234,
        length=5678,
        record_id="<urn:uuid:6f0c2b9e-8f7e-4d5e-9c55-1a2b3c4d5e6f>",
        record_type="response",
        status=200,
        final_url="https://t.me/channel/2850",
        redirects=[],
        content_type="text/html; charset=utf-8",
        payload_digest="sha256:" + "ab" * 32,
        size=14_532,
        title="Channel post",
        resources=12,
        truncated=False,
        good=True,
        quality="ok",
    )
    row.update(over)
    with app.store.tx() as conn:
        conn.execute(t.snapshot.insert().values(**row))
        conn.execute(
            t.target.update().where(t.target.c.id == target_id).values(capture_state="archived")
        )


def add_check(app: App, target_id: int, at: datetime, classification: str, **over) -> None:
    row = dict(
        target_id=target_id,
        checked_at=at,
        status=200,
        final_url=None,
        redirects=[],
        classification=classification,
        similarity=0.97,
        error=None,
    )
    row.update(over)
    with app.store.tx() as conn:
        conn.execute(t.check.insert().values(**row))
        conn.execute(t.target.update().where(t.target.c.id == target_id).values(rot=classification))


def rich_archive(tmp_path: Path) -> tuple[App, str]:
    """An article with a good snapshot, a later bot wall, checks over days, a dead link."""
    app = make_app(tmp_path)
    aid = add_article(app)
    post, news, closed = (target_of(app, aid, n) for n in (1, 2, 3))
    add_snapshot(app, post)
    add_snapshot(
        app,
        post,
        captured_at=T0 + timedelta(days=3),
        offset=9000,
        length=400,
        record_id="<urn:uuid:00000000-0000-4000-8000-000000000002>",
        good=False,
        quality="bot-wall",
        title="Just a moment...",
        size=2_100,
    )
    add_snapshot(
        app,
        news,
        offset=20000,
        final_url="https://www.themoscowtimes.com/2018/08/15/a62532",
        title="Mail.ru asks government to stop prosecuting",
        size=88_000,
    )
    for day in range(4):
        at = T0 + timedelta(days=day, hours=1)
        add_check(
            app, post, at, "ok" if day < 2 else "soft-404", similarity=None if day >= 2 else 0.99
        )
        add_check(app, news, at, "ok" if day < 1 else "drifted", similarity=0.42 if day else 0.98)
        add_check(
            app,
            closed,
            at,
            "unreachable",
            status=None,
            similarity=None,
            error="DNS: name not found",
        )
    with app.store.tx() as conn:
        conn.execute(
            t.target.update()
            .where(t.target.c.id == closed)
            .values(dead=True, capture_state="failed", last_error="DNS: name not found")
        )
    return app, aid


def _step(part: str) -> str:
    tag, *classes = part.split(".")
    tests = "".join(
        f"[contains(concat(' ', normalize-space(@class), ' '), ' {c} ')]" for c in classes
    )
    return (tag or "*") + tests


def css(el, selector: str) -> list:
    """A CSS subset (tag.class, descendants) on lxml without the cssselect package."""
    return el.xpath("." + "".join("//" + _step(p) for p in selector.split()))


def validator() -> Draft202012Validator:
    schema = documents.json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# ------------------------------------------------------------------ refresh and files


def test_refresh_writes_every_file_and_marks_clean(tmp_path):
    app, aid = rich_archive(tmp_path)
    written = refresh(app)
    folder = app.settings.manifests_path
    assert written == [
        folder / f"{aid}.json",
        folder / f"{aid}.csv",
        folder / f"{aid}.html",
        folder / "index.html",
    ]
    assert app.store.article_ids(dirty_only=True) == []
    leftovers = sorted(p.name for p in folder.iterdir())
    assert leftovers == sorted(
        [".refresh.lock", "index.html", f"{aid}.json", f"{aid}.csv", f"{aid}.html"]
    )  # no temp files left behind


def test_refresh_of_nothing_dirty_rewrites_only_the_index(tmp_path):
    app, aid = rich_archive(tmp_path)
    refresh(app)
    assert refresh(app) == [app.settings.manifests_path / "index.html"]
    app.store.set_review(aid, 2, "approved", None, "ed")
    assert [p.name for p in refresh(app)] == [
        f"{aid}.json",
        f"{aid}.csv",
        f"{aid}.html",
        "index.html",
    ]


def test_refresh_unknown_article_is_a_usage_error(tmp_path):
    from archiver.errors import UsageError

    app = make_app(tmp_path)
    with pytest.raises(UsageError):
        refresh(app, ["no-such-article"])


def test_json_is_the_article_document_and_validates(tmp_path):
    app, aid = rich_archive(tmp_path)
    refresh(app)
    doc = json.loads((app.settings.manifests_path / f"{aid}.json").read_text("utf-8"))
    assert doc == article_doc(app.store, aid)
    validator().validate(doc)
    assert doc["article"]["added_at"].endswith("Z")
    snap = doc["citations"][0]["snapshots"][0]
    assert snap["captured_at"] == "2026-11-20T09:30:00Z"
    assert not snap["warc"].startswith("/")
    assert doc["citations"][0]["checks"][-1]["classification"] == "soft-404"


@pytest.mark.parametrize(
    "path, value",
    [
        (("article", "added_at"), "2026-11-20 09:30:00"),  # no Z
        (("citations", 0, "snapshots", 0, "warc"), "/abs/warcs/x.warc.gz"),
        (("citations", 0, "snapshots", 0, "warc"), "warcs/../../etc/x.warc.gz"),
        (("citations", 0, "rot"), "fine"),
        (("citations", 0, "review", "state"), "maybe"),
        (("citations", 0, "snapshots", 0, "payload_digest"), "sha1:abc"),
    ],
)
def test_schema_rejects_what_the_design_forbids(tmp_path, path, value):
    app, aid = rich_archive(tmp_path)
    doc = article_doc(app.store, aid)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(validator().iter_errors(doc))


def test_csv_round_trips_with_the_csv_module(tmp_path):
    app, aid = rich_archive(tmp_path)
    app.store.set_review(aid, 1, "flagged", 'copy is a bot wall, "see" row 2,\nthen fix', "ed")
    refresh(app)
    raw = (app.settings.manifests_path / f"{aid}.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    doc = article_doc(app.store, aid)
    assert tuple(rows[0]) == documents.CSV_COLUMNS
    assert rows == [documents.csv_row(c) for c in doc["citations"]]
    first = rows[0]
    assert first["note"] == 'copy is a bot wall, "see" row 2,\nthen fix'
    assert first["captured_at"] == "2026-11-23T09:30:00Z"  # the last snapshot
    assert (first["review_state"], first["offset"], first["status"]) == ("flagged", "9000", "200")
    assert rows[2]["dead"] == "true" and rows[2]["warc"] == ""


# ------------------------------------------------------------------ HTML


def _page(app: App, aid: str) -> tuple[str, lxml.html.HtmlElement]:
    text = (app.settings.manifests_path / f"{aid}.html").read_text("utf-8")
    return text, lxml.html.fromstring(text)


def test_article_page_shows_status_snapshots_checks_and_review(tmp_path):
    app, aid = rich_archive(tmp_path)
    app.store.set_review(aid, 2, "approved", "matches the print edition", "maria")
    refresh(app)
    _, tree = _page(app, aid)
    cards = css(tree, "article.cite")
    assert len(cards) == 3
    post, news, closed = cards
    assert [b.text for b in css(post, ".badges .badge")] == ["archived", "soft-404"]
    assert "bad" in css(post, ".badges .badge")[1].get("class")
    assert css(closed, ".badge.dead")
    assert len(css(css(post, "details")[0], "tbody tr")) == 2
    assert len(css(css(post, "details")[1], "tbody tr")) == 4
    assert "ab" * 32 in post.text_content()
    assert "matches the print edition" in css(news, ".review")[0].text_content()
    assert css(news, ".review .badge.good")[0].text == "approved"
    assert css(closed, ".instead.none")
    assert "DNS: name not found" in closed.text_content()


def test_cite_instead_is_the_last_good_snapshot_as_a_robust_link(tmp_path):
    app, aid = rich_archive(tmp_path)
    refresh(app)
    _, tree = _page(app, aid)
    post = css(tree, "article.cite")[0]
    snippet = css(post, ".instead pre code")[0].text_content()
    link = lxml.html.fragment_fromstring(snippet)
    assert link.tag == "a"
    assert link.get("href") == link.get("data-originalurl") == "https://t.me/channel/2850"
    # the bot wall captured three days later never replaces the good copy
    assert link.get("data-versiondate") == "2026-11-20"
    assert link.get("data-versionurl") == (
        "warc:warcs/2026/11/archive-20261120093000-00000.warc.gz#offset=1234"
    )
    assert link.text == "Channel post"


def test_robust_link_with_a_replay_prefix():
    snap = {"captured_at": "2026-11-20T09:30:00Z", "warc": "w.warc.gz", "offset": 5, "title": None}
    got = view.robust_link("https://a.example/x?y=1&z=2", snap, "https://replay.example/arch/")
    link = lxml.html.fragment_fromstring(got)
    assert link.get("data-versionurl") == (
        "https://replay.example/arch/20261120093000/https://a.example/x?y=1&z=2"
    )
    assert link.get("href") == "https://a.example/x?y=1&z=2"


def _hostile_archive(tmp_path: Path) -> tuple[App, str]:
    text = f"{HOSTILE} & friends\n\nThey said {HOSTILE} at https://evil.example/p then left.\n"
    app = make_app(tmp_path)
    aid = add_article(app, text, source=f"/tmp/{HOSTILE}.txt")
    target = target_of(app, aid, 1)
    add_snapshot(app, target, title=HOSTILE, final_url='https://evil.example/"><img src=x>')
    add_check(app, target, T0, "blocked", error=HOSTILE, final_url="javascript:alert(1)")
    with app.store.tx() as conn:
        conn.execute(t.citation.update().values(url_as_written=f'https://evil.example/p"{HOSTILE}'))
        conn.execute(
            t.target.update()
            .where(t.target.c.id == target)
            .values(url=f"javascript:alert('{HOSTILE}')")
        )
    app.store.set_review(aid, 1, "flagged", HOSTILE, HOSTILE)
    return app, aid


def test_hostile_strings_are_escaped_in_html_and_valid_in_json(tmp_path):
    app, aid = _hostile_archive(tmp_path)
    refresh(app)
    text, tree = _page(app, aid)
    assert HOSTILE not in text
    assert tree.xpath("//script") == [] and tree.xpath("//img") == []
    assert css(tree, "h1")[0].text_content() == f"{HOSTILE} & friends"
    assert HOSTILE in css(tree, "blockquote")[0].text_content()
    # a javascript: URL is shown, never linked
    assert not [a for a in tree.xpath("//a[@href]") if "javascript" in a.get("href").lower()]
    card = css(tree, "article.cite")[0]
    assert f"javascript:alert('{HOSTILE}')" in css(card, ".cite-url")[0].text_content()
    assert css(card, ".review q")[0].text_content() == HOSTILE
    index = (app.settings.manifests_path / "index.html").read_text("utf-8")
    assert HOSTILE not in index and lxml.html.fromstring(index).xpath("//script") == []
    doc = json.loads((app.settings.manifests_path / f"{aid}.json").read_text("utf-8"))
    assert doc["article"]["title"].startswith(HOSTILE)
    assert doc["citations"][0]["review"]["note"] == HOSTILE


def test_reasons_are_in_the_json_one_line_in_html_and_status(tmp_path):
    """Issue 17: why a page was judged so, machine-readable in JSON (validated), one
    escaped line per citation in HTML, one line per stand-in in `archive status`."""
    app = make_app(tmp_path)
    aid = add_article(app)
    post = target_of(app, aid, 1)
    hostile = [{"rule": "markup", "detail": f"reCAPTCHA markup {HOSTILE}"}]
    add_snapshot(app, post, good=False, quality="bot-wall", reasons=hostile)
    wall = [{"rule": "cf-mitigated", "detail": "cf-mitigated: challenge, HTTP 403"}]
    add_check(app, post, T0 + timedelta(days=1), "blocked", status=403, reasons=wall)
    refresh(app)
    doc = json.loads((app.settings.manifests_path / f"{aid}.json").read_text("utf-8"))
    validator().validate(doc)
    cited = doc["citations"][0]
    assert cited["snapshots"][0]["reasons"] == hostile and cited["checks"][0]["reasons"] == wall
    assert doc["citations"][1]["snapshots"] == [] and doc["citations"][1]["checks"] == []
    text, tree = _page(app, aid)
    assert HOSTILE not in text
    (why,) = css(css(tree, "article.cite")[0], "p.why")
    assert why.text_content() == "Why: cf-mitigated: cf-mitigated: challenge, HTTP 403"
    r = CliRunner().invoke(cli, ["--config", str(app.settings.root / "config.toml"), "status", aid])
    assert r.exit_code == 0, r.output
    assert "#1 why: cf-mitigated: cf-mitigated: challenge, HTTP 403" in r.output


def test_reasons_are_optional_in_the_schema():
    """Manifests written before issue 17 (no `reasons` keys) still validate."""
    check = {"checked_at": "2026-01-01T00:00:00Z", "status": 200, "final_url": None,
             "classification": "ok", "similarity": None, "error": None}  # fmt: skip
    schema = documents.json_schema()
    sub = Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/check"})
    sub.validate(check)
    assert list(sub.iter_errors({**check, "reasons": [{"rule": 1}]}))


def test_pages_make_no_external_requests(tmp_path):
    app, _ = rich_archive(tmp_path)
    app.store.save_article(
        extract_text("Empty one\n\nNo links here at all, see nothing.\n"), "b.txt"
    )
    refresh(app, app.store.article_ids())
    for page in app.settings.manifests_path.glob("*.html"):
        text = page.read_text("utf-8")
        tree = lxml.html.fromstring(text)
        for tag in (
            "script",
            "img",
            "link",
            "iframe",
            "object",
            "embed",
            "video",
            "audio",
            "source",
            "base",
            "form",
        ):
            assert tree.xpath(f"//{tag}") == [], (page.name, tag)
        assert tree.xpath("//@src") == []
        css = " ".join(s.text_content() for s in tree.xpath("//style"))
        assert "url(" not in css and "@import" not in css
        csp = tree.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
        assert csp and "default-src 'none'" in csp[0]


# ------------------------------------------------------------------ index and rot over time


def test_index_lists_articles_with_counts_and_a_chart(tmp_path):
    app, aid = rich_archive(tmp_path)
    refresh(app)
    tree = lxml.html.fromstring((app.settings.manifests_path / "index.html").read_text("utf-8"))
    rows = css(tree, "table.articles tbody tr")
    assert len(rows) == 1
    assert css(rows[0], "a")[0].get("href") == f"{aid}.html"
    heads = [th.text_content() for th in css(tree, "table.articles thead tr")[1].xpath("th")]
    cells = dict(zip(heads, [td.text_content() for td in css(rows[0], "td")], strict=True))
    assert (
        cells["citations"],
        cells["soft-404"],
        cells["drifted"],
        cells["unreachable"],
        cells["dead"],
        cells["ok"],
        cells["reviewed"],
    ) == ("3", "1", "1", "1", "1", "·", "0/3")
    svg = tree.xpath("//svg")[0]
    columns = svg.xpath(".//g[title]")
    assert len(columns) == 4  # one per day with checks
    assert columns[0].xpath("title")[0].text == "2026-11-20: ok 2, unreachable 1"
    assert columns[-1].xpath("title")[0].text == "2026-11-23: drifted 1, soft-404 1, unreachable 1"


@pytest.mark.parametrize(
    "events, expected",
    [
        ([], []),
        ([(1, datetime(2026, 1, 1, 10, tzinfo=UTC), "ok")], [(date(2026, 1, 1), {"ok": 2})]),
        (  # the latest check of the day wins; a class that empties disappears
            [
                (1, datetime(2026, 1, 1, 10, tzinfo=UTC), "ok"),
                (2, datetime(2026, 1, 1, 11, tzinfo=UTC), "gone"),
                (1, datetime(2026, 1, 1, 12, tzinfo=UTC), "drifted"),
                (2, datetime(2026, 1, 3, 9, tzinfo=UTC), "ok"),
            ],
            [
                (date(2026, 1, 1), {"drifted": 2, "gone": 1}),
                (date(2026, 1, 3), {"drifted": 2, "ok": 1}),
            ],
        ),
    ],
)
def test_rot_series_counts_citations_by_latest_check(events, expected):
    assert history.rot_series(events, {1: 2, 2: 1}) == expected


def test_resample_carries_state_forward_and_thins_long_histories():
    series = [(date(2026, 1, 1), {"ok": 1}), (date(2026, 1, 4), {"gone": 1})]
    days = history.resample(series)
    assert [d.day for d, _ in days] == [1, 2, 3, 4]
    assert days[2] == (date(2026, 1, 3), {"ok": 1})
    long = [(date(2020, 1, 1) + timedelta(days=i), {"ok": i + 1}) for i in range(0, 2000, 3)]
    thinned = history.resample(long, max_points=100)
    assert len(thinned) <= 101 and thinned[-1] == long[-1]


def test_chart_stacks_classes_inside_the_plot():
    points = [(date(2026, 1, 1), {"ok": 3, "gone": 1}), (date(2026, 1, 2), {"ok": 1})]
    chart = stacked_chart(points, view.ROT_CLASSES)
    first = chart.columns[0]
    assert [s.cls for s in first.segments] == ["ok", "gone"]
    bottom = chart.top + chart.plot_h
    assert first.segments[0].y + first.segments[0].h == pytest.approx(bottom)
    assert min(s.y for c in chart.columns for s in c.segments) >= chart.top
    assert chart.legend == ("ok", "gone")
    assert [tick.text for tick in chart.yticks] == ["0", "1", "2", "3", "4"]


# ------------------------------------------------------------------ CLI


def _run(tmp_path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), *args], obj={})


def test_cli_manifest_and_export(tmp_path):
    app, aid = rich_archive(tmp_path)
    res = _run(tmp_path, "manifest")
    assert res.exit_code == 0, res.output
    assert "Wrote 4 files" in res.output
    res = _run(tmp_path, "manifest", aid)
    assert res.exit_code == 0, res.output
    folder = app.settings.manifests_path
    res = _run(tmp_path, "export", aid, "--csv")
    assert res.exit_code == 0 and res.stdout_bytes == (folder / f"{aid}.csv").read_bytes()
    res = _run(tmp_path, "export", aid, "--json")
    assert res.exit_code == 0 and json.loads(res.output) == json.loads(
        (folder / f"{aid}.json").read_text("utf-8")
    )


@pytest.mark.parametrize("args", [[], ["--csv", "--json"]])
def test_cli_export_needs_exactly_one_format(tmp_path, args):
    _, aid = rich_archive(tmp_path)
    assert _run(tmp_path, "export", aid, *args).exit_code == 2


def test_cli_export_unknown_article(tmp_path):
    make_app(tmp_path)
    res = _run(tmp_path, "export", "nope", "--json")
    assert res.exit_code == 2 and "no article" in res.output


# ------------------------------------------------------------------ property: any strings

_TEXT = st.lists(
    st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")),
        st.sampled_from([*"<>&\"'`=/ ", HOSTILE, "]]>", "<!--", "&amp;", "{{ x }}"]),
    ),
    max_size=12,  # ≤ 300 characters: the schema's bound on a context
).map("".join)


def _doc(title: str, context: str, note: str, snap_title: str, url_tail: str) -> dict:
    url = "https://example.org/" + url_tail
    return {
        "article": {
            "id": "a1",
            "title": title,
            "source": title,
            "source_url": None,
            "added_at": "2026-11-20T09:30:00Z",
        },
        "citations": [
            {
                "id": 1,
                "url": url,
                "url_as_written": url_tail,
                "role": "cited",
                "context": context,
                "capture_state": "archived",
                "rot": "ok",
                "dead": False,
                "last_error": note or None,
                "snapshots": [
                    {
                        "captured_at": "2026-11-20T09:30:00Z",
                        "warc": "warcs/a.warc.gz",
                        "offset": 0,
                        "length": 10,
                        "record_id": "<urn:uuid:1>",
                        "record_type": "response",
                        "status": 200,
                        "final_url": url,
                        "redirects": [url],
                        "content_type": "text/html",
                        "payload_digest": "sha256:" + "0" * 64,
                        "size": 1,
                        "title": snap_title,
                        "resources": 0,
                        "truncated": False,
                        "good": True,
                        "quality": None,
                    }
                ],
                "checks": [
                    {
                        "checked_at": "2026-11-21T09:30:00Z",
                        "status": 200,
                        "final_url": url,
                        "redirects": [],
                        "classification": "ok",
                        "similarity": 1.0,
                        "error": note or None,
                    }
                ],
                "review": {
                    "state": "flagged",
                    "note": note,
                    "by": title,
                    "at": "2026-11-21T10:00:00Z",
                },
            }
        ],
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=_TEXT, context=_TEXT, note=_TEXT, snap_title=_TEXT, url_tail=_TEXT)
def test_writers_keep_any_text_as_text(tmp_path, title, context, note, snap_title, url_tail):
    doc = _doc(title, context, note, snap_title, url_tail)
    write_article(tmp_path, doc, generated_at="2026-11-22T00:00:00Z")
    assert json.loads((tmp_path / "a1.json").read_text("utf-8")) == doc
    validator().validate(doc)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a1.csv").read_text("utf-8"), newline="")))
    # a cell a spreadsheet would run as a formula is kept as text with a leading ' (issue 23)
    as_text = "'" + note if note.startswith(("=", "+", "-", "@", "\t", "\r")) else note
    assert rows[0]["note"] == as_text and rows[0]["url"] == doc["citations"][0]["url"]
    tree = lxml.html.fromstring((tmp_path / "a1.html").read_text("utf-8"))
    assert tree.xpath("//script") == []
    assert css(tree, "h1")[0].text_content() == (title or "a1")
    if context:
        assert css(tree, "blockquote")[0].text_content() == context
    if note:
        assert css(tree, ".review q")[0].text_content() == note
    link = lxml.html.fragment_fromstring(css(tree, ".instead pre code")[0].text_content())
    assert link.get("data-originalurl") == doc["citations"][0]["url"]
    assert link.text_content() == (snap_title or doc["citations"][0]["url"])


# ------------------------------------------------------------------ headless Chromium


def _busy_fraction(png: bytes) -> float:
    """Share of non-zero bytes in the PNG's filtered scanlines.

    PNG filters turn runs of one colour into zero bytes, so a blank (single-colour)
    screenshot is ~0.1 % non-zero (the row starts) while a page of text and badges is
    several per cent. No Pillow needed.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        if png[pos + 4 : pos + 8] == b"IDAT":
            idat.append(png[pos + 8 : pos + 8 + length])
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    return 1 - raw.count(0) / len(raw)


@pytest.mark.chromium
def test_page_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium)")
    app, aid = rich_archive(tmp_path / "archive")
    app.store.set_review(aid, 2, "approved", "matches the print edition", "maria")
    refresh(app)
    shot = tmp_path / "page.png"
    page = app.settings.manifests_path / f"{aid}.html"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        page.as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=90)
    png = shot.read_bytes()
    assert len(png) > 20_000  # a blank 1280x2000 page compresses to a few KB
    assert _busy_fraction(png) > 0.01

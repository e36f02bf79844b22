"""Issue 18: requisites reused within capture.reuse_window; politeness per page visit.

The fixture web's news00.test … news19.test pages each load their own photo and five
files from one shared CDN host (cdn.news.test), 30 ms a response, every response
counted in flight for its host (`cdnnews.IN_FLIGHT`).
"""

from __future__ import annotations

import inspect
import itertools
import json
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pytest
from bs4 import dammit as bs4_dammit
from justext import core as justext_core
from sqlalchemy import select, update
from trafilatura import external
from warcio.archiveiterator import ArchiveIterator

from archiver import pages, sources
from archiver.capture.requisites import css_text, css_urls
from archiver.capture.reuse import ReuseCache, stylesheet_children
from archiver.config import load_settings
from archiver.errors import ConfigError
from archiver.interop.replay import pywb_config
from archiver.interop.replay import write_config as write_pywb
from archiver.manifest import robust
from archiver.manifest.verify import verify
from archiver.net import gate as gate_module
from archiver.net.gate import HostGate
from archiver.runs import capture as capture_run
from archiver.runs.add import add_sources
from archiver.stoplist import HashedStoplist
from archiver.store import schema as t
from archiver.warcfiles.recover import Recovered
from tests.web.sites import cdnnews

from .conftest import make_archive, write_config
from .test_capture import assert_valid_archive
from .test_interop import (
    free_port,
    local_session,
    needs_pywb,
    pywb_serving,
    run,
    snapshot_rows,
)
from .warc_tools import record_at, warc_files

CDN = cdnnews.CDN
CDN_URLS = {f"https://{CDN}{p}" for p in cdnnews.CDN_FILES}


def page(host: int, n: int) -> str:
    return f"https://news{host:02d}.test/article/{n}"


def add(app, folder: Path, name: str, *urls: str):
    path = folder / f"{name}.txt"
    path.write_text(f"Article {name}\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    report = add_sources(app, [str(path)], capture=True)
    assert report.capture.archived == len(urls), report.capture.failures
    return report.results[0].article_id


def cdn_hits(web) -> dict[str, int]:
    return {p: web.hits.count(host=CDN, target=p) for p in cdnnews.CDN_FILES}


def metadata_of(app, record_id: str) -> dict:
    for path in warc_files(app.root):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                h = rec.rec_headers
                own = h.get_header("Content-Type") == "application/json"  # not evidence
                if (
                    own
                    and rec.rec_type == "metadata"
                    and h.get_header("WARC-Concurrent-To") == record_id
                ):
                    return json.loads(rec.content_stream().read())
    raise AssertionError(f"no metadata record for {record_id}")


def reuse_rows(app, snapshot_id: int) -> list:
    r = t.snapshot_reuse
    with app.store.read() as conn:
        return list(conn.execute(select(r).where(r.c.snapshot_id == snapshot_id)))


# ------------------------------------------------------------------ reuse


def test_requisites_captured_within_the_window_are_reused(tmp_path, web):
    app = make_archive(tmp_path / "a", web)
    add(app, tmp_path, "first", page(1, 1))
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 1)
    add(app, tmp_path, "second", page(2, 2))
    # the CDN saw each file once; the page's own photo was fetched
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 1)
    assert web.hits.count(host="news02.test", target="/photo/2.jpg") == 1

    (snap,) = snapshot_rows(app, page(2, 2))
    assert snap.resources == 6  # the photo fetched, five CDN files reused
    rows = reuse_rows(app, snap.id)
    assert {r.url for r in rows} == CDN_URLS
    meta = metadata_of(app, snap.record_id)
    assert {r["url"]: r["record_id"] for r in meta["reused"]} == {r.url: r.record_id for r in rows}
    (first,) = snapshot_rows(app, page(1, 1))
    for r in rows:
        # each reference names the copy the first capture wrote, in another WARC file
        assert r.warc != snap.warc and r.warc == first.warc
        headers, http, document = record_at(app.root, r.warc, r.offset)
        assert headers.get_header("WARC-Record-ID") == r.record_id
        assert headers.get_header("WARC-Target-URI") == r.url
        assert headers.get_header("WARC-Date") == r.warc_date
        assert http.get_statuscode() == "200" and document
    assert verify(app).ok
    assert_valid_archive(app)
    app.close()


def test_one_run_fetches_each_shared_requisite_once(tmp_path, web):
    """Eight pages on eight hosts captured at once: the threads wait for each other's
    fetch of a CDN file rather than fetching it too."""
    app = make_archive(tmp_path / "a", web, capture={"workers": 8})
    urls = [page(h, 10 + h) for h in range(8)]
    add(app, tmp_path, "many", *urls)
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 1)
    reused = sum(len(reuse_rows(app, s.id)) for u in urls for s in snapshot_rows(app, u))
    assert reused == 7 * len(cdnnews.CDN_FILES)
    assert verify(app).ok
    app.close()


def test_requisites_older_than_the_window_are_fetched_again(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture={"reuse_window": "1s"})
    add(app, tmp_path, "first", page(3, 1))
    time.sleep(1.2)
    add(app, tmp_path, "second", page(4, 1))
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 2)
    (snap,) = snapshot_rows(app, page(4, 1))
    assert reuse_rows(app, snap.id) == [] and metadata_of(app, snap.record_id)["reused"] == []
    app.close()


def test_a_zero_window_always_fetches(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture={"reuse_window": "0"})
    add(app, tmp_path, "first", page(5, 1))
    add(app, tmp_path, "second", page(6, 1))
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 2)
    app.close()


def test_failed_requisites_are_not_reused(tmp_path, web):
    """Only a 2xx copy is reused: a requisite that answered 404 is asked for again."""
    app = make_archive(tmp_path / "a", web)
    add(app, tmp_path, "first", page(15, 1) + "?with=gone")
    add(app, tmp_path, "second", page(16, 1) + "?with=gone")
    assert web.hits.count(host=CDN, target="/gone.png") == 2
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 1)
    (snap,) = snapshot_rows(app, page(16, 1) + "?with=gone")
    assert {r.url for r in reuse_rows(app, snap.id)} == CDN_URLS
    app.close()


@pytest.mark.parametrize("value", ["-1s", "soon", "1 fortnight", True, [1]])
def test_reuse_window_rejects_nonsense(tmp_path, value):
    root = tmp_path / "a"
    root.mkdir()
    path = write_config(root, capture={"reuse_window": value})
    with pytest.raises(ConfigError):
        load_settings(path)


def test_a_damaged_stored_stylesheet_gives_no_children(tmp_path):
    """Reading back a stored copy never fails a capture: a cut, missing or foreign file
    gives no children (the page still names the copy; `archive verify` judges it)."""
    (tmp_path / "w.warc.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert stylesheet_children(tmp_path, "w.warc.gz", 0, "https://x.test/a.css") == ()
    assert stylesheet_children(tmp_path, "gone.warc.gz", 0, "https://x.test/a.css") == ()
    assert stylesheet_children(tmp_path, "w.warc.gz", 10**9, "https://x.test/a.css") == ()


def test_a_failing_lookup_releases_the_url():
    """A store error while looking a URL up must not leave others waiting on it."""

    def broken(url, since):
        raise RuntimeError("store down")

    cache = ReuseCache(broken, window=60, clock=lambda: datetime.now(UTC), children=lambda *a: ())
    with pytest.raises(RuntimeError):
        cache.take("https://cdn.test/a.css")
    with pytest.raises(RuntimeError):  # asked again, not "someone else is fetching it"
        cache.take("https://cdn.test/a.css")


def test_a_failing_children_read_releases_the_url():
    """Reading a stored stylesheet back can fail too: nobody is left waiting either."""
    calls = []

    def lookup(url, since):
        calls.append(url)
        return SimpleNamespace(record_id="<urn:uuid:1>", warc="w", offset=0, warc_date=since)

    def children(*args):
        raise AttributeError("warcio on a cut gzip member")

    cache = ReuseCache(lookup, window=60, clock=lambda: datetime.now(UTC), children=children)
    with pytest.raises(AttributeError):
        cache.take("https://cdn.test/a.css")
    with pytest.raises(AttributeError):  # looked up again, not a stale event to wait on
        cache.take("https://cdn.test/a.css")
    assert len(calls) == 2


def test_a_stylesheet_in_a_warc_still_being_written_gives_its_children(tmp_path):
    """The store names a WARC by its closed name; while it is written it is `.open`
    (a daemon's capture jobs share one): its stylesheets' url()s are still followed."""
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = BytesIO()
    css = b"@import url(more.css); body { background: url(/bg.png) }"
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/css")], protocol="HTTP/1.1")
    writer = WARCWriter(buf, gzip=True)
    record = writer.create_warc_record(
        "https://x.test/a.css", "response", payload=BytesIO(css), http_headers=http
    )
    writer.write_record(record)
    (tmp_path / "w.warc.gz.open").write_bytes(buf.getvalue())
    got = stylesheet_children(tmp_path, "w.warc.gz", 0, "https://x.test/a.css")
    assert set(got) == {"https://x.test/more.css", "https://x.test/bg.png"}


def test_verify_reports_a_broken_reuse_reference(tmp_path, web):
    app = make_archive(tmp_path / "a", web)
    add(app, tmp_path, "first", page(7, 1))
    add(app, tmp_path, "second", page(8, 1))
    assert verify(app).ok
    r = t.snapshot_reuse
    with app.store.tx() as conn:
        one = conn.execute(select(r).order_by(r.c.id).limit(1)).first()
        conn.execute(update(r).where(r.c.id == one.id).values(record_id="<urn:uuid:nope>"))
        two = conn.execute(select(r).order_by(r.c.id).offset(1).limit(1)).first()
        conn.execute(update(r).where(r.c.id == two.id).values(offset=two.offset + 1))
        three = conn.execute(select(r).order_by(r.c.id).offset(2).limit(1)).first()
        conn.execute(update(r).where(r.c.id == three.id).values(warc="warcs/missing.warc.gz"))
    report = verify(app)
    text = "\n".join(str(p) for p in report.problems)
    assert not report.ok
    assert "<urn:uuid:nope>" in text
    assert f"no intact WARC record here for the reused {two.url}" in text
    assert "warcs/missing.warc.gz" in text
    app.close()


# ------------------------------------------------------------------ export and replay


def _exported(app, tmp_path: Path, aid: str) -> Path:
    out = tmp_path / f"{aid}.wacz"
    r = run(app, "export", aid, "--wacz", str(out))
    assert r.exit_code == 0, r.output
    return out


def test_the_wacz_of_one_article_holds_the_copies_it_reuses(tmp_path, web):
    app = make_archive(tmp_path / "a", web)
    add(app, tmp_path, "first", page(9, 1))
    second = add(app, tmp_path, "second", page(10, 1))
    (first,) = snapshot_rows(app, page(9, 1))
    (snap,) = snapshot_rows(app, page(10, 1))
    assert first.warc != snap.warc
    with zipfile.ZipFile(_exported(app, tmp_path, second)) as z:
        names = {n.removeprefix("archive/") for n in z.namelist() if n.startswith("archive/")}
        index = z.read("indexes/index.cdxj").decode()
    assert names == {Path(first.warc).name, Path(snap.warc).name}
    for url in CDN_URLS:
        assert f'"url": "{url}"' in index
    app.close()


@needs_pywb
def test_pywb_replays_a_page_whose_requisites_were_reused(tmp_path, web):
    app = make_archive(tmp_path / "a", web)
    add(app, tmp_path, "first", page(11, 1))
    second = add(app, tmp_path, "second", page(12, 1))
    (snap,) = snapshot_rows(app, page(12, 1))
    assert len(reuse_rows(app, snap.id)) == len(CDN_URLS)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(_exported(app, tmp_path, second)) as z:
        z.extractall(unpacked)
    folder = tmp_path / "pywb"
    write_pywb(folder, pywb_config(unpacked / "indexes/index.cdxj", unpacked / "archive"))
    live = web.session()
    ts = robust.timestamp14(snap.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with pywb_serving(folder, tmp_path / "pywb.log") as base:
        http = local_session()
        for url in sorted(CDN_URLS | {page(12, 1), "https://news12.test/photo/1.jpg"}):
            r = http.get(f"{base}/archive/{ts}id_/{url}", timeout=30)
            assert r.status_code == 200, url
            assert r.content == live.get(url).content, url
    assert free_port()  # pywb stopped
    app.close()


# ------------------------------------------------------------------ politeness


def test_politeness_per_page_visit(tmp_path, web):
    """per_host_delay spaces page visits, not each request; never more than
    per_host_concurrency requests in flight to any host."""
    cdnnews.IN_FLIGHT.reset()
    delay = 0.4
    app = make_archive(
        tmp_path / "a",
        web,
        capture={
            "workers": 12,
            "per_host_delay": f"{delay}s",
            "per_host_concurrency": 2,
            "reuse_window": "0",  # every visit loads the five CDN files
        },
    )
    # five visits to each of two hosts: 70 requests, 50 of them to the CDN host
    urls = [page(h, 100 + k) for h in (13, 14) for k in range(5)]
    started = time.monotonic()
    add(app, tmp_path, "busy", *urls)
    took = time.monotonic() - started
    assert cdnnews.IN_FLIGHT.peak(CDN) == 2  # the CDN's limit was reached, never passed
    for h in (13, 14):
        assert cdnnews.IN_FLIGHT.peak(f"news{h:02d}.test") <= 2
    assert cdn_hits(web) == dict.fromkeys(cdnnews.CDN_FILES, 10)
    # five visits to a host are four delays apart at least; pacing every request
    # instead would space the CDN's 50 requests by the delay (~20 s)
    assert 4 * delay <= took < 12
    app.close()


def test_warc_date_is_when_the_request_went_out_not_when_it_queued(tmp_path, web):
    """A page visit that waits for its host's turn is dated when it is sent: the
    WARC-Dates of three visits to one host, taken by three threads at once, are as far
    apart as their arrivals at the site (the delay), not all the moment they queued."""
    delay = 1.0
    app = make_archive(
        tmp_path / "a",
        web,
        capture={"workers": 4, "per_host_delay": f"{delay}s", "per_host_concurrency": 2},
    )
    urls = [page(15, 300 + k) for k in range(3)]
    add(app, tmp_path, "queued", *urls)
    dated = {}
    for path in warc_files(app.root):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                url = rec.rec_headers.get_header("WARC-Target-URI")
                if rec.rec_type in ("response", "request") and url in urls:
                    when = datetime.fromisoformat(rec.rec_headers.get_header("WARC-Date"))
                    dated.setdefault(url, set()).add(when.timestamp())
    arrived = {u: web.hits.times("news15.test", urlsplit(u).path)[0] for u in urls}
    assert all(len(dated[u]) == 1 for u in urls)  # request and response: one date
    order = sorted(urls, key=arrived.get)
    for a, b in itertools.pairwise(order):
        gap = arrived[b] - arrived[a]
        assert gap > delay - 0.2  # the visits were paced
        assert abs((min(dated[b]) - min(dated[a])) - gap) < 0.25
    app.close()


def test_a_telegram_posts_embed_widget_is_part_of_its_page_visit(tmp_path, web):
    """The post page's iframe (its embed widget) loads with the post, without the delay;
    the channel preview and another post are page visits of their own, spaced by it."""
    delay = 1.2
    app = make_archive(
        tmp_path / "a",
        web,
        capture={"workers": 4, "per_host_delay": f"{delay}s", "per_host_concurrency": 2},
    )
    posts = (2849, 2850)
    add(app, tmp_path, "posts", *(f"https://t.me/PlushevChannel/{n}" for n in posts))
    visits = []
    for n in posts:
        (post,) = web.hits.times("t.me", f"/PlushevChannel/{n}")
        (embed,) = web.hits.times("t.me", f"/PlushevChannel/{n}?embed=1&mode=tme")
        (preview,) = web.hits.times("t.me", f"/s/PlushevChannel/{n}")
        assert 0 <= embed - post < delay / 2  # fetched (never reused), straight after
        visits += [post, preview]
    # four page visits to t.me (two posts, two previews), each a delay after the one
    # before (less the jitter of a request's way through the proxy)
    visits.sort()
    assert all(b - a > delay - 0.2 for a, b in itertools.pairwise(visits))
    app.close()


def test_retry_after_still_holds_back_requisites(monkeypatch):
    """A visit's requisites skip the delay, never a Retry-After deferral."""
    now = [100.0]
    gate = HostGate(concurrency=2, delay=5.0, clock=lambda: now[0])
    slept: list[float] = []
    monkeypatch.setattr(gate_module.time, "sleep", slept.append)
    with gate.slot("h.test"):  # a page visit: the next one may start 5 s on
        pass
    with gate.slot("h.test", paced=False):  # its requisite: no pause
        pass
    assert slept == []
    with gate.slot("h.test"):  # the next page visit waits out the delay
        pass
    assert slept == [5.0]
    gate.defer("h.test", 30)
    with gate.slot("h.test", paced=False):
        pass
    assert slept == [5.0, 30.0]


# ------------------------------------------------------------------ CPU and memory


def test_justext_stoplist_is_built_once_for_all_threads(monkeypatch):
    """Short pages fall back to justext; its all-languages stoplist (~1 s of CPU, tens of
    MB) is built once per process, not once per capture thread that needs it first."""
    pages._trafilatura()
    monkeypatch.setattr(external, "JT_STOPLIST", None)
    monkeypatch.setattr(external, "jt_stoplist_init", external.jt_stoplist_init)  # restored
    monkeypatch.setattr(pages, "_TRAFILATURA", [])  # wraps the counting versions below
    builds, lowered = [], []
    real = external.get_stoplists
    monkeypatch.setattr(external, "get_stoplists", lambda: builds.append(1) or real())
    original = inspect.unwrap(justext_core.define_stoplist)  # without lock and cache
    cached = justext_core.lru_cache(maxsize=128)(lambda s: lowered.append(1) or original(s))
    monkeypatch.setattr(justext_core, "define_stoplist", cached)
    html = cdnnews.article_html("news00.test", "1")
    start = threading.Barrier(6)

    def work():
        start.wait()
        pages.main_text(html)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(builds) == 1 and lowered == []  # lower-cased as built, never again
    # the words justext compares with: every language's, lower-cased, as before
    words = {w.lower() for lang in real() for w in external.get_stoplist(lang)}
    stoplist = external.JT_STOPLIST
    assert isinstance(stoplist, HashedStoplist) and len(stoplist) == len(words)
    assert all(word in stoplist for word in words)
    assert justext_core.define_stoplist(stoplist) is stoplist


def test_the_hashed_stoplist_answers_as_the_set_of_words_does():
    """The ~1.2 MB stoplist (sorted hashes) gives justext the answers the ~18 MB frozenset
    of words gave: the same words in, others out, the same paragraphs kept."""
    from justext.core import ParagraphMaker, classify_paragraphs, html_to_dom, preprocessor

    lists = [external.get_stoplist(lang) for lang in external.get_stoplists()]
    words = frozenset(w.lower() for words in lists for w in words)
    hashed = HashedStoplist(lists)
    assert len(hashed) == len(words) > 100_000 and bool(HashedStoplist([]))
    outside = ["", "archiver", "zzqx", "Ünïcode-wörd", "the" * 3, "ruling;", "THE", "42", None]
    assert [w in hashed for w in outside] == [w in words for w in outside]
    assert all(w in hashed for w in words)
    # whole paragraphs in five languages and none: the classes justext gives them
    samples = (
        "der die und nicht ist das",
        "le la et les des est",
        "и в не на что он",
        "the and of to is that",
        "xq zz vv kk qq ww",
    )
    body = "".join(
        f"<p>{' '.join([f'{sample} word{i} text'] * (4 + i))}</p><p><a href='/x'>{sample}</a></p>"
        for i, sample in enumerate(samples)
    )
    dom = preprocessor(html_to_dom(f"<html><body>{body}</body></html>"))

    def classes(stoplist):
        paragraphs = ParagraphMaker.make_paragraphs(dom)
        classify_paragraphs(paragraphs, stoplist, 50, 150, 0.1, 0.2, 0.25, True)
        return [(p.text[:20], p.stopwords_count(stoplist), p.cf_class) for p in paragraphs]

    got, want = classes(hashed), classes(words)
    assert got == want and {c for _, _, c in want} >= {"good", "bad"}


@pytest.mark.parametrize(
    ("body", "ctype", "want"),
    [
        (b'a { background: url("/\xc3\xa9.png") }', "text/css", "/é.png"),
        (b'a { background: url("/\xe9.png") }', "text/css; charset=latin-1", "/é.png"),
        (b'@charset "iso-8859-1"; a { background: url(/\xe9.png) }', None, "/é.png"),
        (b"\xff\xfe" + "a { background: url(/é.png) }".encode("utf-16-le"), None, "/é.png"),
        (b"\xef\xbb\xbfa { background: url(/x.png) }", "text/css; charset=bogus-42", "/x.png"),
        (b'@charset "no-such-codec"; a { background: url(/\xff.png) }', "text/css", "/\ufffd.png"),
        (b"\x00\xff\xfe url(/y.png)", "text/css; charset=../../etc", "/y.png"),
    ],
)
def test_stylesheets_are_decoded_without_guessing(body, ctype, want):
    """BOM, Content-Type charset, @charset, else UTF-8: never chardet's models."""
    found = css_urls(css_text(body, ctype), "https://x.test/s.css")
    assert found == [f"https://x.test{want}"] or found == [f"https://x.test{quote(want)}"]


def test_utf8_text_is_decoded_without_guessing(monkeypatch):
    """An article file or stylesheet in UTF-8 never loads chardet (~22 MB of RSS)."""

    def no_guess(data):
        raise AssertionError("chardet asked")

    monkeypatch.setattr(bs4_dammit, "_chardet_dammit", no_guess)
    text = "Статья: суд, «апелляция» https://news01.test/article/1\n"
    assert sources.decode(text.encode("utf-8"), "a.txt") == text
    assert css_text("a { background: url(/é.png) }".encode(), "text/css").endswith("}")
    # a file that is not UTF-8 is still recognised (by the guess, as before)
    monkeypatch.undo()
    assert sources.decode(text.encode("cp1251"), "a.txt") == text


def test_recovery_drops_the_reuse_rows_of_a_lost_snapshot(tmp_path, web):
    """A snapshot dropped by recovery (past a killed writer's kept bytes) takes its
    reuse rows with it (a foreign key on PostgreSQL)."""
    app = make_archive(tmp_path / "a", web)
    add(app, tmp_path, "first", page(17, 1))
    add(app, tmp_path, "second", page(18, 1))
    (snap,) = snapshot_rows(app, page(18, 1))
    assert reuse_rows(app, snap.id)
    lost = Recovered(warc=app.root / snap.warc, kept=0, dropped=1, records=0)
    capture_run._after_recovery(app, lost)
    assert snapshot_rows(app, page(18, 1)) == [] and reuse_rows(app, snap.id) == []
    (first,) = snapshot_rows(app, page(17, 1))  # another file: untouched
    assert first.warc != snap.warc
    app.close()

"""Link-rot checks against the fixture web: capture "now", switch to "later", check.

The module fixture captures the sample article and an article citing one cases.test
path per behaviour, then checks everything once in the "later" world; most tests read
that one run. Pages that answered an error already "now" (the fixture's /404, /451, …)
are marked archived by hand: they stand for pages that were alive when captured.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from archiver.app import App
from archiver.cli import cli
from archiver.errors import UsageError
from archiver.runs.add import add_sources
from archiver.runs.check import check_due
from archiver.store import schema as t

from .conftest import _LEAKY, make_archive

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "seed-article.txt"

TJ = (
    "https://tjournal.ru/75077-mail-ru-group-obratilas-v-gosdumu-s-prosboy-vnesti-"
    "zakonoproekt-o-dekriminalizacii-repostov-i-amnistii-osuzhdennyh"
)
BBC = "https://www.bbc.com/russian/news-45188838"
MT_OK = (
    "https://www.themoscowtimes.com/2018/08/15/"
    "mail-ru-asks-government-to-stop-prosecuting-social-media-posts-a62532"
)
MT_GONE = (
    "https://www.themoscowtimes.com/2026/06/17/"
    "vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions"
)
MT_WWW = (
    "https://themoscowtimes.com/news/"
    "vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions-62512"
)
VEDOMOSTI = "https://www.vedomosti.ru/politics/articles/2018/08/14/778045-ne-otsenili-v-kontakte"
TELEGRAM = "https://t.me/PlushevChannel/2850"

# one cited URL per behaviour, and its class in the "later" world
CAPTURED = {  # captured "now" like any citation
    "https://cases.test/ok": "ok",
    "https://cases.test/redirect-301": "redirected",
    "https://cases.test/later-moved": "redirected",
    "https://cases.test/later-drift": "drifted",
    "https://cases.test/redirect-to-root": "soft-404",
    "https://soft404.test/missing-story": "soft-404",
    "https://soft404.test/real-article": "ok",
    "https://cases.test/bot-wall": "blocked",
}
ALIVE_BEFORE = {  # never served well by the fixture: queued, then marked archived
    "https://cases.test/404": "gone",
    "https://cases.test/410": "gone",
    "https://cases.test/451": "blocked",
    "https://cases.test/500": "server-error",
    "https://cases.test/502": "server-error",
    "https://cases.test/flaky": "server-error",  # its first answer: 503 without Retry-After
    "https://cases.test/slow-headers?delay=3": "unreachable",
    "https://cases.test/reset": "unreachable",
    "https://expired.badssl.test/ok": "unreachable",
    "https://no-such-host.test/page": "unreachable",
    "https://cases.test/429?retry=2": "rate-limited",
    "https://cases.test/503?retry=2": "rate-limited",
}
CASES = {**CAPTURED, **ALIVE_BEFORE}
SAMPLE_LATER = {
    TJ: "soft-404",  # the closed site redirects every path home
    BBC: "drifted",  # another story at the same URL
    MT_GONE: "gone",  # 410
    VEDOMOSTI: "blocked",  # 451 with the block page
    MT_OK: "ok",  # unchanged
    MT_WWW: "redirected",  # 301 to www
    TELEGRAM: "soft-404",  # deleted post: its embed widget says "Post not found"
}
FAST = {"read_timeout": "1s", "per_host_delay": "0s"}


def cfg_of(app: App) -> Path:
    return app.settings.root / "config.toml"


def write_article(folder: Path, name: str, urls: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    lines = "\n".join(f"Source {i}: {u}" for i, u in enumerate(urls, 1))
    path.write_text(f"{name.title()} cases\n\nAn article citing test pages.\n\n{lines}\n")
    return path


def alive_when_captured(app: App, article_ids: list[str]) -> None:
    """Pages the fixture never served well stand for pages alive at capture time."""
    ids = app.store.target_ids_for_articles(article_ids)
    with app.store.tx() as conn:
        conn.execute(
            update(t.target).where(t.target.c.id.in_(ids)).values(capture_state="archived")
        )


def targets(app: App) -> dict[str, object]:
    with app.store.read() as conn:
        return {r.url: r for r in conn.execute(select(t.target))}


def checks_of(app: App, url: str) -> list:
    tg, ck = t.target, t.check
    with app.store.read() as conn:
        return conn.execute(
            select(ck).join(tg, tg.c.id == ck.c.target_id).where(tg.c.url == url).order_by(ck.c.id)
        ).all()


def snapshots_of(app: App, url: str) -> list:
    tg, s = t.target, t.snapshot
    with app.store.read() as conn:
        return conn.execute(
            select(s).join(tg, tg.c.id == s.c.target_id).where(tg.c.url == url).order_by(s.c.id)
        ).all()


def capture(app: App, web, captured: list[Path], alive_before: list[Path] = ()) -> list[str]:
    """Add and capture ``captured``; add ``alive_before`` and mark their targets archived."""
    report = add_sources(app, [str(s) for s in captured], capture=True)
    queued = add_sources(app, [str(s) for s in alive_before], capture=False)
    assert not report.errors and not queued.errors, (report.errors, queued.errors)
    alive_when_captured(app, [r.article_id for r in queued.results])
    web.reset()  # counters (/flaky) from zero, state "now"
    return [r.article_id for r in (*report.results, *queued.results)]


# ---------------------------------------------------------------- one run, many tests


@pytest.fixture(scope="module")
def later(fixture_web, tmp_path_factory):
    """(app, summary, article ids, web hits) of one `check_due(all)` in the later world."""
    root = tmp_path_factory.mktemp("check")
    with pytest.MonkeyPatch.context() as mp:
        for name in _LEAKY:
            mp.delenv(name, raising=False)
            mp.delenv(name.lower(), raising=False)
        fixture_web.reset()
        app = make_archive(root / "archive", fixture_web, capture=FAST)
        cases = write_article(root / "in", "cases", list(CAPTURED))
        failing = write_article(root / "in", "failing", list(ALIVE_BEFORE))
        ids = capture(app, fixture_web, [cases, SAMPLE], [failing])
        snaps_before = {u: len(snapshots_of(app, u)) for u in (BBC, "https://cases.test/ok")}
        fixture_web.set_state("later")
        summary = check_due(app, all_targets=True)
        hits = list(fixture_web.hits)
        yield app, summary, ids, hits, snaps_before
        fixture_web.reset()
        app.close()


@pytest.mark.parametrize("url", list(CASES) + list(SAMPLE_LATER))
def test_each_case_gets_its_class(later, url):
    app, *_ = later
    expected = {**CASES, **SAMPLE_LATER}[url]
    rows = checks_of(app, url)
    assert len(rows) == 1, rows
    assert rows[0].classification == expected, rows[0]
    assert targets(app)[url].rot == expected


def test_every_class_seen_and_counted(later):
    _, summary, *_ = later
    assert set(summary.counts) == set(CASES.values()) | set(SAMPLE_LATER.values())
    assert summary.checked == sum(n for _, n in summary.table_rows())
    assert summary.line().startswith(f"Checked {summary.checked} targets: ")
    assert {f.url for f in summary.findings} == {
        u for u, c in {**CASES, **SAMPLE_LATER}.items() if c != "ok"
    }


def test_done_when_sample_article(later):
    """TJ soft-404, BBC drifted and recaptured, MT 410 gone, 451 blocked, unchanged ok."""
    app, summary, _, _, snaps_before = later
    tg = targets(app)
    for url, rot in SAMPLE_LATER.items():
        assert tg[url].rot == rot, url
    assert "redirected home" in checks_of(app, TJ)[0].error
    assert not any(r.dead for r in tg.values())
    assert summary.dead == 0
    # drifted → recaptured: a second snapshot, the first one kept
    bbc = snapshots_of(app, BBC)
    assert len(bbc) == snaps_before[BBC] + 1
    assert bbc[0].text != bbc[-1].text and bbc[-1].good
    assert summary.recapture is not None and summary.recapture.archived == len(summary.drifted)
    assert not tg[BBC].recapture
    assert len(snapshots_of(app, "https://cases.test/ok")) == snaps_before["https://cases.test/ok"]


def test_manifest_and_status_show_both_versions_and_the_checks(later):
    app, _, ids, *_ = later
    sample_id = ids[1]
    doc = json.loads((app.settings.manifests_path / f"{sample_id}.json").read_text())
    bbc = next(c for c in doc["citations"] if c["url"] == BBC)
    assert bbc["rot"] == "drifted" and len(bbc["snapshots"]) >= 2
    assert [c["classification"] for c in bbc["checks"]] == ["drifted"]

    r = CliRunner().invoke(cli, ["--config", str(cfg_of(app)), "status", sample_id, "--json"])
    assert r.exit_code == 0, r.output
    cited = {c["url"]: c for c in json.loads(r.output)["citations"]}
    for url, rot in SAMPLE_LATER.items():
        c = cited[url]
        assert c["rot"] == rot and c["dead"] is False
        (check,) = c["checks"]
        assert check["classification"] == rot and check["checked_at"].endswith("Z")
        assert set(check) >= {"status", "final_url", "similarity", "error"}
    assert cited[MT_OK]["checks"][0]["similarity"] == 1.0
    assert cited[BBC]["checks"][0]["similarity"] < app.settings.check.drift_threshold
    assert cited[TJ]["checks"][0]["final_url"] == "https://tjournal.ru/"


def test_check_rows_keep_the_redirect_chain(later):
    app, *_ = later
    (moved,) = checks_of(app, "https://cases.test/later-moved")
    assert moved.redirects == ["https://cases.test/later-moved", "https://cases.test/moved-here"]
    assert moved.status == 200 and moved.final_url == "https://cases.test/moved-here"
    assert moved.similarity == 1.0 and moved.error is None
    (home,) = checks_of(app, TJ)
    assert home.redirects == [TJ, "https://tjournal.ru/"]


def test_telegram_deleted_post_via_its_embed_widget(later):
    app, *_ = later
    (row,) = checks_of(app, TELEGRAM)
    assert row.classification == "soft-404" and row.status == 200
    assert "embed=1" in row.error and "not found" in row.error


def test_check_rows_keep_their_reasons(later):
    """Issue 17: each check row keeps the evidence of its verdict, strongest first."""
    app, *_ = later

    def rules(url: str) -> list[str]:
        return [r["rule"] for r in checks_of(app, url)[-1].reasons]

    assert rules(VEDOMOSTI)[0] == "http-451"
    assert rules(TJ) == ["redirect-home"]
    assert rules(TELEGRAM) == ["site-plan"]
    assert rules(MT_OK) == ["snapshot-match"]
    assert rules(BBC) == ["snapshot-differs"]
    assert rules("https://cases.test/bot-wall") == ["markup"]
    assert "lead-words" in rules("https://soft404.test/missing-story")
    (bot,) = checks_of(app, "https://cases.test/bot-wall")
    assert bot.error == "the page is a bot-wall (reCAPTCHA)"


def test_a_site_answering_every_path_alike_is_a_soft_404_even_matching_its_snapshot(tmp_path, web):
    """Issue 17: the page matched its snapshot, so the sibling probe never counted; a
    page without article structure is probed, and the check says the capture was a
    soft-404 too."""
    app = make_archive(tmp_path / "a", web, capture=FAST)
    url = "https://sameanswer.test/news/2024/harbour-story"
    capture(app, web, [write_article(tmp_path, "same", [url])])
    (snap,) = snapshots_of(app, url)
    assert snap.good and [r["rule"] for r in snap.reasons] == ["short-page"]
    summary = check_due(app, all_targets=True)
    assert summary.counts == {"soft-404": 1} and summary.probes == 1
    (row,) = checks_of(app, url)
    assert [r["rule"] for r in row.reasons] == ["sibling-probe", "snapshot-is-probe"]
    assert "the capture was a soft-404" in row.error
    app.close()


def test_rate_limited_is_rechecked_after_retry_after(later):
    app, *_ = later
    tg = targets(app)
    for url in ("https://cases.test/429?retry=2", "https://cases.test/503?retry=2"):
        (row,) = checks_of(app, url)
        wait = (tg[url].next_check_at - row.checked_at).total_seconds()
        assert 2 <= wait < 30, (url, wait)
        assert tg[url].consecutive_failures == 0 and tg[url].first_failure_at is None


def test_failures_are_counted_not_dead_and_rechecked_sooner(later):
    app, *_ = later
    tg = targets(app)
    for url in ("https://cases.test/404", "https://cases.test/slow-headers?delay=3"):
        (row,) = checks_of(app, url)
        assert tg[url].consecutive_failures == 1 and tg[url].first_failure_at == row.checked_at
        assert not tg[url].dead
        wait = tg[url].next_check_at - row.checked_at
        assert timedelta(days=1) < wait < timedelta(days=2)
    (ok,) = checks_of(app, MT_OK)
    assert tg[MT_OK].next_check_at - ok.checked_at >= timedelta(days=6)


def test_timeouts_and_resets_are_unreachable(later):
    app, *_ = later
    assert checks_of(app, "https://cases.test/slow-headers?delay=3")[0].error.startswith("timeout")
    assert checks_of(app, "https://expired.badssl.test/ok")[0].error.startswith("tls:")


def test_sibling_probe_once_per_site_folder(later):
    """The probe is a made-up sibling, fetched once, only for pages no snapshot vouches for."""
    _, summary, _, hits, _ = later
    made_up = [h for h in hits if re.fullmatch(r"/[a-z0-9]{12}", h.target)]
    assert [h.host for h in made_up if h.host == "cases.test"] == ["cases.test"]
    assert not [h for h in made_up if h.host == "soft404.test"]  # real-article vouched for
    assert summary.probes >= 1


def test_ledger_has_one_line_per_check(later):
    app, summary, *_ = later
    lines = (app.settings.manifests_path / "ledger.jsonl").read_text().splitlines()
    checks = [doc for doc in map(json.loads, lines) if doc["event"] == "check"]
    assert len(checks) == summary.checked
    line = next(c for c in checks if c["target"] == BBC)
    assert line["classification"] == "drifted" and line["checked_at"].endswith("Z")
    assert 0 <= line["similarity"] < 0.5 and line["status"] == 200


# ---------------------------------------------------------------- small archives


def test_flaky_host_fails_once_then_ok_and_is_not_dead(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture=FAST)
    url = "https://cases.test/flaky"
    capture(app, web, [], [write_article(tmp_path, "flaky", [url])])
    assert check_due(app, all_targets=True).counts == {"server-error": 1}
    assert targets(app)[url].consecutive_failures == 1
    assert check_due(app, all_targets=True).counts == {"ok": 1}
    row = targets(app)[url]
    assert (row.rot, row.dead, row.consecutive_failures, row.first_failure_at) == (
        "ok", False, 0, None,
    )  # fmt: skip
    app.close()


def test_dead_only_after_three_failures_over_three_days(tmp_path, web):
    base = make_archive(tmp_path / "a", web, capture=FAST)
    now = [base.clock()]
    app = App(settings=base.settings, clock=lambda: now[0])
    url, alive = "https://cases.test/410", "https://cases.test/ok"
    capture(app, web, [write_article(tmp_path, "alive", [alive])],
            [write_article(tmp_path, "dying", [url])])  # fmt: skip
    for day in (0, 2, 4):
        now[0] = now[0] + timedelta(days=2 if day else 0)
        # then due ones only: a failing link comes back after 1.5 days, a live one in 7
        summary = check_due(app, all_targets=day == 0)
        assert summary.counts["gone"] == 1
        assert targets(app)[url].dead is (day == 4)
        assert summary.dead == (day == 4)
    assert len(checks_of(app, alive)) == 1  # ok: next check in 7 days, not due yet
    r = CliRunner().invoke(cli, ["--config", str(cfg_of(app)), "status", "--json"])
    assert r.exit_code == 0
    app.close()
    base.close()


def test_cli_check_all_twice_makes_nothing_dead(tmp_path, web):
    app = make_archive(tmp_path / "a", web, capture=FAST)
    failing = ["https://cases.test/404", "https://cases.test/500", "https://cases.test/451"]
    ids = capture(
        app,
        web,
        [
            write_article(tmp_path, "one", ["https://cases.test/redirect-to-root"]),
            write_article(tmp_path, "two", ["https://cases.test/ok"]),
        ],
        [write_article(tmp_path, "three", failing)],
    )
    cfg = cfg_of(app)

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(cfg), *args])

    for _ in range(2):
        r = run("check", "--all")
        assert r.exit_code == 0, r.output
        assert "Link check" in r.output and "Checked 5 targets" in r.output
        assert "  gone: https://cases.test/404: HTTP 404" in r.output
        assert "soft-404: https://cases.test/redirect-to-root: redirected home" in r.output
        assert "; 0 dead." in r.output and "DEAD" not in r.output
    for url in failing:
        row = targets(app)[url]
        assert row.consecutive_failures == 2 and not row.dead
    r = run("check")  # nothing is due: every target was just checked
    assert r.exit_code == 0 and "Nothing to check." in r.output
    r = run("check", "--all", ids[1])  # one article's targets only
    assert r.exit_code == 0 and "Checked 1 targets: 1 ok" in r.output
    r = run("check", "no-such-article")
    assert r.exit_code == 2 and "no article" in r.output
    with pytest.raises(UsageError):
        check_due(app, article_id="no-such-article")
    app.close()


def test_long_retry_after_skips_the_host_for_the_rest_of_the_run(tmp_path, web):
    """429 Retry-After: 30 → no more requests to that host in this run, and no 30 s sleep."""
    app = make_archive(tmp_path / "a", web, capture=FAST, check={"workers": 1})
    urls = ["https://cases.test/429?retry=30", "https://cases.test/500", "https://cases.test/404"]
    capture(app, web, [], [write_article(tmp_path, "limited", urls)])
    started = time.monotonic()
    summary = check_due(app, all_targets=True)
    assert time.monotonic() - started < 8
    assert summary.counts == {"rate-limited": 3}
    assert web.hits.count("cases.test", "/500") == web.hits.count("cases.test", "/404") == 0
    tg = targets(app)
    for url in urls:
        (row,) = checks_of(app, url)
        wait = (tg[url].next_check_at - row.checked_at).total_seconds()
        assert 20 < wait <= 31, (url, wait)
        assert tg[url].consecutive_failures == 0
    assert checks_of(app, urls[1])[0].error.startswith("not fetched: deferred: cases.test")
    app.close()


# ---------------------------------------------------------------- what a run spares


def test_unchanged_page_is_not_parsed_again_but_a_changed_one_is(tmp_path, web, monkeypatch):
    """A live body with the snapshot's document digest reuses the snapshot's analysis
    (similarity 1.0); a changed body is analysed and compared as before."""
    from archiver.check import engine as check_run

    app = make_archive(tmp_path / "a", web, capture=FAST)
    same, drift = "https://cases.test/ok", "https://cases.test/later-drift"
    capture(app, web, [write_article(tmp_path, "pages", [same, drift])])
    same_text = snapshots_of(app, same)[-1].text
    assert same_text
    web.set_state("later")
    analysed: list[str] = []
    real = check_run.analyse

    def counting(head, content_type, response=None):
        info = real(head, content_type, response)
        analysed.append(info.text)
        return info

    monkeypatch.setattr(check_run, "analyse", counting)
    summary = check_due(app, all_targets=True)
    assert summary.counts == {"ok": 1, "drifted": 1}
    assert analysed and same_text not in analysed  # the drifted page was, the same one not
    (ok,) = checks_of(app, same)
    assert (ok.classification, ok.similarity, ok.error) == ("ok", 1.0, None)
    (drifted,) = checks_of(app, drift)
    assert drifted.similarity < app.settings.check.drift_threshold
    app.close()


def test_unchanged_page_needs_the_same_whole_document():
    from types import SimpleNamespace

    from archiver.check.engine import unchanged_page
    from archiver.net.fetch import Hop
    from archiver.pages import PageInfo

    def hop(**kw):
        values = dict(
            url="https://x.test/a",
            started_at=None,
            status=200,
            headers=[("Content-Type", "text/html; charset=utf-8")],
            doc_digest="sha256:aa",
        )
        return Hop(**{**values, **kw})

    def snap(**kw):
        values = dict(
            payload_digest="sha256:aa",
            truncated=False,
            content_type="text/html",
            title="Title",
            text="some words",
            text_fingerprint="sha256:fp",
            quality=None,
        )
        return SimpleNamespace(**{**values, **kw})

    page = unchanged_page(hop(), snap())
    assert page == PageInfo(title="Title", text="some words", fingerprint="sha256:fp", quality=None)
    assert unchanged_page(hop(), snap(text=None, title=None)).text == ""
    for live, snapshot in [
        (hop(doc_digest="sha256:bb"), snap()),
        (hop(truncated="length"), snap()),
        (hop(error="content coding broken: body kept as received"), snap()),
        (hop(headers=[("Content-Type", "text/plain")]), snap()),
        (hop(), snap(truncated=True)),
        (hop(), snap(payload_digest=None)),
        (hop(), None),
    ]:
        assert unchanged_page(live, snapshot) is None, (live, snapshot)


def test_a_stopped_run_stores_what_it_checked_and_gives_back_the_rest(tmp_path, web):
    """Claims are taken in batches: those not started when the run stops are released."""
    import threading

    from archiver.progress import NoProgress

    app = make_archive(tmp_path / "a", web, capture=FAST, check={"workers": 1})
    urls = [f"https://bench00.test/link/{i}" for i in range(0, 800, 100)]
    capture(app, web, [write_article(tmp_path, "links", urls)])
    stop = threading.Event()

    class StopAfterOne(NoProgress):
        def advance(self, message: str) -> None:
            super().advance(message)
            stop.set()

    summary = check_due(app, all_targets=True, progress=StopAfterOne(), stop=stop)
    assert 1 <= summary.checked < len(urls)
    rows = targets(app)
    assert sum(len(checks_of(app, u)) for u in urls) == summary.checked
    assert [u for u in urls if rows[u].claimed_by is not None] == []
    lines = (app.settings.manifests_path / "ledger.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["event"] == "check" for line in lines) == summary.checked
    # nothing is left claimed: the next run gets to every target
    assert check_due(app, all_targets=True).checked == len(urls)
    app.close()


def test_checks_are_polite_through_the_stores_gate(tmp_path, store_backend):
    """Checks use the capture's gate: shared through PostgreSQL by every worker (its
    slots and start times live in the database), in-process on SQLite."""
    from archiver.net.gate import HostGate
    from archiver.progress import NoProgress
    from archiver.runs.check import _Checker
    from archiver.runs.gate import SharedHostGate

    app = make_archive(tmp_path / "a", capture={"per_host_concurrency": 1, "per_host_delay": "2s"})
    try:
        inner = _Checker(app, NoProgress(), "w").gate.inner
        assert isinstance(inner, SharedHostGate if store_backend else HostGate)
        if store_backend is None:
            assert type(inner) is HostGate
        assert inner.concurrency == 1
        # two runs (two workers) of one archive: the second waits for the first's start
        other = _Checker(app, NoProgress(), "w2").gate.inner
        started = time.monotonic()
        with inner.slot("polite.test"):
            pass
        with other.slot("polite.test"):
            waited = time.monotonic() - started
        assert (waited >= 1.5) == (store_backend is not None), waited
    finally:
        app.close()


# ---------------------------------------------------------------- the check run's pool


def _claimed(app: App) -> list:
    with app.store.read() as conn:
        q = select(t.target.c.id).where(t.target.c.claimed_by.is_not(None))
        return conn.execute(q).all()


def _links(tmp_path: Path, web, n: int = 6) -> tuple[App, list[str]]:
    app = make_archive(tmp_path / "a", web, capture=FAST, check={"workers": 3})
    urls = [f"https://bench00.test/link/{i}" for i in range(0, n * 100, 100)]
    capture(app, web, [write_article(tmp_path, "links", urls)])
    return app, urls


def test_a_check_batch_that_cannot_be_stored_gives_its_claims_back(tmp_path, web, monkeypatch):
    from archiver.errors import StoreError
    from archiver.manifest.verify import verify
    from archiver.store.checks import ChecksMixin

    app, urls = _links(tmp_path, web)
    real, calls = ChecksMixin.record_checks, []

    def failing_once(self, *a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("database is locked")
        return real(self, *a, **k)

    monkeypatch.setattr(ChecksMixin, "record_checks", failing_once)
    with pytest.raises(StoreError):
        check_due(app, all_targets=True)
    assert _claimed(app) == []
    assert not verify(app).problems  # no row without its ledger line, none half-stored
    assert check_due(app, all_targets=True).checked == len(urls)
    app.close()


def test_a_check_engine_error_gives_the_claims_back(tmp_path, web, monkeypatch):
    from archiver.check.engine import CheckEngine
    from archiver.manifest.verify import verify

    app, _ = _links(tmp_path, web)
    real = CheckEngine.inspect

    def buggy(self, url, plan, snapshot):
        if url.endswith("/200"):
            raise RuntimeError("a bug in the engine")
        return real(self, url, plan, snapshot)

    monkeypatch.setattr(CheckEngine, "inspect", buggy)
    with pytest.raises(RuntimeError, match="a bug in the engine"):
        check_due(app, all_targets=True)
    assert _claimed(app) == []
    assert not verify(app).problems
    app.close()


def test_check_threads_keep_a_cookie_jar_each_on_shared_connections(tmp_path, web):
    """One site's cookies never reach another thread's checks (as before the shared
    pool), while every thread's session uses the run's one set of connection pools."""
    import threading

    from archiver.net.gate import HostGate
    from archiver.runs.pool import Recording, WorkPool

    app = make_archive(tmp_path / "a", web)
    gate = HostGate(concurrency=2, delay=0.0)
    recording = Recording(name="r", record=lambda batch: None, limit=1, wait=0.0)
    own = WorkPool(app, "w", None, gate, recording, session_per_thread=True)
    shared = WorkPool(app, "w", None, gate, recording)
    got: dict[str, list] = {"own": [], "shared": []}

    def take() -> None:
        got["own"].append(own.client())
        got["shared"].append(shared.client())

    threads = [threading.Thread(target=take) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    a, b = got["own"]
    assert a is not b and a.session.cookies is not b.session.cookies
    assert a.session.get_adapter("https://") is b.session.get_adapter("https://")
    assert a._lookups is b._lookups  # one lookup per host for the run, not per thread
    assert got["shared"][0] is got["shared"][1]
    own.close()
    shared.close()
    app.close()

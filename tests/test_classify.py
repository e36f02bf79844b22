"""The pure parts of link-rot checking: the classifier, the probe match, the dead rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from archiver.check.classify import Observation, classify, wants_probe
from archiver.check.dead import DeadState, dead_rule, next_check_delay
from archiver.check.probe import ProbeAnswer, parent_folder, probe_url, same_as_probe
from archiver.check.urlrules import equivalent, is_front_page_of, is_site_root
from archiver.config import CheckSettings
from archiver.net.fetch import Chain, Hop
from archiver.pages import PageInfo
from archiver.states import Rot

THRESHOLD = 0.5
URL = "https://news.test/politics/2018/story-123"
TEXT = (
    "The parent company of two popular social network sites has asked the government to "
    "stop prosecuting social media users under anti-terrorism laws and offer an amnesty "
    "for people already convicted of extremism for their posts, likes and reposts."
)
REWRITTEN = (
    "Scientists have found a lake of liquid water under the ice near the south pole of "
    "Mars, the first stable body of water known to exist on the red planet today."
)
NOT_FOUND_PAGE = "Sorry, we couldn't find that page. Try the search or go back home."
CAPPED_TEXT = TEXT + " Updated with a short note at the end."


def obs(**kw) -> Observation:
    """A live 2xx answer at the cited URL, identical to its snapshot, unless told otherwise."""
    base = dict(
        url=URL,
        final_url=URL,
        status=200,
        text=TEXT,
        fingerprint="sha256:live",
        digest="sha256:d1",
        snapshot_text=TEXT,
        snapshot_final_url=URL,
        snapshot_digest="sha256:d1",
    )
    return Observation(**(base | kw))


def probe(**kw) -> ProbeAnswer:
    base = dict(
        url="https://news.test/politics/2018/x7k2m9q4w1z0",
        final_url="https://news.test/politics/2018/x7k2m9q4w1z0",
        status=200,
        text=NOT_FOUND_PAGE,
        fingerprint="sha256:probe",
    )
    return ProbeAnswer(**(base | kw))


CASES = [
    # --- the final status
    ("200 same page", obs(), Rot.OK),
    ("404", obs(status=404, text=None), Rot.GONE),
    ("410", obs(status=410, text=None), Rot.GONE),
    ("400 is gone too", obs(status=400, text=None), Rot.GONE),
    ("451", obs(status=451, quality="block-page"), Rot.BLOCKED),
    ("403", obs(status=403, text=None), Rot.BLOCKED),
    ("500", obs(status=500, text=None), Rot.SERVER_ERROR),
    ("502", obs(status=502, text=None), Rot.SERVER_ERROR),
    ("503 without Retry-After", obs(status=503, text=None), Rot.SERVER_ERROR),
    ("503 with Retry-After", obs(status=503, retry_after=120.0), Rot.RATE_LIMITED),
    ("429 with Retry-After", obs(status=429, retry_after=5.0), Rot.RATE_LIMITED),
    ("429 without Retry-After", obs(status=429), Rot.RATE_LIMITED),
    ("304 ends the chain", obs(status=304, text=None), Rot.SERVER_ERROR),
    # --- no answer at all
    ("dns", obs(final_url=None, status=None, error="dns: host name not found"), Rot.UNREACHABLE),
    ("refused", obs(final_url=None, status=None, error="connection refused"), Rot.UNREACHABLE),
    ("timeout", obs(final_url=None, status=None, error="timeout: read timed out"), Rot.UNREACHABLE),
    ("tls", obs(final_url=None, status=None, error="tls: certificate expired"), Rot.UNREACHABLE),
    ("proxy (DNS behind a proxy)", obs(final_url=None, error="proxy: 502"), Rot.UNREACHABLE),
    ("redirect loop", obs(status=302, error="redirect loop at https://x.test/a"), Rot.UNREACHABLE),
    ("ssrf hop", obs(status=302, error="refused: loopback address"), Rot.UNREACHABLE),
    ("reset mid-body", obs(cut="connection reset", text=""), Rot.UNREACHABLE),
    # --- the page says it is not the page
    ("block page with 200", obs(quality="block-page"), Rot.BLOCKED),
    ("bot wall with 200", obs(quality="bot-wall"), Rot.BLOCKED),
    ("consent wall", obs(quality="consent"), Rot.BLOCKED),
    ("not-found page with 200", obs(quality="not-found", text=NOT_FOUND_PAGE), Rot.SOFT_404),
    ("telegram post not found", obs(quality="not-found", text=""), Rot.SOFT_404),
    # --- redirects
    ("301 to https", obs(url=URL.replace("https:", "http:"), hops=2), Rot.REDIRECTED),
    ("301 to www", obs(final_url=URL.replace("//", "//www."), hops=2), Rot.REDIRECTED),
    ("301 to trailing slash", obs(final_url=URL + "/", hops=2), Rot.REDIRECTED),
    (
        "moved, same text",
        obs(final_url="https://news.test/archive/story-123", hops=2),
        Rot.REDIRECTED,
    ),
    (
        "moved to another host, same text",
        obs(final_url="https://archive.news.test/story-123", hops=2),
        Rot.REDIRECTED,
    ),
    ("redirect to /", obs(final_url="https://news.test/", hops=2), Rot.SOFT_404),
    (
        "redirect to / even with matching text",
        obs(final_url="https://news.test/", hops=2, text=TEXT),
        Rot.SOFT_404,
    ),
    ("redirect to /index.html", obs(final_url="https://news.test/index.html"), Rot.SOFT_404),
    ("redirect to /en/", obs(final_url="https://www.news.test/en/", hops=2), Rot.SOFT_404),
    (
        "redirect to the section front page",
        obs(final_url="https://news.test/politics/", text=REWRITTEN, hops=2),
        Rot.SOFT_404,
    ),
    (
        "redirect to a /404 URL",
        obs(final_url="https://news.test/404.html", text=REWRITTEN, hops=2),
        Rot.SOFT_404,
    ),
    (
        "moved to a different page",
        obs(final_url="https://news.test/other/story-999", text=REWRITTEN, hops=2),
        Rot.SOFT_404,
    ),
    (
        "www redirect, rewritten",
        obs(final_url=URL.replace("//", "//www."), text=REWRITTEN, hops=2),
        Rot.DRIFTED,
    ),
    (
        "redirect that already happened at capture, rewritten",
        obs(
            url="https://doi.test/10.1/x",
            final_url=URL,
            snapshot_final_url=URL,
            text=REWRITTEN,
            hops=2,
        ),
        Rot.DRIFTED,
    ),
    # --- drift
    ("rewritten page", obs(text=REWRITTEN), Rot.DRIFTED),
    ("small edit", obs(text=CAPPED_TEXT), Rot.OK),
    ("no snapshot to compare", obs(snapshot_text=None, snapshot_digest=None), Rot.OK),
    ("binary, same bytes", obs(text="", snapshot_text=None), Rot.OK),
    ("binary, other bytes", obs(text="", snapshot_text=None, digest="sha256:d2"), Rot.DRIFTED),
    (
        "binary, cut at the size cap",
        obs(text="", snapshot_text=None, digest="sha256:d2", complete=False),
        Rot.OK,
    ),
    # --- the sibling probe
    (
        "same as the probe",
        obs(text=NOT_FOUND_PAGE, fingerprint="sha256:probe", probe=probe()),
        Rot.SOFT_404,
    ),
    (
        "probe text ≥ 0.9 similar",
        obs(text=NOT_FOUND_PAGE + " Search", probe=probe()),
        Rot.SOFT_404,
    ),
    (
        "both sent to one landing page",
        obs(
            final_url="https://news.test/landing?from=x",
            text=NOT_FOUND_PAGE,
            probe=probe(final_url="https://news.test/landing?from=x"),
        ),
        Rot.SOFT_404,
    ),
    ("probe answered 404", obs(text=NOT_FOUND_PAGE, probe=probe(status=404)), Rot.DRIFTED),
    (  # issue 17: the same as a random sibling is not the page, even if the snapshot is
        "site answers everything alike, also at capture",
        obs(text=NOT_FOUND_PAGE, snapshot_text=NOT_FOUND_PAGE, probe=probe()),
        Rot.SOFT_404,
    ),
]


@pytest.mark.parametrize(("name", "observation", "expected"), CASES, ids=[c[0] for c in CASES])
def test_classify(name, observation, expected):
    verdict = classify(observation, threshold=THRESHOLD)
    assert verdict.rot == expected, verdict
    assert verdict.reason


def test_every_class_is_in_the_table():
    assert {c[2] for c in CASES} == set(Rot)
    assert [r.value for r in Rot] == [
        "ok", "redirected", "drifted", "soft-404", "gone", "blocked", "server-error",
        "unreachable", "rate-limited",
    ]  # fmt: skip


def test_similarity_is_kept():
    assert classify(obs(), threshold=THRESHOLD).similarity == 1.0
    drifted = classify(obs(text=REWRITTEN), threshold=THRESHOLD)
    assert drifted.similarity is not None and drifted.similarity < THRESHOLD
    assert classify(obs(status=404), threshold=THRESHOLD).similarity is None


@pytest.mark.parametrize(
    ("threshold", "expected"), [(0.0, Rot.OK), (0.5, Rot.OK), (1.0, Rot.DRIFTED)]
)
def test_threshold_decides_drift(threshold, expected):
    assert classify(obs(text=CAPPED_TEXT), threshold=threshold).rot == expected


@pytest.mark.parametrize(
    ("observation", "wanted"),
    [
        (obs(), False),  # the snapshot vouches for it
        (obs(text=REWRITTEN), True),  # drifted: is it the site's "missing" page?
        (obs(snapshot_text=None, snapshot_digest=None), True),  # nothing vouches for it
        (obs(status=404), False),
        (obs(text=REWRITTEN, probe=probe()), False),  # already probed
        (obs(text=""), False),  # nothing to compare with a probe
    ],
)
def test_wants_probe(observation, wanted):
    verdict = classify(observation, threshold=THRESHOLD)
    assert wants_probe(observation, verdict, threshold=THRESHOLD) is wanted


# ---------------------------------------------------------------- URL decisions


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://x.test/a", "https://x.test/a", True),
        ("https://x.test/a", "https://www.x.test/a", True),
        ("https://x.test/a", "https://x.test/a/", True),
        ("https://X.test:443/a", "https://x.test/a", True),
        ("https://x.test/a", "https://x.test/b", False),
        ("https://x.test/a?p=1", "https://x.test/a?p=2", False),
        ("https://x.test/a", "https://y.test/a", False),
    ],
)
def test_equivalent(a, b, same):
    assert equivalent(a, b) is same


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://x.test/", True),
        ("https://x.test", True),
        ("https://x.test/?from=old", True),
        ("https://x.test/index.html", True),
        ("https://x.test/home", True),
        ("https://x.test/ru/", True),
        ("https://x.test/pt-br", True),
        ("https://x.test/ok", False),
        ("https://x.test/news/", False),
        ("https://x.test/story-1", False),
    ],
)
def test_site_root(url, root):
    assert is_site_root(url) is root


@pytest.mark.parametrize(
    ("final", "cited", "front"),
    [
        ("https://x.test/news/", "https://x.test/news/some-story-123", True),
        ("https://www.x.test/news", "https://x.test/news/2018/story", True),
        ("https://x.test/news/some-story-123", "https://x.test/news/some-story-123", False),
        ("https://x.test/sport/", "https://x.test/news/some-story-123", False),
        ("https://y.test/news/", "https://x.test/news/some-story-123", False),
        ("https://x.test/", "https://x.test/news/some-story-123", False),  # root: its own rule
    ],
)
def test_front_page(final, cited, front):
    assert is_front_page_of(final, cited) is front


# ---------------------------------------------------------------- the probe


@pytest.mark.parametrize(
    ("url", "folder", "probed"),
    [
        ("https://x.test/news/story-1", "/news/", "https://x.test/news/TOKEN"),
        ("https://x.test/news/story-1/", "/news/", "https://x.test/news/TOKEN"),
        ("https://x.test/story-1?id=3", "/", "https://x.test/TOKEN"),
        ("http://x.test:8080/", "/", "http://x.test:8080/TOKEN"),
        (
            "https://t.me/PlushevChannel/2850",
            "/PlushevChannel/",
            "https://t.me/PlushevChannel/TOKEN",
        ),
    ],
)
def test_probe_url(url, folder, probed):
    assert parent_folder(url) == folder
    assert probe_url(url, "TOKEN") == probed


@pytest.mark.parametrize(
    ("text", "fp", "final", "answer", "same"),
    [
        (NOT_FOUND_PAGE, "sha256:probe", None, probe(), True),
        (NOT_FOUND_PAGE + " extra", None, None, probe(), True),
        (TEXT, None, None, probe(), False),
        (NOT_FOUND_PAGE, "sha256:probe", None, probe(status=404), False),
        ("", "sha256:probe", None, probe(text=""), False),  # two empty pages prove nothing
        (TEXT, None, "https://x.test/landing", probe(final_url="https://x.test/landing"), True),
    ],
)
def test_same_as_probe(text, fp, final, answer, same):
    assert same_as_probe(text, fp, final, answer) is same


# ---------------------------------------------------------------- Observation.from_chain


def _hop(url, status, headers=(), truncated=None, error=None) -> Hop:
    return Hop(
        url=url,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=status,
        headers=list(headers),
        doc_digest="sha256:d1",
        truncated=truncated,
        error=error,
    )


def test_observation_from_chain():
    chain = Chain(url=URL, hops=[_hop(URL, 301, [("Location", "/x")]), _hop(URL + "x", 200)])
    page = PageInfo(title="t", text=TEXT, fingerprint="sha256:f", quality=None)
    snap = type("Snap", (), {"text": TEXT, "final_url": URL, "payload_digest": "sha256:d1"})()
    o = Observation.from_chain(URL, chain, page, snap)
    assert (o.final_url, o.status, o.hops) == (URL + "x", 200, 2)
    assert o.text == TEXT and o.snapshot_text == TEXT
    assert o.complete and o.cut is None and o.error is None

    limited = Chain(url=URL, hops=[_hop(URL, 429, [("Retry-After", "30")])])
    assert Observation.from_chain(URL, limited, None).retry_after == 30.0

    cut = Chain(url=URL, hops=[_hop(URL, 200, truncated="disconnect", error="connection reset")])
    assert Observation.from_chain(URL, cut, None).cut == "connection reset"
    capped = Chain(url=URL, hops=[_hop(URL, 200, truncated="length")])
    o = Observation.from_chain(URL, capped, None)
    assert o.cut is None and not o.complete

    from archiver.errors import FetchError

    failed = Chain(url=URL, error=FetchError("dns: host name not found"))
    o = Observation.from_chain(URL, failed, None)
    assert o.final_url is None and o.error == "dns: host name not found"
    assert classify(o, threshold=THRESHOLD).rot == Rot.UNREACHABLE


# ---------------------------------------------------------------- the dead rule

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = CheckSettings()  # dead_after 3, dead_min_days 3
FAIL, OK = Rot.GONE, Rot.OK


def run_checks(checks: list[tuple[timedelta, Rot]], start: DeadState | None = None) -> DeadState:
    state = start or DeadState()
    for offset, rot in checks:
        state = dead_rule(
            state.consecutive_failures, state.first_failure_at, state.dead, rot, T0 + offset,
            SETTINGS,
        )  # fmt: skip
    return state


DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)

DEAD_CASES = [
    ("one failure", [(0 * DAY, FAIL)], False, 1),
    ("three failures in a minute", [(0 * MINUTE, FAIL), (MINUTE / 2, FAIL), (MINUTE, FAIL)],
     False, 3),
    ("ten failures in a day", [(i * DAY / 10, FAIL) for i in range(10)], False, 10),
    ("three failures over four days", [(0 * DAY, FAIL), (2 * DAY, FAIL), (4 * DAY, FAIL)],
     True, 3),
    ("three failures over exactly three days", [(0 * DAY, FAIL), (DAY, FAIL), (3 * DAY, FAIL)],
     True, 3),
    ("two failures over a week", [(0 * DAY, FAIL), (7 * DAY, FAIL)], False, 2),
    ("success resets", [(0 * DAY, FAIL), (2 * DAY, FAIL), (3 * DAY, OK), (4 * DAY, FAIL)],
     False, 1),
    ("dead, then alive again", [(0 * DAY, FAIL), (2 * DAY, FAIL), (4 * DAY, FAIL), (5 * DAY, OK)],
     False, 0),
    ("drifted is alive", [(0 * DAY, FAIL), (2 * DAY, FAIL), (3 * DAY, Rot.DRIFTED)], False, 0),
    ("redirected is alive", [(0 * DAY, FAIL), (3 * DAY, Rot.REDIRECTED)], False, 0),
    ("rate-limited neither counts", [(0 * DAY, Rot.RATE_LIMITED)] * 5, False, 0),
    ("rate-limited does not reset",
     [(0 * DAY, FAIL), (2 * DAY, FAIL), (3 * DAY, Rot.RATE_LIMITED), (4 * DAY, FAIL)], True, 3),
    ("every failing class counts",
     [(0 * DAY, Rot.SOFT_404), (DAY, Rot.BLOCKED), (2 * DAY, Rot.SERVER_ERROR),
      (3 * DAY, Rot.UNREACHABLE)], True, 4),
    ("flaky: fails once then ok", [(0 * DAY, Rot.SERVER_ERROR), (MINUTE, OK)], False, 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "checks", "dead", "count"), DEAD_CASES, ids=[c[0] for c in DEAD_CASES]
)
def test_dead_rule(name, checks, dead, count):
    state = run_checks(checks)
    assert state.dead is dead
    assert state.consecutive_failures == count
    assert (state.first_failure_at is None) is (count == 0)


def test_dead_rule_keeps_the_first_failure_time():
    state = run_checks([(0 * DAY, FAIL), (DAY, FAIL)])
    assert state.first_failure_at == T0
    limited = dead_rule(2, T0, False, Rot.RATE_LIMITED, T0 + 2 * DAY, SETTINGS)
    assert limited == DeadState(consecutive_failures=2, first_failure_at=T0, dead=False)


def test_dead_stays_dead_while_failing():
    dead = DeadState(consecutive_failures=3, first_failure_at=T0, dead=True)
    assert run_checks([(5 * DAY, FAIL)], dead).dead is True


@pytest.mark.parametrize(
    ("rot", "retry", "seconds"),
    [
        (Rot.OK, None, 7 * 86400),
        (Rot.DRIFTED, None, 7 * 86400),
        (Rot.RATE_LIMITED, 30.0, 30),
        (Rot.RATE_LIMITED, 0.0, 1),
        (Rot.RATE_LIMITED, None, 3600),
        (Rot.RATE_LIMITED, 90 * 86400.0, 7 * 86400),
        (Rot.GONE, None, 1.5 * 86400),
        (Rot.UNREACHABLE, None, 1.5 * 86400),
    ],
)
def test_next_check_delay(rot, retry, seconds):
    assert next_check_delay(rot, retry, SETTINGS) == seconds


def test_failing_recheck_never_beyond_the_interval():
    short = replace(SETTINGS, interval=3600.0)
    assert next_check_delay(Rot.GONE, None, short) == 3600.0


def test_identical_text_is_similar_without_comparing_shingles(monkeypatch):
    from archiver import pages
    from archiver.check.classify import text_similarity

    text = "the same words in the same order"
    assert pages.similarity(text, text) == 1.0
    monkeypatch.setattr(pages, "similarity", lambda a, b: pytest.fail("shingles compared"))
    obs = Observation(url="https://x.test/a", final_url="https://x.test/a", status=200,
                      text=text, snapshot_text=text)  # fmt: skip
    assert text_similarity(obs) == 1.0
    verdict = classify(obs, threshold=0.5)
    assert (verdict.rot, verdict.similarity) == (Rot.OK, 1.0)

"""`archive serve`: sign-in, CSRF, roles, the article list and page, reviews (Flask's client)."""

from __future__ import annotations

import json
import socket
import struct
import zlib
from datetime import timedelta
from urllib.parse import urlsplit

import lxml.html
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver import users
from archiver.cli import cli
from archiver.errors import ReplayStartError
from archiver.ledger import ledger_for
from archiver.manifest.articles import article_doc
from archiver.runs.capture import make_sink
from archiver.store import schema as t
from archiver.store.browse import ArticleFilter
from archiver.store.screenshots import ShotRow
from archiver.warcfiles.records import resource_record
from archiver.web import guard
from archiver.web import server as server_module
from archiver.web.app import ServeSettings, create_app
from archiver.web.replay import ReplayServer, replay_app
from archiver.web.server import plan
from archiver.web.textdiff import text_diff
from tests.conftest import make_archive
from tests.test_interop import captured_sample, needs_pywb
from tests.test_manifest import (
    HOSTILE,
    T0,
    add_article,
    add_check,
    add_snapshot,
    css,
    make_app,
    rich_archive,
    target_of,
)

TOKEN = "t" * 43


@pytest.fixture
def archive(tmp_path):
    app, _ = rich_archive(tmp_path)
    users.add_user(app.store, "maria", "correct horse", users.Role.EDITOR)
    users.add_user(app.store, "olga", "viewer password", users.Role.VIEWER)
    yield app
    app.close()


def _client(archive, **settings):
    flask_app = create_app(archive, ServeSettings(secret_key="k" * 32, **settings))
    flask_app.testing = True
    return flask_app.test_client()


def _csrf(client) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        return session["csrf"]


def _sign_in(client, name, password):
    return client.post(
        "/login", data={"name": name, "password": password, "csrf_token": _csrf(client)}
    )


@pytest.fixture
def editor(archive):
    client = _client(archive)
    assert _sign_in(client, "maria", "correct horse").status_code == 302
    return client


def _tree(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def _article_id(archive) -> str:
    return archive.store.article_ids()[0]


# ------------------------------------------------------------------ binding and the token


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host, loopback):
    assert guard.is_loopback(host) is loopback


def test_no_accounts_refuses_a_public_address_and_offers_a_token(tmp_path):
    app = make_app(tmp_path)
    with pytest.raises(users.UsageError, match="no accounts"):
        plan(app, "0.0.0.0", 8000)
    p = plan(app, "127.0.0.1", 8000)
    assert p.token and p.login_url().startswith("http://127.0.0.1:8000/login/token?token=")
    users.add_user(app.store, "maria", "correct horse")
    with_accounts = plan(app, "0.0.0.0", 8000)
    assert with_accounts.token is None and with_accounts.login_url() is None


def test_one_time_token_signs_in_once(tmp_path):
    app = make_app(tmp_path)
    add_article(app)
    client = _client(app, login_token=TOKEN, local_name="desk")
    assert client.get("/articles").status_code == 302  # to /login
    assert "no accounts yet" in client.get("/login").get_data(as_text=True)
    assert client.get("/login/token?token=" + "x" * 43).status_code == 403
    assert client.get("/login/token").status_code == 403
    assert client.get(f"/login/token?token={TOKEN}").status_code == 302
    page = client.get("/articles")
    assert page.status_code == 200 and "desk (editor)" in page.get_data(as_text=True)
    other = client.application.test_client()  # the same server, another browser
    assert other.get(f"/login/token?token={TOKEN}").status_code == 403  # used up
    app.close()


def test_cli_refuses_public_bind_without_accounts_and_names_the_extra(tmp_path, monkeypatch):
    make_app(tmp_path)
    cfg = str(tmp_path / "config.toml")
    res = CliRunner().invoke(cli, ["--config", cfg, "serve", "--host", "0.0.0.0"], obj={})
    assert res.exit_code == 2
    assert res.output.startswith("Error: refusing to listen on 0.0.0.0 with no accounts")
    real = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name, *a: None if name == "flask" else real(name, *a)
    )
    res = CliRunner().invoke(cli, ["--config", cfg, "serve"], obj={})
    assert res.exit_code == 3
    assert res.output.strip() == (
        "Error: archive serve needs flask (not installed): pip install 'archiver[serve]'"
    )


# ------------------------------------------------------------------ sign-in and sessions


def test_sign_in_sets_a_signed_httponly_samesite_cookie(archive):
    client = _client(archive)
    assert client.get("/articles").headers["Location"].endswith("/login")
    res = _sign_in(client, "maria", "correct horse")
    assert res.status_code == 302
    cookie = [h for h in res.headers.getlist("Set-Cookie") if h.startswith("archiver_session=")]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=Strict" in cookie[0]
    page = client.get("/articles")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    # a forged cookie (not signed with the server's key) signs nobody in
    forged = _client(archive)
    forged.set_cookie("archiver_session", "eyJ1c2VyIjoibWFyaWEifQ.forged.sig")
    assert forged.get("/articles").status_code == 302


def test_wrong_password_and_rate_limit(archive):
    client = _client(archive, login_limit=3, login_window=300.0)
    for _ in range(3):
        assert _sign_in(client, "maria", "wrong horse").status_code == 401
    blocked = _sign_in(client, "maria", "correct horse")
    assert blocked.status_code == 429 and "Too many" in blocked.get_data(as_text=True)
    assert client.get("/articles").status_code == 302


def test_limiter_window_slides():
    now = [0.0]
    limiter = guard.LoginLimiter(limit=2, window=10, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.blocked("a") and not limiter.blocked("b")
    now[0] = 10.5
    assert not limiter.blocked("a")


def test_password_change_and_removal_end_sessions(archive, editor):
    assert editor.get("/articles").status_code == 200
    users.change_password(archive.store, "maria", "battery staple")
    assert editor.get("/articles").status_code == 302
    assert _sign_in(editor, "maria", "battery staple").status_code == 302
    assert editor.get("/articles").status_code == 200
    users.remove_user(archive.store, "maria")
    assert editor.get("/articles").status_code == 302


def test_post_without_csrf_token_is_refused(archive, editor):
    aid = _article_id(archive)
    res = editor.post(f"/articles/{aid}/review", data={"citation": "1", "action": "approve"})
    assert res.status_code == 403
    res = editor.post(
        f"/articles/{aid}/review",
        data={"citation": "1", "action": "approve", "csrf_token": "forged"},
    )
    assert res.status_code == 403
    assert article_doc(archive.store, aid)["citations"][0]["review"]["state"] == "pending"
    plain = _client(archive)
    assert (
        plain.post("/login", data={"name": "maria", "password": "correct horse"}).status_code == 403
    )


# ------------------------------------------------------------------ articles


def _ids(client, query: str) -> list[str]:
    tree = _tree(client.get("/articles" + query))
    return [code.text for code in css(tree, "table.articles tbody .sub code")]


def test_filters_and_search(archive, editor):
    aid = _article_id(archive)
    quiet = add_article(archive, "Quiet one\n\nSee https://quiet.example/a for it.\n", "q.txt")
    archive.store.set_review(quiet, 1, "approved", None, "maria")
    assert set(_ids(editor, "")) == {aid, quiet}
    assert _ids(editor, "?filter=needs-review") == [aid]
    assert _ids(editor, "?filter=rotted") == [aid]
    assert _ids(editor, "?filter=dead") == [aid]
    assert _ids(editor, "?filter=failed") == [aid]
    assert _ids(editor, "?filter=flagged") == []
    assert _ids(editor, "?filter=blocked") == []
    archive.store.set_review(aid, 2, "flagged", "why", "maria")
    assert _ids(editor, "?filter=flagged") == [aid]
    assert _ids(editor, "?q=quiet.example") == [quiet]  # a cited host
    assert _ids(editor, "?q=COURTS") == [aid]  # the title, any case
    assert _ids(editor, "?q=themoscowtimes.com/2018") == [aid]  # a cited URL
    assert _ids(editor, "?q=%25") == []  # LIKE wildcards are literal
    assert _ids(editor, "?q=_") == []
    assert editor.get("/articles?filter=bogus").status_code == 400
    assert editor.get("/articles?page=0").status_code == 400
    assert editor.get("/articles?page=-1").status_code == 400


def test_counts_and_paging(archive, editor, monkeypatch):
    monkeypatch.setattr("archiver.web.pages.PAGE_SIZE", 2)
    for i in range(3):
        add_article(archive, f"Article {i}\n\nLink https://p{i}.example/x here.\n", f"{i}.txt")
    first = _tree(editor.get("/articles"))
    assert "4 articles, page 1 of 2" in css(first, "p.count")[0].text_content()
    assert first.xpath("//a[@rel='next']") and not first.xpath("//a[@rel='prev']")
    second = _ids(editor, "?page=2")
    assert second == ["article-0", _article_id(archive)]  # newest first, the oldest last
    row = css(_tree(editor.get("/articles?page=2")), "table.articles tbody tr")[-1]
    cells = [td.text_content().strip() for td in css(row, "td")[1:]]
    assert cells == ["3", "2", "1", "3", "1", "3", "0"]  # citations … to review, flagged
    page = archive.store.article_page(ArticleFilter.ALL, None, offset=0, limit=10)
    assert page.total == 4 and len(page.rows) == 4


def test_article_page_shows_citations_history_and_cite_this_instead(archive, editor):
    aid = _article_id(archive)
    res = editor.get(f"/articles/{aid}")
    assert res.status_code == 200
    tree = _tree(res)
    cards = css(tree, "article.cite")
    assert [c.get("id") for c in cards] == ["c1", "c2", "c3"]
    assert "evidence of extremism" in css(cards[0], "blockquote")[0].text_content()
    snippet = css(cards[0], ".instead pre code")[0].text_content()
    link = lxml.html.fragment_fromstring(snippet)
    assert link.get("data-originalurl") == "https://t.me/channel/2850"
    assert link.get("data-versiondate") == "2026-11-20"  # never the later bot wall
    assert css(cards[0], "button.copy")[0].get("data-copy") == "snippet-1"
    assert len(css(cards[0], "table.snapshots tbody tr")) == 2
    assert len(css(cards[2], "table.checks tbody tr")) == 4
    assert "DNS: name not found" in cards[2].text_content()
    open_link = css(cards[0], "table.snapshots a")[0].get("href")
    assert open_link == f"/articles/{aid}/1/snapshots/1"
    assert editor.get("/articles/no-such-article").status_code == 404


def test_hostile_article_is_escaped(tmp_path):
    app = make_app(tmp_path)
    text = f"{HOSTILE} & friends\n\nThey said {HOSTILE} at https://evil.example/p then left.\n"
    aid = add_article(app, text, f"/tmp/{HOSTILE}.txt")
    target = target_of(app, aid, 1)
    add_snapshot(app, target, title=HOSTILE, final_url='https://evil.example/"><img src=x>')
    add_check(app, target, T0, "blocked", error=HOSTILE, final_url="javascript:alert(1)")
    app.store.set_review(aid, 1, "flagged", HOSTILE, "maria")
    users.add_user(app.store, "maria", "correct horse")
    client = _client(app)
    _sign_in(client, "maria", "correct horse")
    for path in ("/articles", f"/articles/{aid}", f"/articles/{aid}/1/snapshots/1"):
        res = client.get(path)
        text = res.get_data(as_text=True)
        assert res.status_code == 200, path
        assert HOSTILE not in text, path
        tree = lxml.html.fromstring(text)
        assert [s.get("src") for s in tree.xpath("//script")] == ["/static/app.js"], path
        assert tree.xpath("//img") == [], path
        assert not [a for a in tree.xpath("//a[@href]") if "javascript" in a.get("href")], path
    page = _tree(client.get(f"/articles/{aid}"))
    assert css(page, "h1")[0].text_content() == f"{HOSTILE} & friends"
    assert css(page, ".review q")[0].text_content() == HOSTILE
    app.close()


# ------------------------------------------------------------------ reviews


def _review(client, aid, data):
    with client.session_transaction() as session:
        token = session["csrf"]
    return client.post(f"/articles/{aid}/review", data={**data, "csrf_token": token})


def test_editor_reviews_like_archive_review(archive, editor):
    aid = _article_id(archive)
    res = _review(
        editor, aid, {"citation": "1", "action": "approve", "note": "good copy", "next": "1"}
    )
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/articles/{aid}#c1")
    res = _review(editor, aid, {"citation": ["2", "3"], "action": "flag", "note": "rotted"})
    assert res.status_code == 302
    doc = json.loads((archive.settings.manifests_path / f"{aid}.json").read_text("utf-8"))
    got = [(c["review"]["state"], c["review"]["note"], c["review"]["by"]) for c in doc["citations"]]
    assert got == [
        ("approved", "good copy", "maria"),
        ("flagged", "rotted", "maria"),
        ("flagged", "rotted", "maria"),
    ]
    lines = [
        json.loads(x)
        for x in ledger_for(archive.settings).path.read_text("utf-8").splitlines()
        if '"review"' in x
    ]
    assert [(x["citation"], x["state"], x["by"]) for x in lines[-3:]] == [
        (1, "approved", "maria"),
        (2, "flagged", "maria"),
        (3, "flagged", "maria"),
    ]
    page = _tree(editor.get(f"/articles/{aid}"))
    assert "by maria" in css(page.get_element_by_id("c1"), "div.review")[0].text_content()


@pytest.mark.parametrize(
    "data, status",
    [
        ({"citation": "1", "action": "delete"}, 400),
        ({"citation": "1"}, 400),
        ({"citation": "99", "action": "approve"}, 400),
        ({"citation": "x", "action": "approve"}, 400),
        ({"action": "approve"}, 400),
        ({"citation": "1", "action": "approve", "note": "n" * 2001}, 400),
    ],
)
def test_bad_review_forms_change_nothing(archive, editor, data, status):
    aid = _article_id(archive)
    assert _review(editor, aid, data).status_code == status
    states = {c["review"]["state"] for c in article_doc(archive.store, aid)["citations"]}
    assert states == {"pending"}


def test_viewer_cannot_review(archive):
    client = _client(archive)
    assert _sign_in(client, "olga", "viewer password").status_code == 302
    aid = _article_id(archive)
    page = _tree(client.get(f"/articles/{aid}"))
    assert css(page, "form.review-form") == [] and page.xpath("//form[@id='bulk']") == []
    res = _review(client, aid, {"citation": "1", "action": "approve"})
    assert res.status_code == 403
    assert article_doc(archive.store, aid)["citations"][0]["review"]["state"] == "pending"


def test_snapshot_page_without_replay_says_how_to_install(archive, editor):
    aid = _article_id(archive)
    res = editor.get(f"/articles/{aid}/1/snapshots/1")
    assert res.status_code == 200
    text = res.get_data(as_text=True)
    assert "pip install &#39;archiver[replay]&#39;" in text and "<iframe" not in text
    assert editor.get(f"/articles/{aid}/1/snapshots/3").status_code == 404
    assert editor.get(f"/articles/{aid}/9/snapshots/1").status_code == 404


def _png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([40 * y, 90, 200]) * width for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _store_screenshot(app, aid: str, body: bytes, *, content_type="image/png", record_id=None):
    """A screenshot of citation 1's first snapshot, as `archive screenshots` stores it."""
    s = t.snapshot
    with app.store.read() as conn:
        snap = conn.execute(
            select(s.c.id, s.c.target_id)
            .join(t.citation, t.citation.c.target_id == s.c.target_id)
            .where(t.citation.c.article_id == aid, t.citation.c.n == 1)
            .order_by(s.c.captured_at)
        ).first()
    sink = make_sink(app, tag="screenshots")
    rid = sink.ids()
    rec = resource_record(
        "urn:screenshot:https://example.org/",
        body,
        content_type=content_type,
        date=app.clock(),
        record_id=rid,
    )
    [loc] = sink.write([rec])
    sink.close()
    app.store.add_screenshot(
        ShotRow(
            snapshot_id=snap.id,
            taken_at=app.clock(),
            warc=loc.warc,
            offset=loc.offset,
            length=loc.length,
            record_id=record_id or rid,
            digest="sha256:" + "0" * 64,
            width=3,
            height=2,
        ),
        snap.target_id,
    )


def test_the_screenshot_is_served_from_its_warc_record_to_signed_in_users(archive, editor):
    aid = _article_id(archive)
    png = _png()
    _store_screenshot(archive, aid, png)
    page = _tree(editor.get(f"/articles/{aid}/1/snapshots/1"))
    (img,) = css(page, "img.screenshot")
    src = img.get("src")
    assert src == f"/articles/{aid}/1/snapshots/1/screenshot.png"
    res = editor.get(src)
    assert res.status_code == 200 and res.mimetype == "image/png" and res.data == png
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert _client(archive).get(src).status_code == 302  # no session: to the sign-in page
    viewer = _client(archive)
    _sign_in(viewer, "olga", "viewer password")
    assert viewer.get(src).data == png
    assert editor.get(f"/articles/{aid}/2/snapshots/1/screenshot.png").status_code == 404


@pytest.mark.parametrize(
    "body, record_id",
    [
        (b"<script>alert(1)</script>", None),  # hostile bytes where the PNG should be
        (_png(), "<urn:uuid:00000000-0000-0000-0000-000000000000>"),  # not the recorded one
    ],
)
def test_a_screenshot_record_that_is_not_the_png_recorded_is_not_served(
    archive, editor, body, record_id
):
    aid = _article_id(archive)
    _store_screenshot(archive, aid, body, record_id=record_id)
    assert editor.get(f"/articles/{aid}/1/snapshots/1/screenshot.png").status_code == 404


def test_sign_out_needs_the_token_and_ends_the_session(archive, editor):
    assert editor.post("/logout").status_code == 403
    with editor.session_transaction() as session:
        token = session["csrf"]
    assert editor.post("/logout", data={"csrf_token": token}).status_code == 302
    assert editor.get("/articles").status_code == 302


def test_big_posts_are_refused(archive, editor):
    aid = _article_id(archive)
    res = _review(editor, aid, {"citation": "1", "action": "approve", "note": "x" * (2 << 20)})
    assert res.status_code == 413


# ------------------------------------------------------------------ replay (pywb beside the app)


@needs_pywb
def test_snapshot_replays_sandboxed_from_our_own_warcs(tmp_path, web, sample_article, monkeypatch):
    app = make_archive(tmp_path / "a", web)
    aid = captured_sample(app, sample_article)
    users.add_user(app.store, "maria", "correct horse")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # behind a proxy: loopback stays direct
    monkeypatch.setenv("NO_PROXY", "")
    server = ReplayServer(app).start()
    try:
        flask_app = create_app(app, ServeSettings(secret_key="k" * 32), replay_server=server)
        client = flask_app.test_client()
        _sign_in(client, "maria", "correct horse")
        doc = article_doc(app.store, aid)
        n, snap = next(
            (c["id"], s)
            for c in doc["citations"]
            for s in c["snapshots"]
            if s["good"] and "themoscowtimes" in s["final_url"]
        )
        page = _tree(client.get(f"/articles/{aid}/{n}/snapshots/1"))
        (frame,) = page.xpath("//iframe")
        assert frame.get("sandbox") == "allow-scripts"  # never allow-same-origin
        src = frame.get("src")
        assert src.startswith(f"/{server.collection}/") and src.endswith(snap["final_url"])

        anonymous = flask_app.test_client()  # the frame's requests carry no session
        res = anonymous.get(src)
        assert res.status_code == 200, res.get_data(as_text=True)[:500]
        csp = res.headers["Content-Security-Policy"]
        assert csp.startswith("sandbox allow-scripts") and "allow-same-origin" not in csp
        assert "default-src 'self'" in csp and "Set-Cookie" not in res.headers
        replayed = lxml.html.fromstring(res.get_data(as_text=True))
        assert snap["title"] in replayed.findtext(".//title")
        # the archived image, rewritten to our replay path, comes from the WARC too
        images = [urlsplit(i.get("src")) for i in replayed.xpath("//img[@src]")]
        assert images and all(i.netloc in ("", "localhost") for i in images)
        assert all(i.path.startswith(f"/{server.collection}/") for i in images)
        image = anonymous.get(images[0].path)
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
        # another collection name is no way in, and the app itself still needs a session
        assert anonymous.get("/r" + "0" * 32 + src[len(server.collection) + 1 :]).status_code == 404
        assert anonymous.get(f"/articles/{aid}").status_code == 302
    finally:
        server.stop()
        app.close()
    assert server._proc.poll() is not None


# ------------------------------------------------------------------ drift: what changed


@pytest.mark.parametrize(
    "before, after, expected",
    [
        (
            "One. Two. Three.",
            "One. Two. Three.",
            [("folded", "3 unchanged sentences")],
        ),
        (
            "Intro. Old claim here. Outro.",
            "Intro. New claim here. Outro.",
            [
                ("same", "Intro."),
                ("removed", "Old claim here."),
                ("added", "New claim here."),
                ("same", "Outro."),
            ],
        ),
        (
            "A. B. C. D. E. Changed.",
            "A. B. C. D. E. Different.",
            [
                ("folded", "4 unchanged sentences"),
                ("same", "E."),
                ("removed", "Changed."),
                ("added", "Different."),
            ],
        ),
        ("", "New text.", [("added", "New text.")]),
    ],
)
def test_text_diff(before, after, expected):
    assert [(p.kind, p.text) for p in text_diff(before, after)] == expected


def test_drifted_snapshot_shows_what_changed_escaped(tmp_path):
    app = make_app(tmp_path)
    aid = add_article(app)
    target = target_of(app, aid, 2)
    add_snapshot(app, target, text="The court fined him. The post was deleted.")
    add_snapshot(
        app,
        target,
        captured_at=T0 + timedelta(days=9),
        text=f"The court fined him. {HOSTILE} was added later.",
        record_id="<urn:uuid:00000000-0000-4000-8000-000000000009>",
    )
    users.add_user(app.store, "maria", "correct horse")
    client = _client(app)
    _sign_in(client, "maria", "correct horse")
    assert css(_tree(client.get(f"/articles/{aid}/2/snapshots/1")), "section.changes") == []
    res = client.get(f"/articles/{aid}/2/snapshots/2")
    assert HOSTILE not in res.get_data(as_text=True)
    tree = _tree(res)
    assert [d.text_content() for d in tree.xpath("//ul[@class='diff']/li/del")] == [
        "The post was deleted."
    ]
    assert [d.text_content() for d in tree.xpath("//ul[@class='diff']/li/ins")] == [
        f"{HOSTILE} was added later."
    ]
    app.close()


def test_cite_this_instead_names_the_configured_replay_like_the_manifest(tmp_path):
    app = make_archive(tmp_path / "a", replay={"base_url": "https://replay.example"})
    aid = add_article(app)
    add_snapshot(app, target_of(app, aid, 1))
    users.add_user(app.store, "maria", "correct horse")
    client = _client(app)
    _sign_in(client, "maria", "correct horse")
    snippet = css(_tree(client.get(f"/articles/{aid}")), ".instead pre code")[0].text_content()
    version = lxml.html.fragment_fromstring(snippet).get("data-versionurl")
    assert version == "https://replay.example/archive/20261120093000/https://t.me/channel/2850"
    app.close()


# ------------------------------------------------------------------ pywb failing to start


@needs_pywb
def test_pywb_that_cannot_start_is_one_line_naming_why(tmp_path):
    app = make_archive(tmp_path / "a")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(ReplayStartError) as info:
            ReplayServer(app, port=taken.getsockname()[1], start_timeout=30).start()
    finally:
        taken.close()
        app.close()
    message = str(info.value)
    assert "\n" not in message and "pywb" in message
    assert "exited at start" in message or "did not listen" in message
    assert ReplayStartError.exit_code == 9


@needs_pywb
def test_a_picked_port_taken_before_pywb_binds_it_is_picked_again(tmp_path, monkeypatch):
    """The port a replay picks itself is free when picked, but another program can take
    it before pywb binds it (seen in CI: "Address already in use"); pywb then starts on
    another one. A port the caller names is not changed (the test above)."""
    from archiver.interop import pywbserver

    app = make_archive(tmp_path / "a")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    picks = [taken.getsockname()[1]]
    real = pywbserver.free_port
    monkeypatch.setattr(pywbserver, "free_port", lambda: picks.pop(0) if picks else real())
    server = ReplayServer(app, start_timeout=30)
    try:
        assert server.port == taken.getsockname()[1]
        server.start()
        assert server.port != taken.getsockname()[1] and server._answers()
    finally:
        server.stop()
        taken.close()
        app.close()


def test_serve_with_a_failing_replay_exits_9_with_one_line(tmp_path, monkeypatch):
    app = make_archive(tmp_path / "a")
    app.close()

    def broken(self):
        raise ReplayStartError("pywb exited at start (code 1) on port 1: Address in use")

    monkeypatch.setattr(server_module, "pywb_installed", lambda: True)
    monkeypatch.setattr(server_module.ReplayServer, "start", broken)
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "a" / "config.toml"), "serve", "--port", "1"]
    )
    assert result.exit_code == 9, result.output
    assert result.output.strip().splitlines() == [
        "Error: pywb exited at start (code 1) on port 1: Address in use"
    ]


def test_serve_on_a_taken_port_is_one_line(tmp_path, monkeypatch):
    app = make_archive(tmp_path / "a")
    app.close()
    monkeypatch.setattr(server_module, "pywb_installed", lambda: False)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        result = CliRunner().invoke(
            cli,
            [
                "--config",
                str(tmp_path / "a" / "config.toml"),
                "serve",
                "--port",
                str(taken.getsockname()[1]),
            ],
        )
    finally:
        taken.close()
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: cannot listen on")


@needs_pywb
def test_the_replay_has_its_own_origin(archive):
    app, aid = archive, _article_id(archive)  # no capture: the headers are the point
    server = ReplayServer(app).start()
    try:
        settings = ServeSettings(secret_key="k" * 32, replay_port=8001)
        client = create_app(app, settings, replay_server=server).test_client()
        _sign_in(client, "maria", "correct horse")
        res = client.get(f"/articles/{aid}/1/snapshots/1")  # the test client: localhost
        (frame,) = _tree(res).xpath("//iframe")
        src = urlsplit(frame.get("src"))
        assert (src.scheme, src.netloc) == ("http", "localhost:8001")
        assert "frame-src 'self' http://localhost:8001;" in res.headers["Content-Security-Policy"]
        assert client.get(src.path).status_code == 404  # not on the app's origin

        replay = replay_app(server, app_port=8000).test_client()
        out = replay.get(src.path, base_url="http://localhost:8001")
        assert out.status_code == 404  # pywb's answer (no such record), with our headers
        csp = out.headers["Content-Security-Policy"]
        assert csp.startswith("sandbox allow-scripts") and "allow-same-origin" not in csp
        assert csp.endswith("frame-ancestors http://localhost:8000")
        assert "Set-Cookie" not in out.headers
        assert replay.get(f"/articles/{aid}").status_code == 404  # no pages there
        assert replay.get("/login").status_code == 404

        # behind a TLS proxy: the public origin given (--replay-url), no frame-ancestors
        settings = ServeSettings(
            secret_key="k" * 32, replay_port=8001, replay_url="https://replay.example.org/"
        )
        client = create_app(app, settings, replay_server=server).test_client()
        _sign_in(client, "maria", "correct horse")
        res = client.get(f"/articles/{aid}/1/snapshots/1")
        (frame,) = _tree(res).xpath("//iframe")
        assert frame.get("src").startswith(f"https://replay.example.org/{server.collection}/")
        assert (
            "frame-src 'self' https://replay.example.org;" in res.headers["Content-Security-Policy"]
        )
        proxied = replay_app(server, app_port=8000, proxied=True).test_client()
        csp = proxied.get(src.path).headers["Content-Security-Policy"]
        assert csp.startswith("sandbox allow-scripts") and "frame-ancestors" not in csp
    finally:
        server.stop()

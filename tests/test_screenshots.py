"""Screenshots (issue 20): rendered by headless Chromium from the archive's replay only.

- The Chromium flags keep a page off the network: a hostile page's scripts reach
  neither another loopback service nor a live host (and the same page without our
  proxy flags does reach the loopback one: the check can fail).
- Screenshots of the captured seed article (a batch of two): `resource` records in a
  WARC file of its own, referring to the snapshots' records; rows, manifest key (valid
  against the schema), ledger lines, CDXJ, WACZ selection; `archive verify` passes; the
  shot snapshots are wanted no more, the others still are.
- Without Chromium or pywb: one line, exit 10 / 3; a Chromium that hangs or writes no
  PNG is a failure for that snapshot, the run goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import cli
from archiver.interop.waczfiles import warcs_for
from archiver.ledger import ledger_for
from archiver.ledger.pairs import complete_pairs
from archiver.manifest import refresh
from archiver.manifest.articles import article_doc
from archiver.manifest.verify import verify
from archiver.runs.capture import make_sink, recover
from archiver.runs.screenshots import take_screenshots, unavailable
from archiver.screenshots import chromium
from archiver.store import schema as t
from archiver.store.screenshots import ShotRow
from archiver.warcfiles.records import resource_record
from tests.conftest import make_archive
from tests.png_tools import decode, distinct_colours
from tests.test_interop import captured_sample, needs_pywb
from tests.test_manifest import add_article, add_snapshot, target_of, validator

CHROMIUM = chromium.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)

HOSTILE_PAGE = """<!doctype html><html><body style="background:#fde">
<h1>An archived page with a tracker</h1>
<script>
fetch('http://127.0.0.1:{beacon}/fetch').catch(() => {{}});
new Image().src = 'http://127.0.0.1:{beacon}/img';
new Image().src = 'http://www.bbc.com/live-beacon';
fetch('http://127.0.0.1:{web}/fixture-web-beacon').catch(() => {{}});
</script></body></html>"""


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.seen.append(self.path)
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    """Start HTTP servers on loopback that record what they are asked for."""
    servers = []

    def start(body: bytes = b"ok"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen, server.body = [], body
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@needs_chromium
def test_a_rendered_page_reaches_nothing_but_the_replay(loopback_server, web):
    beacon = loopback_server()
    page = loopback_server(
        HOSTILE_PAGE.format(beacon=beacon.server_port, web=web.http_port).encode()
    )
    hits_before = len(web.hits)
    url = f"http://127.0.0.1:{page.server_port}/page"
    png = chromium.render(
        CHROMIUM,
        url,
        allow=f"127.0.0.1:{page.server_port}",
        width=640,
        height=480,
        timeout=60,
    )
    assert (png.width, png.height) == (640, 480)
    assert page.seen[0] == "/page"
    assert beacon.seen == []
    assert web.hits.count(host="www.bbc.com") == 0
    assert len(web.hits) == hits_before  # the fixture web (the "live web") saw nothing
    # the control: without the proxy flags the same page reaches the loopback beacon
    with tempfile.TemporaryDirectory() as folder:
        args = chromium.chromium_args(
            CHROMIUM, url, Path(folder) / "o.png", Path(folder) / "p", allow="", width=64, height=64
        )
        leaky = [a for a in args if not a.startswith("--proxy")]
        chromium._run(leaky, 60)
    assert beacon.seen, "the control run should have reached the beacon"
    assert len(web.hits) > hits_before, "and the fixture web"


def test_chromium_flags_no_sandbox_only_as_root():
    args = chromium.chromium_args(
        "chromium", "http://x/", Path("o.png"), Path("p"), allow="127.0.0.1:1", width=1, height=1
    )
    assert ("--no-sandbox" in args) == (os.geteuid() == 0)
    assert "--proxy-bypass-list=<-loopback>;127.0.0.1:1" in args
    assert args[-1] == "http://x/"


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a....", b"\x89PNG\r\n\x1a\n" + b"\x00" * 4 + b"IEND" + b"\x00" * 8]
)
def test_what_is_not_a_png_is_refused(data):
    with pytest.raises(chromium.RenderError):
        chromium.png_size(data)


def _fake_chromium(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-chromium"
    path.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_a_hanging_chromium_is_killed_at_the_timeout(tmp_path):
    binary = _fake_chromium(tmp_path, "sleep 30")
    with pytest.raises(chromium.RenderError, match="longer than"):
        chromium.render(binary, "http://x/", allow="127.0.0.1:1", width=8, height=8, timeout=0.5)


def test_a_chromium_writing_garbage_is_a_render_error(tmp_path):
    # writes hostile bytes where the PNG should be
    binary = _fake_chromium(
        tmp_path,
        'for a in "$@"; do case "$a" in --screenshot=*) printf "<html>" > "${a#--screenshot=}";;'
        " esac; done",
    )
    with pytest.raises(chromium.RenderError, match="not a PNG"):
        chromium.render(binary, "http://x/", allow="127.0.0.1:1", width=8, height=8, timeout=10)


def test_without_chromium_one_line_and_exit_10(tmp_path):
    app = make_archive(tmp_path / "a", screenshots={"chromium": "no-such-chromium-here"})
    try:
        why = unavailable(app)
        if why and "pywb" in why:
            pytest.skip("pywb missing: the pywb line wins")
        assert why.startswith("Screenshots skipped: no Chromium")
        assert take_screenshots(app).line() == why
    finally:
        app.close()
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "a" / "config.toml"), "screenshots"]
    )
    assert result.exit_code == 10, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no Chromium" in lines[0]


@needs_pywb
@needs_chromium
def test_screenshots_of_the_seed_article(tmp_path, web, sample_article, monkeypatch):
    # two screenshots (the batch) keep the test short; the rest stay wanted
    app = make_archive(tmp_path / "a", web, screenshots={"width": 800, "height": 600, "batch": 2})
    try:
        aid = captured_sample(app, sample_article)
        doc = article_doc(app.store, aid)
        good = [s for c in doc["citations"] for s in c["snapshots"] if s["good"]]
        assert good
        hits_before = len(web.hits)
        # a user behind a proxy (the standard variables): the replay on loopback is
        # reached directly, never through it
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, "http://127.0.0.1:9")
        monkeypatch.setenv("NO_PROXY", "")

        summary = take_screenshots(app, aid)
        assert len(good) > 2
        assert (summary.taken, summary.failed) == (2, 0), summary.line()
        assert len(web.hits) == hits_before  # rendered from the archive, not the web

        doc = article_doc(app.store, aid)
        validator().validate(doc)
        shots = [s for c in doc["citations"] for s in c["snapshots"] if "screenshot" in s]
        assert len(shots) == 2
        wanted = {w.record_id for w in app.store.screenshots_wanted(aid)}
        assert wanted == {s["record_id"] for s in good} - {s["record_id"] for s in shots}
        snap = shots[0]
        shot = snap["screenshot"]
        assert "-screenshots-" in shot["warc"] and shot["warc"] != snap["warc"]
        with open(app.settings.root / shot["warc"], "rb") as f:
            f.seek(shot["offset"])
            record = next(iter(ArchiveIterator(f)))
            headers = record.rec_headers
            assert record.rec_type == "resource"
            assert headers["WARC-Target-URI"] == "urn:screenshot:" + snap["final_url"]
            assert headers["Content-Type"] == "image/png"
            assert headers["WARC-Refers-To"] == snap["record_id"]
            assert headers["WARC-Record-ID"] == shot["record_id"]
            png = record.content_stream().read()
        width, height, _ = decode(png, max_rows=1)
        assert (width, height) == (shot["width"], shot["height"]) == (800, 600)
        assert distinct_colours(png) > 4  # a page, not a blank picture

        ledger = [json.loads(x) for x in ledger_for(app.settings).path.read_text().splitlines()]
        events = [x for x in ledger if x["event"] == "screenshot"]
        assert len(events) == 2
        assert {e["record_id"] for e in events} == {s["screenshot"]["record_id"] for s in shots}
        assert "urn:screenshot:" in (app.settings.warcs_path / "index.cdxj").read_text()
        report = verify(app)
        assert report.ok, [str(p) for p in report.problems]
        assert shot["warc"] in warcs_for(app, [doc])  # a WACZ export carries it
        # ... once its file is closed: a screenshots run still writing it (or killed
        # before recovery) does not stop the export of the captures
        path = app.settings.root / shot["warc"]
        path.rename(f"{path}.open")
        chosen = warcs_for(app, [doc])
        assert shot["warc"] not in chosen and snap["warc"] in chosen
        Path(f"{path}.open").rename(path)

        config = str(app.settings.root / "config.toml")
        other = add_article(app, "Other\n\nAt https://example.org/none it was.\n", "o.txt")
        result = CliRunner().invoke(cli, ["--config", config, "screenshots", other])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "No screenshots missing."
        refresh(app)
        manifest = json.loads((app.settings.manifests_path / f"{aid}.json").read_text())
        validator().validate(manifest)
        listed = [s for c in manifest["citations"] for s in c["snapshots"] if "screenshot" in s]
        assert len(listed) == 2
    finally:
        app.close()


def test_without_pywb_one_line_and_exit_3(tmp_path, monkeypatch):
    import archiver.cli.screenshots as command
    import archiver.runs.screenshots as service

    monkeypatch.setattr(service, "pywb_installed", lambda: False)
    monkeypatch.setattr(command, "pywb_installed", lambda: False)
    make_archive(tmp_path / "a").close()
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "a" / "config.toml"), "screenshots"]
    )
    assert result.exit_code == 3, result.output
    assert result.output.strip().splitlines() == [
        "Error: Screenshots skipped: the replay extra (pywb) is not installed: "
        "pip install 'archiver[replay]'"
    ]


def _write_shot(app, sink, snapshot_id: int, png: bytes, uri: str = "urn:screenshot:x") -> ShotRow:
    """A PNG's resource record written through ``sink``, and the row that would list it."""
    rid = sink.ids()
    record = resource_record(uri, png, content_type="image/png", date=app.clock(), record_id=rid)
    [loc] = sink.write([record])
    return ShotRow(
        snapshot_id=snapshot_id,
        taken_at=app.clock(),
        warc=loc.warc,
        offset=loc.offset,
        length=loc.length,
        record_id=rid,
        digest="sha256:" + hashlib.sha256(png).hexdigest(),
        width=1,
        height=1,
    )


@pytest.mark.parametrize("wrong", [None, "record_id", "length", "offset", "digest"])
def test_verify_checks_each_screenshot_row_against_its_record(tmp_path, wrong):
    app = make_archive(tmp_path / "a")
    try:
        aid = add_article(app, "A\n\nAt https://example.org/p it was.\n", "a.txt")
        add_snapshot(app, target_of(app, aid, 1))
        with app.store.read() as conn:
            snap = conn.execute(select(t.snapshot.c.id, t.snapshot.c.target_id)).first()
        sink = make_sink(app, tag="screenshots")
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        row = _write_shot(app, sink, snap.id, png, "urn:screenshot:https://example.org/p")
        sink.close()
        bad = {
            "record_id": {"record_id": "<urn:uuid:00000000-0000-0000-0000-000000000000>"},
            "length": {"length": row.length + 1},
            "offset": {"offset": 0},  # the warcinfo record
            "digest": {"digest": "sha256:" + "0" * 64},  # not the PNG the record holds
        }.get(wrong, {})
        app.store.add_screenshot(dataclasses.replace(row, **bad), snap.target_id)
        found = [str(p) for p in verify(app).problems if "screenshot" in str(p)]
        # a row stored without its ledger line (this test's shortcut) is named too ...
        assert any("no ledger line naming it" in p for p in found), found
        complete_pairs(ledger_for(app.settings), app.store)  # ... until a writer adds it
        found = [str(p) for p in verify(app).problems if "screenshot" in str(p)]
    finally:
        app.close()
    assert bool(found) == (wrong is not None), found


def test_recovery_drops_the_rows_of_screenshots_a_killed_run_did_not_finish(tmp_path):
    app = make_archive(tmp_path / "a")
    try:
        text = "A\n\nAt https://example.org/1 and https://example.org/2 it was.\n"
        aid = add_article(app, text, "a.txt")
        for n in (1, 2):
            add_snapshot(app, target_of(app, aid, n))
        with app.store.read() as conn:
            snaps = conn.execute(
                select(t.snapshot.c.id, t.snapshot.c.target_id).order_by(t.snapshot.c.id)
            ).all()
        sink = make_sink(app, tag="screenshots")
        for snap in snaps:
            png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
            row = _write_shot(app, sink, snap.id, png)
            app.store.add_screenshot(row, snap.target_id)
            complete_pairs(ledger_for(app.settings), app.store)  # the row's ledger line
        # killed while the second record's bytes were only partly on disk
        path = app.settings.root / (row.warc + ".open")
        sink._f.close()  # the flock goes with the process; the file stays .open
        os.truncate(path, row.offset + row.length // 2)
        recover(app)
        with app.store.read() as conn:
            kept = conn.execute(select(t.screenshot.c.snapshot_id)).scalars().all()
        problems = [str(p) for p in verify(app).problems if "screenshot" in str(p)]
        lines = [json.loads(x) for x in ledger_for(app.settings).path.read_text().splitlines()]
    finally:
        app.close()
    assert kept == [snaps[0].id] and problems == []
    # the lost row's line stays; the recovery's line says why its row is gone
    (dropped,) = [x for x in lines if x["event"] == "snapshot-dropped"]
    shot_lines = [x for x in lines if x["event"] == "screenshot"]
    assert len(shot_lines) == 2 and dropped["screenshots"] == [shot_lines[1]["row"]]


def test_a_screenshot_row_whose_line_a_kill_cut_off_gets_it_from_the_next_writer(tmp_path):
    """Killed after the row's commit, before its ledger line: the row names a seq past
    the ledger's end, and the next writer appends its line (the ledger rule)."""
    app = make_archive(tmp_path / "a")
    try:
        aid = add_article(app, "A\n\nAt https://example.org/p it was.\n", "a.txt")
        add_snapshot(app, target_of(app, aid, 1))
        with app.store.read() as conn:
            snap = conn.execute(select(t.snapshot.c.id, t.snapshot.c.target_id)).first()
        ledger = ledger_for(app.settings)
        complete_pairs(ledger, app.store)
        sink = make_sink(app, tag="screenshots")
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        row = _write_shot(app, sink, snap.id, png)
        sink.close()
        seq = ledger.path.read_text().count("\n") + 1  # the line it was about to get
        assert app.store.add_screenshot(row, snap.target_id, seq=seq)
        problems = [str(p) for p in verify(app).problems]
        assert any(f"no ledger line (the row names seq {seq})" in p for p in problems), problems
        assert complete_pairs(ledger, app.store) == 1
        last = json.loads(ledger.path.read_text().splitlines()[-1])
        assert (last["event"], last["seq"], last["recovered"]) == ("screenshot", seq, True)
        assert last["png_digest"] == row.digest and last["record_id"] == row.record_id
        # (the fake snapshot's WARC file is missing: that problem is the helper's)
        left = [str(p) for p in verify(app).problems if "missing" not in str(p)]
        assert left == []
    finally:
        app.close()


def test_a_second_screenshot_of_a_snapshot_is_not_listed(tmp_path):
    app = make_archive(tmp_path / "a")
    try:
        aid = add_article(app, "A\n\nAt https://example.org/p it was.\n", "a.txt")
        add_snapshot(app, target_of(app, aid, 1))
        with app.store.read() as conn:
            snap = conn.execute(select(t.snapshot.c.id, t.snapshot.c.target_id)).first()
        row = ShotRow(
            snapshot_id=snap.id,
            taken_at=app.clock(),
            warc="warcs/x.warc.gz",
            offset=0,
            length=1,
            record_id="<urn:uuid:1>",
            digest="sha256:" + "0" * 64,
            width=1,
            height=1,
        )
        assert app.store.add_screenshot(row, snap.target_id) is True
        assert app.store.add_screenshot(row, snap.target_id) is False  # a race lost
        with app.store.read() as conn:
            assert len(conn.execute(select(t.screenshot.c.id)).all()) == 1
    finally:
        app.close()

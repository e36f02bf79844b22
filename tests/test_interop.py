"""Issue 11, interoperability: WACZ export, the CDXJ index, pywb replay, Robust Links and
WARC import — each checked with the tool archivists use (wacz validate, pywb, wget)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import cli
from archiver.interop import cdxj
from archiver.interop.importer import Rec, plan_snapshots
from archiver.interop.replay import pywb_config, start, write_config
from archiver.manifest import robust
from archiver.manifest.articles import article_doc
from archiver.runs.add import add_sources
from archiver.store import schema as t

from .conftest import make_archive
from .warc_tools import raw_block, warcio_check

BIN = Path(sys.executable).parent
BBC = "https://www.bbc.com/russian/news-45188838"  # gzip + chunked on the wire
MOVED = "https://themoscowtimes.com/news/vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions-62512"
MOVED_TO = "https://www.themoscowtimes.com/news/vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions-62512"
VEDOMOSTI = "https://www.vedomosti.ru/politics/articles/2018/08/14/778045-ne-otsenili-v-kontakte"
CASE = "https://cases.test/gzip-chunked"
REPLAYABLE = {"response", "revisit", "resource"}

needs_pywb = pytest.mark.skipif(
    importlib.util.find_spec("pywb") is None,
    reason="pywb is not installed (pip install 'archiver[replay]')",
)
needs_wget = pytest.mark.skipif(
    shutil.which("wget") is None, reason="wget is not installed (apt-get install wget)"
)
needs_wacz = pytest.mark.skipif(
    not (BIN / "wacz").exists(), reason="the wacz validator is not installed (archiver[test])"
)


# ------------------------------------------------------------------ helpers


def run(app, *args: str):
    return CliRunner().invoke(cli, ["--config", str(app.root / "config.toml"), *args], obj={})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def captured_sample(app, sample_article: Path) -> str:
    report = add_sources(app, [str(sample_article)], capture=True)
    assert report.capture.archived == 7
    return report.results[0].article_id


def article_file(folder: Path, *urls: str) -> Path:
    path = folder / "article.txt"
    path.write_text("Imported captures\n\n" + "\n".join(urls) + "\n", encoding="utf-8")
    return path


def wacz_validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "wacz"), "validate", "-f", str(path)], capture_output=True, text=True
    )


def record_types(warc_bytes: bytes) -> dict[int, tuple[str, str | None]]:
    """offset → (record type, target URI) of every record in a .warc.gz."""
    found = {}
    it = ArchiveIterator(io.BytesIO(warc_bytes))
    for rec in it:
        found[it.get_record_offset()] = (
            rec.rec_type,
            rec.rec_headers.get_header("WARC-Target-URI"),
        )
    return found


def index_entries(lines: list[str]) -> list[tuple[str, str, dict]]:
    return [(k, ts, json.loads(js)) for k, ts, js in (line.split(" ", 2) for line in lines)]


def dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, rest = out + rest[:size], rest[size + 2 :]


def snapshot_rows(app, url: str) -> list:
    with app.store.read() as conn:
        tid = conn.execute(select(t.target.c.id).where(t.target.c.url == url)).scalar_one()
        q = select(t.snapshot).where(t.snapshot.c.target_id == tid).order_by(t.snapshot.c.id)
        return list(conn.execute(q))


def target_state(app, url: str) -> str:
    with app.store.read() as conn:
        q = select(t.target.c.capture_state).where(t.target.c.url == url)
        return conn.execute(q).scalar_one()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def wait_until_serving(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"replay server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.ConnectionError):
            local_session().get(base + "/", timeout=2)
            return
        time.sleep(0.2)
    pytest.fail(f"replay server not up after 60s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def pywb_serving(folder: Path, log: Path):
    """pywb (its `wayback` server) on a loopback port, on folder/config.yaml."""
    port = free_port()
    with open(log, "wb") as out:
        proc = start(folder, port, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base, proc, log)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wget_warc(web, folder: Path, *urls: str) -> Path:
    """Capture ``urls`` with `wget --warc-file` through the fixture web's proxy."""
    name = folder / "wget-capture"
    p = subprocess.run(
        [
            "wget", "--no-config", f"--warc-file={name}", "-e", "use_proxy=yes",
            "-e", f"https_proxy={web.proxy_url}", "-e", f"http_proxy={web.proxy_url}",
            f"--ca-certificate={web.ca_path}", "--no-verbose", "-P", str(folder / "files"),
            *urls,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    return Path(f"{name}.warc.gz")


# ------------------------------------------------------------------ WACZ


@needs_wacz
def test_sample_article_exports_to_a_wacz_that_validates(archive, sample_article, tmp_path):
    aid = captured_sample(archive, sample_article)
    out = tmp_path / "sample.wacz"
    r = run(archive, "export", aid, "--wacz", str(out))
    assert r.exit_code == 0, r.output
    assert f"Wrote {out}" in r.output
    p = wacz_validate(out)
    assert p.returncode == 0 and "Validation succeeded" in p.stdout, p.stdout + p.stderr

    doc = article_doc(archive.store, aid)
    with zipfile.ZipFile(out) as z:
        infos = {i.filename: i for i in z.infolist()}
        warcs = sorted(n for n in infos if n.startswith("archive/"))
        fixed = {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl"}
        assert set(infos) == fixed | {"indexes/index.cdxj", *warcs}
        # WARCs STORED, so a reader can seek by offset (WACZ 1.1.1 "Zip Compression")
        assert warcs and all(infos[n].compress_type == zipfile.ZIP_STORED for n in warcs)

        # the archive's own files, byte for byte: exactly those holding the snapshots
        snap_warcs = {s["warc"] for c in doc["citations"] for s in c["snapshots"]}
        assert warcs == sorted(f"archive/{Path(w).name}" for w in snap_warcs)
        for w in snap_warcs:
            assert z.read(f"archive/{Path(w).name}") == (archive.root / w).read_bytes()

        pkg = json.loads(z.read("datapackage.json"))
        assert pkg["profile"] == "data-package" and pkg["wacz_version"] == "1.1.1"
        assert pkg["title"] == doc["article"]["title"]
        assert pkg["software"].startswith("archiver/") and pkg["created"].endswith("Z")
        listed = {res["path"]: res for res in pkg["resources"]}
        assert set(listed) == set(infos) - {"datapackage.json", "datapackage-digest.json"}
        for path, res in listed.items():
            data = z.read(path)
            assert res["hash"] == f"sha256:{sha256(data)}" and res["bytes"] == len(data)
            assert res["name"] == Path(path).name
        digest = json.loads(z.read("datapackage-digest.json"))
        assert {k: digest[k] for k in ("path", "hash")} == {
            "path": "datapackage.json",
            "hash": f"sha256:{sha256(z.read('datapackage.json'))}",
        }
        # signed with the archive's key (issue 21; tests/test_evidence.py checks it)
        assert digest["signedData"]["hash"] == digest["hash"]

        # pages: per citation its snapshot to cite, at the snapshot's final URL and time
        header, *pages = map(json.loads, z.read("pages/pages.jsonl").decode().splitlines())
        assert header["format"] == "json-pages-1.0"
        chosen = [robust.last_good(c["snapshots"]) or c["snapshots"][-1] for c in doc["citations"]]
        assert [(p["url"], p["ts"]) for p in pages] == [
            (s["final_url"], s["captured_at"]) for s in chosen
        ]
        assert all(p["title"] for p in pages)
        own = next(c for c in doc["citations"] if c["role"] == "source")
        assert pkg["mainPageUrl"] == own["snapshots"][-1]["final_url"]

        # the index: sorted, only records a replay may serve, and every one of them
        lines = z.read("indexes/index.cdxj").decode().splitlines()
        assert lines == sorted(lines)
        records = {n[len("archive/") :]: record_types(z.read(n)) for n in warcs}
        indexed = set()
        for _key, _ts, entry in index_entries(lines):
            rtype, uri = records[entry["filename"]][int(entry["offset"])]
            assert rtype in REPLAYABLE and uri == entry["url"]
            indexed.add((entry["filename"], int(entry["offset"])))
        replayable = {(f, off) for f, recs in records.items() for off, (rt, _) in recs.items()
                      if rt in REPLAYABLE}  # fmt: skip
        assert indexed == replayable
        assert any(rt == "request" for recs in records.values() for rt, _ in recs.values())
        stamps = {(e["url"], ts) for _k, ts, e in index_entries(lines)}
        assert all((p["url"], robust.timestamp14(p["ts"])) in stamps for p in pages)

    # the validator is not vacuous: one changed byte in a listed file fails it
    bad = tmp_path / "bad.wacz"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b"Cited pages", b"Cited pagez")
            dst.writestr(info, data)
    assert wacz_validate(bad).returncode != 0


@needs_wacz
def test_wacz_holds_every_file_a_capture_spilled_into(tmp_path, web, sample_article):
    """WARC files rotate every few records: a capture's hops, requisites and metadata
    land in several files, and the article's WACZ must carry all of them."""
    app = make_archive(tmp_path / "a", web, capture={"warc_max_size": 6000, "workers": 1})
    aid = captured_sample(app, sample_article)
    files = sorted((app.settings.warcs_path).rglob("*.warc.gz"))
    doc = article_doc(app.store, aid)
    snap_files = {s["warc"] for c in doc["citations"] for s in c["snapshots"]}
    assert len(files) > len(snap_files) + 2  # spread out: not just the snapshots' files
    out = tmp_path / "spread.wacz"
    assert run(app, "export", aid, "--wacz", str(out)).exit_code == 0
    assert wacz_validate(out).returncode == 0
    with zipfile.ZipFile(out) as z:
        packed = sorted(n.removeprefix("archive/") for n in z.namelist() if "archive/" in n)
        index = z.read("indexes/index.cdxj").decode()
    assert packed == sorted(f.name for f in files)  # one article: every file is its
    assert f'"url": "{MOVED}"' in index  # the redirect hop, recorded before the page


def test_export_usage_errors(archive, tmp_path):
    path = article_file(tmp_path, BBC)
    aid = add_sources(archive, [str(path)], capture=False).results[0].article_id
    wacz = str(tmp_path / "x.wacz")
    assert run(archive, "export", aid, "--csv", "--wacz", wacz).exit_code == 2
    assert run(archive, "export", aid, "--all", "--json").exit_code == 2
    assert run(archive, "export", "--robust-links").exit_code == 2
    assert run(archive, "export", "--csv").exit_code == 2
    r = run(archive, "export", aid, "--wacz", wacz)  # nothing captured yet
    assert r.exit_code == 2 and "nothing to export" in r.stderr
    assert not Path(wacz).exists()


# ------------------------------------------------------------------ replay


@needs_pywb
def test_exported_pages_replay_through_pywb_byte_for_byte(archive, sample_article, tmp_path, web):
    aid = captured_sample(archive, sample_article)
    out = tmp_path / "sample.wacz"
    assert run(archive, "export", aid, "--wacz", str(out)).exit_code == 0
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out) as z:
        z.extractall(unpacked)
    _, *pages = map(json.loads, (unpacked / "pages/pages.jsonl").read_text().splitlines())
    folder = tmp_path / "pywb"
    write_config(folder, pywb_config(unpacked / "indexes/index.cdxj", unpacked / "archive"))
    live = web.session()
    with pywb_serving(folder, tmp_path / "pywb.log") as base:
        http = local_session()
        for page in pages:
            ts, url = robust.timestamp14(page["ts"]), page["url"]
            # id_: the archived response as recorded, no rewriting
            r = http.get(f"{base}/archive/{ts}id_/{url}", stream=True, allow_redirects=False)
            wire = r.raw.read(decode_content=False)  # urllib3 removes only the chunking
            assert r.status_code == page["status"], url
            coded = r.headers.get("content-encoding") == "gzip"
            document = gzip.decompress(wire) if coded else wire
            assert document == live.get(url).content, url  # the page as the web serves it
            (snap,) = [s for s in snapshot_rows(archive, page["cited_url"]) if s.final_url == url]
            assert f"sha256:{sha256(document)}" == snap.payload_digest
            if url == BBC:
                # gzip + chunked on the wire: replay sends the very gzip bytes received
                assert coded
                head, _, body = raw_block(archive.root, snap.warc, snap.offset).partition(
                    b"\r\n\r\n"
                )
                assert b"transfer-encoding: chunked" in head.lower()
                assert wire == dechunk(body)
        # what an editor opens: framed replay of the page
        r = http.get(f"{base}/archive/{robust.timestamp14(pages[0]['ts'])}/{pages[0]['url']}")
        assert r.status_code == 200 and pages[0]["url"] in r.text
    assert {p["url"] for p in pages} >= {BBC}


@needs_pywb
def test_archive_replay_serves_what_the_manifest_links(tmp_path, web, sample_article):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_archive(tmp_path / "a", web, replay={"base_url": base, "port": port})
    aid = captured_sample(app, sample_article)
    tree = lxml.html.fromstring((app.settings.manifests_path / f"{aid}.html").read_bytes())
    replay_links = tree.xpath('//a[@class="replay"]/@href')
    assert replay_links and all(h.startswith(f"{base}/archive/") for h in replay_links)
    snippets = [lxml.html.fragment_fromstring(s) for s in tree.xpath("//pre/code/text()")]
    versions = [a.get("data-versionurl") for a in snippets]
    assert versions and all(v.startswith(f"{base}/archive/") for v in versions)

    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    log = tmp_path / "replay.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "archive"), "replay"], cwd=app.root, env=env, stdout=out, stderr=out
        )
        try:
            wait_until_serving(base, proc, log)
            http = local_session()
            for href in sorted(set(replay_links) | set(versions)):
                assert http.get(href, timeout=30).status_code in (200, 404), href
            # the robust link names the cited (moved) URL; replay lands on the page it
            # moved to (pywb skips a redirect within the same SURT key, www. or not)
            moved = next(a for a in snippets if a.get("href") == MOVED)
            stamp_and_url = moved.get("data-versionurl")[len(f"{base}/archive/") :]
            ts, _, url = stamp_and_url.partition("/")
            r = http.get(f"{base}/archive/{ts}id_/{url}")
            (snap,) = snapshot_rows(app, MOVED)
            assert r.status_code == 200 and snap.final_url == MOVED_TO
            assert f"sha256:{sha256(r.content)}" == snap.payload_digest
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
    # pywb stopped with `archive replay`: nothing listens any more
    with pytest.raises(requests.ConnectionError):
        local_session().get(base + "/", timeout=2)
    assert (app.settings.warcs_path / "index.cdxj").exists()


def test_replay_without_pywb_is_one_clear_line(archive, monkeypatch):
    monkeypatch.setattr("archiver.interop.replay.pywb_installed", lambda: False)
    r = run(archive, "replay")
    assert r.exit_code == 3
    assert r.stderr.count("\n") == 1 and "pip install 'archiver[replay]'" in r.stderr


# ------------------------------------------------------------------ the CDXJ index


def test_archive_index_is_sorted_replayable_and_incremental(
    archive, sample_article, tmp_path, monkeypatch
):
    # capture runs index what they close themselves (tests/test_capture.py covers that);
    # here the command alone does the indexing
    from archiver.runs import capture as capture_run

    monkeypatch.setattr(capture_run, "index_new_warcs", lambda app: None)
    captured_sample(archive, sample_article)
    r = run(archive, "index")
    assert r.exit_code == 0 and "1 new WARC files" in r.output, r.output
    warcs = archive.settings.warcs_path
    index = warcs / "index.cdxj"
    lines = index.read_text("utf-8").splitlines()
    assert lines and lines == sorted(lines)
    files = {e["filename"] for _k, _ts, e in index_entries(lines)}
    seen_request = False
    for name in files:
        records = record_types((warcs / name).read_bytes())
        seen_request |= any(rt == "request" for rt, _ in records.values())
        mine = {int(e["offset"]) for _k, _ts, e in index_entries(lines) if e["filename"] == name}
        assert mine == {off for off, (rt, _) in records.items() if rt in REPLAYABLE}
    assert seen_request  # request records exist, and none is in the index (pywb #501)

    before = index.read_bytes()
    r = run(archive, "index")
    assert r.exit_code == 0 and "up to date" in r.output
    assert index.read_bytes() == before

    # a new WARC file closes: the next run reads only that one
    report = add_sources(archive, [str(article_file(tmp_path, CASE))], capture=True)
    assert report.capture.archived == 1
    read = []
    real = cdxj.index_warc
    monkeypatch.setattr(cdxj, "index_warc", lambda p, f: read.append(f) or real(p, f))
    report = cdxj.index_closed(archive)
    assert read == list(report.added) and len(read) == 1 and not report.rebuilt
    merged = index.read_bytes()
    assert merged.decode().splitlines() == sorted(merged.decode().splitlines())
    # the same as indexing everything from scratch
    (warcs / cdxj.STATE_NAME).unlink()
    index.unlink()
    assert cdxj.index_closed(archive).rebuilt
    assert index.read_bytes() == merged
    assert run(archive, "verify").exit_code == 0  # the index beside the WARCs is no problem


# ------------------------------------------------------------------ Robust Links


@pytest.mark.parametrize(
    ("captured_at", "stamp"),
    [
        ("2026-11-20T09:30:00Z", "20261120093000"),
        ("2026-11-20T09:30:00.123456Z", "20261120093000"),
        ("2026-11-20T10:30:00+01:00", "20261120093000"),
    ],
)
def test_timestamp14(captured_at, stamp):
    assert robust.timestamp14(captured_at) == stamp


@pytest.mark.parametrize(
    ("base", "prefix"),
    [
        ("", None),
        ("http://localhost:8080", "http://localhost:8080/archive/"),
        ("https://replay.example/x/", "https://replay.example/x/archive/"),
    ],
)
def test_replay_prefix(base, prefix):
    assert robust.replay_prefix(base) == prefix


def test_robust_link_escapes_and_names_the_version():
    snap = {"captured_at": "2026-11-20T09:30:00Z", "warc": "warcs/w.warc.gz", "offset": 7,
            "title": '<script>"x" & y</script>'}  # fmt: skip
    url = "https://a.example/p?q=1&r=2"
    html = robust.robust_link(url, snap, None)
    assert "<script>" not in html
    a = lxml.html.fragment_fromstring(html)
    assert a.get("href") == a.get("data-originalurl") == url
    assert a.get("data-versionurl") == "warc:warcs/w.warc.gz#offset=7"
    assert a.get("data-versiondate") == "2026-11-20"
    assert a.text == '<script>"x" & y</script>'
    a = lxml.html.fragment_fromstring(robust.robust_link(url, snap, "http://h:1/archive/"))
    assert a.get("data-versionurl") == f"http://h:1/archive/20261120093000/{url}"


def test_export_robust_links(tmp_path, web, sample_article):
    app = make_archive(tmp_path / "a", web, replay={"base_url": "http://localhost:8080"})
    aid = captured_sample(app, sample_article)
    r = run(app, "export", aid, "--robust-links")
    assert r.exit_code == 0, r.output
    doc = article_doc(app.store, aid)
    lines = r.output.splitlines()
    assert len(lines) == len(doc["citations"])
    for c, line in zip(doc["citations"], lines, strict=True):
        good = robust.last_good(c["snapshots"])
        if good is None:  # the page that was already gone: said so, as an HTML comment
            assert line.startswith(f"<!-- [{c['id']}] no archived copy yet:")
            continue
        a = lxml.html.fragment_fromstring(line)
        assert a.get("href") == a.get("data-originalurl") == c["url"]
        stamp = robust.timestamp14(good["captured_at"])
        assert a.get("data-versionurl") == f"http://localhost:8080/archive/{stamp}/{c['url']}"
        assert a.get("data-versiondate") == good["captured_at"][:10]
    # the manifest page offers the same snippets, and a replay link per snapshot
    tree = lxml.html.fromstring((app.settings.manifests_path / f"{aid}.html").read_bytes())
    assert sorted(tree.xpath("//pre/code/text()")) == sorted(
        line for line in lines if not line.startswith("<!--")
    )
    hrefs = tree.xpath('//a[@class="replay"]/@href')
    expected = {
        f"http://localhost:8080/archive/{robust.timestamp14(s['captured_at'])}/{s['final_url']}"
        for c in doc["citations"]
        for s in c["snapshots"]
    }
    assert set(hrefs) == expected


def test_no_replay_links_unless_configured(archive, sample_article):
    aid = captured_sample(archive, sample_article)
    tree = lxml.html.fromstring((archive.settings.manifests_path / f"{aid}.html").read_bytes())
    assert not tree.xpath('//a[@class="replay"]')
    r = run(archive, "export", aid, "--robust-links")
    assert 'data-versionurl="warc:warcs/' in r.output


# ------------------------------------------------------------------ import


@needs_wget
@needs_wacz
def test_wget_warc_imports_as_snapshots_of_matching_citations(archive, web, tmp_path):
    aid = (
        add_sources(archive, [str(article_file(tmp_path, BBC, MOVED, VEDOMOSTI))], capture=False)
        .results[0]
        .article_id
    )
    warc = wget_warc(web, tmp_path, BBC, MOVED)
    r = run(archive, "add", "--from-warc", str(warc))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Imported warcs/imported/wget-capture.warc.gz: 3 responses,")
    assert "2 of cited pages (2 new snapshots, 2 targets archived), 1 of other pages" in r.output

    (bbc,) = snapshot_rows(archive, BBC)
    assert bbc.warc.startswith("warcs/imported/") and bbc.record_type == "response"
    assert bbc.status == 200 and bbc.good and bbc.title
    page = web.session().get(BBC).content
    assert bbc.payload_digest == f"sha256:{sha256(page)}" and bbc.size == len(page)
    (moved,) = snapshot_rows(archive, MOVED)
    assert moved.final_url == MOVED_TO and moved.redirects == [MOVED, MOVED_TO]
    assert moved.status == 200 and moved.good
    assert target_state(archive, BBC) == target_state(archive, MOVED) == "archived"
    assert target_state(archive, VEDOMOSTI) == "pending"
    # the copy is the file wget wrote, and is recorded like a closed WARC of our own
    assert (archive.root / bbc.warc).read_bytes() == warc.read_bytes()
    warcio_check(archive.root / bbc.warc)
    r = run(archive, "verify")
    assert r.exit_code == 0, r.output
    doc = article_doc(archive.store, aid)
    assert [len(c["snapshots"]) for c in doc["citations"]] == [1, 1, 0]

    # importing the same file again changes nothing
    r = run(archive, "add", "--from-warc", str(warc))
    assert r.exit_code == 0 and r.output.startswith("Already imported") and "0 new snap" in r.output
    assert len(snapshot_rows(archive, BBC)) == 1

    # the imported file is indexed, and packaged in a WACZ that validates
    assert run(archive, "index").exit_code == 0
    index = (archive.settings.warcs_path / "index.cdxj").read_text()
    assert '"filename": "imported/wget-capture.warc.gz"' in index
    out = tmp_path / "imported.wacz"
    r = run(archive, "export", aid, "--wacz", str(out))
    assert r.exit_code == 0, r.output
    assert wacz_validate(out).returncode == 0
    with zipfile.ZipFile(out) as z:
        assert "archive/wget-capture.warc.gz" in z.namelist()


@needs_wget
@needs_wacz
def test_add_with_a_warc_captures_only_what_the_warc_lacks(archive, web, tmp_path):
    warc = wget_warc(web, tmp_path, BBC)
    web.reset()
    article = article_file(tmp_path, BBC, VEDOMOSTI)
    r = run(archive, "add", str(article), "--from-warc", str(warc))
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].endswith(f"added: 2 citations (2 new) from {article}")
    assert target_state(archive, BBC) == target_state(archive, VEDOMOSTI) == "archived"
    assert [h for h in web.hits if h.host == "www.bbc.com"] == []  # not fetched again
    (bbc,) = snapshot_rows(archive, BBC)
    assert bbc.warc.startswith("warcs/imported/")
    (ved,) = snapshot_rows(archive, VEDOMOSTI)
    assert not ved.warc.startswith("warcs/imported/")
    # --all: every WARC of the archive, imported or captured, in one package
    out = tmp_path / "all.wacz"
    r = run(archive, "export", "--all", "--wacz", str(out))
    assert r.exit_code == 0, r.output
    assert wacz_validate(out).returncode == 0
    with zipfile.ZipFile(out) as z:
        packed = {n for n in z.namelist() if n.startswith("archive/")}
        pages = z.read("pages/pages.jsonl").decode()
    assert packed == {f"archive/{Path(bbc.warc).name}", f"archive/{Path(ved.warc).name}"}
    assert BBC in pages and VEDOMOSTI in pages


def _rec(offset: int, uri: str, status: int, location: str | None = None) -> Rec:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return Rec(offset=offset, length=10, record_id=f"<urn:uuid:{offset}>", rec_type="response",
               uri=uri, date=when, status=status, location=location, content_type="text/html",
               refers_to=None, payload_digest=None, truncated=False)  # fmt: skip


@pytest.mark.parametrize(
    ("recs", "chains"),
    [
        # a hop per record, followed to the final response; the target matched by key
        ([_rec(0, "https://A.example:443", 301, "http://a.example/c"),
          _rec(10, "http://a.example/c", 302, "/b?utm_source=x"),
          _rec(20, "http://a.example/b", 200)],
         [[0, 10, 20]]),
        # a hop whose next URL was never recorded ends the chain at the redirect
        ([_rec(0, "https://a.example/", 301, "https://gone.example/")], [[0]]),
        # a loop is followed once; a bad Location ends it
        ([_rec(0, "https://a.example/", 302, "https://a.example/"),
          _rec(10, "https://a.example/", 302, "http://[::1")],
         [[0, 10], [10]]),
        # recorded before the hop: not the hop's answer
        ([_rec(0, "https://a.example/b", 200),
          _rec(10, "https://a.example/", 301, "/b")],
         [[10]]),
        # not http(s), not a target
        ([_rec(0, "dns:a.example", 200), _rec(10, "https://other.example/", 200)], []),
    ],
)  # fmt: skip
def test_import_plans_snapshots_along_recorded_redirects(recs, chains):
    planned = plan_snapshots(recs, {"https://a.example/": 1})
    assert [[r.offset for r in chain] for _tid, chain in planned] == chains
    assert all(tid == 1 for tid, _ in planned)


def test_import_usage_errors(archive, tmp_path):
    r = run(archive, "add")
    assert r.exit_code == 2 and "SOURCE" in r.output
    plain = tmp_path / "capture.warc"
    plain.write_bytes(b"WARC/1.1\r\n")
    r = run(archive, "add", "--from-warc", str(plain))
    assert r.exit_code == 4 and r.stderr.count("\n") == 1 and "warcio recompress" in r.stderr
    fake = tmp_path / "fake.warc.gz"
    fake.write_bytes(gzip.compress(b"<html>not a WARC</html>"))
    r = run(archive, "add", "--from-warc", str(fake))
    assert r.exit_code == 4 and "not a WARC file" in r.stderr
    assert not (archive.settings.warcs_path / "imported").exists()


def test_the_index_imports_cdxj_indexer_without_pkg_resources():
    """cdxj-indexer's pyamf finds its adapters without pkg_resources (~0.1 s of every
    command's start-up); a later ``import pkg_resources`` still works."""
    code = (
        "import sys, archiver.cli, pyamf.adapters\n"
        "assert 'pkg_resources' not in sys.modules, 'pkg_resources imported'\n"
        "assert pyamf.adapters.adapters_registered\n"
        "import pkg_resources\n"
        "print(pkg_resources.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "pkg_resources"

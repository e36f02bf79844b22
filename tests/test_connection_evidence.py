"""Connection evidence (issue 21): what the server presented, recorded, summarised, verified."""

from __future__ import annotations

import base64
import getpass
import gzip
import hashlib
import http.server
import io
import json
import re
import socket
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import trustme
from cryptography import x509
from jsonschema import Draft202012Validator
from sqlalchemy import inspect, text
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from archiver.evidence import check as evidence_check
from archiver.evidence.connection import CONTENT_TYPE, NOT_OBSERVABLE
from archiver.evidence.signing import key_fingerprint
from archiver.evidence.summary import certificate
from archiver.manifest import documents, refresh
from archiver.manifest.articles import _evidence_key
from archiver.manifest.verify import verify
from archiver.net.observe import FULL_CHAIN, LEAF_ONLY, observe, proxy_without_credentials
from archiver.runs.add import add_sources
from archiver.store import open_store
from archiver.store import schema as t
from archiver.store.migrations import MIGRATIONS

from .conftest import make_archive
from .test_capture import article, assert_valid_archive, snapshots
from .warc_tools import warc_files

PUBLIC_IP = "93.184.216.34"  # what the fake resolver answers for a "public" name


@pytest.fixture
def resolver(monkeypatch):
    """name → IP: those names resolve to that IP in this process (both sides)."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if isinstance(host, str) and host.rstrip(".").lower() in names:
            return real(names[host.rstrip(".").lower()], *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return names


def presented_leaf(port: int, name: str, ca: str | None) -> bytes:
    """The DER leaf a TLS server on loopback presents for ``name`` (our own handshake)."""
    ctx = ssl.create_default_context(cafile=ca)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def evidence_records(root: Path) -> list[tuple[Path, int, int, object, dict]]:
    """(file, offset, length, rec_headers, JSON) of every evidence record."""
    found = []
    for path in warc_files(root):
        with open(path, "rb") as f:
            it = ArchiveIterator(f)
            for rec in it:
                if rec.rec_headers.get_header("Content-Type") == CONTENT_TYPE:
                    body = json.loads(rec.content_stream().read())
                    it.read_to_end()
                    off, length = it.get_record_offset(), it.get_record_length()
                    found.append((path, off, length, rec.rec_headers, body))
    return found


def record_ids(root: Path) -> dict[str, str]:
    ids = {}
    for path in warc_files(root):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                ids[rec.rec_headers.get_header("WARC-Record-ID")] = rec.rec_type
    return ids


def concurrent_to(headers) -> list[str]:
    return [v for k, v in headers.headers if k == "WARC-Concurrent-To"]


def article_page(app, suffix: str = ".html") -> Path:
    """The one article's manifest (written after every change)."""
    refresh(app)
    (path,) = [p for p in app.settings.manifests_path.glob(f"*{suffix}") if p.stem != "index"]
    return path


def record_of(root: Path, snap) -> dict:
    (body,) = [b for *_, h, b in evidence_records(root) if snap.record_id in concurrent_to(h)]
    return body


# ---------------------------------------------------------------- proxied https


def test_proxied_https_capture_records_the_presented_leaf_tls_and_dns(
    archive, web, tmp_path, resolver
):
    resolver["cases.test"] = PUBLIC_IP  # our lookup answers; the proxy routes on its own
    url = "https://cases.test/ok"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    assert_valid_archive(archive)  # warcio check + cdxj-indexer + every snapshot's record
    (snap,) = snapshots(archive, url)
    body = record_of(archive.root, snap)
    leaf = presented_leaf(web.https_port, "cases.test", web.ca_path)
    tls = body["tls"]
    assert base64.b64decode(tls["certificates"][0]["der_base64"]) == leaf
    assert tls["version"].startswith("TLSv1") and tls["cipher"]
    assert "leaf only" in tls["chain"]  # Python 3.11: get_unverified_chain needs 3.13
    assert body["dns"] == {"name": "cases.test", "answers": [PUBLIC_IP], "error": None}
    # behind the proxy: the proxy is named, the origin's address was not observable
    assert body["from"] == "proxy" and body["via_proxy"] == web.proxy_url
    assert body["connected_to"] == web.proxy_url.removeprefix("http://")
    assert body["origin_address"] is None and body["origin_address_note"] == NOT_OBSERVABLE
    # one record for the kept-alive connection: it names every response it carried
    ids = record_ids(archive.root)
    (*_, headers, _) = next(
        e for e in evidence_records(archive.root) if snap.record_id in concurrent_to(e[3])
    )
    named = concurrent_to(headers)
    assert named == body["responses"] and len(named) > 1
    assert all(ids[r] in ("response", "revisit") for r in named)
    assert headers.get_header("WARC-Target-URI") == url
    # the summary is what the record says
    cert = x509.load_der_x509_certificate(leaf)
    served = snap.evidence["served_by"]
    assert served["certificate"] == {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": "sha256:" + hashlib.sha256(leaf).hexdigest(),
    }
    assert served["address"] is None and served["dns"] == [PUBLIC_IP]
    assert snap.evidence["from"] == "proxy" and snap.evidence["via_proxy"] == web.proxy_url
    report = verify(archive)
    assert report.ok, report.problems
    assert report.as_dict()["evidence"]["snapshots"] == 1
    assert re.search(r", [1-9]\d* connection evidence records: all hold\.$", report.summary())
    assert report.as_dict()["evidence"]["records"] >= 1


def test_proxy_credentials_never_reach_the_record(tmp_path, web):
    proxy = web.proxy_url.replace("http://", "http://user:s3cret@")
    app = make_archive(tmp_path / "a", web, capture={"proxy": proxy})
    try:
        add_sources(app, [str(article(tmp_path, "https://cases.test/ok"))], capture=True)
        (snap,) = snapshots(app, "https://cases.test/ok")
        assert snap.evidence["via_proxy"] == web.proxy_url
        for path in warc_files(app.root):
            assert b"s3cret" not in gzip.decompress(path.read_bytes())
    finally:
        app.close()


# ---------------------------------------------------------------- direct


@pytest.fixture
def direct(tmp_path, web, resolver):
    resolver["cases.test"] = "127.0.0.1"
    app = make_archive(
        tmp_path / "direct", None, capture={"allow_private": True, "ca_bundle": str(web.ca_path)}
    )
    yield app
    app.close()


def test_direct_https_capture_records_the_origin_address_and_dns(direct, web, tmp_path):
    url = f"https://cases.test:{web.https_port}/ok"
    add_sources(direct, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(direct, url)
    body = record_of(direct.root, snap)
    assert body["from"] == "direct" and body["via_proxy"] is None
    assert body["origin_address"] == body["connected_to"] == f"127.0.0.1:{web.https_port}"
    assert body["dns"]["answers"] == ["127.0.0.1"]
    leaf = presented_leaf(web.https_port, "cases.test", web.ca_path)
    assert base64.b64decode(body["tls"]["certificates"][0]["der_base64"]) == leaf
    assert snap.evidence["served_by"]["address"] == f"127.0.0.1:{web.https_port}"
    assert verify(direct).ok


def test_plain_http_capture_has_address_and_dns_but_no_tls(direct, web, tmp_path):
    url = f"http://cases.test:{web.http_port}/ok"
    add_sources(direct, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(direct, url)
    body = record_of(direct.root, snap)
    assert body["tls"] is None
    assert body["connected_to"] == f"127.0.0.1:{web.http_port}"
    assert body["dns"]["answers"] == ["127.0.0.1"]
    served = snap.evidence["served_by"]
    assert served["tls_version"] is None and served["certificate"] is None
    assert served["address"] == f"127.0.0.1:{web.http_port}" and served["dns"] == ["127.0.0.1"]
    text = article_page(direct).read_text("utf-8")
    assert "none (plain HTTP)" in text and f"127.0.0.1:{web.http_port}" in text


# ---------------------------------------------------------------- manifest


def test_manifest_json_and_html_carry_the_summary(archive, web, tmp_path, resolver):
    resolver["cases.test"] = PUBLIC_IP
    url = "https://cases.test/ok"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    doc_path = article_page(archive, ".json")
    doc = json.loads(doc_path.read_text("utf-8"))
    Draft202012Validator(documents.json_schema()).validate(doc)
    (cited,) = [c for c in doc["citations"] if c["url"] == url]
    e = cited["snapshots"][0]["evidence"]
    assert set(e) == {
        "record_id",
        "captured_by",
        "from",
        "via_proxy",
        "served_by",
        "timestamped_by",
        "signed",
    }
    assert set(e["captured_by"]) == {"software", "version", "worker", "operator"}
    assert all(e["captured_by"].values())
    assert e["captured_by"]["operator"] == getpass.getuser()  # no capture.operator set
    assert e["served_by"]["certificate"]["sha256"].startswith("sha256:")
    assert e["timestamped_by"] is None  # no [evidence] tsa_url
    fingerprint = key_fingerprint(archive.root)  # `archive init` made the signing key
    assert fingerprint and e["signed"] == {
        "key_fingerprint": fingerprint,
        "covers": "exported WACZ packages",
    }
    html = doc_path.with_suffix(".html").read_text("utf-8")
    for line in ("Captured by", "Served by", "Certificate", "Fingerprint", "Timestamped"):
        assert line in html
    assert e["served_by"]["certificate"]["sha256"] in html and e["record_id"] in html.replace(
        "&lt;", "<"
    ).replace("&gt;", ">")


# ---------------------------------------------------------------- verify


def _rewrite_member(path: Path, offset: int, length: int, change) -> None:
    """Replace the gzip member at ``offset`` by one holding ``change(record bytes)``."""
    data = path.read_bytes()
    record = gzip.decompress(data[offset : offset + length])
    changed = change(record)
    assert changed != record
    path.write_bytes(data[:offset] + gzip.compress(changed) + data[offset + length :])


def _captured(archive, tmp_path) -> tuple[object, tuple]:
    url = "https://cases.test/ok"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    entry = next(e for e in evidence_records(archive.root) if snap.record_id in concurrent_to(e[3]))
    return snap, entry


def test_a_flipped_certificate_byte_fails_verify(archive, web, tmp_path):
    snap, (path, off, length, _, body) = _captured(archive, tmp_path)
    b64 = body["tls"]["certificates"][0]["der_base64"]
    der = bytearray(base64.b64decode(b64))
    der[len(der) // 2] ^= 0x01
    flipped = base64.b64encode(bytes(der)).decode()
    assert len(flipped) == len(b64)
    _rewrite_member(path, off, length, lambda r: r.replace(b64.encode(), flipped.encode()))
    report = verify(archive)
    assert not report.ok
    whats = [p.what for p in report.problems]
    assert any(w.startswith("certificate 0 hashes to sha256:") for w in whats), whats
    stored = snap.evidence["served_by"]["certificate"]["sha256"]
    assert any("leaf certificate hashes to" in w and stored in w for w in whats), whats
    assert report.as_dict()["evidence"]["problems"] >= 2


def test_a_dangling_concurrent_to_fails_verify(archive, web, tmp_path):
    _, (path, off, length, headers, _) = _captured(archive, tmp_path)
    first = concurrent_to(headers)[0]
    ghost = "<urn:uuid:00000000-0000-4000-8000-000000000000>"
    assert len(ghost) == len(first)
    header = f"WARC-Concurrent-To: {first}".encode()
    _rewrite_member(
        path, off, length, lambda r: r.replace(header, f"WARC-Concurrent-To: {ghost}".encode(), 1)
    )
    whats = [p.what for p in verify(archive).problems]
    assert f"evidence record is concurrent to {ghost}, found in no WARC file" in whats, whats


# ---------------------------------------------------------------- hostile


@pytest.mark.parametrize(
    ("body", "concurrent", "expected"),
    [
        (b"not json", ["<a>"], "is not a connection-evidence object"),
        (b"[]", ["<a>"], "is not a connection-evidence object"),
        (b'{"kind": "connection-evidence", "format": 99}', ["<a>"], "of format 1"),
        (b"\xff\xfe", ["<a>"], "is not a connection-evidence object"),
    ],
)
def test_malformed_evidence_records_are_problems(body, concurrent, expected):
    facts = evidence_check.parse("<r>", concurrent, body)
    assert any(expected in p for p in facts.problems), facts.problems


def _doc(**over) -> bytes:
    der = b"\x30\x03\x02\x01\x01"
    doc = {
        "kind": "connection-evidence",
        "format": 1,
        "from": "direct",
        "via_proxy": None,
        "responses": ["<a>"],
        "tls": {
            "certificates": [
                {
                    "der_base64": base64.b64encode(der).decode(),
                    "sha256": "sha256:" + hashlib.sha256(der).hexdigest(),
                }
            ]
        },
    }
    doc.update(over)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("body", "concurrent", "expected"),
    [
        (_doc(), [], "has no WARC-Concurrent-To"),
        (_doc(), ["<b>"], "responses differ"),
        (_doc(**{"from": "proxy"}), ["<a>"], "from and via_proxy disagree"),
        (_doc(tls={"certificates": [{"der_base64": "%%%"}]}), ["<a>"], "is not base64 DER"),
        (_doc(tls={"certificates": [{}]}), ["<a>"], "is not base64 DER"),
        (_doc(tls="x"), ["<a>"], "certificates list"),
        (
            _doc(tls={"certificates": [{"der_base64": "AAAA", "sha256": "sha256:0"}]}),
            ["<a>"],
            "certificate 0 hashes to",
        ),
    ],
)
def test_inconsistent_evidence_records_are_problems(body, concurrent, expected):
    facts = evidence_check.parse("<r>", concurrent, body)
    assert any(expected in p for p in facts.problems), facts.problems


def test_a_well_formed_record_has_no_problem():
    facts = evidence_check.parse("<r>", ["<a>"], _doc())
    assert facts.problems == () and facts.leaf_sha256.startswith("sha256:")


HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def hostile_server(tmp_path):
    """An HTTPS server on loopback whose certificate has markup in its CN and O."""
    ca = trustme.CA(organization_name=f"{HOSTILE} CA")
    leaf = ca.issue_cert("evil.test", common_name=HOSTILE, organization_name=HOSTILE)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    ca_path = tmp_path / "hostile-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><head><title>Evil</title></head><body><p>hello</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], ca_path
    server.shutdown()
    server.server_close()


def test_a_hostile_certificate_subject_is_escaped_in_html(tmp_path, hostile_server, resolver):
    port, ca_path = hostile_server
    resolver["evil.test"] = "127.0.0.1"
    capture = {"allow_private": True, "ca_bundle": str(ca_path), "operator": f"desk {HOSTILE}"}
    app = make_archive(tmp_path / "evil", None, capture=capture)
    try:
        url = f"https://evil.test:{port}/page"
        add_sources(app, [str(article(tmp_path, url))], capture=True)
        (snap,) = snapshots(app, url)
        # RFC 4514 escapes < and > with a backslash; the markup stays markup-shaped
        escaped = r"\<script\>alert(1)\</script\>"
        assert f"CN={escaped}" in snap.evidence["served_by"]["certificate"]["subject"]
        assert f"O={escaped} CA" in snap.evidence["served_by"]["certificate"]["issuer"]
        text = article_page(app).read_text("utf-8")
        assert "<script>alert" not in text
        assert r"\&lt;script\&gt;alert(1)\&lt;/script\&gt;" in text
        assert snap.evidence["captured_by"]["operator"] == f"desk {HOSTILE}"  # configured
        assert record_of(app.root, snap)["captured_by"]["operator"] == f"desk {HOSTILE}"
        assert verify(app).ok
    finally:
        app.close()


# ---------------------------------------------------------------- store


def test_schema_11_adds_the_evidence_column_to_an_older_store(store_url):
    """A store from schema 7 (no `snapshot.evidence`) gets it on opening, once."""
    s = open_store(store_url, create=True)
    with s.tx() as conn:
        conn.execute(text("ALTER TABLE snapshot DROP COLUMN evidence"))
        conn.execute(t.meta.update().values(value="7"))
    s.close()
    s = open_store(store_url)
    try:
        assert s.schema_version() == t.SCHEMA_VERSION
        with s.read() as conn:
            assert "evidence" in {c["name"] for c in inspect(conn).get_columns("snapshot")}
        with s.tx() as conn:  # v11 again (a half-applied upgrade) is a no-op
            MIGRATIONS[11](conn)
        assert s.migrate() == 0
    finally:
        s.close()


def test_a_snapshot_without_evidence_has_no_key():
    row = SimpleNamespace(evidence=None, stamp_kind=None)
    assert _evidence_key(row, "sha256:k") == {}
    row = SimpleNamespace(evidence={"record_id": "<r>"}, stamp_kind=None)
    assert _evidence_key(row, None) == {
        "evidence": {"record_id": "<r>", "timestamped_by": None, "signed": None}
    }


def test_the_summary_names_the_warc_files_token_and_the_signing_key():
    when = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    row = SimpleNamespace(
        evidence={"record_id": "<r>"},
        stamp_kind="warc",
        stamp_tsa="https://tsa.test/",
        stamp_done=True,
        stamp_gen_time=when,
    )
    e = _evidence_key(row, "sha256:k")["evidence"]
    assert e["timestamped_by"] == {
        "tsa": "https://tsa.test/",
        "time": "2026-12-05T12:00:00Z",
        "status": "stamped",
    }
    assert e["signed"]["key_fingerprint"] == "sha256:k"
    queued = SimpleNamespace(**{**vars(row), "stamp_done": False})
    assert _evidence_key(queued, None)["evidence"]["timestamped_by"]["status"] == "queued"


# ---------------------------------------------------------------- observing a socket


class FakeTLS:
    """A handshaken socket as `net.observe.observe` reads one."""

    def __init__(self, leaf: bytes, chain: list[bytes] | None = None) -> None:
        self._leaf = leaf
        if chain is not None:
            self.get_unverified_chain = lambda: chain  # Python 3.13+

    def getpeername(self):
        return ("2001:db8::1", 443)

    def version(self):
        return "TLSv1.3"

    def cipher(self):
        return ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)

    def getpeercert(self, binary_form=False):
        return self._leaf


def test_observe_takes_the_whole_chain_where_python_gives_it():
    facts = observe(FakeTLS(b"leaf", [b"leaf", b"intermediate"]), via_proxy=None, dns=None)
    assert facts.certificates == (b"leaf", b"intermediate") and facts.chain == FULL_CHAIN
    facts = observe(FakeTLS(b"leaf"), via_proxy=None, dns=None)
    assert facts.certificates == (b"leaf",) and facts.chain == LEAF_ONLY
    assert facts.connected_to == "[2001:db8::1]:443" and facts.cipher_bits == 128


def test_observe_a_plain_socket_has_no_tls():
    with socket.socket() as sock:
        facts = observe(sock, via_proxy="http://proxy:3128", dns=None)
    assert facts.tls_version is None and facts.certificates == () and facts.connected_to is None


def test_a_certificate_that_does_not_parse_keeps_its_fingerprint():
    found = certificate(b"\x30\x03garbage")
    assert found["sha256"] == "sha256:" + hashlib.sha256(b"\x30\x03garbage").hexdigest()
    assert found["subject"] is None and found["error"].startswith("certificate does not parse")


def test_an_oversized_evidence_record_is_a_problem_not_a_parse():
    class Record:
        rec_headers = StatusAndHeaders(
            "", [("WARC-Record-ID", "<r>"), ("WARC-Concurrent-To", "<a>")], protocol="WARC/1.1"
        )

        def content_stream(self):
            return io.BytesIO(b"{" * (evidence_check.BODY_LIMIT + 10))

    facts = evidence_check.read_record(Record())
    assert facts.concurrent_to == ("<a>",) and "is over" in facts.problems[0]


@pytest.mark.parametrize(
    ("proxy", "shown"),
    [
        ("http://user:pw@proxy.example:3128", "http://proxy.example:3128"),
        ("https://proxy.example", "https://proxy.example"),
        ("http://u:p@[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_proxy_url_without_credentials(proxy, shown):
    assert proxy_without_credentials(proxy) == shown

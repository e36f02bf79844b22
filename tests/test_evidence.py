"""Issue 21, part 2: RFC 3161 timestamps, the archive's signing key, signed WACZ and the
offline checks of all three — with a real TSA (``openssl ts -reply``) on loopback and
real crypto throughout (nothing of the crypto is mocked)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from archiver.app import App
from archiver.cli import cli
from archiver.config import CaptureSettings, load_settings
from archiver.daemon import Daemon
from archiver.errors import TsaError
from archiver.evidence import signing
from archiver.evidence import tsa as tsa_mod
from archiver.evidence.signing import key_fingerprint
from archiver.evidence.tokens_check import check_token, load_trust
from archiver.evidence.waczsign import verify_wacz
from archiver.ledger.chain import Ledger
from archiver.ledger.pairs import complete_pairs
from archiver.manifest import refresh
from archiver.manifest.tokens import stamp_for_warc
from archiver.manifest.verify import verify
from archiver.runs import stamps as stamps_mod
from archiver.runs.stamps import stamp_pending
from archiver.store import schema as t

from .conftest import make_archive
from .tsa_fixture import TSA_URL, TsaServer, make_pki

CASE = "https://cases.test/gzip-chunked"
BIN = Path(sys.executable).parent


def run(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(root / "config.toml"), *args], obj={})


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def set_config(root: Path, **values: str) -> None:
    """Replace ``key = …`` lines of config.toml (each key is unique in the file)."""
    path = root / "config.toml"
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, key
    path.write_text(text, encoding="utf-8")


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# ------------------------------------------------------------------ the TSA client


def test_token_from_a_real_tsa_checks_and_tampering_fails(pki, tmp_path):
    d = digest(b"a closed WARC file")
    with TsaServer(pki) as srv:
        token = tsa_mod.request_token(
            d, TSA_URL, settings=CaptureSettings(proxy=srv.proxy_url), timeout=5
        )
    roots = load_trust(pki["ca.pem"])
    good = check_token(token.reply, d, roots)
    assert good.ok and good.trusted and good.tsa_name == "CN=Test TSA", good
    assert not check_token(token.reply, digest(b"another file"), roots).ok
    flipped = bytearray(token.reply)
    flipped[-20] ^= 0x01  # inside the signature
    assert check_token(bytes(flipped), d, roots).what == "the token's signature does not verify"
    other = load_trust(make_pki(tmp_path / "other")["ca.pem"])
    assert "does not chain" in check_token(token.reply, d, other).what
    assert check_token(token.reply, d, []).what.startswith("holds (imprint only")
    assert not check_token(b"\x30\x03abc", d, roots).ok


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("garbage", "not an RFC 3161 timestamp response"),
        ("refuse", "HTTP 503"),
        ("hang", "no answer within 1s"),
    ],
)
def test_a_bad_tsa_is_one_clear_line(pki, mode, expected):
    with TsaServer(pki, mode=mode) as srv:
        started = time.monotonic()
        with pytest.raises(TsaError) as err:
            tsa_mod.request_token(
                digest(b"x"), TSA_URL, settings=CaptureSettings(proxy=srv.proxy_url), timeout=1
            )
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert time.monotonic() - started < 8


def test_the_ssrf_guard_holds_for_tsa_urls(pki):
    with TsaServer(pki) as srv:
        direct = f"http://127.0.0.1:{srv.server_address[1]}/tsr"
        with pytest.raises(TsaError, match="refused"):
            tsa_mod.request_token(digest(b"x"), direct, settings=CaptureSettings(), timeout=2)
        assert srv.hits == []


# ------------------------------------------------------------------ the signing key


def test_init_makes_a_0600_key_never_overwritten_and_key_show(tmp_path):
    root = tmp_path / "a"
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    key = root / "keys" / "archive-signing.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (root / "keys" / ".gitignore").read_text().strip().endswith("*")
    before = key.read_bytes()
    shown = json.loads(run(root, "key", "show", "--json").output)
    assert shown["fingerprint"] == key_fingerprint(root) and len(shown["fingerprint"]) == 64
    assert shown["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    r = run(root, "key", "create")
    assert r.exit_code == 0 and "already exists" in r.output
    assert key.read_bytes() == before
    assert json.loads(run(root, "key", "show", "--json").output) == shown
    key.unlink()  # an archive made before keys
    r = run(root, "key", "show")
    assert r.exit_code == 2 and "archive key create" in r.output
    assert (
        run(root, "key", "create").exit_code == 0 and key_fingerprint(root) != shown["fingerprint"]
    )


# ------------------------------------------------------------------ archive, WACZ, verify


@pytest.fixture
def stamped(archive, pki, tmp_path):
    """An archive that captured one page while the TSA was unreachable, then stamped."""
    root = archive.root
    set_config(
        root,
        tsa_url=json.dumps([TSA_URL]),
        tsa_trust=json.dumps(str(pki["ca.pem"])),
        tsa_timeout='"2s"',
    )
    source = tmp_path / "article.txt"
    source.write_text(f"An article\n\n{CASE}\n", encoding="utf-8")
    # the fixture web's proxy knows no tsa.example.org: the TSA is unreachable
    r = run(root, "add", str(source))
    assert r.exit_code == 0, r.output
    assert "1 archived" in r.output or "archived" in r.output
    assert re.search(r"Timestamps: 0 stamped, [1-9]\d* queued", r.output), r.output
    app = App(settings=load_settings(root / "config.toml"))
    rows = app.store.stamp_rows()
    # the first failure ends the pass: one row was tried, the rest wait untried
    assert rows and all(row.token is None for row in rows)
    assert [r.kind for r in rows if r.attempts] == ["warc"]
    warcs = [r.name for r in rows if r.kind == "warc"]
    assert run(root, "verify").exit_code == 0  # queued tokens are no problem
    with TsaServer(pki) as srv:
        set_config(root, proxy=json.dumps(srv.proxy_url))
        settings = load_settings(root / "config.toml")
        now = App(settings=settings).clock()
        first = stamp_pending(App(settings=settings))
        assert not set(warcs) & set(first.stamped)  # its retry is not due yet
        later = App(settings=settings, clock=lambda: now + timedelta(minutes=6))
        report = stamp_pending(later)
        assert set(warcs) <= set(report.stamped) and not report.failed, report
        yield later, srv
    app.close()
    later.close()


def test_tokens_are_stored_filed_ledgered_and_verified(stamped):
    app, _ = stamped
    rows = app.store.stamp_rows()
    assert {r.kind for r in rows} == {"warc", "ledger"} and all(r.token for r in rows)
    for row in rows:
        assert (app.root / row.file).read_bytes() == base64.b64decode(row.token)
    warc = next(r for r in rows if r.kind == "warc")
    assert (app.root / (warc.name + ".tsr")).is_file()
    assert stamp_for_warc(app.store, warc.name)["status"] == "stamped"
    assert stamp_for_warc(app.store, "warcs/none.warc.gz") is None
    lines = [json.loads(x) for x in (app.settings.manifests_path / "ledger.jsonl").open()]
    events = [x for x in lines if x["event"] == "timestamp"]
    assert {e["subject"] for e in events} == {r.name for r in rows}
    r = run(app.root, "verify", "--json")
    assert r.exit_code == 0, r.output
    tokens = json.loads(r.output)["timestamp_tokens"]
    assert len(tokens) == len(rows) and all(x["status"] == "holds" and x["trusted"] for x in tokens)


def test_the_manifest_summary_names_the_token_and_the_key_after_stamping(stamped):
    """The stamp marks the articles of the stamped WARC's snapshots for rewriting: their
    evidence summaries name the token (as the WARC file's) and the signing key."""
    app, _ = stamped
    (aid,) = app.store.article_ids(dirty_only=True)
    refresh(app)
    doc = json.loads((app.settings.manifests_path / f"{aid}.json").read_text("utf-8"))
    snap = doc["citations"][0]["snapshots"][0]
    e = snap["evidence"]
    warc = stamp_for_warc(app.store, snap["warc"])
    assert e["timestamped_by"] == warc and warc["status"] == "stamped" and warc["tsa"] == TSA_URL
    assert e["signed"]["key_fingerprint"] == key_fingerprint(app.root)
    html = (app.settings.manifests_path / f"{aid}.html").read_text("utf-8")
    assert "RFC 3161 token of the WARC file" in html and warc["time"] in html


def test_a_token_whose_line_a_kill_cut_off_gets_it_from_the_next_writer(stamped):
    """Killed after the token row's commit, before its ledger line: the row's seq is past
    the ledger's end; the next writer appends the line from the row (the ledger rule)."""
    app, _ = stamped
    path = app.settings.manifests_path / "ledger.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    assert last["event"] == "timestamp" and last["row"]
    path.write_bytes(b"".join(lines[:-1]))
    problems = [str(p) for p in verify(app).problems]
    assert any(f"timestamp {last['row']}: no ledger line" in p for p in problems), problems
    assert complete_pairs(Ledger(path), app.store) == 1
    again = json.loads(path.read_bytes().splitlines()[-1])
    assert again["recovered"] is True
    assert {k: again[k] for k in ("row", "subject", "token_sha256", "digest")} == {
        k: last[k] for k in ("row", "subject", "token_sha256", "digest")
    }
    assert verify(app).ok


def test_a_flipped_byte_in_a_warc_or_a_token_fails_verify(stamped):
    app, _ = stamped
    warc = next(r for r in app.store.stamp_rows() if r.kind == "warc")
    token_file = app.root / warc.file
    data = token_file.read_bytes()
    token_file.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    r = run(app.root, "verify")
    assert r.exit_code == 8 and "differs from the stored token" in r.output, r.output
    token_file.write_bytes(data)
    with app.store.tx() as conn:  # the stored token itself
        bad = bytearray(base64.b64decode(warc.token))
        bad[-20] ^= 1
        conn.execute(
            t.timestamp_token.update()
            .where(t.timestamp_token.c.id == warc.id)
            .values(token=base64.b64encode(bytes(bad)).decode())
        )
    r = run(app.root, "verify")
    assert r.exit_code == 8 and "signature does not verify" in r.output, r.output
    with app.store.tx() as conn:
        conn.execute(
            t.timestamp_token.update()
            .where(t.timestamp_token.c.id == warc.id)
            .values(token=warc.token)
        )
    assert run(app.root, "verify").exit_code == 0
    path = app.root / warc.name
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    r = run(app.root, "verify", "--json")
    problems = [p["what"] for p in json.loads(r.stdout)["problems"]]
    # the file no longer hashes to what was recorded, and stamped, when it closed
    assert r.exit_code == 8 and any("sha256" in p for p in problems), problems
    path.write_bytes(
        bytes(raw[: len(raw) // 2])
        + bytes([raw[len(raw) // 2] ^ 0xFF])
        + bytes(raw[len(raw) // 2 + 1 :])
    )
    assert run(app.root, "verify").exit_code == 0
    with app.store.tx() as conn:  # a token row re-pointed at other bytes
        conn.execute(
            t.timestamp_token.update()
            .where(t.timestamp_token.c.id == warc.id)
            .values(sha256="0" * 64)
        )
    r = run(app.root, "verify")
    assert r.exit_code == 8 and "queued for stamping is not the subject's" in r.output, r.output


def _rewrite(src: Path, dest: Path, change) -> None:
    """Copy a zip, passing each member's bytes through ``change(name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info.filename)))


def _flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def test_signed_wacz_verifies_alone_and_any_changed_byte_fails(stamped, tmp_path, monkeypatch):
    app, _ = stamped
    aid = app.store.article_ids()[0]
    out = tmp_path / "signed.wacz"
    r = run(app.root, "export", aid, "--wacz", str(out))
    assert r.exit_code == 0, r.output
    ca = str(app.settings.evidence.tsa_trust)
    # the check runs from the file alone: another folder, no config, no store
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["verify", "--wacz", str(out), "--tsa-trust", ca, "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["signature"] == "holds" and report["key_fingerprint"] == key_fingerprint(app.root)
    subjects = {x["subject"] for x in report["tokens"]}
    assert "signedData.signature" in subjects and any(s.startswith("archive/") for s in subjects)
    assert all(x["status"] == "holds" and x["trusted"] for x in report["tokens"])
    with zipfile.ZipFile(out) as z:
        digest_doc = json.loads(z.read("datapackage-digest.json"))
        names = z.namelist()
    assert set(digest_doc["signedData"]) == {
        "hash", "created", "software", "version", "signature", "publicKey"
    }  # fmt: skip
    if (BIN / "wacz").exists():  # py-wacz, the reference validator, accepts the package
        p = subprocess.run(
            [str(BIN / "wacz"), "validate", "-f", str(out)], capture_output=True, text=True
        )
        assert p.returncode == 0, p.stdout + p.stderr

    for name in names:  # a changed byte in any file of it fails
        bad = tmp_path / "bad.wacz"
        _rewrite(out, bad, lambda n, d, name=name: _flip(d) if n == name else d)
        check = verify_wacz(bad, load_trust(ca))
        assert not check.ok, name

    def tamper_signature(n, d):
        if n != "datapackage-digest.json":
            return d
        doc = json.loads(d)
        sig = bytearray(base64.b64decode(doc["signedData"]["signature"]))
        sig[3] ^= 1
        doc["signedData"]["signature"] = base64.b64encode(bytes(sig)).decode()
        return json.dumps(doc).encode()

    bad = tmp_path / "badsig.wacz"
    _rewrite(out, bad, tamper_signature)
    check = verify_wacz(bad, load_trust(ca))
    assert check.signature == "fails"
    assert "does not verify with its publicKey" in " ".join(check.problems)

    def unsign(n, d):
        if n != "datapackage-digest.json":
            return d
        doc = json.loads(d)
        return json.dumps({"path": doc["path"], "hash": doc["hash"]}).encode()

    plain = tmp_path / "unsigned.wacz"
    _rewrite(out, plain, unsign)
    r = CliRunner().invoke(cli, ["verify", "--wacz", str(plain)])
    assert r.exit_code == 0 and "NOT SIGNED" in r.output, r.output


# ------------------------------------------------------------------ hostile packages


def test_hostile_wacz_files_give_one_line_each(tmp_path):
    garbage = tmp_path / "garbage.wacz"
    garbage.write_bytes(os.urandom(300))
    assert verify_wacz(garbage).problems == ["not a zip file (truncated or not a WACZ)"]
    assert verify_wacz(tmp_path / "missing.wacz").problems == ["no such file"]

    package = {"created": "2026-01-01T00:00:00Z", "resources": []}
    bomb = tmp_path / "bomb.wacz"
    big = b"\0" * (80 << 20)  # 80 MiB of zeros deflate to ~80 KiB
    package["resources"] = [
        {"path": "archive/a.warc.gz", "hash": "sha256:" + "0" * 64, "bytes": 10},
    ]
    pkg = json.dumps(package).encode()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/a.warc.gz", big)
        z.writestr("datapackage.json", pkg)
        z.writestr(
            "datapackage-digest.json",
            json.dumps({"hash": "sha256:" + hashlib.sha256(pkg).hexdigest()}),
        )
    started = time.monotonic()
    check = verify_wacz(bomb)
    assert len(check.problems) == 1, check.problems
    assert re.fullmatch(
        r"archive/a\.warc\.gz: inflates 83886080 bytes from \d+; refused", check.problems[0]
    )
    assert time.monotonic() - started < 5

    truncated = tmp_path / "truncated.wacz"
    truncated.write_bytes(bomb.read_bytes()[: bomb.stat().st_size // 2])
    assert verify_wacz(truncated).problems == ["not a zip file (truncated or not a WACZ)"]
    r = CliRunner().invoke(cli, ["verify", "--wacz", str(truncated)])
    assert r.exit_code == 8 and r.stdout.count("\n") == 2, r.output


def test_the_wacz_signature_verifies_with_openssl_as_webcrypto_would(tmp_path):
    """An independent check of the signature format: raw r||s over the UTF-8 hash string,
    ECDSA-SHA256 with a P-384 key (what wabac.js / ReplayWeb.page imports)."""
    path = tmp_path / "k.pem"
    assert signing.create_key(path) and not signing.create_key(path)
    key = signing.load_key(path)
    assert key.curve.name == "secp384r1"
    text = "sha256:" + "ab" * 32
    raw = base64.b64decode(signing.sign_text(key, text))
    assert len(raw) == 96  # 48-byte r and s: WebCrypto's P1363 form
    r, s = int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")
    (tmp_path / "sig.der").write_bytes(encode_dss_signature(r, s))
    (tmp_path / "pub.pem").write_text(signing.public_pem(key.public_key()))
    (tmp_path / "msg").write_text(text)
    p = subprocess.run(
        ["/usr/bin/openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
         "-signature", str(tmp_path / "sig.der"), str(tmp_path / "msg")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 0 and "Verified OK" in p.stdout, p.stdout + p.stderr
    (tmp_path / "msg").write_text(text + " ")
    p = subprocess.run(
        ["/usr/bin/openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
         "-signature", str(tmp_path / "sig.der"), str(tmp_path / "msg")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode != 0


def test_the_daemon_stamps_only_with_a_tsa(tmp_path):
    app = make_archive(tmp_path / "a")
    try:
        assert "stamp" not in Daemon(app)._enabled(["capture", "stamp"])
        on = make_archive(tmp_path / "b", evidence={"tsa_url": [TSA_URL]})
        try:
            assert "stamp" in Daemon(on)._enabled(["capture", "stamp"])
        finally:
            on.close()
    finally:
        app.close()


def test_a_valid_token_swapped_in_behind_the_ledger_fails_verify(stamped):
    """A genuine token over the same digest, put in both the store and the .tsr file:
    signature and imprint hold, but no ledger line names it."""
    app, srv = stamped
    warc = next(r for r in app.store.stamp_rows() if r.kind == "warc")
    other = tsa_mod.request_token(
        bytes.fromhex(warc.sha256),
        TSA_URL,
        settings=CaptureSettings(proxy=srv.proxy_url),
        timeout=5,
    )
    assert other.reply != base64.b64decode(warc.token)
    with app.store.tx() as conn:
        conn.execute(
            t.timestamp_token.update()
            .where(t.timestamp_token.c.id == warc.id)
            .values(token=base64.b64encode(other.reply).decode())
        )
    (app.root / warc.file).write_bytes(other.reply)
    r = run(app.root, "verify")
    assert r.exit_code == 8 and "no timestamp ledger line names this token" in r.output, r.output
    assert "signature" not in r.output and "imprint" not in r.output


def test_the_ledger_head_is_read_from_the_end_and_a_torn_tail_is_not_stamped(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    assert ledger.head() is None
    ledger.append("one", n=1)
    second = ledger.append("two", n=2)
    assert json.loads(ledger.head()) == second
    with open(ledger.path, "ab") as f:
        f.write(b'{"seq":3,"event":"to')  # a killed append
    assert ledger.head() is None


def test_a_second_stamper_of_the_same_subject_writes_nothing(stamped):
    """The daemon and an `archive capture` may both ask for one file's token: the one
    that comes second under the ledger's lock keeps nothing."""
    app, srv = stamped
    warc = next(r for r in app.store.stamp_rows() if r.kind == "warc")
    lines = (app.settings.manifests_path / "ledger.jsonl").read_bytes()
    token = tsa_mod.request_token(
        bytes.fromhex(warc.sha256),
        TSA_URL,
        settings=CaptureSettings(proxy=srv.proxy_url),
        timeout=5,
    )
    assert stamps_mod._keep(app, warc, token) is False
    assert (app.root / warc.file).read_bytes() == base64.b64decode(warc.token)
    assert (app.settings.manifests_path / "ledger.jsonl").read_bytes() == lines
    assert run(app.root, "verify").exit_code == 0

"""A real RFC 3161 time-stamping service on loopback, for the evidence tests.

`make_pki` makes a test CA and a TSA certificate (extendedKeyUsage timeStamping,
critical) with `cryptography`; `TsaServer` answers `application/timestamp-query` POSTs by
running ``openssl ts -reply`` with them. The server is also the archive's forward proxy
(``capture.proxy``): a client sends it absolute-form requests for a real-looking host name
(``http://tsa.example.org/tsr``), as the fixture web's proxy is reached, so the SSRF guard
stays on. ``mode`` picks the behaviour: "ok", "garbage" (bytes that are no reply),
"hang" (never answers), "refuse" (HTTP 503).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TSA_URL = "http://tsa.example.org/tsr"
OPENSSL = "/usr/bin/openssl"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, public, signer, *, ca: bool, tsa: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if tsa:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
        ku = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        b = b.add_extension(ku, critical=True)
    return b.sign(signer, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(folder: Path) -> dict[str, Path]:
    """ca.pem (the trust store), tsa.pem + tsa.key (the signer), openssl.cnf."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, tsa_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _cert(
        _name("Test TSA Root"),
        _name("Test TSA Root"),
        ca_key.public_key(),
        ca_key,
        ca=True,
        tsa=False,
    )
    tsa = _cert(_name("Test TSA"), ca.subject, tsa_key.public_key(), ca_key, ca=False, tsa=True)
    paths = {n: folder / n for n in ("ca.pem", "tsa.pem", "tsa.key", "openssl.cnf", "serial")}
    paths["ca.pem"].write_bytes(_pem(ca))
    paths["tsa.pem"].write_bytes(_pem(tsa))
    paths["tsa.key"].write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths["serial"].write_text("01\n")
    paths["openssl.cnf"].write_text(
        "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\n"
        f"serial = {paths['serial']}\ncrypto_device = builtin\n"
        f"signer_cert = {paths['tsa.pem']}\n"
        f"signer_key = {paths['tsa.key']}\nsigner_digest = sha256\n"
        "default_policy = 1.2.3.4.1\nother_policies = 1.2.3.4.5\ndigests = sha256, sha384, sha512\n"
        "accuracy = secs:1\nordering = yes\ntsa_name = yes\n"
        "ess_cert_id_chain = no\ness_cert_id_alg = sha256\n"
    )
    return paths


def openssl_reply(query: bytes, pki: dict[str, Path]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
        q.write_bytes(query)
        subprocess.run(
            [
                OPENSSL,
                "ts",
                "-reply",
                "-config",
                str(pki["openssl.cnf"]),
                "-queryfile",
                str(q),
                "-out",
                str(r),
            ],
            check=True,
            capture_output=True,
            timeout=20,
        )
        return r.read_bytes()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        server: TsaServer = self.server  # type: ignore[assignment]
        query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.hits.append(self.path)
        mode = server.mode
        if mode == "hang":
            server.release.wait(30)
            return
        if mode == "refuse":
            self._answer(503, b"busy", "text/plain")
            return
        body = b"\x30\x03garbage-not-der" if mode == "garbage" else openssl_reply(query, server.pki)
        self._answer(200, body, "application/timestamp-reply")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class TsaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pki: dict[str, Path], mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pki, self.mode, self.hits = pki, mode, []
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> TsaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        time.sleep(0)

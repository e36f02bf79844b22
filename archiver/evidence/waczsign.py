"""Sign a WACZ package (anonymous signing) and verify one anywhere, without an archive.

Signing follows the WACZ Signing and Verification recommendation, 0.1.0
(specs.webrecorder.net/wacz-auth/0.1.0), "Anonymous Signature": ``datapackage-digest.json``
holds ``{"path", "hash", "signedData"}`` and ``signedData`` exactly the keys the
recommendation lists — ``hash`` (the digest file's, "sha256:<hex>" of datapackage.json),
``created`` (datapackage.json's), ``software``, ``version`` (of the recommendation),
``signature`` (base64 raw r||s ECDSA-SHA256 over the UTF-8 ``hash`` string) and
``publicKey`` (base64 DER SubjectPublicKeyInfo). See `signing` for the curve.

The recommendation forbids other keys in ``signedData``, so the RFC 3161 token, when a TSA
is configured, sits beside it at the top level of the digest file: ``"timestamp": {"tsa",
"time", "over": "signedData.signature", "token"}`` — a token over the sha256 of the
signature string's bytes (as the domain-signing variant's ``timeSignature`` stamps its
``signature``). Tokens of the packaged WARC files travel as ``evidence/<file>.tsr``, listed
in datapackage.json like every file, each stamping its ``archive/<file>``'s sha256.

Verification (`verify_wacz`) needs only the file: every member is read at most up to the
size datapackage.json lists for it (and datapackage.json / the digest file up to
``MAX_JSON``), so a lying or bomb-like member cannot make it read without end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from archiver import SOFTWARE
from archiver.errors import TsaError
from archiver.evidence import signing
from archiver.evidence.tokens_check import check_token
from archiver.evidence.tsa import first_token
from archiver.times import iso

logger = logging.getLogger(__name__)

SPEC_VERSION = "0.1.0"
DIGEST = "datapackage-digest.json"
PACKAGE = "datapackage.json"
EVIDENCE_DIR = "evidence/"
MAX_JSON = 64 << 20
MAX_RATIO = 200  # a deflated member inflating more than this ...
RATIO_FLOOR = 64 << 20  # ... past this many bytes is refused as bomb-like
CHUNK = 1 << 20


# ---------------------------------------------------------------- signing


def signed_data(key, package_hash: str, created: str) -> dict[str, str]:
    """The anonymous ``signedData`` for a datapackage.json whose digest is ``package_hash``."""
    return {
        "hash": package_hash,
        "created": created,
        "software": SOFTWARE,
        "version": SPEC_VERSION,
        "signature": signing.sign_text(key, package_hash),
        "publicKey": base64.b64encode(signing.spki_der(key.public_key())).decode("ascii"),
    }


def signature_digest(signature: str) -> bytes:
    """What the package's timestamp token stamps: sha256 of the signature string."""
    return hashlib.sha256(signature.encode("ascii")).digest()


def digest_document(
    package: bytes, created: str, *, key=None, timestamp: dict | None = None
) -> bytes:
    """datapackage-digest.json: the hash, signed when ``key`` is given; ``timestamp``
    is a callable's result for the signature (see `timestamp_entry`)."""
    doc: dict[str, Any] = {"path": PACKAGE, "hash": "sha256:" + hashlib.sha256(package).hexdigest()}
    if key is not None:
        doc["signedData"] = signed_data(key, doc["hash"], created)
    if timestamp is not None:
        doc["timestamp"] = timestamp
    return json.dumps(doc, indent=2).encode("utf-8")


def timestamp_entry(tsa: str, reply: bytes, when: str) -> dict[str, str]:
    return {
        "tsa": tsa,
        "time": when,
        "over": "signedData.signature",
        "token": base64.b64encode(reply).decode("ascii"),
    }


# ---------------------------------------------------------------- verifying


@dataclass
class WaczCheck:
    path: str
    files: int = 0
    signature: str = "absent"  # "holds" | "fails" | "absent"
    key_fingerprint: str | None = None
    created: str | None = None
    software: str | None = None
    tokens: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if not self.ok:
            return f"{self.path}: {len(self.problems)} problem(s)"
        sig = {
            "holds": f"signature holds (key {self.key_fingerprint})",
            "absent": "NOT SIGNED",
        }.get(self.signature, self.signature)
        stamped = sum(1 for t in self.tokens if t["status"] == "holds")
        return (
            f"{self.path}: {self.files} files and their hashes hold; {sig}; "
            f"{stamped} timestamp token(s) hold."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "files": self.files,
            "signature": self.signature,
            "key_fingerprint": self.key_fingerprint,
            "created": self.created,
            "software": self.software,
            "tokens": self.tokens,
            "problems": self.problems,
        }


class _Bad(Exception):
    """A package that cannot be read further; the message is the one-line problem."""


def _member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _Bad(f"{name} is missing") from None
    bomb = info.compress_type != zipfile.ZIP_STORED and info.file_size > RATIO_FLOOR
    if bomb and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise _Bad(f"{name}: inflates {info.file_size} bytes from {info.compress_size}; refused")
    return info


def _hash_member(zf: zipfile.ZipFile, name: str, limit: int) -> tuple[int, str]:
    """(bytes, sha256 hex) of a member, reading at most ``limit`` + 1 bytes."""
    _member(zf, name)
    sha, size = hashlib.sha256(), 0
    try:
        with zf.open(name) as f:
            while size <= limit and (chunk := f.read(min(CHUNK, limit + 1 - size))):
                sha.update(chunk)
                size += len(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _Bad(f"{name}: unreadable ({str(exc)[:120]})") from None
    return size, sha.hexdigest()


def _read_json(zf: zipfile.ZipFile, name: str) -> tuple[bytes, Any]:
    info = _member(zf, name)
    if info.file_size > MAX_JSON:
        raise _Bad(f"{name} is larger than {MAX_JSON} bytes")
    try:
        with zf.open(name) as f:
            data = f.read(MAX_JSON + 1)
        return data, json.loads(data)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _Bad(f"{name}: unreadable ({str(exc)[:120]})") from None
    except ValueError:
        raise _Bad(f"{name} is not JSON") from None


def _check_resources(zf: zipfile.ZipFile, package: dict, out: WaczCheck) -> dict[str, str]:
    """Every listed file's size and sha256; unlisted members. Returns path → sha256."""
    resources = package.get("resources")
    if not isinstance(resources, list):
        raise _Bad(f"{PACKAGE} lists no resources")
    shas: dict[str, str] = {}
    for res in resources:
        if not isinstance(res, dict) or not isinstance(res.get("path"), str):
            out.problems.append(f"{PACKAGE}: a resource without a path")
            continue
        path, want = res["path"], str(res.get("hash", ""))
        listed = res.get("bytes")
        if not isinstance(listed, int) or listed < 0:
            out.problems.append(f"{path}: no size in {PACKAGE}")
            continue
        try:
            size, sha = _hash_member(zf, path, listed)
        except _Bad as exc:
            out.problems.append(str(exc))
            continue
        out.files += 1
        if size != listed:
            out.problems.append(
                f"{path}: {'more' if size > listed else size} bytes, listed {listed}"
            )
        elif want != f"sha256:{sha}":
            out.problems.append(f"{path}: sha256 differs from {PACKAGE}")
        shas[path] = sha
    listed_paths = {r.get("path") for r in resources if isinstance(r, dict)}
    for name in zf.namelist():
        if name not in listed_paths and name not in (PACKAGE, DIGEST) and not name.endswith("/"):
            out.problems.append(f"{name}: in the package but not listed in {PACKAGE}")
    return shas


def _check_signature(digest: dict, package: dict, out: WaczCheck) -> None:
    sd = digest.get("signedData")
    if sd is None:
        return
    out.signature = "fails"
    if not isinstance(sd, dict):
        out.problems.append(f"{DIGEST}: signedData is not an object")
        return
    out.created, out.software = sd.get("created"), sd.get("software")
    if sd.get("hash") != digest.get("hash"):
        out.problems.append("signedData.hash differs from the digest file's hash")
    if sd.get("created") != package.get("created"):
        out.problems.append(f"signedData.created differs from {PACKAGE}'s created")
    if not sd.get("publicKey"):
        out.problems.append("signedData has no publicKey (domain signatures are not checked here)")
        return
    try:
        public = signing.load_public_b64(str(sd["publicKey"]))
    except ValueError as exc:
        out.problems.append(f"signedData: {exc}")
        return
    out.key_fingerprint = signing.fingerprint(public)
    if not signing.verify_text(public, str(sd.get("hash", "")), str(sd.get("signature", ""))):
        out.problems.append("signedData.signature does not verify with its publicKey")
        return
    out.signature = "holds"


def _token_result(subject: str, reply: bytes, digest: bytes, roots, out: WaczCheck) -> None:
    check = check_token(reply, digest, roots)
    out.tokens.append(
        {
            "subject": subject,
            "status": "holds" if check.ok else "fails",
            "what": check.what,
            "trusted": check.trusted,
            "time": iso(check.gen_time),
        }
    )
    if not check.ok:
        out.problems.append(f"{subject}: timestamp token: {check.what}")


def _check_tokens(zf, digest: dict, shas: dict[str, str], roots, out: WaczCheck) -> None:
    ts = digest.get("timestamp")
    if ts is not None:
        sd = digest.get("signedData") or {}
        try:
            reply = base64.b64decode(str(ts.get("token", "")), validate=True)
        except (ValueError, AttributeError):
            out.problems.append(f"{DIGEST}: timestamp.token is not base64")
        else:
            _token_result(
                "signedData.signature",
                reply,
                signature_digest(str(sd.get("signature", ""))),
                roots,
                out,
            )
    for path in sorted(shas):
        if not (path.startswith(EVIDENCE_DIR) and path.endswith(".tsr")):
            continue
        warc = "archive/" + path[len(EVIDENCE_DIR) : -len(".tsr")]
        if warc not in shas:
            out.problems.append(f"{path}: stamps {warc}, which is not in the package")
            continue
        with zf.open(path) as f:
            reply = f.read(MAX_JSON)
        _token_result(warc, reply, bytes.fromhex(shas[warc]), roots, out)


def verify_wacz(path: Path, roots: list[x509.Certificate] | None = None) -> WaczCheck:
    """Check a WACZ file alone: hashes, signature, tokens (``roots``: TSA trust)."""
    out = WaczCheck(str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            package_bytes, package = _read_json(zf, PACKAGE)
            _, digest = _read_json(zf, DIGEST)
            if not isinstance(package, dict) or not isinstance(digest, dict):
                raise _Bad(f"{PACKAGE} or {DIGEST} is not a JSON object")
            if digest.get("hash") != "sha256:" + hashlib.sha256(package_bytes).hexdigest():
                out.problems.append(f"{DIGEST}: hash differs from {PACKAGE}'s sha256")
            shas = _check_resources(zf, package, out)
            _check_signature(digest, package, out)
            _check_tokens(zf, digest, shas, roots or [], out)
    except FileNotFoundError:
        out.problems.append("no such file")
    except IsADirectoryError:
        out.problems.append("a folder, not a WACZ file")
    except (zipfile.BadZipFile, EOFError):
        out.problems.append("not a zip file (truncated or not a WACZ)")
    except _Bad as exc:
        out.problems.append(str(exc))
    except OSError as exc:
        out.problems.append(f"cannot read: {exc.strerror or exc}")
    return out


# ---------------------------------------------------------------- the archive's signer


def make_signer(app):
    """datapackage.json → datapackage-digest.json for `export --wacz`: signed with the
    archive's key when it has one, with a timestamp over the signature when a TSA is
    configured and answers within ``tsa_timeout`` (otherwise the package is signed
    without one, and a warning says so)."""
    ev = app.settings.evidence
    path = signing.key_path(app.root, ev.signing_key)
    key = signing.load_key(path) if path.exists() else None
    if key is None:
        logger.warning("no signing key at %s: the WACZ is not signed (`archive key create`)", path)

    def sign(package: bytes, created: str) -> bytes:
        if key is None:
            return digest_document(package, created)
        unsigned = json.loads(digest_document(package, created, key=key))
        stamp = None
        if ev.tsa_url:
            digest = signature_digest(unsigned["signedData"]["signature"])
            try:
                token = first_token(
                    digest, list(ev.tsa_url), settings=app.settings.capture, timeout=ev.tsa_timeout
                )
                when = iso(token.gen_time)
                stamp = timestamp_entry(token.tsa, token.reply, when)
            except TsaError as exc:
                logger.warning("WACZ signed without a timestamp: %s", exc)
        if stamp is not None:
            unsigned["timestamp"] = stamp
        return json.dumps(unsigned, indent=2).encode("utf-8")

    return sign

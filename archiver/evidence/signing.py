"""The archive's signing key: made once, never overwritten, shown by `archive key show`.

Curve: ECDSA P-384, not the P-256 first planned. The WACZ Signing and Verification
recommendation (specs.webrecorder.net/wacz-auth/0.1.0, "anonymous signature") names no
curve, but its reference verifier, wabac.js (the engine of ReplayWeb.page;
src/wacz/certutils.ts, ``verifyWACZSignature``), imports the ``publicKey`` as an SPKI
P-384 key and checks a raw r||s (IEEE P1363) ECDSA-SHA256 signature over the UTF-8
``hash`` string. A P-256 key fails that import, so P-384 it is; `verify_text` accepts
both curves and both signature encodings (DER, as other tools write, and raw).

The key file is PEM (PKCS#8, unencrypted), created with O_EXCL and mode 0600 under the
archive root, in a folder with its own ``.gitignore``. Its fingerprint is the sha256 of
the public key's DER SubjectPublicKeyInfo, in hex.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from archiver.errors import UsageError

logger = logging.getLogger(__name__)

CURVE = ec.SECP384R1
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)
_SIGN = ec.ECDSA(hashes.SHA256())


def key_path(root: Path, configured: str) -> Path:
    return root / configured


def create_key(path: Path) -> bool:
    """Write a new private key at ``path`` (0600); False if a key is already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# private keys: never commit\n*\n", encoding="utf-8")
    key = ec.generate_private_key(CURVE())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    return True


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The private key, or UsageError saying how to make one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"no signing key at {path} (an archive made before keys: run `archive key create`)"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read the signing key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise UsageError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UsageError(f"{path} is not an ECDSA key")
    return key


def spki_der(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_pem(public: ec.EllipticCurvePublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(public: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, hex."""
    return hashlib.sha256(spki_der(public)).hexdigest()


def sign_text(key: ec.EllipticCurvePrivateKey, text: str) -> str:
    """base64 raw r||s ECDSA-SHA256 signature of the UTF-8 text (WebCrypto's format)."""
    r, s = decode_dss_signature(key.sign(text.encode("utf-8"), _SIGN))
    size = (key.curve.key_size + 7) // 8
    return base64.b64encode(r.to_bytes(size, "big") + s.to_bytes(size, "big")).decode("ascii")


def load_public_b64(public_b64: str) -> ec.EllipticCurvePublicKey:
    """A base64 DER SPKI ECDSA public key on an accepted curve, or ValueError."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_b64, validate=True))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"publicKey is not a base64 DER public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ACCEPTED_CURVES):
        raise ValueError("publicKey is not an ECDSA P-256 or P-384 key")
    return key


def verify_text(public: ec.EllipticCurvePublicKey, text: str, signature_b64: str) -> bool:
    """Is ``signature_b64`` (raw r||s or DER) an ECDSA-SHA256 signature of ``text``?"""
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return False
    size = (public.curve.key_size + 7) // 8
    candidates = [sig]
    if len(sig) == 2 * size:
        r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
        candidates.insert(0, encode_dss_signature(r, s))
    for der in candidates:
        try:
            public.verify(der, text.encode("utf-8"), _SIGN)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def key_fingerprint(root: Path, configured: str = "keys/archive-signing.pem") -> str | None:
    """The archive signing key's fingerprint (sha256 of its public key), or None."""
    path = key_path(root, configured)
    if not path.exists():
        return None
    try:
        return fingerprint(load_key(path).public_key())
    except UsageError as exc:  # a damaged key: the summary says "not signed", the log why
        logger.warning("signing key unusable: %s", exc)
        return None

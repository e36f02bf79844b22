"""Check one RFC 3161 token offline: parse, imprint, signature and TSA certificate.

Without a trust store only the imprint (and that the reply parses as a granted token) can
be checked: the result says so (``trusted`` False, ``ok`` still True). With one,
`rfc3161-client`'s verifier checks the CMS signature, that the signer certificate chains
to a trusted certificate at the token's time, and that it carries the critical
timeStamping extended key usage (RFC 3161 §2.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import PKIStatus, VerificationError, VerifierBuilder, decode_timestamp_response

from archiver.errors import ConfigError


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    what: str  # "holds" or why not, one line
    trusted: bool = False  # signer checked against a trust store
    gen_time: datetime | None = None
    tsa_name: str | None = None


def load_trust(path: str | Path | None) -> list[x509.Certificate]:
    """The certificates of a PEM trust store ([evidence] tsa_trust); [] for none."""
    if not path:
        return []
    try:
        certs = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"evidence.tsa_trust: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"evidence.tsa_trust: {path} holds no PEM certificate") from None
    return certs


def _name(resp) -> str | None:
    try:
        return resp.tst_info.name.value.rfc4514_string()
    except Exception:  # the optional tsa field is absent or not a directory name
        return None


def _why(error: str) -> str:
    """One line from the verifier's error (OpenSSL's error stacks run to 1 kB)."""
    if "certificate verify error" in error or "unable to get" in error:
        return "the TSA certificate does not chain to a tsa_trust certificate"
    if "signature failure" in error:
        return "the token's signature does not verify"
    return error.split(": ErrorStack", 1)[0][:160]


def check_token(reply: bytes, digest: bytes, roots: list[x509.Certificate]) -> TokenCheck:
    """Does this TimeStampResp (DER) stamp ``digest`` (sha256), signed by a trusted TSA?"""
    try:
        resp = decode_timestamp_response(reply)
        granted = resp.status in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS)
        info = resp.tst_info if granted else None
    except (ValueError, TypeError) as exc:
        return TokenCheck(False, f"not a timestamp token ({str(exc)[:120]})")
    if info is None:
        return TokenCheck(False, f"the token's status is {resp.status}, not granted")
    when, name = info.gen_time, _name(resp)
    if info.message_imprint.message != digest:
        return TokenCheck(False, "message imprint differs from the sha256", False, when, name)
    if not roots:
        return TokenCheck(True, "holds (imprint only: no tsa_trust)", False, when, name)
    builder = VerifierBuilder()
    for cert in roots:
        builder = builder.add_root_certificate(cert)
    try:
        builder.build().verify(resp, digest)
    except (VerificationError, ValueError) as exc:
        return TokenCheck(False, _why(str(exc)), False, when, name)
    return TokenCheck(True, "holds", True, when, name)

"""Trusted time from an RFC 3161 time-stamping authority (TSA).

Each signed tree head of the audit log is sent to the TSA configured by ``TSA_URL``; the token
it returns proves that the head's signature existed at the TSA's time, so an outsider does not
have to take the server's own clock on trust. The request carries only the SHA-256 of the
signature (the message imprint), never log content. Tokens are checked against the TSA's root
certificates (``TSA_CA_FILE``) with ``rfc3161-client`` before they are kept, and again by
anyone who holds the head, the token and the roots.

Without ``TSA_URL`` heads are still signed; the console and the public head say that trusted
time is off.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REPLY_BYTES = 64 * 1024  # a token with its certificate chain is a few KB


class TimestampError(Exception):
    """The TSA could not be reached, refused, or its token does not check out."""


@dataclass(frozen=True)
class Stamp:
    token: bytes  # the DER TimeStampResp as the TSA sent it
    time: datetime  # the TSA's genTime, UTC


@dataclass(frozen=True)
class Tsa:
    url: str
    roots: list[x509.Certificate] = field(repr=False)
    timeout_s: float = 10.0

    @classmethod
    def from_config(cls, config: dict) -> Tsa | None:
        url = (config.get("TSA_URL") or "").strip()
        if not url:
            return None
        ca_file = config.get("TSA_CA_FILE")
        if not ca_file:
            raise RuntimeError(
                "FIELDTRACE_TSA_URL needs FIELDTRACE_TSA_CA_FILE: the TSA's root "
                "certificate(s), PEM, to check its tokens against"
            )
        roots = x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
        return cls(url=url, roots=roots, timeout_s=float(config.get("TSA_TIMEOUT_S", 10)))

    def stamp(self, message: bytes) -> Stamp:
        """Ask the TSA for a token over ``message`` (SHA-256) and check it before use."""
        request = TimestampRequestBuilder(
            data=message, hash_algorithm=HashAlgorithm.SHA256, nonce=True, cert_req=True
        ).build()
        post = urllib.request.Request(
            self.url,
            data=request.as_bytes(),
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
            method="POST",
        )
        try:
            with urllib.request.urlopen(post, timeout=self.timeout_s) as resp:
                token = resp.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise TimestampError(f"the TSA at {self.url} answered HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise TimestampError(f"the TSA at {self.url} did not answer: {exc}") from None
        if len(token) > MAX_REPLY_BYTES:
            raise TimestampError(f"the TSA at {self.url} sent more than {MAX_REPLY_BYTES} bytes")
        time = check(token, message, self.roots, nonce=request.nonce)
        return Stamp(token=token, time=time)


def check(
    token: bytes, message: bytes, roots: list[x509.Certificate], *, nonce: int | None = None
) -> datetime:
    """The TSA time of a token over ``message``; :class:`TimestampError` saying why not."""
    try:
        response = decode_timestamp_response(token)
    except ValueError as exc:
        raise TimestampError(f"not an RFC 3161 time-stamp response: {exc}") from None
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"the TSA refused: status {response.status}")
    builder = VerifierBuilder(roots=list(roots))
    if nonce is not None:
        builder = builder.nonce(nonce)
    try:
        builder.build().verify_message(response, message)
    except VerificationError as exc:
        raise TimestampError(f"the time-stamp token does not verify: {exc}") from None
    gen_time = response.tst_info.gen_time
    return gen_time if gen_time.tzinfo else gen_time.replace(tzinfo=UTC)


def token_b64(token: bytes) -> str:
    return base64.b64encode(token).decode()

"""RFC 3161 time-stamp tokens over exported manifests, through rfc3161-client.

TSAs are configured by $NIGRAN_TSA_URLS (space- or comma-separated); their trusted root
certificates by $NIGRAN_TSA_ROOTS (a PEM file). Only those roots are trust anchors: the
certificates a token carries serve to build the chain, never to end it.
"""
from __future__ import annotations

import os
import re
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import (HashAlgorithm, TimestampRequestBuilder, VerificationError, VerifierBuilder,
                            decode_timestamp_response)

from nigran.config.registry import env

URLS_ENV = "NIGRAN_TSA_URLS"
ROOTS_ENV = "NIGRAN_TSA_ROOTS"
MAX_REPLY = 1 << 20


class TimestampError(Exception):
    """A TSA could not be reached, or a token does not verify."""


def configured_urls() -> list[str]:
    return [u for u in re.split(r"[\s,]+", env(URLS_ENV) or "") if u]


def load_roots(path: str | os.PathLike | None = None) -> list[x509.Certificate]:
    """Trusted TSA roots from a PEM file (default $NIGRAN_TSA_ROOTS); empty when none is configured."""
    path = path or env(ROOTS_ENV)
    if not path:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"TSA roots {path}: {exc}") from None


def pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def verify(reply: bytes, data: bytes, roots: list[x509.Certificate], nonce: int | None = None) -> datetime:
    """Check a TimeStampResp over `data` against `roots`: status, signature chain, TSA key usage,
    message imprint (and nonce); return the TSA's UTC time."""
    if not roots:
        raise TimestampError("no trusted TSA root certificate to verify against")
    try:
        response = decode_timestamp_response(reply)
        builder = VerifierBuilder(roots=list(roots))
        if nonce is not None:
            builder = builder.nonce(nonce)
        builder.build().verify_message(response, data)
    except VerificationError as exc:
        raise TimestampError(str(exc)) from None
    except ValueError as exc:
        raise TimestampError(f"not a time-stamp response: {exc}") from None
    at = response.tst_info.gen_time
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def embedded_certificates(reply: bytes) -> list[x509.Certificate]:
    """The certificates the TSA put in its token (for `openssl ts -verify -untrusted`)."""
    response = decode_timestamp_response(reply)
    return [x509.load_der_x509_certificate(der) for der in sorted(response.signed_data.certificates)]


def request(url: str, data: bytes, roots: list[x509.Certificate], timeout: float = 30) -> tuple[bytes, datetime]:
    """Ask one TSA for a token over `data` (SHA-512 imprint, fresh nonce, certificates included)
    and verify it before returning (reply DER, TSA time)."""
    query = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA512).nonce(nonce=True)
             .cert_request(cert_request=True).build())
    http = urllib.request.Request(url, data=query.as_bytes(), method="POST",
                                  headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:  # noqa: S310 (configured TSA URL)
            reply = answer.read(MAX_REPLY + 1)
    except OSError as exc:
        raise TimestampError(f"{url}: {exc}") from None
    if len(reply) > MAX_REPLY:
        raise TimestampError(f"{url}: reply larger than {MAX_REPLY} bytes")
    try:
        return reply, verify(reply, data, roots, nonce=query.nonce)
    except TimestampError as exc:
        raise TimestampError(f"{url}: {exc}") from None

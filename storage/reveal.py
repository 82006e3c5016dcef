"""Raw identifiers come back only from the evidence: re-extract the capture, keep what the keyed hashes match."""
from __future__ import annotations

import zlib

from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes

from pipelines.extraction import find_identifiers
from spiders.text import html_to_text
from storage.bodies import BodyStore
from storage.models import Capture
from storage.secrets import identifier_hmac


def decoded_body(capture: Capture, raw: bytes) -> bytes:
    """The entity body with its Content-Encoding (gzip, deflate) undone."""
    encodings = [v.lower() for k, v in capture.headers if k.lower() == "content-encoding"]
    body = raw
    for encoding in reversed([e.strip() for v in encodings for e in v.split(",")]):
        if encoding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def capture_text(capture: Capture, bodies: BodyStore) -> str:
    """The readable text of a captured page, decoded as a browser would."""
    body = decoded_body(capture, bodies.get(capture.body_sha256))
    headers = Headers([(k, v) for k, v in capture.headers if k.lower() != "content-encoding"])
    cls = responsetypes.from_args(headers=headers, url=capture.final_url, body=body)
    if not issubclass(cls, TextResponse):
        return ""
    response = cls(url=capture.final_url, headers=headers, body=body)
    return html_to_text(response.text) if "html" in cls.__name__.lower() else response.text


def reveal(capture: Capture, bodies: BodyStore, wanted: list[tuple[str, str]]) -> dict[str, str]:
    """Map hmac -> raw value for the wanted (type, hmac) pairs found in the capture's text."""
    hmacs = {h for _, h in wanted}
    found: dict[str, str] = {}
    for ident in find_identifiers(capture_text(capture, bodies)):
        digest = identifier_hmac(ident.type, ident.value)
        if digest in hmacs:
            found.setdefault(digest, ident.value)
    return found

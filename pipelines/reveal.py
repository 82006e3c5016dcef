"""Raw identifiers come back only from the evidence: re-extract each capture, keep what the keyed hashes match,
and record who asked in the reveal audit."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes
from sqlalchemy.orm import Session

from nigran.pipelines.extraction import extract, find_identifiers
from nigran.spiders.text import html_to_text
from nigran.storage import queries
from nigran.storage.bodies import BodyStore
from nigran.storage.db import Database
from nigran.storage.evidence.custody import record_reveal
from nigran.storage.home import data_home
from nigran.storage.models import Capture, Offer
from nigran.storage.privacy import identifier_hmac


class EvidenceError(ValueError):
    """A capture whose body cannot be decoded (an encoding Scrapy does not know, a corrupt stream)."""


def decoded_body(capture: Capture, raw: bytes, max_size: int) -> bytes:
    """The entity body with its Content-Encoding undone by Scrapy's own decoders (gzip, deflate, br, zstd)."""
    encodings = [v.encode("latin-1") for k, v in capture.headers if k.lower() == "content-encoding"]
    to_decode, unknown = HttpCompressionMiddleware._split_encodings(encodings)
    if unknown:
        raise EvidenceError(f"Content-Encoding {b', '.join(unknown).decode('latin-1')} cannot be decoded")
    body = raw
    try:
        for encoding in to_decode:
            body = HttpCompressionMiddleware._decode(body, encoding, max_size)
    except Exception as exc:  # each codec raises its own error type
        raise EvidenceError(f"body does not decode as {encoding.decode()}: {exc}") from exc
    return body


def capture_text(capture: Capture, bodies: BodyStore, max_size: int) -> str:
    """The readable text of a captured page, decoded as a browser would."""
    body = decoded_body(capture, bodies.get(capture.body_sha256), max_size)
    headers = Headers([(k, v) for k, v in capture.headers if k.lower() != "content-encoding"])
    cls = responsetypes.from_args(headers=headers, url=capture.final_url, body=body)
    if not issubclass(cls, TextResponse):
        return ""
    response = cls(url=capture.final_url, headers=headers, body=body)
    return html_to_text(response.text) if "html" in cls.__name__.lower() else response.text


def raw_values(text: str) -> dict[str, str]:
    """hmac -> raw value of every identifier and contact the extraction engine finds in `text`."""
    found = list(find_identifiers(text)) + list(extract(text).contacts)
    out: dict[str, str] = {}
    for ident in found:
        out.setdefault(identifier_hmac(ident.type, ident.value), ident.value)
    return out


def wanted(offer: Offer) -> set[str]:
    """The keyed hashes a reveal of `offer` must resolve: its identifiers and hashed contacts."""
    return {i.hmac for i in offer.identifiers} | {c["hmac"] for c in offer.contacts if "hmac" in c}


@dataclass
class Revealed:
    """Offers as `nigran offers --json` shows them, raw where the evidence allowed."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    unrevealed: dict[int, str] = field(default_factory=dict)  # offer id -> why not every value came back


def reveal_offers(session: Session, offers: list[Offer], bodies: BodyStore, *, operator: str,
                  max_size: int) -> Revealed:
    """Re-read each offer's capture for its raw identifiers; audit the reveal (who, OS user, host, offers)."""
    result = Revealed()
    for offer in offers:
        need = wanted(offer)
        found: dict[str, str] = {}
        if need:
            try:
                found = {h: v for h, v in raw_values(capture_text(offer.post.latest_capture, bodies, max_size)).items()
                         if h in need}
            except (OSError, EvidenceError) as exc:
                result.unrevealed[offer.id] = f"its evidence cannot be re-read: {exc}"
            else:
                if len(found) < len(need):
                    result.unrevealed[offer.id] = f"{len(need) - len(found)} of {len(need)} values not in its capture"
        result.rows.append(queries.offer_dict(offer, found))
    if offers:
        record_reveal(session, operator, [o.id for o in offers])
    return result


def list_offers(db: Database, *, since: datetime | None = None, category: str | None = None,
                sources: tuple[str, ...] = (), reveal_for: str | None = None, max_size: int) -> Revealed:
    """The offers `nigran offers` lists, newest first: masked, or, for the operator `reveal_for`, raw where the
    evidence in the data home allows (and the reveal audited)."""
    with db.session() as session:
        selected = list(queries.offers(session, since=since, category=category, sources=sources))
        if reveal_for is None:
            return Revealed([queries.offer_dict(o) for o in selected])
        return reveal_offers(session, selected, BodyStore(data_home() / "bodies"), operator=reveal_for,
                             max_size=max_size)

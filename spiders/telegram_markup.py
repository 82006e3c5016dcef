"""Parser for Telegram's public channel preview (`t.me/s/<channel>`): pages, AJAX replies, redirects.

Pure functions over markup, no Scrapy. Classes are matched by token, never by whole attribute,
because Telegram adds tokens freely (`text_not_supported_wrap`, numeric ids on photo wraps).
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from html import escape
from typing import Literal
from urllib.parse import parse_qs, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from nigran.storage.utc import parse_utc

TELEGRAM = "https://t.me"
State = Literal["ok", "empty", "no_posts"]


@dataclass(frozen=True)
class TelegramMessage:
    """One message block of a channel page."""

    channel: str
    message_id: int
    permalink: str  # always https://t.me/<channel>/<id>, whatever host served the page
    author: str | None = None
    signature: str | None = None
    text: str = ""  # line breaks kept; "label (href)" where a link's label does not show its target
    html: str = ""  # inner HTML of the text div
    posted_at: datetime | None = None  # UTC; None when the block has no time[datetime]
    views: int | None = None
    forwarded_from: str | None = None
    forwarded_from_url: str | None = None
    reply_to: int | None = None
    photos: list[str] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)  # {"title", "size"}
    link_preview: dict | None = None  # {"url", "site", "title", "description"}
    edited: bool = False
    service: bool = False  # "Channel created", pins, photo changes: not posts by the seller
    album_ids: list[int] = field(default_factory=list)  # every id folded into this block


@dataclass(frozen=True)
class ChannelPage:
    """A parsed page: messages in ascending id order plus the cursors to walk on."""

    channel: str | None
    title: str | None
    messages: list[TelegramMessage]
    before: int | None  # fetch ?before=<this> for older messages
    after: int | None  # fetch ?after=<this> for newer messages
    state: State  # "no_posts": only a tme_no_messages_found block (throttling or a blocked channel)
    notice: str | None = None  # text of the tme_no_messages_found block


# --- markup to tree -------------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_UNPARSABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _decode(data: bytes) -> str:
    """Bytes to text: BOM, then UTF-8 (what t.me sends), then the declared charset, then UTF-8 lossily."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"), "replace")
        except LookupError:
            pass
    return data.decode("utf-8", "replace")


def _tree(markup: str | bytes):
    """An lxml document for any markup, however broken; None when nothing parses."""
    text = _decode(markup) if isinstance(markup, bytes) else markup
    text = _UNPARSABLE.sub("", _XML_DECLARATION.sub("", text))
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


# --- selectors ------------------------------------------------------------------------------

def _has(token: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {token} ')"


# The reply quote and the hidden "Please open Telegram" block are never the message's own content.
_FOREIGN = f"ancestor::*[{_has('tgme_widget_message_reply')} or {_has('media_not_supported_cont')}]"


@lru_cache(maxsize=None)
def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression)


def _own(message, token: str) -> list:
    """Elements of a message with a class token, outside its reply quote and hidden fallback."""
    return _xpath(f".//*[{_has(token)}][not({_FOREIGN})]")(message)


def _first(elements: list):
    return elements[0] if elements else None


def _within(element, token: str):
    return _first(_xpath(f".//*[{_has(token)}]")(element))


def _plain(element) -> str | None:
    """Whitespace-collapsed text of an element; None when absent or blank."""
    if element is None:
        return None
    return " ".join(element.text_content().split()) or None


# --- values ---------------------------------------------------------------------------------

_COUNT = re.compile(r"(\d+(?:[.,]\d+)?)([KMB])")
_UNITS = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_BACKGROUND = re.compile(r"""background-image\s*:\s*url\(\s*(['"]?)(.*?)\1\s*\)""", re.I)
_POST_PATH = re.compile(r"^/(?:s/)?([A-Za-z0-9_]+)/(\d+)/?$")
_CHANNEL_PATH = re.compile(r"^/(?:s/)?([A-Za-z0-9_]+)/?")


def parse_count(label: str | None) -> int | None:
    """Telegram's abbreviated counters: "987" -> 987, "1.2K" -> 1200, "4.5M" -> 4500000."""
    compact = re.sub(r"\s", "", label or "").upper()
    abbreviated = _COUNT.fullmatch(compact)
    if abbreviated:
        try:
            return int(Decimal(abbreviated.group(1).replace(",", ".")) * _UNITS[abbreviated.group(2)])
        except InvalidOperation:
            return None
    compact = compact.replace(",", "")
    return int(compact) if compact.isdecimal() else None


def _utc(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (naive ones are UTC); None if unreadable."""
    try:
        return parse_utc(value or "")
    except (ValueError, OverflowError):
        return None


def _int(value) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdecimal() else None


def _post_ref(url: str | None) -> tuple[str, int] | None:
    """("channel", id) from a post URL such as https://t.me/channel/12?single."""
    found = _POST_PATH.match(urlsplit(url or "").path)
    return (found.group(1), int(found.group(2))) if found else None


def _background(element, base_url: str) -> str | None:
    found = _BACKGROUND.search(element.get("style") or "")
    return urljoin(base_url, found.group(2).strip()) if found and found.group(2).strip() else None


# --- message text ---------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_TEXT_BLOCKS = {"div", "p", "blockquote", "pre", "li"}
_SCHEME = re.compile(r"^(?:https?://|mailto:|tel:)", re.I)


def _same_target(label: str, href: str) -> bool:
    """Whether a link's label already says where it goes (bare URL, t.me link, @mention, email)."""
    def bare(value: str) -> str:
        return _SCHEME.sub("", value.strip()).removeprefix("www.").rstrip("/").lower()

    label, target = bare(label), bare(href)
    if label.startswith("@"):
        return target in {f"t.me/{label[1:]}", f"telegram.me/{label[1:]}"}
    return label == target


def _link_note(label: str, href: str | None, base_url: str) -> str:
    """The " (href)" kept after a link label, or nothing for self-describing and in-page links."""
    href = (href or "").strip().replace("&amp;", "&")
    if not href or href.startswith(("?", "#", "javascript:")):
        return ""
    href = urljoin(base_url, href)
    return "" if _same_target(label, href) else f" ({href})"


def _rich_text(element, base_url: str) -> str:
    """Readable text of a text div: <br> and blocks as line breaks, link targets kept."""
    parts: list[str] = []

    def add(raw: str | None, preformatted: bool) -> None:
        if raw:
            parts.append(raw if preformatted else _SPACES.sub(" ", raw))

    def walk(node, preformatted: bool) -> None:
        for child in node:
            tag = child.tag.lower() if isinstance(child.tag, str) else None
            if tag == "br":
                parts.append("\n")
            elif tag == "a":
                start = len(parts)
                add(child.text, preformatted)
                walk(child, preformatted)
                parts.append(_link_note("".join(parts[start:]), child.get("href"), base_url))
            elif tag in _TEXT_BLOCKS:
                parts.append("\n")
                add(child.text, preformatted or tag == "pre")
                walk(child, preformatted or tag == "pre")
                parts.append("\n")
            elif tag is not None:
                add(child.text, preformatted)
                walk(child, preformatted)
            add(child.tail, preformatted)

    add(element.text, False)
    walk(element, False)
    lines = (line.strip(" \t\u00a0") for line in "".join(parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _inner_html(element) -> str:
    children = "".join(etree.tostring(child, encoding="unicode", method="html") for child in element)
    return escape(element.text or "", quote=False) + children


def _text_div(message):
    """The message's own text div: never the reply quote (js-message_reply_text)."""
    for candidate in _own(message, "tgme_widget_message_text"):
        if "js-message_reply_text" not in (candidate.get("class") or "").split():
            return candidate
    return None


# --- message parts --------------------------------------------------------------------------

def _identity(message) -> tuple[str, int] | None:
    """(channel, id) from data-post="channel/id", else from the date link."""
    channel, _, number = (message.get("data-post") or "").strip().rpartition("/")
    if channel and number.isdecimal():
        return channel.rsplit("/", 1)[-1], int(number)
    date_link = _first(_own(message, "tgme_widget_message_date"))
    return _post_ref(date_link.get("href")) if date_link is not None else None


def _author(message) -> str | None:
    box = _first(_own(message, "tgme_widget_message_author"))
    if box is None:
        return None
    name = _within(box, "tgme_widget_message_owner_name")
    if name is None:
        name = _within(box, "tgme_widget_message_author_name")
    return _plain(name if name is not None else box)


def _posted_at(message) -> datetime | None:
    times = _xpath(f".//*[{_has('tgme_widget_message_date')}]//time[@datetime][not({_FOREIGN})]")(message)
    times = times or _xpath(f".//time[@datetime][not({_FOREIGN})]")(message)
    return _utc(times[0].get("datetime")) if times else None


def _edited(message) -> bool:
    """Whether the meta line says "edited" (outside the signature, which could be any word)."""
    for meta in _own(message, "tgme_widget_message_meta"):
        loose = [meta.text or ""] + [child.tail or "" for child in meta]
        if re.search(r"\bedited\b", " ".join(loose), re.I):
            return True
    return False


def _forwarded(message, base_url: str) -> tuple[str | None, str | None]:
    box = _first(_own(message, "tgme_widget_message_forwarded_from"))
    if box is None:
        return None, None
    name = _within(box, "tgme_widget_message_forwarded_from_name")
    if name is None:
        label = _plain(box) or ""
        return label.removeprefix("Forwarded from").strip() or None, None
    href = name.get("href") if name.tag == "a" else None
    return _plain(name), urljoin(base_url, href) if href else None


def _reply_to(message) -> int | None:
    reply = _first(_xpath(f".//*[{_has('tgme_widget_message_reply')}]")(message))
    ref = _post_ref(reply.get("href")) if reply is not None else None
    return ref[1] if ref else None


def _photos(message, base_url: str) -> list[str]:
    urls = (_background(wrap, base_url) for wrap in _own(message, "tgme_widget_message_photo_wrap"))
    return [url for url in urls if url]


def _documents(message) -> list[dict]:
    return [
        {
            "title": _plain(_within(wrap, "tgme_widget_message_document_title")),
            "size": _plain(_within(wrap, "tgme_widget_message_document_extra")),
        }
        for wrap in _own(message, "tgme_widget_message_document_wrap")
    ]


def _link_preview(message, base_url: str) -> dict | None:
    preview = _first(_own(message, "tgme_widget_message_link_preview"))
    if preview is None:
        return None
    description = _within(preview, "link_preview_description")
    href = preview.get("href")
    return {
        "url": urljoin(base_url, href) if href else None,
        "site": _plain(_within(preview, "link_preview_site_name")),
        "title": _plain(_within(preview, "link_preview_title")),
        "description": (_rich_text(description, base_url) if description is not None else "") or None,
    }


def _album_ids(message) -> list[int]:
    refs = (_post_ref(item.get("href")) for item in _own(message, "grouped_media_wrap"))
    return sorted({ref[1] for ref in refs if ref})


def _message(block, base_url: str) -> TelegramMessage | None:
    identity = _identity(block)
    if identity is None:
        return None
    channel, message_id = identity
    text_div = _text_div(block)
    forwarded_from, forwarded_from_url = _forwarded(block, base_url)
    return TelegramMessage(
        channel=channel,
        message_id=message_id,
        permalink=f"{TELEGRAM}/{channel}/{message_id}",
        author=_author(block),
        signature=_plain(_first(_own(block, "tgme_widget_message_from_author"))),
        text=_rich_text(text_div, base_url) if text_div is not None else "",
        html=_inner_html(text_div) if text_div is not None else "",
        posted_at=_posted_at(block),
        views=parse_count(_plain(_first(_own(block, "tgme_widget_message_views")))),
        forwarded_from=forwarded_from,
        forwarded_from_url=forwarded_from_url,
        reply_to=_reply_to(block),
        photos=_photos(block, base_url),
        documents=_documents(block),
        link_preview=_link_preview(block, base_url),
        edited=_edited(block),
        service="service_message" in (block.get("class") or "").split(),
        album_ids=_album_ids(block),
    )


# --- page level -----------------------------------------------------------------------------

def _messages(root, base_url: str) -> list[TelegramMessage]:
    """Every message block once, ascending by id."""
    by_id: dict[int, TelegramMessage] = {}
    for block in _xpath(f"//*[{_has('tgme_widget_message')}]")(root):
        message = _message(block, base_url)
        if message is not None:
            by_id.setdefault(message.message_id, message)
    return [by_id[key] for key in sorted(by_id)]


def _channel(root, messages: list[TelegramMessage]) -> str | None:
    paths = _xpath(
        f"//main[{_has('tgme_main')}]/@data-url"
        f" | //form[{_has('tgme_header_search_form')}]/@action"
        f" | //a[{_has('tme_messages_more')}]/@href"
    )(root)
    for path in paths:
        found = _CHANNEL_PATH.match(urlsplit(path).path)
        if found:
            return found.group(1)
    return messages[0].channel if messages else None


def _title(root) -> str | None:
    header = _first(_xpath(f"//*[{_has('tgme_channel_info_header_title')}]")(root))
    if _plain(header):
        return _plain(header)
    og_title = _xpath("//meta[@property='og:title']/@content")(root)
    return (" ".join(og_title[0].split()) if og_title else "") or None


def _cursor(root, name: str) -> int | None:
    """The before/after cursor: a.tme_messages_more[data-*], then its href, then link[rel=prev|next]."""
    for value in _xpath(f"//a[{_has('tme_messages_more')}]/@data-{name}")(root):
        if _int(value):
            return _int(value)
    rel = "prev" if name == "before" else "next"
    hrefs = _xpath(
        f"//a[{_has('tme_messages_more')}]/@href"
        f" | //link[contains(concat(' ', normalize-space(@rel), ' '), ' {rel} ')]/@href"
    )(root)
    for href in hrefs:
        values = parse_qs(urlsplit(href).query).get(name, [])
        if values and _int(values[0]):
            return _int(values[0])
    return None


def parse_page(html: str | bytes, *, base_url: str = TELEGRAM) -> ChannelPage:
    """Parse a t.me/s/<channel> page (or a fragment of one); base_url resolves relative links."""
    root = _tree(html)
    if root is None:
        return ChannelPage(None, None, [], None, None, "empty")
    messages = _messages(root, base_url)
    notice = _plain(_first(_xpath(f"//*[{_has('tme_no_messages_found')}]")(root)))
    if messages:
        state: State = "ok"
    else:
        state = "no_posts" if notice is not None else "empty"
    return ChannelPage(
        channel=_channel(root, messages),
        title=_title(root),
        messages=messages,
        before=_cursor(root, "before"),
        after=_cursor(root, "after"),
        state=state,
        notice=notice,
    )


def is_preview_redirect(requested_url: str, final_url: str) -> bool:
    """True when /s/<name> ended away from /s/: the name has no public preview."""
    requested = urlsplit(requested_url or "").path
    final = urlsplit(final_url or "").path
    return requested.startswith("/s/") and not final.startswith("/s/")

"""A local stand-in for t.me's public channel previews, for tests and benchmarks.

`GET /s/<channel>[?before=|?after=]` serves ~20 messages in Telegram's markup (2023 or 2024 per
channel), `GET /<name>` is the landing page, and names without a public preview answer `/s/<name>`
with 302 -> `/<name>`. A throttled channel first answers 429 (`Retry-After: 1`) and then 200
"No posts found" pages. All data is generated from a seed; `message()` is the ground truth.
"""
from __future__ import annotations

import base64
import json
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html import escape
from urllib.parse import parse_qs, quote, urlsplit

from tests.support.fixture_server import FixtureServer, Request

TME = "https://t.me"
CDN = "https://cdn4.cdn-telegram.org/file"
PAGE_SIZE = 20
EMPTY_CHANNEL = "empty_leaks"
THROTTLED_CHANNEL = "slow_leaks"
HIDDEN_NAMES = {"private_dumps": "private", "pk_buyers_chat": "group", "cnic_info_bot": "bot"}


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    markup: str
    count: int
    languages: dict[str, int]
    kinds: dict[str, int]
    signatures: tuple[str, ...] = ()


_SPECS = (
    _Spec("simdata_pk", "SIM Data PK ✅", "2024", 140, {"roman": 5, "en": 3, "ur": 1},
          {"offer": 7, "request": 1, "other": 2}, ("Bilal", "Admin")),
    _Spec("nadra_family_tree", "نادرا ریکارڈ سروس", "2023", 110, {"ur": 6, "roman": 2, "en": 1},
          {"offer": 6, "request": 2, "other": 2}),
    _Spec("cdr_travel_hub", "CDR & Travel Hub", "2024", 100, {"en": 6, "roman": 2, "ur": 1},
          {"offer": 7, "request": 1, "other": 2}, ("ops",)),
    _Spec("pk_data_market", "PK Data Market", "2023", 90, {"roman": 3, "en": 3, "ur": 2},
          {"offer": 3, "request": 3, "other": 4}),
    _Spec(THROTTLED_CHANNEL, "Slow Leaks", "2024", 45, {"en": 2, "roman": 2, "ur": 1},
          {"offer": 6, "request": 1, "other": 3}),
)
CHANNELS = tuple(spec.name for spec in _SPECS)  # public channels that have messages

# Templates: (categories, text). Text uses a small markup: [label](url) is a text link, **x** is
# bold; URLs, t.me/x, @mentions, #tags and emoji are linked/wrapped the way Telegram renders them.
_TEMPLATES: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = {
    ("offer", "en"): [
        (("sim",), "🔎 SIM OWNER LOOKUP\nSend any {op} number, get owner name, CNIC and address within "
                   "{mins} minutes.\nRate: Rs {price}/- per number\nContact {handle}"),
        (("call_logs",), "📞 CDR available for all networks\nLast {months} months: calls, SMS, duration and "
                         "cell location in Excel.\nPrice {k}k PKR. Sample on request.\nDM {handle}"),
        (("travel",), "✈️ Travel history of any Pakistani: FIA entry/exit record and passport details.\n"
                      "Send passport no. or CNIC.\nFee {usdt} USDT per person\n"
                      "Order here: [order form](https://forms.example.net/{slug})"),
        (("cnic",), "NADRA family tree + CNIC copy (front/back), colour print quality.\n**{price} PKR** per "
                    "CNIC, bulk discount available.\nProofs: t.me/{proofs}"),
        (("cnic", "sim"), "🚨 Fresh {op} subscriber database {year} 🚨\n{rows}M rows: number, name, CNIC, "
                          "address.\nFull dump {usdt} USDT, samples free.\n#database #leak"),
        (("sim",), "Live location of any number 📍 accuracy 100-300 m\nSingle ping {k}k, full day tracking "
                   "{k2}k\nBot: {bot}"),
        ((), "Vehicle owner details by registration number 🚗\nExcise record with owner name and address. "
             "Rs {price} only.\n{handle}"),
    ],
    ("offer", "roman"): [
        (("sim",), "Kisi bhi number ki complete detail 📱\nNaam, CNIC, address sab milega {mins} minute mein\n"
                   "Sirf {price} rupay\nWhatsApp: {phone}"),
        (("call_logs",), "Call record chahiye? 📞\nPichle {months} mahine ka CDR, calls aur SMS dono\n"
                         "Rate {k}k, payment pehle\nRabta: {handle}"),
        (("sim",), "CNIC pe kitni SIMs hain? List nikal ke dein ge ✅\nHar SIM ka number, network aur "
                   "activation date\nFee {price}/- Easypaisa pe\n{handle}"),
        (("travel",), "Banda bahar gaya ya nahi? ✈️\nTravel history aur passport detail {k}k mein\n"
                      "Inbox karein {handle}"),
        (("cnic",), "NADRA se family tree nikalwayen 🧾\nSirf CNIC number bhejein: walid, walida, behan bhai "
                    "sab ki detail\n{price} rupay per CNIC\nContact: {handle}"),
    ],
    ("offer", "ur"): [
        (("cnic",), "شناختی کارڈ کی کاپی اور فیملی ٹری دستیاب ہے\nصرف شناختی کارڈ نمبر بھیجیں\n"
                    "قیمت: {price_ur} روپے\nرابطہ: {handle}"),
        (("call_logs",), "کسی بھی نمبر کا کال ریکارڈ (سی ڈی آر)\n{months} مہینے کا ریکارڈ: {k} ہزار روپے\n"
                         "واٹس ایپ: {phone}"),
        (("sim",), "سم کے مالک کا نام، شناختی کارڈ نمبر اور پتہ\nصرف نمبر بھیجیں، دس منٹ میں جواب\n"
                   "فیس {price} روپے"),
        (("travel",), "سفری ریکارڈ اور پاسپورٹ کی مکمل تفصیل دستیاب\nفی بندہ {k} ہزار روپے\nٹیلیگرام: {handle}"),
    ],
    ("request", "en"): [
        (("call_logs",), "Need CDR of {phone} for the last {months} months, budget {k}k. DM {handle}"),
        (("travel",), "WTB: travel history for one passport ({passport}). Paying {usdt} USDT, escrow ok."),
    ],
    ("request", "roman"): [
        (("cnic",), "Kisi ke paas NADRA access hai? Is CNIC ki family tree chahiye: {cnic}\n{price} tak de dunga"),
        (("sim",), "Bhai ye number kis ke naam pe hai? {phone}\nUrgent chahiye, inbox karo"),
    ],
    ("request", "ur"): [
        (("sim",), "مجھے اس نمبر کی سم کی تفصیل چاہیے: {phone}\nجو کر سکتا ہے رابطہ کرے"),
        (("cnic",), "کسی کے پاس نادرا کا ریکارڈ ہے؟ اس شناختی کارڈ کا فیملی ٹری چاہیے: {cnic}"),
    ],
    ("other", "en"): [
        ((), "⚠️ Scam alert: {handle} took payment and blocked me. Don't deal with him."),
        ((), "Channel rules: no abuse, no spam, payment first. Admin: {handle}"),
        ((), "Rates < {price} & fast delivery for Netflix & Spotify accounts 🍿"),
        ((), "Read this: [FIA arrests data sellers in {city}](https://news.example.org/fia-{n})"),
        ((), "PTA advice: send your CNIC number to 668 to see the SIMs registered on it. https://www.pta.gov.pk"),
    ],
    ("other", "roman"): [
        ((), "Jazz monthly offer: 30GB + 3000 minutes, sirf Rs {price}. Dial *{code}#"),
        ((), "Aaj server down hai, kal se kaam dobara shuru hoga 🙏"),
    ],
    ("other", "ur"): [
        ((), "خبردار: جعلی ایجنٹس سے ہوشیار رہیں، پیسے پہلے نہ بھیجیں"),
        ((), "عید مبارک! تمام ممبران کو دلی مبارکباد 🌙"),
    ],
}
_OPERATORS = ("Jazz", "Zong", "Telenor", "Ufone")
_CITIES = ("Lahore", "Karachi", "Rawalpindi", "Peshawar", "Multan", "Quetta")
_URDU_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_FOREIGN_SOURCES = (("Leak Hub PK", "leakhub_pk"), ("Data Bazaar", "databazaar"), ("Anonymous seller", None))


@dataclass
class Post:
    """Ground truth for one message block, as the parser must read it."""

    channel: str
    id: int
    date: datetime
    text: str  # link targets kept as "label (url)"; empty for media without caption
    body: str  # HTML of the text div
    kind: str  # offer | request | other | service
    categories: tuple[str, ...] = ()
    language: str | None = None  # en | roman | ur
    author: str | None = None
    views: int | None = None
    views_label: str | None = None
    signature: str | None = None
    edited: bool = False
    forwarded_from: str | None = None
    forwarded_from_url: str | None = None
    reply_to: int | None = None
    media: str | None = None  # photo | album | video | document
    photos: list[str] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    link_preview: dict | None = None
    album_ids: list[int] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    service_body: str | None = None  # markup of a service text, which is not user text

    @property
    def service(self) -> bool:
        return self.kind == "service"

    @property
    def permalink(self) -> str:
        return f"{TME}/{self.channel}/{self.id}"


@dataclass
class Channel:
    name: str
    title: str
    markup: str = "2024"  # "2023": no media_supported_cont; "2024": media wrapped, hidden fallback
    access: str = "public"  # public | private | group | bot
    peer: int = 0
    subscribers: str = "1.2K"
    posts: dict[int, Post] = field(default_factory=dict)
    last_id: int = 0
    too_many_left: int = 0
    no_posts_left: int = 0


@dataclass(frozen=True)
class Access:
    method: str
    path: str  # with the query
    status: int
    headers: dict[str, str]


# --- text rendering -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?P<url>https?://[^\s<]+|(?<![\w/.])t\.me/[A-Za-z0-9_]+)"
    r"|(?P<mention>(?<![\w.])@[A-Za-z][A-Za-z0-9_]{3,})"
    r"|(?P<tag>(?<![\w#])#\w+)"
    r"|(?P<emoji>[\U0001F300-\U0001FAFF\u2600-\u27BF]\uFE0F?)"
)
_CONFIRM = "return confirm('Open this link?\\n\\n'+this.href);"


def _plain_html(text: str) -> str:
    return escape(text, quote=False).replace("\n", "<br/>")


def _emoji(char: str) -> str:
    code = char.encode().hex().upper()
    return (f'<i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/{code}.png\')">'
            f"<b>{char}</b></i>")


def _token(found: re.Match) -> tuple[str, str]:
    """(html, text) of one marked-up token."""
    if found["label"]:
        label, href = found["label"], found["href"]
        return (f'<a href="{escape(href)}" target="_blank" rel="noopener" onclick="{_CONFIRM}">'
                f"{escape(label)}</a>", f"{label} ({href})")
    if found["bold"]:
        return f"<b>{escape(found['bold'])}</b>", found["bold"]
    if found["url"]:
        url = found["url"]
        href = url if url.startswith("http") else f"https://{url}"
        return f'<a href="{escape(href)}" target="_blank" rel="noopener">{escape(url)}</a>', url
    if found["mention"]:
        name = found["mention"]
        return f'<a href="{TME}/{name[1:]}" target="_blank">{name}</a>', name
    if found["tag"]:
        return f'<a href="?q={quote(found["tag"])}">{escape(found["tag"])}</a>', found["tag"]
    return _emoji(found["emoji"]), found["emoji"]


def render_text(source: str) -> tuple[str, str]:
    """(html of the text div, text the parser must read) for text in the fixture markup."""
    html_parts, text_parts, position = [], [], 0
    for found in _TOKEN.finditer(source):
        html_parts.append(_plain_html(source[position:found.start()]))
        text_parts.append(source[position:found.start()])
        token_html, token_text = _token(found)
        html_parts.append(token_html)
        text_parts.append(token_text)
        position = found.end()
    html_parts.append(_plain_html(source[position:]))
    text_parts.append(source[position:])
    return "".join(html_parts), "".join(text_parts)


# --- data generation ------------------------------------------------------------------------

def _views(rng: random.Random) -> tuple[str, int]:
    """A Telegram view label and the count it stands for ("1.2K" -> 1200)."""
    roll = rng.random()
    if roll < 0.55:
        count = rng.randint(1, 999)
        return str(count), count
    unit, factor, tenths = ("M", 1_000_000, rng.randint(10, 99)) if roll > 0.95 else ("K", 1000, rng.randint(10, 9999))
    whole, tenth = divmod(tenths, 10)
    return (f"{whole}{unit}" if tenth == 0 else f"{whole}.{tenth}{unit}"), tenths * factor // 10


def _handle(rng: random.Random) -> str:
    stem = rng.choice(("sim", "data", "cnic", "cdr", "nadra", "record", "trace"))
    return f"@{stem}_{rng.choice(('king', 'pk', 'wala', 'hub', 'store', 'lahore', 'khi'))}{rng.randint(1, 99)}"


def _slots(rng: random.Random) -> dict[str, object]:
    price = rng.choice((300, 500, 700, 800, 1000, 1200, 1500))
    return {
        "op": rng.choice(_OPERATORS), "city": rng.choice(_CITIES), "handle": _handle(rng),
        "bot": f"@{rng.choice(('numinfo', 'simtrace', 'pkfinder'))}{rng.randint(1, 9)}_bot",
        "phone": f"03{rng.randint(0, 4)}{rng.randint(0, 9)}-{rng.randint(0, 9_999_999):07d}",
        "cnic": f"{rng.randint(1, 7)}{rng.randint(0, 9999):04d}-{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9)}",
        "passport": f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
                    f"{rng.randint(0, 9_999_999):07d}",
        "price": price, "price_ur": str(price).translate(_URDU_DIGITS), "k": rng.randint(3, 15),
        "k2": rng.randint(16, 40), "usdt": rng.choice((20, 35, 50, 80, 150, 300)), "months": rng.randint(1, 6),
        "mins": rng.choice((5, 10, 15, 30)), "rows": rng.randint(2, 60), "year": rng.choice((2023, 2024, 2025)),
        "slug": f"{rng.getrandbits(24):06x}", "proofs": f"proofs_{rng.randint(10, 99)}", "n": rng.randint(100, 999),
        "code": rng.randint(100, 999),
    }


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Generator:
    """Fills channels with seeded, realistic posts."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def file(self, label: str) -> str:
        return f"{CDN}/{label}-{self.rng.getrandbits(64):016x}.jpg"

    def channel(self, spec: _Spec) -> Channel:
        rng = self.rng
        channel = Channel(spec.name, spec.title, spec.markup, peer=-1_001_000_000_000 - rng.randint(1, 10**9),
                          subscribers=f"{rng.randint(10, 999) / 10}K")
        start = datetime(2024, rng.randint(1, 3), rng.randint(1, 28), rng.randint(0, 23), tzinfo=timezone.utc)
        _append(channel, _service(channel, 1, start, "Channel created"))
        pin_at = spec.count // 2 if spec.name == "pk_data_market" else None
        date = start
        while len(channel.posts) < spec.count:
            next_id = channel.last_id + 1 + (rng.randint(1, 5) if rng.random() < 0.12 else 0)
            date += timedelta(minutes=rng.randint(20, 1440), seconds=rng.randint(0, 59))
            if len(channel.posts) == pin_at:
                _append(channel, self.pin(channel, next_id, date))
            else:
                _append(channel, self.post(channel, spec, next_id, date))
        return channel

    def pin(self, channel: Channel, post_id: int, date: datetime) -> Post:
        pinned = next(post for post in reversed(channel.posts.values()) if post.text and not post.service)
        snippet = " ".join(pinned.text.split())[:40]
        post = _service(channel, post_id, date, f"{channel.title} ({TME}/{channel.name}) pinned «{snippet}»")
        post.service_body = (f'<a class="tgme_widget_message_author_name" href="{TME}/{channel.name}">'
                             f'<span dir="auto">{escape(channel.title)}</span></a> pinned «<span '
                             f'class="tgme_widget_service_strong_text" dir="auto">{escape(snippet)}</span>»')
        return post

    def post(self, channel: Channel, spec: _Spec, post_id: int, date: datetime) -> Post:
        rng = self.rng
        kind, language = _pick(rng, spec.kinds), _pick(rng, spec.languages)
        categories, template = rng.choice(_TEMPLATES.get((kind, language)) or _TEMPLATES[(kind, "en")])
        body, text = render_text(template.format_map(_slots(rng)))
        label, count = _views(rng)
        signed = spec.signatures and rng.random() < 0.3
        post = Post(channel.name, post_id, date, text, body, kind, categories, language, author=channel.title,
                    views=count, views_label=label, signature=rng.choice(spec.signatures) if signed else None,
                    edited=rng.random() < 0.1)
        self.media(post, rng.random())
        self.context(channel, post)
        if rng.random() < 0.1 and post.kind == "offer":
            post.buttons = [("Buy now", f"{TME}/{_handle(rng)[1:]}_bot")]
        return post

    def media(self, post: Post, roll: float) -> None:
        rng = self.rng
        if roll < 0.18:
            post.media, post.photos = "photo", [self.file("photo")]
        elif roll < 0.24:
            post.media, post.album_ids = "album", list(range(post.id, post.id + rng.randint(2, 4)))
            post.photos = [self.file(f"album{number}") for number in post.album_ids]
        elif roll < 0.27:
            post.media = "video"
        elif roll < 0.34 and post.kind == "offer":
            post.media = "document"
            name = rng.choice(("cnic_scans_{n}.zip", "jazz_subscribers_{n}.csv", "cdr_sample_{n}.xlsx",
                               "family_tree_{n}.pdf", "rate_list_{n}.pdf")).format(n=rng.randint(1, 99))
            post.documents = [{"title": name, "size": f"{rng.randint(1, 9999) / 10} MB"}]
        if post.media in ("photo", "album") and rng.random() < 0.3:
            post.text, post.body, post.kind, post.categories, post.language = "", "", "other", (), None

    def context(self, channel: Channel, post: Post) -> None:
        """Forwards, replies and link previews."""
        rng = self.rng
        if rng.random() < 0.08:
            name, source = rng.choice(_FOREIGN_SOURCES)
            post.forwarded_from = name
            post.forwarded_from_url = f"{TME}/{source}/{rng.randint(2, 900)}" if source else None
        earlier = [other.id for other in channel.posts.values() if not other.service]
        if earlier and rng.random() < 0.08:
            post.reply_to = rng.choice(earlier[-15:])
        link = re.search(r"\((https://(?:forms|news)\.example\.\w+/[^)]+)\)|(https://www\.pta\.gov\.pk)", post.text)
        if link and rng.random() < 0.7:
            url = link.group(1) or link.group(2)
            post.link_preview = {"url": url, "site": urlsplit(url).hostname,
                                 "title": rng.choice(("Order form", "Breaking news", "Official notice")),
                                 "description": f"Updated {post.date:%d %b %Y}."}


def _service(channel: Channel, post_id: int, date: datetime, text: str) -> Post:
    return Post(channel.name, post_id, date, text, escape(text, quote=False), "service", author=channel.title)


def _append(channel: Channel, post: Post) -> None:
    channel.posts[post.id] = post
    channel.last_id = max([post.id, *post.album_ids])


def build_channels(seed: int) -> dict[str, Channel]:
    """Every name the site knows: public channels with posts, an empty one, and non-public names."""
    generator = _Generator(seed)
    channels = {spec.name: generator.channel(spec) for spec in _SPECS}
    channels[EMPTY_CHANNEL] = Channel(EMPTY_CHANNEL, "Empty Leaks", "2024", subscribers="12")
    for name, access in HIDDEN_NAMES.items():
        channels[name] = Channel(name, name.replace("_", " ").title(), access=access)
    return channels


# --- markup ---------------------------------------------------------------------------------

_TAIL = ('<i class="tgme_widget_message_bubble_tail"><svg class="bubble_icon" width="9px" height="20px" '
         'viewBox="0 0 9 20"><g fill="none"><path class="background" fill="#ffffff" '
         'd="M8,1 L9,1 L9,20 L8,20 L8,18 Z"></path></g></svg></i>')
_NOT_SUPPORTED = ('<div class="media_not_supported_cont"><div class="message_media_not_supported_wrap">'
                  '<div class="message_media_not_supported"><div class="message_media_not_supported_label">'
                  'Please open Telegram to view this post</div><a href="{link}" class="message_media_view_in_'
                  'telegram">VIEW IN TELEGRAM</a></div></div></div>')


def _data_view(channel: Channel, post: Post) -> str:
    payload = {"c": channel.peer, "p": f"{post.id}g" if post.album_ids else post.id,
               "t": int(post.date.timestamp()), "h": f"{(-channel.peer * 7919 + post.id) % 16**18:018x}"}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _avatar(channel: Channel) -> str:
    return (f'<div class="tgme_widget_message_user"><a href="{TME}/{channel.name}"><i class="tgme_widget_'
            f'message_user_photo bgcolor4" data-content="{escape(channel.title[:1])}"><img src="{CDN}/'
            f'avatar-{channel.name}.jpg"></i></a></div>')


def _forwarded(post: Post) -> str:
    if not post.forwarded_from:
        return ""
    name = f'<span dir="auto">{escape(post.forwarded_from)}</span>'
    link = (f'<a class="tgme_widget_message_forwarded_from_name" href="{post.forwarded_from_url}">{name}</a>'
            if post.forwarded_from_url else f'<span class="tgme_widget_message_forwarded_from_name">{name}</span>')
    return f'<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;{link}</div>'


def _reply(channel: Channel, post: Post) -> str:
    parent = channel.posts.get(post.reply_to) if post.reply_to else None
    if parent is None:
        return ""
    thumb = (f'<i class="tgme_widget_message_reply_thumb" style="background-image:url(\'{parent.photos[0]}\')"></i>'
             if parent.photos else "")
    quote_html = (f'<div class="tgme_widget_message_text js-message_reply_text" dir="auto">'
                  f'{escape(" ".join(parent.text.split())[:90], quote=False)}</div>' if parent.text else
                  '<div class="tgme_widget_message_metatext js-message_reply_text">Photo</div>')
    return (f'<a class="tgme_widget_message_reply" href="{parent.permalink}">{thumb}<div class="tgme_widget_'
            f'message_author accent_color"><span class="tgme_widget_message_author_name" dir="auto">'
            f'{escape(channel.title)}</span></div>{quote_html}</a>')


def _media(post: Post) -> str:
    if post.media == "photo":
        return (f'<a class="tgme_widget_message_photo_wrap {post.id * 7919} {post.id}_{post.id * 31}" '
                f'href="{post.permalink}" style="width:800px;background-image:url(\'{post.photos[0]}\')">'
                f'<div class="tgme_widget_message_photo" style="padding-top:75%"></div></a>')
    if post.media == "album":
        items = "".join(
            f'<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" style="left:0px;'
            f'top:{index * 200}px;width:400px;height:198px;background-image:url(\'{photo}\')" data-ratio="1.33" '
            f'href="{TME}/{post.channel}/{item}?single"><div class="grouped_media_helper"><div class="tgme_'
            f'widget_message_photo grouped_media"></div></div></a>'
            for index, (item, photo) in enumerate(zip(post.album_ids, post.photos)))
        return (f'<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap" style="width:400px;">'
                f'<div class="tgme_widget_message_grouped js-message_grouped"><div class="tgme_widget_message_'
                f'grouped_layer js-message_grouped_layer">{items}</div></div></div>')
    if post.media == "video":
        return (f'<a class="tgme_widget_message_video_player js-message_video_player" href="{post.permalink}">'
                f'<i class="tgme_widget_message_video_thumb" style="background-image:url(\'{CDN}/thumb-{post.id}'
                f'.jpg\')"></i><div class="tgme_widget_message_video_wrap"><video class="tgme_widget_message_video '
                f'js-message_video" src="{CDN}/{post.id}.mp4?token=x{post.id}" width="100%"></video></div>'
                f'<time class="message_video_duration js-message_video_duration">0:{post.id % 50 + 10}</time></a>')
    if post.media == "document":
        document = post.documents[0]
        return (f'<a class="tgme_widget_message_document_wrap" href="{post.permalink}"><div class="tgme_widget_'
                f'message_document_icon accent_bg"></div><div class="tgme_widget_message_document"><div class='
                f'"tgme_widget_message_document_title accent_color" dir="auto">{escape(document["title"])}</div>'
                f'<div class="tgme_widget_message_document_extra" dir="auto">{document["size"]}</div></div></a>')
    return ""


def _link_preview(post: Post) -> str:
    preview = post.link_preview
    if not preview:
        return ""
    return (f'<a class="tgme_widget_message_link_preview" href="{escape(preview["url"])}"><i class="link_preview_'
            f'right_image" style="background-image:url(\'{CDN}/preview-{post.id}.jpg\')"></i><div class="link_'
            f'preview_site_name accent_color" dir="auto">{escape(preview["site"])}</div><div class="link_preview_'
            f'title" dir="auto">{escape(preview["title"])}</div><div class="link_preview_description" '
            f'dir="auto">{escape(preview["description"])}</div></a>')


def _footer(post: Post) -> str:
    views = (f'<span class="tgme_widget_message_views">{post.views_label}</span><span class="copyonly"> '
             f'{"view" if post.views == 1 else "views"}</span>' if post.views_label else "")
    signature = (f'<span class="tgme_widget_message_from_author" dir="auto">{escape(post.signature)}</span>,&nbsp;'
                 if post.signature else "")
    edited = "edited &nbsp;" if post.edited else ""
    return (f'<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_'
            f'info short js-message_info">{views}<span class="tgme_widget_message_meta">{signature}{edited}<a '
            f'class="tgme_widget_message_date" href="{post.permalink}"><time datetime="{post.date.isoformat()}" '
            f'class="time">{post.date:%H:%M}</time></a></span></div></div>')


def _buttons(post: Post) -> str:
    if not post.buttons:
        return ""
    row = "".join(f'<a class="tgme_widget_message_inline_button url_button" href="{href}" target="_blank" '
                  f'rel="noopener" onclick="{_CONFIRM}"><span class="tgme_widget_message_inline_button_text" '
                  f'dir="auto">{escape(label)}</span></a>' for label, href in post.buttons)
    return (f'<div class="tgme_widget_message_inline_keyboard"><div class="tgme_widget_message_inline_row">{row}'
            f'</div></div>')


def message_html(channel: Channel, post: Post) -> str:
    """One message block in the channel's markup generation."""
    body = post.service_body or post.body
    text = f'<div class="tgme_widget_message_text js-message_text" dir="auto">{body}</div>' if body else ""
    content = _media(post) + text
    if channel.markup == "2024" and post.media in ("photo", "album", "video"):
        content = (f'<div class="media_supported_cont">{content}</div>'
                   + _NOT_SUPPORTED.format(link=post.permalink))
    kind = " service_message" if post.service else ""
    return (f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message '
            f'text_not_supported_wrap{kind} js-widget_message" data-post="{channel.name}/{post.id}" '
            f'data-view="{_data_view(channel, post)}">{_avatar(channel)}<div class="tgme_widget_message_bubble">'
            f'{_TAIL}<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_'
            f'name" href="{TME}/{channel.name}"><span dir="auto">{escape(channel.title)}</span></a></div>'
            f'{_forwarded(post)}{_reply(channel, post)}{content}{_link_preview(post)}{_footer(post)}</div>'
            f'{_buttons(post)}</div></div>')


def _more(channel: Channel, name: str, cursor: int) -> str:
    return (f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{channel.name}?{name}='
            f'{cursor}" class="tme_messages_more js-messages_more" data-{name}="{cursor}"></a></div>')


_NO_POSTS = ('<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message_'
             'centered"><div class="tme_no_messages_found">No posts found</div></div></div>')


@dataclass(frozen=True)
class _Slice:
    posts: list[Post]
    before: int | None  # cursor to older posts, when there are any
    after: int | None  # cursor to newer posts, when there are any


def _history(channel: Channel, page: _Slice) -> str:
    top = _more(channel, "before", page.before) if page.before else ""
    bottom = _more(channel, "after", page.after) if page.after else ""
    return top + "".join(message_html(channel, post) for post in page.posts) + bottom


def _head_links(channel: Channel, page: _Slice) -> str:
    links = []
    if page.before:
        links.append(f'<link rel="prev" href="/s/{channel.name}?before={page.before}">')
    if page.after:
        links.append(f'<link rel="next" href="/s/{channel.name}?after={page.after}">')
    newest = page.posts[-1].id + 1 if page.posts else ""
    links.append(f'<link rel="canonical" href="/s/{channel.name}?before={newest}">')
    return "".join(links)


def channel_page(channel: Channel, page: _Slice | None) -> str:
    """A full /s/<channel> page; page None renders the "No posts found" answer."""
    title = escape(channel.title)
    photos = sum(len(post.photos) for post in channel.posts.values())
    history = _history(channel, page) if page else _NO_POSTS
    return (
        f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{title} – Telegram</title>\n'
        f'<meta property="og:title" content="{title}">\n<meta property="og:image" content="{CDN}/avatar-'
        f'{channel.name}.jpg">\n<meta property="og:site_name" content="Telegram">\n'
        f'{_head_links(channel, page) if page else ""}\n</head>\n<body class="widget_frame_base tgme_webpreview '
        f'emoji_image thin_box_shadow tme_mode no_transitions">\n<header class="tgme_header search_collapsed">'
        f'<div class="tgme_container"><div class="tgme_header_search"><form class="tgme_header_search_form" '
        f'action="/s/{channel.name}"><input class="tgme_header_search_form_input js-header_search" '
        f'placeholder="Search" name="q" autocomplete="off" value=""></form></div><div class="tgme_header_right_'
        f'column"><section class="tgme_right_column"><div class="tgme_channel_info"><div class="tgme_channel_'
        f'info_header"><i class="tgme_page_photo_image bgcolor4" data-content="{title[:1]}"><img src="{CDN}/'
        f'avatar-{channel.name}.jpg"></i><div class="tgme_channel_info_header_title_wrap"><div class="tgme_'
        f'channel_info_header_title"><span dir="auto">{title}</span></div><div class="tgme_channel_info_'
        f'header_labels"></div></div><div class="tgme_channel_info_header_username"><a href="{TME}/'
        f'{channel.name}">@{channel.name}</a></div></div><div class="tgme_channel_info_counters"><div class="'
        f'tgme_channel_info_counter"><span class="counter_value">{channel.subscribers}</span> <span class="'
        f'counter_type">subscribers</span></div><div class="tgme_channel_info_counter"><span class="counter_'
        f'value">{photos}</span> <span class="counter_type">photos</span></div></div></div></section></div>'
        f'</div></header>\n<main class="tgme_main" data-url="/{channel.name}"><div class="tgme_container">\n'
        f'<section class="tgme_channel_history js-message_history">\n{history}\n</section>\n</div></main>\n'
        f'<script src="//telegram.org/js/telegram-web.js?14"></script><script>TWeb.init();</script>\n</body>\n'
        f'</html>\n'
    )


def landing_page(name: str, channel: Channel | None) -> str:
    """GET /<name>: the "View in Telegram" page; only public channels link to their preview."""
    if channel is None:
        title, extra = f"@{escape(name)}", f"If you have Telegram, you can contact @{escape(name)} right away."
    else:
        title = escape(channel.title)
        extra = {"public": f"{channel.subscribers} subscribers", "private": "This channel can't be displayed.",
                 "group": "1 294 members, 37 online", "bot": "Bot"}[channel.access]
    preview = (f'<div class="tgme_page_context_link_wrap"><a class="tgme_page_context_link" href="/s/{name}">'
               f'Preview channel</a></div>' if channel is not None and channel.access == "public" else "")
    return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>Telegram: Contact @{escape(name)}'
            f'</title>\n<meta property="og:title" content="{title}">\n</head>\n<body class="tgme_page_body">'
            f'<div class="tgme_page_wrap"><div class="tgme_page"><div class="tgme_page_title"><span dir="auto">'
            f'{title}</span></div><div class="tgme_page_extra">{extra}</div><div class="tgme_page_action"><a '
            f'class="tgme_action_button_new shine" href="tg://resolve?domain={escape(name)}">View in Telegram</a>'
            f'</div>{preview}</div></div></body>\n</html>\n')


def _slice(channel: Channel, before: int | None, after: int | None) -> _Slice:
    """The ~20 posts a cursor selects: newest, older than `before`, or newer than `after`."""
    ordered = [channel.posts[key] for key in sorted(channel.posts)]
    if after is not None:
        chosen = [post for post in ordered if post.id > after][:PAGE_SIZE]
    else:
        chosen = [post for post in ordered if before is None or post.id < before][-PAGE_SIZE:]
    if not chosen:
        return _Slice([], None, None)
    older = ordered[0].id < chosen[0].id
    newer = ordered[-1].id > chosen[-1].id
    return _Slice(chosen, chosen[0].id if older else None, chosen[-1].id if newer else None)


# --- server ---------------------------------------------------------------------------------

_PREVIEW_PATH = re.compile(r"^/s/([A-Za-z0-9_]+)/?$")
_NAME_PATH = re.compile(r"^/([A-Za-z0-9_]+)/?$")


def _cursor(query: dict[str, list[str]], name: str) -> int | None:
    value = (query.get(name) or [""])[0]
    return int(value) if value.isdecimal() else None


class TelegramSite:
    """The fixture server; use as a context manager. `log` records every request."""

    def __init__(self, seed: int = 20240610, *, throttle_429: int = 1, throttle_no_posts: int = 2):
        self.channels = build_channels(seed)
        self.log: list[Access] = []
        self._lock = threading.Lock()
        self._server: FixtureServer | None = None
        self.throttle(THROTTLED_CHANNEL, too_many=throttle_429, no_posts=throttle_no_posts)

    # ground truth and runtime changes

    def channel(self, name: str) -> Channel:
        return self.channels[name.lower()]

    def channel_ids(self, channel: str) -> list[int]:
        """Ids of the channel's message blocks (an album counts once, by its first id), ascending."""
        with self._lock:
            return sorted(self.channel(channel).posts)

    def message(self, channel: str, message_id: int) -> Post:
        with self._lock:
            return self.channel(channel).posts[message_id]

    def add_message(self, channel: str, text: str, *, date: datetime | None = None, views: int = 1,
                    kind: str = "offer", categories: tuple[str, ...] = (), photo: bool = False) -> Post:
        """Publish a new message (text in the fixture markup) as the channel's newest."""
        with self._lock:
            target = self.channel(channel)
            newest = max(target.posts.values(), key=lambda post: post.id, default=None)
            when = date or (newest.date + timedelta(minutes=5) if newest else datetime.now(timezone.utc))
            body, plain = render_text(text)
            post = Post(target.name, target.last_id + 1, when.astimezone(timezone.utc).replace(microsecond=0),
                        plain, body, kind, tuple(categories), author=target.title, views=views,
                        views_label=str(views))
            if photo:
                post.media, post.photos = "photo", [f"{CDN}/added-{target.name}-{post.id}.jpg"]
            _append(target, post)
            return post

    def throttle(self, channel: str, *, too_many: int = 0, no_posts: int = 0) -> None:
        """The channel's next `too_many` preview requests get 429, the `no_posts` after them "No posts found"."""
        with self._lock:
            target = self.channel(channel)
            target.too_many_left, target.no_posts_left = too_many, no_posts

    # server lifecycle

    @property
    def base_url(self) -> str:
        return self._server.base

    def start(self) -> TelegramSite:
        self._server = FixtureServer(self._answer, methods=("GET", "POST"), name="telegram-site").start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None

    def __enter__(self) -> TelegramSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # request handling

    def _answer(self, request: Request):
        headers = {key.lower(): value for key, value in request.headers.items()}
        return self.respond(request.method, request.path, headers)

    def respond(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one request; also logs it."""
        status, extra, body = self._route(method, path, headers)
        with self._lock:
            self.log.append(Access(method, path, status, headers))
        return status, extra, body

    def _route(self, method: str, path: str, headers: dict[str, str]):
        url = urlsplit(path)
        preview, landing = _PREVIEW_PATH.match(url.path), _NAME_PATH.match(url.path)
        if preview:
            return self._preview(preview.group(1), method, parse_qs(url.query), headers)
        if landing and method == "GET":
            return 200, _HTML, landing_page(landing.group(1), self.channels.get(landing.group(1).lower())).encode()
        return 404, _HTML, b"<!DOCTYPE html><html><body>Not found</body></html>"

    def _preview(self, name: str, method: str, query: dict, headers: dict[str, str]):
        channel = self.channels.get(name.lower())
        if channel is None or channel.access != "public":
            return 302, {**_HTML, "Location": f"{self.base_url}/{name}"}, b""
        with self._lock:
            if channel.too_many_left > 0:
                channel.too_many_left -= 1
                return 429, {**_HTML, "Retry-After": "1"}, b"<html><body>Too Many Requests</body></html>"
            if channel.no_posts_left > 0:
                channel.no_posts_left -= 1
                page = None
            else:
                page = _slice(channel, _cursor(query, "before"), _cursor(query, "after"))
            return 200, _HTML, channel_page(channel, page).encode()


_HTML = {"Content-Type": "text/html; charset=utf-8"}

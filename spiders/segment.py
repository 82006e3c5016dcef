"""Cut a page into posts when the analyst gave no selectors.

Listing cards, forum replies and table rows share one shape: several siblings with the same tag
and classes, each carrying real text. The group of such siblings holding the most text wins;
a page without one yields its main text as a single post, unless it is mostly links (navigation).

General rules come first, so unknown forum software segments too: alternating row classes
(bg1/bg2, alt1/alt2, odd/even, windowbg/windowbg2...) do not change a block's shape, siblings with
numbered ids (p123, post-123, post_123) form a group whatever their classes, and quote blocks are
never posts. Each post's author and date come from microdata and machine-readable times first, then
from the markup of the forum engine the posts match (`ENGINE_MARKUP`).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from statistics import median

from lxml.cssselect import CSSSelector

from nigran.spiders.text import element_text

SKIP = {"nav", "header", "footer", "aside", "script", "style", "noscript", "form", "select", "head"}
CHROME = SKIP - {"form"}  # forum software wraps its posts in (inline moderation) forms
MIN_SIBLINGS = 3
MIN_BLOCK_CHARS = 40
MAX_LINK_DENSITY = 0.5
ALTERNATING = re.compile(r"(?:bg|alt|trow|row|windowbg)\d+|windowbg|odd|even|old|new|first|last", re.I)
NUMBERED = re.compile(r"([A-Za-z][A-Za-z_-]*?)[-_]?\d+")
POST_ID_ATTRS = ("data-pid", "data-post-id", "data-node-id", "data-post", "data-content", "itemtype")
QUOTE_TAGS = {"blockquote", "q"}

# Per engine: what one post is, where its author and date are. "css@attr" reads an attribute
# (the post's own attributes too), plain "css" the element's text.
ENGINE_MARKUP: dict[str, dict[str, tuple[str, ...]]] = {
    "phpbb": {"post": ("div.post.has-profile", "div.post.bg1", "div.post.bg2"),
              "author": (".author a.username", ".author a.username-coloured", ".postprofile a.username"),
              "date": ("p.author time@datetime", "p.author",)},
    "mybb": {"post": ("div.post[id^=post_]",),
             "author": (".author_information .largetext a", ".post_author strong a"),
             "date": (".post_date@title", ".post_date")},
    "xenforo": {"post": ("li.message[id^=post-]", "article.message--post"),
                "author": (".messageUserInfo a.username", ".message-name .username", ".message-name"),
                "date": ("abbr.DateTime@data-time", "span.DateTime@title", "time.u-dt@data-time")},
    "vbulletin": {"post": ("li.postcontainer", "div[id^=edit]", "li.b-post"),
                  "author": (".username", "a.bigusername", ".b-userinfo__details .author"),
                  "date": ("span.date", "td.thead", ".b-post__timestamp")},
    "smf": {"post": ("#forumposts div.windowbg", "#forumposts div.windowbg2"),
            "author": (".poster h4 a", ".poster h4"),
            "date": (".keyinfo .smalltext", ".postinfo .smalltext")},
    "discourse": {"post": ("div.crawler-post", "article[data-post-id]"),
                  "author": (".creator [itemprop=name]", ".creator a", ".names .username a", ".username"),
                  "date": (".post-time", ".relative-date@data-time")},
    "nodebb": {"post": ("li[component=post]",),
               "author": ("[component='post/header'] a[data-username]@data-username",
                          "[component='post/header'] [itemprop=author]", "[data-username]@data-username"),
               "date": ("[data-timestamp]@data-timestamp", ".timeago@title")},
}
ENGINES = tuple(ENGINE_MARKUP)
GENERIC = {"author": ("[itemprop=author] [itemprop=name]", "[itemprop=author]", "[data-author]@data-author"),
           "date": ("[itemprop=datePublished]@datetime", "[itemprop=datePublished]@content",
                    "[itemprop=dateCreated]@datetime", "time[datetime]@datetime", "abbr.DateTime@data-time",
                    "[data-timestamp]@data-timestamp", "[data-time]@data-time")}
# Dates written for people, as forum software prints them by default (no zone: read as UTC).
TEXT_DATES = [(re.compile(pattern), fmt) for pattern, fmt in (
    (r"\d{2}-\d{2}-\d{4}, \d{1,2}:\d{2} [AP]M", "%m-%d-%Y, %I:%M %p"),
    (r"[A-Z][a-z]+ \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M", "%B %d, %Y, %I:%M:%S %p"),
    (r"[A-Z][a-z]{2} \d{1,2}, \d{4} at \d{1,2}:\d{2} [AP]M", "%b %d, %Y at %I:%M %p"),
    (r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2} [ap]m", "%a %b %d, %Y %I:%M %p"),
)]


@dataclass(frozen=True)
class Block:
    element: object
    text: str
    anchor: str  # the element's own id, else a hash of its text
    author: str | None = None
    posted_at: datetime | None = None  # timezone-aware UTC


Spec = tuple[CSSSelector, "str | None", frozenset]  # selector, attribute to read, the tokens it needs
_TOKEN = re.compile(r"([.#\[])([\w-]+)")


def _compile(specs: tuple[str, ...]) -> list[Spec]:
    """Each "css@attr" spec compiled, with the classes, ids and attribute names its CSS needs on a page."""
    return [(CSSSelector(css), attr or None, frozenset(_TOKEN.findall(css)))
            for css, _, attr in (s.partition("@") for s in specs)]


def _page_tokens(root) -> set[tuple[str, str]]:
    """The classes, ids and attribute names a page uses: a selector needing another cannot match it."""
    tokens = set()
    for value in root.xpath("//@*"):
        name = value.attrname
        tokens.add(("[", name))
        if name == "class":
            tokens.update((".", c) for c in value.split())
        elif name == "id":
            tokens.add(("#", value))
    return tokens


def _usable(specs: list[Spec], tokens: set) -> list[Spec]:
    return [spec for spec in specs if spec[2] <= tokens]


_MARKUP = {name: {key: _compile(specs) for key, specs in m.items()} for name, m in ENGINE_MARKUP.items()}
_GENERIC = {key: _compile(specs) for key, specs in GENERIC.items()}
_ANY_ENGINE = {key: [s for m in _MARKUP.values() for s in m[key]] for key in ("author", "date")}


def _signature(el) -> tuple[str, str]:
    classes = el.get("class")
    if not classes:
        return el.tag, ""
    return el.tag, " ".join(sorted(c for c in classes.split() if not ALTERNATING.fullmatch(c)))


def _post_keys(el):
    """Shapes posts share whatever their classes: a numbered id's prefix, a post id or microdata attribute."""
    attrib = el.attrib
    if len(attrib) <= ("class" in attrib):  # no attribute but its classes: the common case, nothing to find
        return
    match = NUMBERED.fullmatch(attrib.get("id") or "")
    if match:
        yield el.tag, "#" + match.group(1)
    for attr in POST_ID_ATTRS:
        if attrib.get(attr):
            yield el.tag, "@" + (attrib[attr] if attr == "itemtype" else attr)


def _is_quote(el) -> bool:
    return el.tag in QUOTE_TAGS or "quote" in (el.get("class") or "").lower() or el.get("data-quote") is not None


def _link_density(el, text_len: int) -> float:
    link_chars = sum(len(a.text_content().strip()) for a in el.iter("a"))
    return link_chars / max(text_len, 1)


def _anchor(el, text: str) -> str:
    for attr in ("id", "data-id", "data-post", "data-pid"):
        if el.get(attr):
            return el.get(attr)
    return "h" + hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def _content_elements(root, skip=SKIP):
    """Elements outside navigation chrome, in document order (chrome subtrees are never entered)."""
    if any(isinstance(a.tag, str) and a.tag in skip for a in root.iterancestors()):
        return
    stack = [root]
    while stack:
        el = stack.pop()
        if isinstance(el.tag, str) and el.tag not in skip:
            yield el
            stack.extend(reversed(el))


def parse_date(value: str | None) -> datetime | None:
    """A UTC datetime from ISO 8601, unix seconds or milliseconds, or a forum's default date text."""
    value = " ".join((value or "").split())
    if not value:
        return None
    try:
        if value.isdigit():
            seconds = int(value)
            return datetime.fromtimestamp(seconds / 1000 if seconds > 10**11 else seconds, timezone.utc)
        when = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        when = None
        for pattern, fmt in TEXT_DATES:
            match = pattern.search(value)
            if match:
                when = datetime.strptime(match.group(0), fmt)
                break
    if when is None:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _outside_quotes(el, post) -> bool:
    while el is not None and el is not post:
        if _is_quote(el):
            return False
        el = el.getparent()
    return True


def _values(post, specs):
    """Values of the first elements matching `specs` in `post`, in spec order, skipping quoted posts."""
    for selector, attr, _ in specs:
        for el in selector(post):
            if _outside_quotes(el, post):
                value = el.get(attr) if attr else (el.get("content") or " ".join(el.text_content().split()))
                if value and value.strip():
                    yield value.strip()


def _engine_of(post, tokens: set) -> str | None:
    """The engine whose post markup `post` matches."""
    for name, markup in _MARKUP.items():
        if any(post in set(sel(post)) for sel, _, _ in _usable(markup["post"], tokens)):
            return name
    return None


def _with_meta(blocks: list[Block], engine: str | None) -> list[Block]:
    """`blocks` with author and date read by the general rules, then the engine's (any engine's) markup.
    Only selectors whose classes and attributes the page uses are tried (most pages use none of them)."""
    tokens = _page_tokens(blocks[0].element.getroottree().getroot())
    engine = engine or _engine_of(blocks[0].element, tokens)
    specific = _MARKUP[engine] if engine else _ANY_ENGINE
    authors, dates = (_usable(_GENERIC[key] + specific[key], tokens) for key in ("author", "date"))
    if not authors and not dates:
        return blocks
    out = []
    for b in blocks:
        author = next(_values(b.element, authors), None)
        when = next((d for d in map(parse_date, _values(b.element, dates)) if d), None)
        out.append(Block(b.element, b.text, b.anchor, author, when))
    return out


def _blocks(members, texts) -> list[Block]:
    return [Block(m, t, _anchor(m, t)) for m, t in zip(members, texts)
            if len(t) >= MIN_BLOCK_CHARS and _link_density(m, len(t)) <= MAX_LINK_DENSITY]


def repeated_blocks(root) -> list[Block]:
    """The best group of same-shaped sibling blocks, or [] when the page has none."""
    best: list[Block] = []
    best_chars = 0
    for parent in _content_elements(root, CHROME):
        groups: dict[tuple[str, str], list] = {}
        for child in parent:
            if isinstance(child.tag, str) and child.tag not in CHROME and not _is_quote(child):
                groups.setdefault(_signature(child), []).append(child)
                for key in _post_keys(child):
                    groups.setdefault(key, []).append(child)
        texts: dict = {}
        for members in groups.values():
            if len(members) < MIN_SIBLINGS:
                continue
            member_texts = [texts[m] if m in texts else texts.setdefault(m, element_text(m)) for m in members]
            if median(len(t) for t in member_texts) < MIN_BLOCK_CHARS:
                continue
            blocks = _blocks(members, member_texts)
            chars = sum(len(b.text) for b in blocks)
            if len(blocks) >= MIN_SIBLINGS and chars > best_chars:
                best, best_chars = blocks, chars
    return best


def engine_blocks(root, engine: str) -> list[Block]:
    """Posts matching `engine`'s post markup, outermost first, none inside a quote."""
    selectors = [sel for sel, _, _ in _MARKUP[engine]["post"]]
    found = {el for sel in selectors for el in sel(root)}
    posts = [el for el in root.iter() if el in found and not any(a in found or _is_quote(a) for a in el.iterancestors())]
    return _blocks(posts, [element_text(p) for p in posts])


def main_block(root) -> Block | None:
    """The page's text outside navigation chrome, unless it is mostly links."""
    body = root.find(".//body")
    body = body if body is not None else root
    for el in list(body.iter()):
        if isinstance(el.tag, str) and el.tag in SKIP and el.getparent() is not None:
            el.drop_tree()
    text = element_text(body)
    if len(text) < MIN_BLOCK_CHARS or _link_density(body, len(text)) > MAX_LINK_DENSITY:
        return None
    return Block(body, text, "page")


def segment(root, engine: str | None = None) -> list[Block]:
    """Posts of a page: `engine`'s post markup, else repeated blocks, else any engine's post markup (a
    thread's last page may hold one or two posts), else the main text, else nothing.

    Each post carries its author and date where the page shows them."""
    if engine is not None and engine not in ENGINE_MARKUP:
        raise ValueError(f"unknown forum engine {engine!r}, expected one of {', '.join(ENGINES)}")
    blocks = (engine_blocks(root, engine) if engine else []) or repeated_blocks(root) or \
        next((found for name in ([] if engine else ENGINES) if (found := engine_blocks(root, name))), [])
    if blocks:
        return _with_meta(blocks, engine)
    block = main_block(root)
    return [block] if block else []

"""Cut a page into posts when the analyst gave no selectors.

Listing cards, forum replies and table rows share one shape: several siblings with the same tag
and classes, each carrying real text. The group of such siblings holding the most text wins;
a page without one yields its main text as a single post, unless it is mostly links (navigation).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from statistics import median

from nigran.spiders.text import element_text

SKIP = {"nav", "header", "footer", "aside", "script", "style", "noscript", "form", "select", "head"}
MIN_SIBLINGS = 3
MIN_BLOCK_CHARS = 40
MAX_LINK_DENSITY = 0.5


@dataclass(frozen=True)
class Block:
    element: object
    text: str
    anchor: str  # the element's own id, else a hash of its text


def _signature(el) -> tuple[str, str]:
    return el.tag, " ".join(sorted((el.get("class") or "").split()))


def _link_density(el, text_len: int) -> float:
    link_chars = sum(len(a.text_content().strip()) for a in el.iter("a"))
    return link_chars / max(text_len, 1)


def _anchor(el, text: str) -> str:
    for attr in ("id", "data-id", "data-post", "data-pid"):
        if el.get(attr):
            return el.get(attr)
    return "h" + hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def _content_elements(root):
    """Elements outside navigation chrome, in document order (chrome subtrees are never entered)."""
    if any(isinstance(a.tag, str) and a.tag in SKIP for a in root.iterancestors()):
        return
    stack = [root]
    while stack:
        el = stack.pop()
        if isinstance(el.tag, str) and el.tag not in SKIP:
            yield el
            stack.extend(reversed(el))


def repeated_blocks(root) -> list[Block]:
    """The best group of same-shaped sibling blocks, or [] when the page has none."""
    best: list[Block] = []
    best_chars = 0
    for parent in _content_elements(root):
        groups: dict[tuple[str, str], list] = {}
        for child in parent:
            if isinstance(child.tag, str) and child.tag not in SKIP:
                groups.setdefault(_signature(child), []).append(child)
        for members in groups.values():
            if len(members) < MIN_SIBLINGS:
                continue
            texts = [element_text(m) for m in members]
            if median(len(t) for t in texts) < MIN_BLOCK_CHARS:
                continue
            blocks = [Block(m, t, _anchor(m, t)) for m, t in zip(members, texts)
                      if len(t) >= MIN_BLOCK_CHARS and _link_density(m, len(t)) <= MAX_LINK_DENSITY]
            chars = sum(len(b.text) for b in blocks)
            if len(blocks) >= MIN_SIBLINGS and chars > best_chars:
                best, best_chars = blocks, chars
    return best


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


def segment(root) -> list[Block]:
    """Posts of a page without selectors: repeated blocks, else the main text, else nothing."""
    blocks = repeated_blocks(root)
    if blocks:
        return blocks
    block = main_block(root)
    return [block] if block else []

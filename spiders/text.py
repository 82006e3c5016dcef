"""Readable text out of HTML: block structure kept as line breaks, scripts and styles dropped."""
from __future__ import annotations

import re

from lxml import etree, html

DROP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n+")


def element_text(el) -> str:
    """Text of an lxml element, with a line break around every block element."""
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag.lower() in DROP:
            if node.tail:
                parts.append(node.tail)
            return
        block = tag.lower() in BLOCK
        if block:
            parts.append("\n")
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        for child in node:
            walk(child)
        if block:
            parts.append("\n")
        if node.tail:
            parts.append(node.tail)

    tail, el.tail = el.tail, None
    try:
        walk(el)
    finally:
        el.tail = tail
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def parse_html(markup: str | bytes):
    """An lxml tree for any markup, however broken; None for empty input."""
    try:
        return html.fromstring(markup)
    except (etree.ParserError, ValueError):
        return None


def html_to_text(markup: str | bytes) -> str:
    tree = parse_html(markup)
    return element_text(tree) if tree is not None else ""

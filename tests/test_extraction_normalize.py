"""Normalisation: scripts, digits, invisible marks, dashes, NFKC, and spans back to the original text."""
from __future__ import annotations

import pytest

from nigran.pipelines.extraction.normalize import normalize


@pytest.mark.parametrize("raw, expected", [
    ("۰۳۰۰۱۲۳۴۵۶۷", "03001234567"),                 # Urdu (Extended Arabic-Indic) digits
    ("٠٣٠٠١٢٣٤٥٦٧", "03001234567"),                 # Arabic-Indic digits
    ("CNIC", "cnic"),
    ("C\u200bN\u200cI\u200dC", "cnic"),             # zero-width characters removed
    ("\u202a0300-1234567\u202c", "0300-1234567"),   # bidi embedding removed
    ("35202\u201312345\u20147", "35202-12345-7"),   # en and em dashes
    ("0300\u22121234567", "0300-1234567"),          # minus sign
    ("ＣＮＩＣ １２３", "cnic 123"),                 # full width (NFKC)
    ("𝐒𝐈𝐌 𝐃𝐀𝐓𝐀", "sim data"),                     # mathematical bold letters (NFKC)
    ("₨ 500", "rs 500"),                           # rupee sign expands under NFKC
    ("شناختي كارڈ", "شناختی کارڈ"),                 # Arabic yeh and kaf to Urdu forms
    ("شـناختی", "شناختی"),                          # tatweel removed
    ("شَناختی", "شناختی"),                          # harakat removed
])
def test_normalised_text(raw, expected):
    assert normalize(raw).text == expected


def test_ascii_text_is_only_lower_cased():
    norm = normalize("Rs 500 WhatsApp 0300-1234567")
    assert norm.text == "rs 500 whatsapp 0300-1234567"
    assert norm.span(3, 6) == (3, 6)


def test_spans_map_back_through_deletions_and_expansions():
    raw = "C\u200bN\u200bI\u200bC ₨ 500 ۰۳۰۰"
    norm = normalize(raw)
    assert norm.text == "cnic rs 500 0300"
    start, end = norm.span(0, 4)
    assert raw[start:end] == "C\u200bN\u200bI\u200bC"
    start, end = norm.span(5, 7)
    assert raw[start:end] == "₨"
    start, end = norm.span(8, 11)
    assert raw[start:end] == "500"
    start, end = norm.span(12, 16)
    assert raw[start:end] == "۰۳۰۰"


def test_every_character_maps_inside_the_original():
    raw = "اَلسّلام\u200c علیکم 𝐒𝐈𝐌 ₨\u200b5 ﷺ"
    norm = normalize(raw)
    for k in range(len(norm.text)):
        start, end = norm.span(k, k + 1)
        assert 0 <= start < end <= len(raw)

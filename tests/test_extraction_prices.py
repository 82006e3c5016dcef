"""Prices (amount + currency) and the claimed volume of records."""
from __future__ import annotations

import pytest

from nigran.pipelines.extraction import Price, extract
from nigran.pipelines.extraction.normalize import normalize
from nigran.pipelines.extraction.prices import find_prices
from nigran.pipelines.extraction.volume import find_volume


def prices(text: str) -> list[tuple[int | float, str]]:
    return [(p.amount, p.currency) for p in find_prices(normalize(text).text)]


@pytest.mark.parametrize("text, expected", [
    ("Rs 500/-", [(500, "PKR")]),
    ("rs.3,500", [(3500, "PKR")]),
    ("PKR 1,200", [(1200, "PKR")]),
    ("₨ 750", [(750, "PKR")]),
    ("1,500/-", [(1500, "PKR")]),
    ("500rs", [(500, "PKR")]),
    ("400 rupay", [(400, "PKR")]),
    ("300 rupees", [(300, "PKR")]),
    ("۲۰۰۰ روپے", [(2000, "PKR")]),
    ("قیمت ۵۰۰ روپے۔ کاپی ۸۰۰ روپے، جلدی", [(500, "PKR"), (800, "PKR")]),   # Urdu full stop and comma
    ("5k", [(5000, "PKR")]),
    ("2.5k", [(2500, "PKR")]),
    ("5 hazar rupay", [(5000, "PKR")]),
    ("10 ہزار", [(10000, "PKR")]),
    ("1.5 lakh", [(150000, "PKR")]),
    ("2 lac", [(200000, "PKR")]),
    ("1 crore PKR", [(10000000, "PKR")]),
    ("1,95,000/-", [(195000, "PKR")]),
    ("$20", [(20, "USD")]),
    ("$15.00", [(15, "USD")]),
    ("50 dollars", [(50, "USD")]),
    ("20 usdt (TRC20)", [(20, "USDT")]),
    ("35k USDT", [(35000, "USDT")]),
    ("0.002 btc", [(0.002, "BTC")]),
    ("0.3 XMR", [(0.3, "XMR")]),
    ("€80", [(80, "EUR")]),
    ("£40", [(40, "GBP")]),
    ("40 پاؤنڈ", [(40, "GBP")]),
    ("150 AED", [(150, "AED")]),
    ("inr 300", [(300, "INR")]),
    ("Rs 900 (≈ $3.20)", [(900, "PKR"), (3.2, "USD")]),
    ("0.9 BTC or 35,000 USDT", [(0.9, "BTC"), (35000, "USDT")]),
    ("800 EUR or the equivalent in USDT", [(800, "EUR")]),
])
def test_price_formats(text, expected):
    assert prices(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Price: 1500", [(1500, "PKR")]),
    ("1000 tak de dunga", [(1000, "PKR")]),
    ("Sirf 300 rupay. Telenor 350, Zong 350.", [(300, "PKR"), (350, "PKR")]),
    ("Rate: 400 rupay per number. 5 number ke 1500.", [(400, "PKR"), (1500, "PKR")]),
])
def test_bare_amounts_in_price_context_are_pkr(text, expected):
    assert prices(text) == expected


@pytest.mark.parametrize("text", [
    "4.1M rows", "10 lakh records", "100k rows sample", "bulk (10k+)", "+50% urgent", "30 days", "2.3GB csv",
    "escrow fee 5%", "Fresh batch Feb 2025.", "1000 random rows",
])
def test_counts_sizes_and_percentages_are_not_prices(text):
    assert prices(text) == []


def test_each_price_tag_once_in_text_order():
    assert prices("CDR Rs 5000, location Rs 2000, CDR again Rs 5000") == [(5000, "PKR"), (2000, "PKR")]


def test_prices_only_for_offers_and_requests():
    offer = extract("CNIC copy available, Rs 500 each. WhatsApp 0300-1234567")
    assert offer.kind == "offer" and offer.prices == (Price(500, "PKR"),)
    bundle = extract("Jazz weekly bundle: 30GB internet + 5000 minutes sirf Rs 399. Dial *453#")
    assert bundle.kind == "other" and bundle.prices == ()


OFFER = "CNIC copy available, DM @cnic_shop. "


@pytest.mark.parametrize("layout, expected", [
    # the post, and the currency on either side of the amount
    ("CNIC copy 35202-1234567-1 Rs 500 whatsapp 03001234567", [(500, "PKR")]),
    ("35202-1234567-1 Rs 500", [(500, "PKR")]),
    ("35202-1234567-1 500 Rs", [(500, "PKR")]),
    ("35202-1234567-1 PKR 1,500", [(1500, "PKR")]),
    ("35202-1234567-1 1500/-", [(1500, "PKR")]),
    ("35202-1234567-1 Rs.500", [(500, "PKR")]),
    ("35202-1234567-1 ₨500", [(500, "PKR")]),
    ("35202-1234567-1 $20", [(20, "USD")]),
    ("35202-1234567-1 20$", [(20, "USD")]),
    ("35202-1234567-1 3 hazar", [(3000, "PKR")]),
    ("35202-1234567-1 0.002 btc", [(0.002, "BTC")]),
    # punctuation or a line break between, the price before or after the CNIC
    ("35202-1234567-1, Rs 500", [(500, "PKR")]),
    ("35202-1234567-1: Rs 500", [(500, "PKR")]),
    ("35202-1234567-1 (Rs 500)", [(500, "PKR")]),
    ("35202-1234567-1\nRs 500", [(500, "PKR")]),
    ("Rs500/35202-1234567-1", [(500, "PKR")]),
    ("Rs 500 - 35202-1234567-1", [(500, "PKR")]),
    ("500 Rs 35202-1234567-1", [(500, "PKR")]),
    ("$20 for 35202-1234567-1", [(20, "USD")]),
    ("35202-1234567-1Rs500", [(500, "PKR")]),
    # a CNIC written without dashes or with spaces
    ("cnic 3520212345671 Rs 500", [(500, "PKR")]),
    ("cnic 3520212345671 500 rs", [(500, "PKR")]),
    ("35202 1234567 1 PKR 1,500", [(1500, "PKR")]),
    # phone numbers in Pakistani formats
    ("03001234567 Rs 500", [(500, "PKR")]),
    ("03001234567 500 rs", [(500, "PKR")]),
    ("Rs 500 03001234567", [(500, "PKR")]),
    ("0300-1234567 Rs 500", [(500, "PKR")]),
    ("0300 1234567 500 rs", [(500, "PKR")]),
    ("+92 300 1234567 rs 500", [(500, "PKR")]),
    ("+923001234567, 1500/-", [(1500, "PKR")]),
    ("0092-300-1234567 PKR 700", [(700, "PKR")]),
    ("whatsapp 0321 1234567\nprice 1500", [(1500, "PKR")]),
    # several prices among identifiers
    ("0300-1234567 Rs. 500 and 35202-1234567-1 rs 800", [(500, "PKR"), (800, "PKR")]),
    ("35202-1234567-1 Rs 500, 35202-7654321-3 $4", [(500, "PKR"), (4, "USD")]),
    ("teaser 35202-87xxxxx-x Rs 700", [(700, "PKR")]),
    # digits inside longer alphanumeric or hex tokens are not amounts
    ("ref a1b2c3500rs, 35202-1234567-1 Rs 900", [(900, "PKR")]),
    ("tx 9f3e500k, 35202-1234567-1", []),
    ("IBAN PK36SCBL0000001123456702 rs 300", [(300, "PKR")]),
    ("IBAN PK36 SCBL 0000 0011 2345 6702 rs 300", [(300, "PKR")]),
    # identifiers only: no price
    ("35202-1234567-1 03001234567", []),
    ("35202-1234567-1, 35202-7654321-3, +92 300 1234567", []),
    ("whatsapp 03001234567\n35202-1234567-1", []),
    ("cnic 3520212345671 whatsapp 0092 300 1234567", []),
    ("numbers 0338 1234567, 042-35761234", []),
])
def test_identifier_and_phone_digits_are_never_a_price(layout, expected):
    found = extract(OFFER + layout)
    assert found.kind == "offer"
    assert [(p.amount, p.currency) for p in found.prices] == expected


def test_amounts_are_int_when_whole():
    (price,) = extract("NADRA family tree for $15.00, DM @tree_pk").prices
    assert price == Price(15, "USD") and isinstance(price.amount, int)


@pytest.mark.parametrize("text, volume", [
    ("Full set: 4.1M rows, CSV", 4_100_000),
    ("10 lakh records of Punjab", 1_000_000),
    ("~38k rows total", 38_000),
    ("40M+ records", 40_000_000),
    ("61,402 pax records", 61_402),
    ("2,40,000 lines", 240_000),
    ("۵ لاکھ ریکارڈ", 500_000),
    ("4 SIMs registered", None),
    ("price 50k", None),
])
def test_volume(text, volume):
    found = find_volume(normalize(text).text)
    assert (found[0] if found else None) == volume


def test_volume_is_reported_for_offers():
    ex = extract("Zong subscriber dump 2024, 28.6M rows, msisdn+name+address. 0.9 BTC. Session only.")
    assert ex.kind == "offer" and ex.volume == 28_600_000

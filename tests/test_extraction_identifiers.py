"""Identifiers: CNIC, Pakistani mobiles and passports, validated; masked ones are cues, not identifiers."""
from __future__ import annotations

import pytest

from nigran.pipelines.extraction import extract, find_identifiers
from nigran.pipelines.redact import redact


def values(text: str) -> list[tuple[str, str]]:
    return [(f.type, f.value) for f in find_identifiers(text)]


# ---- CNIC ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Sample: 35202-1234567-1",
    "id 35202 1234567 1 lahore",
    "۳۵۲۰۲-۱۲۳۴۵۶۷-۱",
    "35202\u20131234567\u20131",
])
def test_dashed_or_spaced_cnic_stands_alone(text):
    assert values(text) == [("cnic", "35202-1234567-1")]


def test_ajk_cnic_with_dashes_is_accepted():
    assert values("card no 81234-5678901-2") == [("cnic", "81234-5678901-2")]


@pytest.mark.parametrize("text", [
    "CNIC: 3520212345671",
    "shanakhti card number 3520212345671 hai",
    "شناختی کارڈ نمبر ۳۵۲۰۲۱۲۳۴۵۶۷۱",
    "NICOP no. 3520212345671",
    "b-form 3520212345671",
    "cnic 3 5 2 0 2 1 2 3 4 5 6 7 1",
])
def test_undashed_cnic_needs_a_cue_before_it_on_the_line(text):
    assert values(text) == [("cnic", "35202-1234567-1")]


@pytest.mark.parametrize("text", [
    "Rs 5,000 bheje Imran ko - TID 3520212345671",
    "order=3520212345671 status=DELIVERED",
    "pending 0.04 BTC (ref 4220112345678)",
    "created_at=1712345678901 user verified",
    "ts 1698765432109",
    "CNIC verified, transaction id 3520212345671",       # a transaction word sits between cue and number
    "assert not is_valid_cnic('8123456789012')",         # bare 13 digits starting with 8
    "92345-1234567-1 and 00000-0000000-0",               # first digit must be 1-8
    "3520212345671",                                     # no cue at all
])
def test_transaction_ids_epoch_millis_and_invalid_shapes_are_not_cnics(text):
    assert not [v for v in values(text) if v[0] == "cnic"]


def test_bare_cnics_under_a_cnic_column_of_a_table():
    text = ("msisdn|cnic|naam|shehar\n"
            "03001234567|3520212345671|Ali Raza|Lahore\n"
            "03111234567|4210112345672|Sana Bibi|Karachi\n")
    assert values(text) == [
        ("pk_mobile", "+923001234567"), ("cnic", "35202-1234567-1"),
        ("pk_mobile", "+923111234567"), ("cnic", "42101-1234567-2"),
    ]


def test_bare_numbers_outside_the_cnic_column_are_not_cnics():
    text = "order,cnic,city\n3520212345671,none,Multan\n"
    assert values(text) == []


def test_masked_cnic_is_a_cue_not_an_identifier():
    ex = extract("Sample: 35202-12xxxxx-1 and 0300-12xxxxx. Full file 5k. DM @leaks_pk", explain=True)
    assert ex.identifiers == ()
    assert {"masked_cnic", "masked_mobile"} <= {c.kind for c in ex.cues}


# ---- mobiles -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "0300-1234567", "03001234567", "0300 123 4567", "+92 300 1234567", "+92-300-1234567", "923001234567",
    "0092 300 1234567", "0092-300-1234567", "(0300) 1234567", "۰۳۰۰۱۲۳۴۵۶۷", "wa.me/923001234567",
    "+92 (0) 300 1234567", "0 3 0 0 1 2 3 4 5 6 7", "Contact:-03001234567",
])
def test_mobile_formats_normalise_to_e164(text):
    assert values(text) == [("pk_mobile", "+923001234567")]


@pytest.mark.parametrize("text", [
    "042-35761234",          # Lahore landline
    "051-9106384",           # Islamabad landline
    "021-111-738-462",       # UAN
    "0800-27782",            # toll free
    "04235761234",           # landline written like an 11-digit mobile
    "0338-1234567",          # not a PK mobile range
    "3001234567",            # no 0 / 92 prefix
    "IMEI 356938035643809",
])
def test_landlines_and_non_mobiles_are_rejected(text):
    assert values(text) == []


def test_sco_mobile_range_is_a_mobile():
    assert values("923554846566, Karim Khan") == [("pk_mobile", "+923554846566")]


# ---- passports ---------------------------------------------------------------------------

def test_passport_needs_passport_or_travel_talk():
    assert values("Passport no ab1234567, issued Lahore") == [("passport", "AB1234567")]
    assert values("travel history for CD7654321 available") == [("passport", "CD7654321")]
    assert values("product code ab1234567") == []


def test_extraction_lists_each_identifier_once_masking_finds_every_sighting():
    text = "CNIC 35202-1234567-1 mobile 0300-1234567, again 03001234567 and 35202-1234567-1, passport AB1234567"
    assert [(f.type, f.value) for f in extract(text).identifiers] == [
        ("cnic", "35202-1234567-1"), ("pk_mobile", "+923001234567"), ("passport", "AB1234567")]
    assert values(text) == [("cnic", "35202-1234567-1"), ("pk_mobile", "+923001234567"), ("pk_mobile", "+923001234567"),
                            ("cnic", "35202-1234567-1"), ("passport", "AB1234567")]


def test_spans_point_at_the_raw_text():
    text = "CNIC ۳۵۲۰۲-۱۲۳۴۵۶۷-۱ فون ۰۳۰۰-۱۲۳۴۵۶۷"
    found = find_identifiers(text)
    assert [text[f.start:f.end] for f in found] == ["۳۵۲۰۲-۱۲۳۴۵۶۷-۱", "۰۳۰۰-۱۲۳۴۵۶۷"]


def test_identifiers_are_reported_whatever_the_kind():
    ex = extract("My CNIC 35202-1234567-1 was misused, someone got a SIM on it. My number 0300-1234567. Help!")
    assert ex.kind == "other"
    assert [(f.type, f.value) for f in ex.identifiers] == [("cnic", "35202-1234567-1"), ("pk_mobile", "+923001234567")]


def test_an_identifier_written_twice_is_masked_both_times():
    text = "CNIC 35202-1234567-1 and 0301-2345678, again 0301-2345678 or 03012345678; cnic 35202-1234567-1"
    stored = redact(text)
    assert "1234567" not in stored and "2345678" not in stored and "23456" not in stored
    assert stored.count("35202-*******-*") == 2 and stored.count("0301-*******") == 2
    assert [f.value for f in find_identifiers(text)].count("+923012345678") == 3
    assert [f.value for f in extract(text).identifiers].count("+923012345678") == 1  # the label contract: unique

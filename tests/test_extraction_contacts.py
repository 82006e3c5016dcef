"""Contacts: how to reach the poster, and only the poster."""
from __future__ import annotations

from nigran.pipelines.extraction import extract

ONION = "qdxfzcworfxyefjp5ofzk3qaz6r6royc77gb524ne5spo2fysvvdflyd.onion"
SESSION = "05584941cfefc09f0a3e8edc6ce9354b5efe3f92c6689a0411a9eb0205147a5e1f"


def contacts(text: str) -> list[tuple[str, str]]:
    return [(c.type, c.value) for c in extract(text).contacts]


def test_telegram_handles_links_and_labels():
    text = "CNIC copies. Orders: @Data_Wala92, channel t.me/PkLeaks_Channel, Telegram: panel_owner_786"
    assert contacts(text) == [("telegram", "@data_wala92"), ("telegram", "@pkleaks_channel"),
                              ("telegram", "@panel_owner_786")]


def test_telegram_label_needs_a_handle_not_a_word():
    assert contacts("Telegram: available soon") == []


def test_email_onion_and_session():
    text = f"mail Leaks.PK@Proton.me or {ONION}/shop or Session {SESSION}"
    assert contacts(text) == [("email", "leaks.pk@proton.me"), ("onion", ONION), ("session", SESSION)]


def test_onion_must_be_v3_with_a_valid_checksum():
    broken = ONION[:10] + ("a" if ONION[10] != "a" else "b") + ONION[11:]
    assert contacts(f"mirror {broken} and old shy5p5kckab7ct5q.onion") == []


def test_masked_emails_in_leaked_rows_are_not_contacts():
    text = ("name | email | phone\nHira | hira.t***@gmail.com | 0311-0887572\n"
            "Usman | usman.g@yahoo.com | 0300-4483439\ncontact: seller_x@cock.li")
    assert contacts(text) == [("email", "seller_x@cock.li")]


def test_whatsapp_numbers_are_contacts_and_identifiers():
    ex = extract("Family tree 1500. WhatsApp: 0308-5310269. Payment Easypaisa 0347-5636371")
    assert [(c.type, c.value) for c in ex.contacts] == [("whatsapp", "+923085310269")]
    assert [(f.type, f.value) for f in ex.identifiers] == [("pk_mobile", "+923085310269"),
                                                          ("pk_mobile", "+923475636371")]


def test_whatsapp_spellings_and_links():
    assert contacts("watsapp karo 0300 1234567") == [("whatsapp", "+923001234567")]
    assert contacts("whtsp: +92-321-1234567") == [("whatsapp", "+923211234567")]
    assert contacts("واٹس ایپ پر رابطہ کریں: ۰۳۳۶۴۱۴۸۴۹۰") == [("whatsapp", "+923364148490")]
    assert contacts("msg on wa.me/923247140430") == [("whatsapp", "+923247140430")]


def test_foreign_whatsapp_is_a_contact_only():
    ex = extract("Travel history 3500 rupay. WhatsApp (Dubai number): +971 55 418 2730")
    assert [(c.type, c.value) for c in ex.contacts] == [("whatsapp", "+971554182730")]
    assert ex.identifiers == ()


def test_call_only_and_wallet_numbers_are_not_contacts():
    text = "CDR 5k. Call 0300-1234567 (no WhatsApp). JazzCash 0301-7654321"
    assert contacts(text) == []


def test_scammer_named_in_a_warning_is_not_a_contact():
    text = ("SCAM ALERT: @cdr_king_official took my 5000 and blocked me. His JazzCash 0330-4813989. "
            "Don't pay him, report to FIA.")
    ex = extract(text)
    assert ex.kind == "other" and ex.contacts == ()
    assert [(f.type, f.value) for f in ex.identifiers] == [("pk_mobile", "+923304813989")]


def test_channels_named_in_news_are_not_contacts():
    text = ("FIA arrested the admin of @nadra_data_pk after an inquiry; officials said the channel sold CNIC copies. "
            "Investigation continues, sources said.")
    assert contacts(text) == []


def test_contacts_are_reported_for_other_posts_too():
    assert contacts("Netflix 4K screens Rs 450. Order: @ott_accounts_pk") == [("telegram", "@ott_accounts_pk")]


def test_handles_are_not_read_as_words():
    ex = extract("Known fake sellers: @nadra_official_data and @sim_detail_24h. Never pay them.")
    assert ex.kind == "other" and ex.categories == ()

"""Offer / request / other and the data categories, in English, Roman Urdu and Urdu, with the hard look-alikes."""
from __future__ import annotations

import pytest

from nigran.pipelines.extraction import extract

OFFERS = [
    # English
    ("Selling fresh Pakistani ID card scans, front and back, HD. 50 for $30. DM @idscan_seller", ["cnic"]),
    ("Any mobile number -> owner name, CNIC and home address. All networks. 300 PKR per query. t.me/ownerlookup",
     ["sim"]),
    ("We provide complete call history (incoming/outgoing + SMS) for any Pakistani number. 1 month = 6000 rs. "
     "Whatsapp 03211234567", ["call_logs"]),
    ("Immigration entry/exit records for any Pakistani passport. Fast turnaround. Price 40 usdt.", ["travel"]),
    ("Leaked: Telenor subscriber database 2023, 12M records, msisdn+name+cnic. Sample on request. 1.2 BTC. "
     "contact: leaker99@protonmail.com", ["cnic", "sim"]),
    ("Real-time GPS location of any Jazz/Zong number. 2k per ping. inbox @pinpoint_pk", ["sim"]),
    ("Doxxing service PK: ID card copy, all SIMs, CDR 3 months, travel history. 100 USDT full package.",
     ["call_logs", "cnic", "sim", "travel"]),
    ("CDR report with cell tower locations, 2 months, 9000 PKR. Orders on Session.", ["call_logs", "sim"]),
    ("Punjab citizens DB 2024 (name, cnic, dob, address) 18M rows - 2 BTC - samples in channel", ["cnic"]),
    ("CNIC + SIM combo list Karachi, fresh 2025, 1 lakh lines, 250 usdt", ["cnic", "sim"]),
    ("Pakistani car owners database (Punjab excise) 3 lac rows for sale, 500 usdt. mail: excise_dump@tuta.io", []),
    ("Students database of a Lahore university (names, CNIC, phone, address) 45k rows. $200", ["cnic"]),
    ("Fresh PK combo: 03xx numbers with CNIC and name, 500k lines, txt format, $150", ["cnic", "sim"]),
    # Roman Urdu
    ("Kisi bhi number ka pura record nikalwayen: naam, shanakhti card number, address. Fee sirf 500 rupay. "
     "Rabta 0301-2345678 (whatsapp)", ["sim"]),
    ("Shanakhti card ki copy aur family ka shajra dono milenge. 1000 rupay. Telegram pe rabta karein @shajra_wala",
     ["cnic"]),
    ("Call record nikalwana ho to raabta karein. Ek mahine ka record 4 hazar. JazzCash advance.", ["call_logs"]),
    ("Bahar kab gaya kab wapis aya sab pata chal jayega. Travel record 3000 rupay. whtsp 0333-1112223", ["travel"]),
    ("SIM kis ke naam pe hai? Sirf number bhejo, 10 minute mein naam aur CNIC. 200 rupay. watsapp 03451239876",
     ["sim"]),
    # Urdu
    ("ہمارے پاس کسی بھی شناختی کارڈ کا مکمل ریکارڈ دستیاب ہے۔ قیمت ۱۵۰۰ روپے۔ رابطہ: ۰۳۰۰۱۲۳۴۵۶۷", ["cnic"]),
    ("کسی بھی نمبر کی کال ہسٹری صرف ۵۰۰۰ روپے میں۔ واٹس ایپ کریں ۰۳۲۱۱۲۳۴۵۶۷", ["call_logs"]),
    ("سم مالکان کا ڈیٹا اور شناختی کارڈ کی کاپیاں دستیاب ہیں۔ رابطہ کریں: @sim_data_ur", ["cnic", "sim"]),
    # a free dump with sample rows and no price or contact is still an offer
    ("SCO subscribers Gilgit - leaked, free\nMSISDN, NAME, DISTRICT\n923554846566, Karim Khan, Gilgit\n"
     "923558499909, Noor Jahan, Skardu\n~38k rows, link in the comments", ["sim"]),
]

OBFUSCATED = [
    ("C N I C copy dastiyab hai, 800 Rs, DM karein", ["cnic"]),
    ("c.n.i.c ki copy milegi 500 rs inbox", ["cnic"]),
    ("s1m 0wner detail milegi, 300 rs, inbox", ["sim"]),
    ("cn1c c0py available 700 rs dm", ["cnic"]),
    ("C🔥D🔥R available 🔥 1 month 5k 🔥 DM", ["call_logs"]),
    ("SIM\u200b owner\u200b details 400 rs whatsapp 0300 1234567", ["sim"]),
    ("𝐂𝐍𝐈𝐂 𝐂𝐎𝐏𝐘 available Rs 600 inbox", ["cnic"]),
]

REQUESTS = [
    ("WTB Pakistani SIM database, paying up to 1000 USDT. Escrow only. @buyerpk", ["sim"]),
    ("Need someone who can pull CDR of a Zong number, budget 8k, urgent", ["call_logs"]),
    ("Koi bhai bata sakta hai kisi ke pass NADRA ka access hai? Ek family tree chahiye, paise dunga", ["cnic"]),
    ("Mujhe is passport number ki travel history chahiye AB1234567, 10k tak de dunga", ["travel"]),
    ("looking for a vendor who sells PK phone number owner lookups in bulk. pm me", ["sim"]),
    ("مجھے ایک بندے کی لوکیشن چاہیے، جو کر سکتا ہے رابطہ کرے، پیسے دوں گا", ["sim"]),
    ("Anyone selling fresh NADRA data? Need around 10k records, will pay well. DM", ["cnic"]),
    ("Where can I get call logs of a Telenor number? Urgent. Can pay 5000", ["call_logs"]),
    ("kisi ke paas jazz ka data hai 2024 wala? pese denge", ["sim"]),
    ("Bahir ke mulk ki entry exit ka record chahiye ek bande ka. Jo nikal sakta hai batao, 5000 dunga.", ["travel"]),
    ("Bhai log koi CDR wala banda hai? Mujhe ek number ki 2 mahine ki call details chahiye. Rate batao.",
     ["call_logs"]),
]

# Every look-alike family the issue lists, written fresh.
HARD_NEGATIVES = {
    "breach news": [
        "Police arrested two franchise employees in Lahore for selling citizens' SIM data and CNIC copies to "
        "fraudsters, FIA said on Monday. The accused had sold records for Rs 500 each.",
        "Report: personal data of millions of Pakistanis, including CNIC details and travel history, is being sold on "
        "Telegram for as little as $5, according to a cybersecurity firm.",
        "نادرا کے ملازمین شہریوں کا ڈیٹا فروخت کرنے کے الزام میں گرفتار، ایف آئی اے نے مقدمہ درج کر لیا",
        "Khabar: PTA ne 500 websites block kar di jo logon ka CDR aur family tree bech rahi thi.",
        "Tribune: NCCIA blocks 1,372 websites offering citizens' CNIC copies, travel records and SIM data for sale.",
    ],
    "victim complaint": [
        "Someone used my CNIC to get 3 SIMs issued in my name. How can I block them? I already complained to PTA.",
        "Mere naam pe kisi ne SIM nikalwa li hai, CNIC copy misuse hui hai, kya karun?",
        "My phone was snatched. Police asked for IMEI and my CNIC copy to register FIR. How long does it take?",
    ],
    "warning": [
        "Beware of @fast_cdr_service, he took 5000 from me and never sent the call records. Scammer!",
        "Warning: these Telegram channels sell fake NADRA family trees. Don't pay anyone. Report to PTA.",
        "Alert: koi bhi aap se CNIC copy ya OTP maange to na dein. Ye fraud hai. Report to FIA 1991.",
    ],
    "PTA / operator notice": [
        "Apni SIMs check karne ke liye apna CNIC number 668 par SMS karein. PTA",
        "PTA advisory: Never share your CNIC copy, OTP or biometric with anyone. Check SIMs registered on your CNIC "
        "by sending CNIC to 668.",
        "Dear customer, please visit your nearest Zong franchise with original CNIC for biometric verification of "
        "your SIM. Zong will never ask for your OTP.",
        "اپنے شناختی کارڈ پر رجسٹرڈ سمز کی تعداد جاننے کے لیے شناختی کارڈ نمبر 668 پر بھیجیں۔ پی ٹی اے",
    ],
    "SEO page about SIM owner checks": [
        "How to check SIM owner details in Pakistan 2025: Step 1 open the PTA website, Step 2 enter your CNIC number. "
        "This guide explains the official method to find how many SIMs are registered on your CNIC.",
        "SIM Owner Details Online - Check Sim Information Pakistan. Enter any mobile number to find owner name. "
        "Free live tracker tool. Best site for sim data 2025.",
    ],
    "SIM bundle ad with a price": [
        "Zong Super Weekly Max: 25GB + 1000 minutes sirf Rs 350. Dial *6464#. Offer for prepaid customers.",
        "Jazz 4G SIM delivery at home! Order now, Rs 300 only, biometric verification at doorstep with original "
        "CNIC. Call 0300-1112223",
        "Telenor Easy Card: 10GB internet, 600 minutes, Rs 499 only. New SIM available at all franchises with CNIC.",
    ],
    "travel agency ad": [
        "Al-Habib Travels: Umrah package 3.2 lakh, Dubai visa 25,000. Documents: passport copy, CNIC copy, photos. "
        "WhatsApp 0321-5556667",
        "Sky Travels: Saudi visa, air tickets, hotel booking. Send passport copy and CNIC on WhatsApp 0300-1234560",
    ],
    "job post asking for a CNIC copy": [
        "Job opening: Sales officer, salary 40k. Send CV and CNIC copy to hr@company.pk. Last date 30 June.",
        "Riders required for food delivery. Bike aur CNIC zaroori hai. Salary 35,000. Call 0345-1234567",
        "Need 5 data entry operators. Bring your CNIC copy, CV and photos for interview. Salary 30k.",
    ],
    "research and discussion": [
        "In our research we found 40 Telegram channels advertising NADRA records, CDRs and travel histories; prices "
        "ranged from Rs 500 to Rs 5,000.",
        "Is selling CDR actually illegal in PK? Yes, PECA makes it an offence and the FIA arrests franchise staff.",
    ],
    "official service": [
        "NADRA ki taraf se naya card issue ho gaya, fee 750 rupay thi. Alhamdulillah.",
        "Apply for your NICOP online through Pak-ID. Fee: Rs 2,500 normal, Rs 5,000 urgent.",
    ],
    "SIM and phone goods": [
        "Golden number available: 0300-0000007, 0321-1111111. Rs 50,000 each. Call 0345-1234567",
        "Check who is calling you! Caller ID app shows name of unknown numbers. Free download.",
    ],
    "other goods": [
        "Selling my old iPhone 12, 128GB, PTA approved. 1.2 lakh. WhatsApp 0300-7654321",
        "CNIC card template PSD, editable, blank front and back, no real data. $12",
    ],
}


@pytest.mark.parametrize("text, categories", OFFERS + OBFUSCATED)
def test_offers(text, categories):
    ex = extract(text)
    assert (ex.kind, list(ex.categories)) == ("offer", categories)


@pytest.mark.parametrize("text, categories", REQUESTS)
def test_requests(text, categories):
    ex = extract(text)
    assert (ex.kind, list(ex.categories)) == ("request", categories)


@pytest.mark.parametrize("family, text", [(f, t) for f, texts in HARD_NEGATIVES.items() for t in texts])
def test_hard_negatives_are_other(family, text):
    ex = extract(text)
    assert (ex.kind, ex.categories, ex.prices) == ("other", (), ()), family


def test_explain_lists_the_cues_with_spans():
    text = "CNIC copy available, Rs 500. WhatsApp 0300-1234567"
    ex = extract(text, explain=True)
    kinds = {c.kind for c in ex.cues}
    assert {"category:cnic", "sell", "price", "contact"} <= kinds
    for cue in ex.cues[:-1]:
        assert text[cue.start:cue.end] == cue.text
    assert ex.cues[-1].kind == "decision" and ex.cues[-1].text.startswith("offer: score")
    assert extract(text).cues == ()


def test_negative_cues_are_explained():
    ex = extract(HARD_NEGATIVES["breach news"][0], explain=True)
    assert any(c.kind == "negative:news" for c in ex.cues)

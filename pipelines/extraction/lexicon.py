"""Phrase lexicons: English, Roman Urdu and Urdu cues, each with a kind and a weight.

Syntax of a phrase (matched on normalised tokens, see ``cues.py``):
  * words are separated by spaces; ``a/b/c`` is one slot with alternatives;
  * ``..`` skips up to three tokens;
  * spelling is folded before matching: doubled letters collapse
    ("raabta" = "rabta", "chahiyee" = "chahiye") and digits inside words are
    read as letters ("s1m" = "sim"), so list one form of each and add only
    the variants that differ in more than that.
Each entry is (kind, weight, phrases); phrases are separated by ";".
At each token the longest phrase wins, so a longer phrase can neutralise a
shorter one ("nahi chahiye", "were selling").

Kinds:
  category:<c>   the data type <c> is on offer or wanted (strong evidence)
  mention:<c>    a word for <c> that is weak alone ("cnic" as a lookup key, "sim")
  lookup:owner   number/owner lookups ("number ki detail", "kis ke naam"): sim,
                 or data:other when the post is about vehicles
  data:other     personal data outside the four types
  vehicle        vehicle words
  sell, request, cta, payment     signals of a deal
  neutral        phrases that would otherwise fire wrongly ("don't sell")
  negative:<f>   look-alike families: news, warning, ban, notice, service,
                 howto, victim, ad, job, docs, nodata, discussion, code
"""
from __future__ import annotations

import re

_SCAN = ("copy/copies/scan/scans/scanned/pic/pics/picture/pictures/photo/photos/image/images/photocopy/"
         "photocopies/selfie/selfies/tasveer/tasver/pdf")
_ID = "cnic/cnics/nic/snic/nicop/shanakhti/shnakhti/shanakti/shanakhati/shinakhti"
_URDU_ID = "شناختی/شناحتی"
_RECORD = ("data/record/records/detail/details/info/information/database/db/dump/dumps/list/report/tafseel/"
           "tafsil/tafseelat")
_CHAHIYE = ("chahiye/chahye/chaiye/chahie/chaye/chahiy/chahiay/chahyie/chaheye/chahiey/chiye/chaheay/chaihye/"
            "chahea/chahiya/chahiyen/chahiyain")
_URDU_CHAHIYE = "چاہیے/چاہئے/چاہیئے/چاہیۓ/چاہئیں/چاہیں"
_DUNGA = "dunga/dungi/dun/doon/donga"
_KE = "ke/k/kay/kai/ki"
_NUMBER = "number/numbers/mobile/mobiles/phone/cell/msisdn/num"
_OPERATOR = "jazz/mobilink/zong/telenor/ufone/warid/sco/onic/operator/operators/telco/telecom/network"
_LOOKUP = ("info/information/lookup/lookups/checker/detail/details/owner/owners/trace/tracing/tracking/tracker/"
           "location/locate")
_TRAVEL = "travel/travels/travelling/traveling/travelled/traveled"
_TRAVEL_RECORD = "history/histories/record/records/data/info/status/log/logs/report/detail/details"
_PEOPLE = ("customer/customers/consumer/consumers/client/clients/user/users/member/members/patient/patients/student/"
           "students/employee/employees/voter/voters")
_PEOPLE_DATA = "data/database/databases/db/table/list/records/record/dump/dumps/details/info/leak"
_VEHICLE = "vehicle/vehicles/car/cars/bike/bikes/motorcycle/gari/gadi/gaadi"
_PRINTS = "fingerprint/fingerprints/biometric/biometrics/thumb/thumbs/angootha/angoothe"
_PER = ("record/records/lookup/lookups/number/person/report/search/searches/query/banda/bandah/banday/bande/copy/"
        "passport/cnic/month/district/city/target/profile/order/sim/item/request/ping/gari/nafar/entry/row/page/hour/"
        "day/ریکارڈ/بندہ/نمبر/شخص")

LEXICON: tuple[tuple[str, int, str], ...] = (
    # ---- cnic -------------------------------------------------------------------------
    ("category:cnic", 3, f"""
        {_ID} .. {_SCAN}; {_ID} card/cards .. {_SCAN}; id/identity card/cards .. {_SCAN}; id {_SCAN};
        {_SCAN} of .. {_ID}/id/ids/identity; colour/color/colored/coloured copy/copies/scan/scans;
        front .. back; front/back side; card ki copy/copies; nadra; nadara; verisys; verysis;
        family tree/trees/tre; familytree; family registration; frc/frcs; crc; b form/forms; bform;
        shajra/shajrah/shijra/shajara; khandani shajra/record/detail/details/data;
        khandan ki/ka/ke detail/details/record/tafseel; ghar walon ki detail/details;
        family ki detail/details/record/tafseel/data; nicop/nicops; poc card; {_ID} {_RECORD};
        {_ID} ki/ka/ke detail/details/tafseel/record/data/info; id card {_RECORD}; identity {_RECORD};
        id records/data/database; citizen/citizens data/record/records/database/db/dump;
        {_URDU_ID} کارڈ .. کاپی/کاپیاں/نقل/نقول/تصویر/تصاویر/اسکین/سکین/فوٹو/فوٹوکاپی;
        {_URDU_ID} کارڈ .. ڈیٹا/ریکارڈ/معلومات; کارڈ کی کاپی/کاپیاں/نقل/نقول; نادرا; فیملی ٹری; فیملی ٹریز;
        خاندانی شجرہ/شجرۂ/ریکارڈ; شجرہ; شجرۂ; خاندان .. ریکارڈ/تفصیل/تفصیلات; نائیکوپ; نیکوپ; نائکوپ; ب فارم;
        بی فارم; بے فارم; فیملی رجسٹریشن; ویریسس"""),
    ("mention:cnic", 1, f"""
        {_ID}; id card/cards; identity card/cards; qaumi shanakhti card; {_URDU_ID}; قومی شناختی"""),
    # ---- sim ----------------------------------------------------------------------------
    ("category:sim", 3, f"""
        sim/sims/simcard/simcards owner/owners/ownership/malik/holder/holders/registration/registrations/lookup/lookups;
        sim/sims/simcard/simcards {_RECORD}; sim/sims card owner/owners/details/detail/data/record/records;
        sim/sims ki/ka/ke detail/details/tafseel/record/data/list/malik/malikan; sim/sims kis ke/k nam;
        kitni/kitne/kitny sim/sims; how many sim/sims; all/sari/saari/tamam/every/each sim/sims;
        sim/sims on/registered .. {_ID}/name/nam/id; sim/sims registered/issued;
        registered sim/sims/numbers/mobiles/connections; {_ID} to/se sim/sims/number/numbers/mobile/mobiles;
        {_ID} pe/par/per/pr .. sim/sims;
        {_OPERATOR} {_RECORD}/subscriber/subscribers/customers/users/leak/leaks;
        {_OPERATOR} ka/ki/ke data/database/db/record/records/dump; subscriber/subscribers;
        subscriber/subscribers {_RECORD}; msisdn/msisdns; imsi; bvs/dirbs records/data/dump/record;
        live/current/exact/real/realtime/precise/cell/gps location/locations/lokation/loc;
        real time location/locations/tracking; gps tracking/tracker/location;
        location/locations of .. {_NUMBER}/sim/target; location/locations tracking/trace/tracker/ping/pin;
        track/trace/locate .. {_NUMBER}/target; tracking/tracker/tracing;
        tower/towers location/locations/dump/data; cell site/sites/tower; imei tracking/trace/lock;
        imei to number; سم/سمز/سمیں/سموں .. مالک/مالکان/تفصیل/تفصیلات/ڈیٹا/ریکارڈ/معلومات/فہرست; سم کس کے نام;
        لائیو لوکیشن; موجودہ لوکیشن; لوکیشن; ٹریکنگ; رجسٹرڈ .. سمز/سمیں/سم/نمبرز; سمز/سمیں .. رجسٹرڈ; سبسکرائبر;
        سبسکرائبرز"""),
    ("lookup:owner", 3, f"""
        owner/owners/malik ka/ki/ke .. nam/naam/name/address/pata/detail/details/tafseel;
        owner/owners name/names/details/detail/info/information/address/addresses/cnic/cnics/nic/id/data;
        kis ke/k nam/naam pe/par/per/pr/hai; kis ke/k nam/naam; کس کے نام;
        {_NUMBER} to name/names/owner/cnic/address/detail/details/info/location; {_NUMBER} {_LOOKUP};
        number/numbers ki/ka/ke/se .. detail/details/tafseel/tafsil/info/malik/owner/location/report/record/nam/name;
        numbers/mobiles/msisdns with .. cnic/cnics/name/names/owner/owners/address/addresses;
        نمبر کی/کا/کے/سے .. تفصیل/تفصیلات/مالک/لوکیشن/معلومات"""),
    ("mention:sim", 1, """
        sim/sims/simcard/simcards; location/locations/lokation; سم/سمز/سمیں"""),
    # ---- call logs ----------------------------------------------------------------------
    ("category:call_logs", 3, """
        cdr/cdrs; cdr/cdrs report/reports/record/records/data/logs/history;
        call/calls detail/details/data record/records/report/reports;
        call/calls record/records/recording/recordings/history/histories/log/logs/list/data/details/detail/report;
        call/calls ki/ka/ke detail/details/record/history/tafseel;
        sms/message/messages record/records/log/logs/history/data/details; incoming .. outgoing;
        outgoing .. incoming; calls/call sms; call/calls and/aur/plus sms;
        کال/کالز .. ریکارڈ/ہسٹری/لاگ/لاگز/تفصیل/ڈیٹا/ڈیٹیل/ریکارڈز; سی ڈی آر;
        ایس ایم ایس .. ریکارڈ/ریکارڈز/ہسٹری; پیغامات کا ریکارڈ"""),
    # ---- travel -------------------------------------------------------------------------
    ("category:travel", 3, f"""
        {_TRAVEL} {_TRAVEL_RECORD}; entry .. exit; exit .. entry;
        exit/entry record/records/stamps/stamp/data/details/dates/date/history;
        immigration record/records/data/history/status/stamps/details/access/system/database/db/entry; ibms;
        pisces; fia record/records/data/ibms/immigration/travel;
        passport detail/details/data/record/records/info/information/holder/holders/scan/scans/copy/copies;
        passport dump/database/db;
        passport ki/ka/ke detail/details/tafseel/record; visa status/record/records/details/history/data/info;
        flight/flights history/record/records/details/data/manifest/manifests; manifest/manifests;
        pax records/data/list/details/record;
        passenger/passengers data/list/records/record/manifest/details/info;
        bahar/bahir/abroad .. gaya/gya/jane/jana/gaye/gai/aya/trips;
        safar/safr ki/ka/ke tafseel/record/detail/details; kab gaya; kab aya;
        wapsi/wapis ki date/tareekh/record; overstay/overstays; سفری .. ریکارڈ/تفصیلات/تفصیل/ڈیٹا; ٹریول ہسٹری;
        سفر .. تفصیل/تفصیلات/ریکارڈ; بیرون ملک .. سفر/جانے/گیا/آمد; امیگریشن .. ریکارڈ/ڈیٹا;
        پاسپورٹ .. تفصیل/تفصیلات/ڈیٹا/ریکارڈ/معلومات; انٹری ایگزٹ; ایگزٹ"""),
    ("mention:travel", 1, """
        passport/passports/pasport; passport no/number/numbers; pp no; immigration; travel; visa; visas; flight;
        bahar/bahir/baahir ke/k mulk/mulak/mulkon; airport; پاسپورٹ; امیگریشن; سفر"""),
    # ---- personal data outside the four types ---------------------------------------------
    ("data:other", 2, f"""
        personal data/info/information/details/record/records; private data/info/information;
        {_PEOPLE} {_PEOPLE_DATA}; leaked/stolen data/database/databases/db/table/records/list; database dump;
        data dump; data leak; {_VEHICLE} owner/owners/record/records/registration/details/detail/data;
        excise record/records/data/detail/details; dox; doxing; doxx; doxxing; full profile/profiles;
        profile package; full profile package; kisi ki bhi detail/details;
        any person/persons/target detail/details/info/data/profile;
        bank account/accounts detail/details/statement/statements/data;
        {_PRINTS} impression/impressions/data/record/records; fingerprints; thumbprints;
        utility/electricity/bijli/gas/wapda/lesco/kelectric customers/consumers/bills/data;
        pk/pak/pakistani/pakistan data/dump/database/db/leak/leaks/profiles; ذاتی ڈیٹا/معلومات/تفصیلات;
        انگوٹھوں کے نشانات; ڈیٹا برائے فروخت; گاڑی .. مالک/ریکارڈ"""),
    ("vehicle", 1, """
        vehicle/vehicles/car/cars/bike/bikes/motorcycle/gari/gadi/gaadi/gaari/excise/chassis/plate;
        number plate; گاڑی/گاڑیوں"""),
    # ---- selling ------------------------------------------------------------------------------
    ("sell", 3, """
        for sale; on sale; wts; selling; sell; sale; we sell; available; availble; avail; availabe; avaliable;
        in stock; dastiyab/dastyab/dastiab/dastayab; دستیاب; برائے فروخت; فروخت; bechna;
        bech/bechte/bechta/becho/bechenge/bik/bikta; milega/milegi/milenge/milengi/mileyga;
        mil jayega/jayegi/jayenge/jaye/jaega/jaegi/jaenge/jayga/jaiga/sakta/sakti/sakte; ملے گا; ملے گی;
        ملیں گے; مل جائے گا; مل جائے گی; مل جائیں گے; we/i provide/offer/supply/deliver/sell/run/give;
        providing; provide; supplying; supply; offering; we deliver; you get; you receive; you will get/receive;
        what you get; what we provide/offer; what s included; hum/ham/hm denge/dete/dain/den; denge; dete hain;
        de dete; nikal .. dunga/denge/dete/deta/dengy/du; bana ke/kar dunga/denge/dete; نکال کر دیں گے;
        نکال کر دیتے; دیں گے; دیتے ہیں; فراہم;
        nikalwayen/nikalwain/nikalwaen/nikalwaye/nikalwaein/nikalwaiye/nikalwayein/nikalvayen/nikalwaien;
        nikalwa lein/len/sakte; نکلوائیں; hamare/humare/hamre pas/paas; ہمارے پاس; have access;
        i/we have .. access; sab milega; sab kuch milega; pata chal jayega/jaega; sab pata; sab clear"""),
    ("sell", 2, f"""
        rate list/card/lists; price list/lists; rates; rate; price; prices; pricing; qeemat/qimat/keemat/kimat;
        قیمت; ریٹ; charges/charge; sample/samples/namoona/namuna; نمونہ; teaser; proof/proofs; demo; trial;
        free sample/trial; giving away; give away; giveaway; free download; download; reply to unlock;
        link in the comments/comment; mirror; serious buyers; buyers only; resellers/reseller;
        dm for price/rates/rate; inbox for price/rates/rate; {_CHAHIYE} ho/hon/to/tu; agar .. {_CHAHIYE};
        jis/jisko/jise/jinko .. {_CHAHIYE};
        {_NUMBER}/{_ID}/passport/target bhejo/bhejen/bhejein/bhejain/bhejiye/do/dein/dijiye/likhein/likhen/likho;
        in the order note/notes; order notes; نمبر بھیجیں/بھیجے/بھیجو"""),
    ("sell", 1, f"""
        per/fi/فی {_PER}; fee/fees; فیس; each; vouch/vouches/vouched; feedback; reviews;
        delivery/turnaround/instant/instantly/fast/quick/express; vendor/vendors/shop/listing/ships/seller;
        refund/refunds/guaranteed/guarantee/genuine/original/asli/trusted/verified/authentic; order/orders;
        discount/negotiable/bargaining/bargain/fixed;
        service/services/panel/bot/api/portal/tool/lookup/lookups/checker;
        full set/file/record/report/data/database/db/dump/list/table/package;
        complete pdf/record/detail/details/profile; sample/full report/reports; leak/leaked/leaks/dump/dumps;
        free; fresh; exclusive; spreading; leeching; unlock; result; report milne; on request"""),
    ("neutral", 0, f"""
        don t sell/selling/offer; dont sell/selling/offer; do not sell/selling/offer; never sell/selling;
        not sell/selling/offering; nahi/nai/nhi bechta/bechte/bechti; nahi/nai/nhi {_CHAHIYE}; unavailable;
        not available; no refund; no free; fake nahi/nai/nhi; not fake; screenshots of/from"""),
    # ---- requests ---------------------------------------------------------------------------
    ("request", 3, f"""
        wtb; want to buy; wanna buy; looking to buy/purchase/get; looking for; i buy; we buy; i am buying;
        buying; buy karna/karni/lena/leni; lena hai; leni hai; lene hain; khareedna/kharidna/khareed/kharid;
        wanted; budget; paying; will pay; can pay; i pay; we pay; rates i pay; de {_DUNGA}; tak de;
        tak {_DUNGA}; paise/paisay/pese/pesay/paisa/pesa/raqam/payment .. {_DUNGA}/milenge/denge/dey;
        paise/paisay/pese/pesay/paisa/pesa/raqam/payment .. mil jayenge/jaenge/jaein; دوں گا; دونگا; دے دوں گا;
        پیسے .. دوں گا/دیں گے; kisi/koi/kis {_KE} pas/paas .. hai/he/ho/access;
        kisi bhai/bande/dost {_KE} pas/paas; kisi {_KE} pas/paas; koi hai jo; koi .. de sakta/sakti/dega/degi;
        jis/jin {_KE} pas/paas; jiske/jinke pas/paas; jo bhi .. kar sakta/sakte/sake; jo bhi .. karta/karte;
        jo .. kam karta/karte; jo .. kar sakta/sakte; jo de sakta/sakte/sake; jo bhi .. de sakta/sakte;
        jo .. nikal/nikalta/nikalte/bata .. sakta/sakte; jo .. nikalta/nikalte/nikal; کسی .. کے پاس; جس کے پاس;
        جن کے پاس; جو بھائی .. کرتا/کرتے/سکتا; جو بھی .. کر سکتا; کوئی .. دے سکتا;
        anyone have/has/got/selling/sell/know/with/can; does anyone; who can provide/get/do/sell; who sells;
        where can i get/buy/find; kahan se .. milega/milegi/mil/mile/milta; kaun/kon .. deta/dega/bechta;
        zaroorat/zarurat/zarorat; ضرورت; talash; تلاش; in search of; buyer request;
        koi .. wala/wali/wale .. hai/he/ho; koi .. banda/bhai/source .. hai/he/ho;
        rate/rates/price/qeemat batao/btao/bataen/bataein/bata/bta/tell; what is the rate/price; kitne ka/ki/ke"""),
    ("request", 2, f"""
        need/neeed; i need; we need; {_CHAHIYE}; {_URDU_CHAHIYE}; if anyone has/have; dm me if; pm me if"""),
    ("request", 1, """
        dunga/dungi; batao/btao/bataen; needed; mujhe/mujhay/mjhe/muje/mujhy/mujhko; مجھے; hamein/humein/hume;
        requesting; request"""),
    # ---- reaching the poster / paying ---------------------------------------------------------
    ("cta", 2, """
        contact/contacts/kontact; contact me/us; rabta/rabtah/rabita; رابطہ;
        dm/inbox/inbx/ib/pm/msg/message/messages/ping; whatsapp karein/karo/kren/kare/me; hit me up;
        reach me/us; knock; email/mail me/us; ان باکس; انباکس; میسج; پیغام; order now; order karein/karo;
        order ke liye; join; channel; admin; support; reply in thread; reply yahin"""),
    ("payment", 2, """
        easypaisa/easypesa/easypaise/easypaysa; easy paisa/pesa; jazzcash/jazcash; jazz/jaz cash; ایزی پیسہ;
        ایزی پیسا; جاز کیش; escrow/eskrow; advance/advnce; advance payment; pehle payment; payment pehle/first;
        pay first; half advance; aadhi payment; ایڈوانس; ادائیگی;
        btc/bitcoin/usdt/xmr/monero/crypto/trc20/bep20/erc20/ltc/binance; bank transfer; raast; sadapay;
        nayapay; upaisa; screenshot bhejo/bhejein/bhejen/send; send screenshot; transaction screenshot;
        account title; recharge via/through"""),
    # ---- look-alikes ------------------------------------------------------------------------
    ("negative:news", 3, """
        breaking; khabar/khabr; خبر; reportedly; according to; sources said; zarai; ذرائع; ذرائع کے مطابق;
        investigation/investigations/investigating/inquiry/enquiry/probe/probed/probing; tehqiqat/tahqiqat;
        تحقیقات; تفتیش; arrest/arrested/arrests/giraftar/nabbed/raid/raided/busted/crackdown; گرفتار; گرفتاری;
        reporter/correspondent/journalist; staff reporter; press release; taken notice; took notice; انکشاف;
        has been formed; were available; was available; were selling; was selling; being sold; were being sold;
        was being sold; bik raha tha; فروخت کی جا رہی; فروخت ہو رہا"""),
    ("negative:news", 2, """
        news; accused; suspect; suspects; suspected; allegedly; alleged; officials; official said; authorities;
        spokesperson; spokesman; ترجمان; حکام; statement; بیان; نوٹس; notice; cybercrime/cyber crime wing;
        nccia; سائبر کرائم; ملزم; ملزمان; گروہ; jit; court; mulzim; tasked; investigation team; tribune;
        express news"""),
    ("negative:news", 1, """
        reports; report; رپورٹ; رپورٹس; ministry/minister/ministers/interior; وزارت; وزیر; said; told; citizens;
        شہریوں; کارروائی; فیصلہ; ordered; blocked; has blocked"""),
    ("negative:warning", 3, """
        scam/scams/scammer/scammers/scamer/fraud/fraudster/fraudsters/froud/frod/dhoka/dhoke/dhokebaz/dokha/nosarbaz;
        فراڈ; دھوکہ; دھوکے; نوسرباز; beware; khabardar; خبردار; hoshiyar; ہوشیار; known fake;
        fake sellers/seller; don t buy/pay; dont buy/pay; do not buy/pay; never buy/pay; mat kharido/kharidein;
        na kharidein/kharido; na bheje/bhejein/bhejen; na phanse/phansein; report them; report to;
        report karein/karo/kren; stay away; never delivers; blocks after payment; takes advance; not to buy"""),
    ("negative:warning", 2, """
        warn; warning; alert; fake; avoid; victims/victim; mutasireen; متاثرہ; illegal; ghair qanooni;
        غیر قانونی; unlawful; crime; jurm; جرم; offence/offense; punishable; peca; پیکا; get caught;
        getting caught; caught; jail"""),
    ("negative:ban", 4, """
        banned; prohibited; not allowed; no selling; no requesting; no doxing; will be deleted; will be banned;
        forum rules; read before posting; rules; lose their bond; against the rules"""),
    ("negative:notice", 3, """
        668; helpline; ہیلپ لائن; customer care; never ask; will never; never share; don t share; do not share;
        share na karein/karain/karen; مت دیں; نہ دیں; نہیں مانگتا; نہیں مانگتی; awareness; aagahi; آگاہی; عوامی;
        public service; announcement; elaan; اعلان; itla/ittila/itlaa; اطلاع; zaroori itla;
        block karwayen/karwain/karwa/karwane/karayen/karwaein; بلاک کروائیں; free of charge; re verification;
        reverification; biometric verification; official website"""),
    ("negative:notice", 1, """
        pta; پی ٹی اے; franchise; فرنچائز; biometric; verification; official; سرکاری; dial; mohtaram"""),
    ("negative:notice", 2, """
        mandatory; policy; effective from; all vendors; vendors who; vendor bond; staff team; admin team"""),
    ("negative:howto", 3, """
        kaise/kese/kaisay/kaisy/kesy/kaisey; کیسے; how to; how do; how can i; how can we;
        tareeqa/tarika/tariqa/tareeka; طریقہ; guide; tutorial; step by step; fee kitni; kitni fee; kitne din;
        kitna time; nadra office/center/centre; نادرا آفس/دفتر; pak id/pakid app"""),
    ("negative:howto", 2, """
        kya .. online; enter/type/put .. number/mobile/cnic/numbers; press/click/tap .. search/button/submit;
        search button; free online; online free; online check; check online; latest method; method 1/2/3/one/two;
        visit now/today/our; website"""),
    ("negative:service", 3, """
        renewal/renew; card renewal; smart card; naya card; new card; duplicate card; card bana/banwana/banwaya;
        e sahulat; esahulat; pak id; pakid; registration center/centre; executive center; tracking id;
        token number; card issue; issue ho gaya/gya; official fee; urgent fee; normal fee"""),
    ("negative:victim", 3, """
        hack ho gaya/gya/gayi; hacked; complaint/complain/complaints/shikayat; شکایت; went through this;
        koi help; help kar; what should i do; kya karun/karoon/karu; mere nam pe"""),
    ("negative:victim", 2, """
        help me; madad; مدد; stolen; chori; snatched; misuse; meri sim"""),
    ("negative:victim", 1, """
        masla; problem; issue; worried; pareshan"""),
    ("negative:ad", 3, """
        bundle/bundles; on net; off net; onnet; offnet; prepaid customers; umrah/umra/hajj/ziyarat;
        tour/tours/tourism; hotel/hotels; breakfast; sightseeing; city tour; ticket/tickets; booking; book now;
        one way; return ticket; visit visa; tourist visa; work visa; e visa; travel agency; travel and tours;
        cash on delivery; cod; pta approved; warranty; brand new; battery health; charger; sirf prepaid"""),
    ("negative:ad", 2, """
        internet; minutes; mins; mbps; subscribe"""),
    ("negative:ad", 1, """
        package/packages/pkg; travels"""),
    ("negative:job", 3, """
        job/jobs/hiring/vacancy/vacancies/naukri; نوکری; ملازمت; salary/tankhwah; تنخواہ; interview; cv; resume;
        curriculum vitae; candidates/applicants/shortlisted; last date; domicile; call center; data entry"""),
    ("negative:job", 1, """
        apply; qualification; experience; matric; intermediate; degree; skills; education; objective; operators"""),
    ("negative:docs", 3, """
        zaroori/zaruri/zarori hai; zaroori documents; required documents; requirements; attested;
        jama karwani/karwain/karain/karwayen; le kar jayein/jaen/ayen; original cnic/shanakhti; جمع کروانی;
        ضروری ہے; ضروری دستاویزات"""),
    ("negative:docs", 2, """
        documents/docs"""),
    ("negative:docs", 1, """
        submit; bring; photos"""),
    ("negative:nodata", 4, """
        template/templates; psd; mockup/mockups; mock up; editable; blank; no real; not real; dummy;
        for designers; novelty"""),
    ("negative:discussion", 3, """
        analysis; research; researchers; we collected; study; survey; suggests; opinion; raye; رائے; kya khayal;
        what do you think; thoughts; discussion; debate; we are not selling; not selling anything;
        will not publish; won t publish; not publish; we have watched; fix your; stop blaming; digital rights;
        is it legal; actually illegal; is it true; is this true; kya ye sach; asking for safety;
        asking for a friend"""),
    ("negative:discussion", 2, """
        concerned"""),
    ("negative:code", 3, """
        def; assert; regex; re compile"""),
    ("negative:code", 1, """
        import; return; function"""),
)

# Letters of Urdu words (Arabic-script letters, not the script's digits or punctuation such as "۔" and "،"),
# for use inside a regex character class.
URDU_LETTERS = "\u0621-\u063a\u0641-\u064a\u066e-\u06d3\u06fa-\u06ff"

# Word lists matched by regex, not by the phrase matcher.
# Dump/table vocabulary (single words): with it, a CNIC mention means CNIC data
# ("msisdn, name, cnic").  "Database" is not in it: lookup services call
# themselves "SIM database" too.
BULK_WORDS = (
    "dump", "dumps", "rows", "combo", "combolist", "csv", "sql", "xlsx", "column", "columns", "fields", "header",
    "headers", "table", "leak", "leaks", "leaked", "exfiltrated", "breach",
)
# Words that make a bare number a price ("Price: 1500", "1000 tak").
PRICE_LABEL_WORDS = ("price", "prices", "rate", "rates", "fee", "fees", "cost", "charges", "qeemat", "qimat", "keemat",
                     "budget", "paying", "pay", "قیمت", "فیس", "ریٹ", "بجٹ")
UPTO_WORDS = ("tak", "تک")
CNIC_CUE_WORDS = (
    "cnic", "cnics", "nic", "snic", "nicop", "shanakhti", "shnakhti", "shanakti", "id card", "idcard", "id no",
    "id number", "identity card", "b-form", "b form", "bform", "crc", "شناختی", "نائیکوپ", "ب فارم",
)
PASSPORT_CUE_WORDS = (
    "passport", "pasport", "pp no", "pp#", "پاسپورٹ", "travel", "immigration", "visa", "flight", "manifest",
    "pax", "nicop", "ibms", "exit", "سفر", "امیگریشن",
)
# Words that mark a 13-digit number as something other than a CNIC.
NOT_CNIC_WORDS = (
    "tid", "trx", "txn", "trxid", "transaction", "ref", "reference", "order", "invoice", "receipt", "tracking",
    "imei", "epoch", "timestamp", "ts", "time", "date", "ms", "account", "acc", "iban", "ntn", "msisdn",
)
# WhatsApp, as written: whatsapp, whats app, watsapp, whtsp, wtsp, w/a, wa, wp, واٹس ایپ.
WHATSAPP_CUE = (r"w(?<![a-z]w)(?:hat?s?\s?app?|h?ats?ap+|h?tsa?p+|/a|a(?![a-z])|p(?![a-z]))"
                r"|واٹس\s?ایپ|واٹس\s?اپ|وٹس\s?ایپ|واٹساپ")


def word_regex(words: tuple[str, ...], *, end: bool = True) -> str:
    """Alternation of ``words`` as whole words (a space inside a word also matches "-", "_" or nothing).

    Each alternative starts with its literal first character and checks the
    character before it with a lookbehind placed after that character, so the
    regex engine can skip ahead to candidate first letters quickly.
    """
    out = []
    for word in sorted(words, key=len, reverse=True):
        first, rest = re.escape(word[0]), re.escape(word[1:]).replace(r"\ ", r"[\s\-_]?")
        guard = f"(?<![a-z]{first})" if word[0].isalpha() and word[0].isascii() else ""
        out.append(f"{first}{guard}{rest}")
    return "(?:" + "|".join(out) + ")" + (r"(?![a-z])" if end else "")

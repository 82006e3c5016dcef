"""The t.me/s preview parser: on the fixture site's pages and on hand-written markup."""
from __future__ import annotations

import random
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from nigran.spiders.telegram_markup import ChannelPage, is_preview_redirect, parse_count, parse_page
from tests.support.telegram_site import CHANNELS, EMPTY_CHANNEL, HIDDEN_NAMES, THROTTLED_CHANNEL, TelegramSite

FIELDS = ("channel", "message_id", "permalink", "author", "signature", "text", "posted_at", "views", "forwarded_from",
          "forwarded_from_url", "reply_to", "photos", "documents", "link_preview", "edited", "service", "album_ids")


@pytest.fixture(scope="module")
def site():
    with TelegramSite() as running:
        running.throttle(THROTTLED_CHANNEL)
        yield running


@pytest.fixture
def fresh_site():
    with TelegramSite() as running:
        yield running


def fetch(url: str) -> tuple[int, str, bytes, dict]:
    """(status, final URL, body, headers), redirects followed, error statuses returned."""
    request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.url, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.url, error.read(), dict(error.headers)


def walk(site: TelegramSite, channel: str) -> list[ChannelPage]:
    """Every page of a channel, newest first, following the before cursor."""
    pages = [parse_page(fetch(f"{site.base_url}/s/{channel}")[2])]
    while pages[-1].before:
        pages.append(parse_page(fetch(f"{site.base_url}/s/{channel}?before={pages[-1].before}")[2]))
    return pages


def truth(post) -> dict:
    return {
        "channel": post.channel, "message_id": post.id, "permalink": post.permalink, "author": post.author,
        "signature": post.signature, "text": post.text, "posted_at": post.date, "views": post.views,
        "forwarded_from": post.forwarded_from, "forwarded_from_url": post.forwarded_from_url,
        "reply_to": post.reply_to, "photos": post.photos, "documents": post.documents,
        "link_preview": post.link_preview, "edited": post.edited, "service": post.service,
        "album_ids": post.album_ids,
    }


def read(message) -> dict:
    return {name: getattr(message, name) for name in FIELDS}


# --- the fixture site -----------------------------------------------------------------------

@pytest.mark.parametrize("channel", CHANNELS)
def test_walk_finds_every_message_once_as_published(site, channel):
    pages = walk(site, channel)
    messages = [message for page in pages for message in page.messages]
    ids = [message.message_id for message in messages]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == site.channel_ids(channel)
    assert all(page.state == "ok" and page.channel == channel for page in pages)
    assert pages[0].title == site.channel(channel).title
    for message in messages:
        assert read(message) == truth(site.message(channel, message.message_id))
        assert "Please open Telegram" not in message.text


def test_fixture_covers_the_features_the_parser_reads(site):
    posts = [site.message(channel, number) for channel in CHANNELS for number in site.channel_ids(channel)]
    assert len(posts) >= 300
    assert {post.language for post in posts if post.kind == "offer"} == {"en", "roman", "ur"}
    assert {post.kind for post in posts} == {"offer", "request", "other", "service"}
    for feature in ("reply_to", "forwarded_from", "link_preview", "album_ids", "documents", "signature", "edited"):
        assert any(getattr(post, feature) for post in posts), feature
    assert any(post.forwarded_from and not post.forwarded_from_url for post in posts)
    assert any(post.views_label.endswith("K") for post in posts if post.views_label)
    assert any(post.media == "video" for post in posts)
    assert any(not post.text for post in posts)
    assert all(site.message(channel, 1).text == "Channel created" for channel in CHANNELS)
    ids = site.channel_ids(CHANNELS[0])
    assert ids[-1] - ids[0] + 1 > len(ids)  # gaps


def test_pages_hold_twenty_messages_with_both_cursors(site):
    ids = site.channel_ids("cdr_travel_hub")
    newest = parse_page(fetch(f"{site.base_url}/s/cdr_travel_hub")[2])
    assert [m.message_id for m in newest.messages] == ids[-20:]
    assert (newest.before, newest.after) == (ids[-20], None)
    older = parse_page(fetch(f"{site.base_url}/s/cdr_travel_hub?before={newest.before}")[2])
    assert [m.message_id for m in older.messages] == ids[-40:-20]
    assert (older.before, older.after) == (ids[-40], ids[-21])
    forward = parse_page(fetch(f"{site.base_url}/s/cdr_travel_hub?after={older.after}")[2])
    assert forward.messages == newest.messages
    assert parse_page(fetch(f"{site.base_url}/s/cdr_travel_hub?before=1")[2]).state == "empty"


def test_oldest_page_ends_at_channel_created_and_service_messages_are_typed(site):
    pages = walk(site, "pk_data_market")
    assert pages[-1].before is None
    first = pages[-1].messages[0]
    assert (first.message_id, first.service, first.text, first.views) == (1, True, "Channel created", None)
    (pinned,) = [m for page in pages for m in page.messages if "pinned «" in m.text]
    assert pinned.service and pinned.text.startswith("PK Data Market (https://t.me/pk_data_market) pinned «")


def test_both_markup_generations_parse_alike(site):
    assert site.channel("simdata_pk").markup == "2024" and site.channel("nadra_family_tree").markup == "2023"
    new = fetch(f"{site.base_url}/s/simdata_pk")[2].decode()
    assert "media_supported_cont" in new and "Please open Telegram to view this post" in new
    cursors = [page.before for page in walk(site, "nadra_family_tree")][:-1]
    for query in ["", *(f"?before={cursor}" for cursor in cursors)]:
        assert "media_supported_cont" not in fetch(f"{site.base_url}/s/nadra_family_tree{query}")[2].decode()
    for channel in ("simdata_pk", "nadra_family_tree"):
        messages = [m for page in walk(site, channel) for m in page.messages]
        assert any(message.photos and message.text for message in messages)
        assert not any("Please open Telegram" in message.text for message in messages)


@pytest.mark.parametrize("name", [*HIDDEN_NAMES, "no_such_channel_42"])
def test_names_without_preview_redirect_to_the_landing_page(site, name):
    requested = f"{site.base_url}/s/{name}"
    status, final, body, _ = fetch(requested)
    assert status == 200 and final == f"{site.base_url}/{name}"
    assert is_preview_redirect(requested, final)
    assert f'href="/s/{name}"' not in body.decode()
    assert any(entry.path == f"/s/{name}" and entry.status == 302 for entry in site.log)


def test_public_channel_does_not_redirect_and_its_landing_page_links_the_preview(site):
    requested = f"{site.base_url}/s/simdata_pk"
    assert not is_preview_redirect(requested, fetch(requested)[1])
    assert 'href="/s/simdata_pk"' in fetch(f"{site.base_url}/simdata_pk")[2].decode()


def test_throttled_channel_answers_429_then_no_posts_then_messages(fresh_site):
    url = f"{fresh_site.base_url}/s/{THROTTLED_CHANNEL}"
    status, _, _, headers = fetch(url)
    assert status == 429 and headers["Retry-After"] == "1"
    for _ in range(2):
        throttled = parse_page(fetch(url)[2])
        assert (throttled.state, throttled.notice, throttled.messages, throttled.before) == (
            "no_posts", "No posts found", [], None)
        assert throttled.channel == THROTTLED_CHANNEL
    assert parse_page(fetch(url)[2]).state == "ok"


def test_empty_channel(site):
    page = parse_page(fetch(f"{site.base_url}/s/{EMPTY_CHANNEL}")[2])
    assert (page.state, page.messages, page.before, page.after) == ("empty", [], None, None)
    assert (page.channel, page.title) == (EMPTY_CHANNEL, "Empty Leaks")


def test_messages_added_at_runtime_appear_as_newest(fresh_site):
    before = parse_page(fetch(f"{fresh_site.base_url}/s/simdata_pk")[2])
    newest_id = before.messages[-1].message_id
    added = fresh_site.add_message("simdata_pk", "Fresh SIM data 🔥 Rs 400 per number\nDM @fresh_seller", photo=True)
    after = parse_page(fetch(f"{fresh_site.base_url}/s/simdata_pk")[2])
    new = [message for message in after.messages if message.message_id > newest_id]
    assert [read(message) for message in new] == [truth(added)]
    assert new[0].text == "Fresh SIM data 🔥 Rs 400 per number\nDM @fresh_seller"
    assert fresh_site.channel_ids("simdata_pk")[-1] == added.id


def test_access_log_records_each_request(fresh_site):
    fetch(f"{fresh_site.base_url}/s/simdata_pk?before=30")
    entry = fresh_site.log[-1]
    assert (entry.method, entry.path, entry.status) == ("GET", "/s/simdata_pk?before=30", 200)


# --- hand-written markup --------------------------------------------------------------------

def block(post_id: int, inner: str, *, classes: str = "", channel: str = "leakdemo", footer: str | None = None) -> str:
    """One message wrap; footer None gives a plain dated footer."""
    if footer is None:
        footer = (f'<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_'
                  f'message_info short js-message_info"><span class="tgme_widget_message_views">42</span><span '
                  f'class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/'
                  f'{channel}/{post_id}"><time datetime="2025-03-0{post_id % 9 + 1}T10:00:00+00:00" class="time">'
                  f'10:00</time></a></span></div></div>')
    return (f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message '
            f'text_not_supported_wrap {classes} js-widget_message" data-post="{channel}/{post_id}"><div class='
            f'"tgme_widget_message_bubble"><div class="tgme_widget_message_author accent_color"><a class="tgme_'
            f'widget_message_owner_name" href="https://t.me/{channel}"><span dir="auto">Leak Demo</span></a>'
            f'</div>{inner}{footer}</div></div></div>')


def page(*blocks: str, head: str = "", more: str = "") -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta property="og:title" content="Leak Demo">'
            f'{head}</head><body><main class="tgme_main" data-url="/leakdemo"><section class="tgme_channel_history '
            f'js-message_history">{more}{"".join(blocks)}</section></main></body></html>')


def text(body: str) -> str:
    return f'<div class="tgme_widget_message_text js-message_text" dir="auto">{body}</div>'


def only(markup: str, **kwargs):
    (message,) = parse_page(markup, **kwargs).messages
    return message


REPLY = (
    '<a class="tgme_widget_message_reply" href="https://t.me/leakdemo/7"><i class="tgme_widget_message_reply_thumb" '
    'style="background-image:url(\'https://cdn1.cdn-telegram.org/file/thumb7.jpg\')"></i><div class="tgme_widget_'
    'message_author accent_color"><span class="tgme_widget_message_author_name" dir="auto">Quoted Person</span>'
    '</div><div class="tgme_widget_message_text js-message_reply_text" dir="auto">Old rate list, CNIC copy 900'
    '</div></a>'
)
META_EDITED = (
    '<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info short '
    'js-message_info"><span class="tgme_widget_message_views">4.5M</span><span class="copyonly"> views</span><span '
    'class="tgme_widget_message_meta"><span class="tgme_widget_message_from_author" dir="auto">Rana</span>,&nbsp;'
    'edited &nbsp;<a class="tgme_widget_message_date" href="https://t.me/leakdemo/8"><time datetime="2025-03-02T'
    '09:05:41+00:00" class="time">09:05</time></a></span></div></div>'
)


def test_reply_quote_is_never_the_text_nor_the_author():
    message = only(page(block(8, REPLY + text("Rate updated: CNIC copy 700 only"), footer=META_EDITED)))
    assert message.text == "Rate updated: CNIC copy 700 only"
    assert (message.reply_to, message.author, message.photos) == (7, "Leak Demo", [])
    assert (message.signature, message.edited, message.views) == ("Rana", True, 4_500_000)
    assert message.posted_at == datetime(2025, 3, 2, 9, 5, 41, tzinfo=timezone.utc)


def test_reply_to_a_media_message_without_text_of_its_own():
    quote = REPLY.replace('tgme_widget_message_text js-message_reply_text', 'tgme_widget_message_metatext '
                                                                          'js-message_reply_text')
    message = only(page(block(9, quote)))
    assert (message.text, message.html, message.reply_to) == ("", "", 7)


def test_2024_media_wrapper_photo_from_style_and_hidden_fallback():
    inner = (
        '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;<a class="tgme_widget_'
        'message_forwarded_from_name" href="https://t.me/bulkdata/77"><span dir="auto">Bulk Data</span></a></div>'
        '<div class="media_supported_cont"><a class="tgme_widget_message_photo_wrap 5373188 1251_4562" href="https:'
        '//t.me/leakdemo/3" style="width:800px;background-image:url(\'https://cdn4.cdn-telegram.org/file/p3.jpg\')">'
        '<div class="tgme_widget_message_photo" style="padding-top:75%"></div></a>'
        + text('<i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/F09F94A5.png\')"><b>🔥'
               '</b></i> <b>CNIC scans</b><br/><br/>Ask <a href="https://t.me/scan_seller" target="_blank">'
               '@scan_seller</a> <a href="?q=%23cnic">#cnic</a>')
        + '</div><div class="media_not_supported_cont"><div class="message_media_not_supported"><div class="message_'
        'media_not_supported_label">Please open Telegram to view this post</div><a href="https://t.me/leakdemo/3" '
        'class="message_media_view_in_telegram">VIEW IN TELEGRAM</a></div></div>'
    )
    message = only(page(block(3, inner)))
    assert message.text == "🔥 CNIC scans\n\nAsk @scan_seller #cnic"
    assert message.photos == ["https://cdn4.cdn-telegram.org/file/p3.jpg"]
    assert (message.forwarded_from, message.forwarded_from_url) == ("Bulk Data", "https://t.me/bulkdata/77")
    assert message.html.startswith('<i class="emoji"') and "<br>" in message.html


def test_2023_markup_document_link_preview_and_buttons_outside_text():
    inner = (
        '<a class="tgme_widget_message_document_wrap" href="https://t.me/leakdemo/4"><div class="tgme_widget_message_'
        'document_icon accent_bg"></div><div class="tgme_widget_message_document"><div class="tgme_widget_message_'
        'document_title accent_color" dir="auto">punjab_2025.csv</div><div class="tgme_widget_message_document_'
        'extra" dir="auto">48.2 MB</div></div></a>'
        + text('Sample rows: <a href="https://files.example.net/s?id=1&amp;amp;k=2" target="_blank" onclick="return '
               'confirm(\'Open this link?\\n\\n\'+this.href);">download</a>')
        + '<a class="tgme_widget_message_link_preview" href="https://files.example.net/s"><i class="link_preview_'
        'image" style="background-image:url(\'https://cdn4.cdn-telegram.org/file/prev.jpg\')"></i><div class="link_'
        'preview_site_name accent_color" dir="auto">files.example.net</div><div class="link_preview_title" dir="auto">'
        'Sample</div><div class="link_preview_description" dir="auto">Line one<br/>Line two</div></a>'
    )
    buttons = ('<div class="tgme_widget_message_inline_keyboard"><div class="tgme_widget_message_inline_row"><a class="'
               'tgme_widget_message_inline_button url_button" href="https://t.me/buy_bot"><span class="tgme_widget_'
               'message_inline_button_text">Buy</span></a></div></div>')
    message = only(page(block(4, inner).replace("</div></div></div>", f"</div>{buttons}</div></div>")))
    assert message.documents == [{"title": "punjab_2025.csv", "size": "48.2 MB"}]
    assert message.text == "Sample rows: download (https://files.example.net/s?id=1&k=2)"
    assert message.link_preview == {"url": "https://files.example.net/s", "site": "files.example.net",
                                    "title": "Sample", "description": "Line one\nLine two"}
    assert message.photos == [] and "Buy" not in message.text


def test_album_ids_and_photos_and_video_thumbnails_are_not_photos():
    album = (
        '<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap"><div class="tgme_widget_message_'
        'grouped"><div class="tgme_widget_message_grouped_layer">'
        + "".join(f'<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" style="left:0;'
                  f'background-image:url(&quot;https://cdn4.cdn-telegram.org/file/a{n}.jpg&quot;)" href="https://t.me/'
                  f'leakdemo/{n}?single"></a>' for n in (20, 21))
        + '<a class="tgme_widget_message_video_player grouped_media_wrap blured js-message_video_player" href="https:'
          '//t.me/leakdemo/22?single"><i class="tgme_widget_message_video_thumb" style="background-image:url(\'https:'
          '//cdn4.cdn-telegram.org/file/v22.jpg\')"></i><time class="message_video_duration">0:27</time></a>'
        '</div></div></div>'
    )
    message = only(page(block(20, album + text("Three samples"))))
    assert message.album_ids == [20, 21, 22]
    assert message.photos == [f"https://cdn4.cdn-telegram.org/file/a{n}.jpg" for n in (20, 21)]
    assert message.posted_at is not None


def test_service_message_is_typed_and_its_text_trimmed():
    markup = page(block(1, '<div class="tgme_widget_message_text js-message_text" dir="auto">Channel created\n'
                           '              </div>', classes="service_message",
                        footer='<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https:'
                               '//t.me/leakdemo/1"><time datetime="2023-02-24T07:26:49+00:00" class="time">07:26'
                               '</time></a></span>'))
    message = only(markup)
    assert (message.service, message.text, message.views, message.edited) == (True, "Channel created", None, False)


def test_message_without_time_is_kept_undated():
    message = only(page(block(5, text("No date here"), footer="")))
    assert (message.message_id, message.posted_at, message.views) == (5, None, None)


@pytest.mark.parametrize(("value", "expected"), [
    ("2025-03-02T14:05:00+05:00", datetime(2025, 3, 2, 9, 5, tzinfo=timezone.utc)),
    ("2025-03-02T09:05:00", datetime(2025, 3, 2, 9, 5, tzinfo=timezone.utc)),
    ("2025-03-02T09:05:00Z", datetime(2025, 3, 2, 9, 5, tzinfo=timezone.utc)),
    ("yesterday", None),
    ("0001-01-01T00:00:00+05:00", None),
])
def test_dates_are_utc(value, expected):
    footer = f'<a class="tgme_widget_message_date" href="https://t.me/leakdemo/6"><time datetime="{value}">x</time></a>'
    assert only(page(block(6, text("x"), footer=footer))).posted_at == expected


@pytest.mark.parametrize(("label", "expected"), [
    ("987", 987), ("1", 1), ("1.2K", 1200), ("12K", 12_000), ("436.6K", 436_600), ("4.5M", 4_500_000),
    ("1,2K", 1200), ("1 234", 1234), ("١٢", 12), ("", None), (None, None), ("views", None), ("1.2.3K", None),
    ("²", None),
])
def test_view_counts(label, expected):
    assert parse_count(label) == expected


@pytest.mark.parametrize(("anchor", "expected"), [
    ('<a href="https://example.org/list">see here</a>', "see here (https://example.org/list)"),
    ('<a href="https://example.org/list/">https://example.org/list</a>', "https://example.org/list"),
    ('<a href="https://t.me/proofs_pk">t.me/proofs_pk</a>', "t.me/proofs_pk"),
    ('<a href="https://t.me/Seller_One">@seller_one</a>', "@seller_one"),
    ('<a href="https://t.me/other">@seller_one</a>', "@seller_one (https://t.me/other)"),
    ('<a href="mailto:Sales@example.org">sales@example.org</a>', "sales@example.org"),
    ('<a href="?q=%23sim">#sim</a>', "#sim"),
    ('<a>bare</a>', "bare"),
    ('<a href="/s/leakdemo">channel</a>', "channel (https://t.me/s/leakdemo)"),
])
def test_link_targets_are_kept_when_the_label_hides_them(anchor, expected):
    assert only(page(block(2, text(f"Go: {anchor}")))).text == f"Go: {expected}"


def test_text_keeps_breaks_and_unescapes_entities():
    body = "Rates &lt; 500 &amp; fast<br/>دوسری لائن<br/><br/>  spaced   out  <br/><blockquote>quoted</blockquote>end"
    assert only(page(block(2, text(body)))).text == "Rates < 500 & fast\nدوسری لائن\n\nspaced out\n\nquoted\nend"


def test_hidden_forward_sender_has_no_url():
    forwarded = ('<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;<span class="tgme_'
                 'widget_message_forwarded_from_name"><span dir="auto">Hidden Seller</span></span></div>')
    message = only(page(block(2, forwarded + text("x"))))
    assert (message.forwarded_from, message.forwarded_from_url) == ("Hidden Seller", None)


def test_class_tokens_not_whole_attributes():
    odd = block(11, text("spaced classes")).replace(
        'class="tgme_widget_message text_not_supported_wrap  js-widget_message"',
        'class="\n\tjs-widget_message tgme_widget_message  extra_token\n"')
    decoys = ('<div class="tgme_widget_message_wrap" data-post="leakdemo/99"></div>'
              '<div class="xtgme_widget_message" data-post="leakdemo/98"></div>')
    parsed = parse_page(page(odd, decoys))
    assert [(m.message_id, m.text) for m in parsed.messages] == [(11, "spaced classes")]


def test_messages_ascend_once_each_and_ids_fall_back_to_the_date_link():
    undated_post = block(13, text("id from link")).replace(' data-post="leakdemo/13"', "")
    parsed = parse_page(page(block(15, text("c")), block(12, text("a")), block(15, text("c")), undated_post))
    assert [m.message_id for m in parsed.messages] == [12, 13, 15]
    assert parsed.messages[1].permalink == "https://t.me/leakdemo/13"


def test_mirror_pages_keep_t_me_permalinks_and_resolve_relative_urls():
    inner = ('<a class="tgme_widget_message_photo_wrap" href="/leakdemo/2" style="background-image:url(/file/p.jpg)">'
             '</a>' + text("x"))
    message = only(page(block(2, inner)), base_url="https://telegram.me")
    assert message.permalink == "https://t.me/leakdemo/2"
    assert message.photos == ["https://telegram.me/file/p.jpg"]


def test_cursor_prefers_the_more_link_then_falls_back_to_link_prev():
    more = ('<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/leakdemo?before=40" '
            'class="tme_messages_more js-messages_more" data-before="40"></a></div>')
    head = '<link rel="prev" href="/s/leakdemo?before=39"><link rel="canonical" href="/s/leakdemo?before=61">'
    assert parse_page(page(block(40, text("x")), head=head, more=more)).before == 40
    assert parse_page(page(block(40, text("x")), head=head)).before == 39
    canonical_only = '<link rel="canonical" href="/s/leakdemo?before=61">'
    assert parse_page(page(block(40, text("x")), head=canonical_only)).before is None
    assert parse_page(page(block(40, text("x")), head='<link rel="prev" href="/s/leakdemo?before=">')).before is None
    assert parse_page(page(block(40, text("x")), head='<link rel="next" href="/s/leakdemo?after=60">')).after == 60


def test_no_posts_found_page():
    no_posts = ('<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message_'
                'centered"><div class="tme_no_messages_found">No posts found</div></div></div>')
    parsed = parse_page(page(no_posts))
    assert (parsed.state, parsed.notice, parsed.messages) == ("no_posts", "No posts found", [])
    assert parsed.channel == "leakdemo"
    assert parse_page(page()).state == "empty"


@pytest.mark.parametrize(("requested", "final", "expected"), [
    ("https://t.me/s/private_dumps", "https://t.me/private_dumps", True),
    ("https://t.me/s/leakdemo", "https://t.me/s/leakdemo", False),
    ("https://t.me/s/leakdemo?before=20", "https://t.me/s/leakdemo?before=20", False),
    ("https://t.me/s/blocked", "https://telegram.org/", True),
    ("https://t.me/leakdemo", "https://t.me/leakdemo", False),
])
def test_preview_redirect_detection(requested, final, expected):
    assert is_preview_redirect(requested, final) is expected


def test_declared_and_broken_encodings():
    latin = page(block(2, text("Café naïve"))).replace('charset="utf-8"', 'charset="iso-8859-1"').encode("latin-1")
    assert only(latin).text == "Café naïve"
    assert only(page(block(2, text("سم ڈیٹا"))).encode("utf-16")).text == "سم ڈیٹا"
    assert only(page(block(2, text("Caf\xe9"))).encode("cp1252")).text == "Caf\ufffd"
    assert only(f"<?xml version='1.0' encoding='utf-8'?>{page(block(2, text('x')))}").text == "x"
    assert only(page(block(2, text("nul\x00 and \ud800 gone")))).text == "nul and gone"


def test_truncated_pages_do_not_crash(site):
    markup = fetch(f"{site.base_url}/s/cdr_travel_hub")[2]
    ids = set(site.channel_ids("cdr_travel_hub"))
    for cut in range(0, len(markup), max(1, len(markup) // 150)):
        parsed = parse_page(markup[:cut])
        assert {m.message_id for m in parsed.messages} <= ids


@pytest.mark.parametrize("junk", [
    b"", "", "   ", b"\x00\xff\xfe\x00garbage", "<html", "<div class='tgme_widget_message' data-post='x/abc'>",
    "<" * 5000, "<div>" * 20000 + "deep", '<div class="tgme_widget_message" data-post="x/²"><a data-before="²" '
    'class="tme_messages_more"></a>', bytes(random.Random(5).getrandbits(8) for _ in range(4096)),
    '<div class="tgme_widget_message" data-post="leakdemo/1"><div class="tgme_widget_message_text js-message_text">'
    + "<span>" * 3000 + "deep text",
])
def test_junk_never_crashes(junk):
    assert isinstance(parse_page(junk), ChannelPage)

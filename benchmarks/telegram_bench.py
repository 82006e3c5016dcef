"""Telegram spider throughput: messages/s walking the local t.me fixture's channels, full pipeline.

Serves the fixture site (tests/support/telegram_site.py) with --extra messages added to its
public channels, then crawls all of them from a child process (evidence capture, parsing,
extraction, SQLite storage) and prints messages/s, pages/s and peak memory; medians of --rounds.

    .venv/bin/python benchmarks/telegram_bench.py --extra 2000 --rounds 3
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import crawl  # noqa: E402
from tests.support.telegram_site import CHANNELS, THROTTLED_CHANNEL, TelegramSite  # noqa: E402

TEXTS = (
    "SIM owner details any network, Rs 500 per number. WhatsApp 0301-2345678",
    "CNIC copy front/back available, 1000 PKR, telegram @cnic_dealer_pk",
    "CDR 30 din ka record milay ga, rabta karein @cdr_wala, rate 3 hazar",
    "کسی بھی نمبر کا کال ریکارڈ، قیمت ۵۰۰۰ روپے",
    "Eid Mubarak to all members 🌙",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extra", type=int, default=2000, help="messages added to the fixture's ~440")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    channels = [name for name in CHANNELS if name != THROTTLED_CHANNEL]  # its throttling is time, not work
    with TelegramSite() as site:
        for n, channel, text in zip(range(args.extra), itertools.cycle(channels), itertools.cycle(TEXTS)):
            site.add_message(channel, f"{text} (#{n})")
        messages = sum(len(site.channel_ids(c)) for c in channels)
        source = {"name": "tg-bench", "kind": "telegram", "via": "direct", "base_url": site.base_url,
                  "channels": channels, "max_pages": 10_000}
        rates = []
        for _ in range(args.rounds):
            result = crawl(source)
            stats, seconds = result["stats"], result["seconds"]
            assert stats.get("nigran/posts") == messages, (stats.get("nigran/posts"), messages)
            rates.append((messages / seconds, stats["response_received_count"] / seconds, result["peak_mb"]))
            print(f"{messages} messages, {stats['response_received_count']} pages in {seconds:.1f} s = "
                  f"{rates[-1][0]:.0f} messages/s, peak memory {result['peak_mb']:.0f} MB", flush=True)
    per_s, pages_s, rss = (statistics.median(column) for column in zip(*rates))
    print(f"\nmedian over {args.rounds} rounds: {per_s:.0f} messages/s ({pages_s:.1f} pages/s), peak memory {rss:.0f} MB")


if __name__ == "__main__":
    main()

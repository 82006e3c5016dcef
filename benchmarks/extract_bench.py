"""Quality and speed of the offer-extraction engine on a labelled corpus.

Quality follows LABELS.md "How a prediction is scored": precision, recall and
F1 for kind=offer, kind=request, and micro P/R/F1 over the per-record sets of
categories, identifiers, prices and contacts; macro-F1 is their mean.  Speed
is posts per second of one process's CPU time on the corpus posts, on
typical ~500-character posts and on 5 KB and 50 KB posts built from them
(constant KB/s means linear time), plus one 1 MB adversarial post.

    python benchmarks/extract_bench.py [CORPUS] [--errors] [--seconds S]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nigran.pipelines.extraction import extract  # noqa: E402

DEFAULT_CORPUS = "../shared/corpus/dev.jsonl"
SET_FIELDS = ("categories", "identifiers", "prices", "contacts")
SIZES = (512, 5 * 1024, 50 * 1024)


def items(field: str, label: dict) -> set:
    """The comparable set of one field of a label or prediction."""
    values = label.get(field) or []
    if field == "categories":
        return set(values)
    if field == "prices":
        return {(round(float(p["amount"]), 6), str(p["currency"]).upper()) for p in values}
    return {(v["type"], v["value"]) for v in values}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(records: list[dict], predictions: list[dict]) -> dict[str, tuple[float, float, float]]:
    counts = {name: [0, 0, 0] for name in ("offer", "request", *SET_FIELDS)}
    for rec, pred in zip(records, predictions):
        gold = rec["label"]
        for cls in ("offer", "request"):
            g, p = gold["kind"] == cls, pred["kind"] == cls
            counts[cls][0] += g and p
            counts[cls][1] += p and not g
            counts[cls][2] += g and not p
        for field in SET_FIELDS:
            g, p = items(field, gold), items(field, pred)
            counts[field][0] += len(g & p)
            counts[field][1] += len(p - g)
            counts[field][2] += len(g - p)
    return {name: prf(*c) for name, c in counts.items()}


def show_errors(records: list[dict], predictions: list[dict]) -> None:
    for rec, pred in zip(records, predictions):
        gold = rec["label"]
        diffs = []
        if gold["kind"] != pred["kind"]:
            diffs.append(f"kind {gold['kind']} -> {pred['kind']}")
        for field in SET_FIELDS:
            g, p = items(field, gold), items(field, pred)
            if g != p:
                diffs.append(f"{field}: missing {sorted(g - p, key=str)} extra {sorted(p - g, key=str)}")
        if diffs:
            print(f"  {rec['id']}: " + "; ".join(diffs))


def rate(texts: list[str], seconds: float) -> float:
    """Posts per second of this process's CPU time over ``texts``: best of three runs of ``seconds`` each.

    CPU time, not wall time, so that other work on a shared machine does not count.
    """
    best = 0.0
    for _ in range(3):
        done, start = 0, time.process_time()
        while True:
            for text in texts:
                extract(text)
            done += len(texts)
            elapsed = time.process_time() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
    return best


def sized_posts(texts: list[str], size: int, count: int) -> list[str]:
    rng = random.Random(size)
    posts = []
    for _ in range(count):
        parts, length = [], 0
        while length < size:
            parts.append(rng.choice(texts))
            length += len(parts[-1]) + 1
        posts.append("\n".join(parts)[:size])
    return posts


def adversarial(size: int = 1 << 20) -> str:
    unit = ("0300" * 40 + "-" * 50 + " 3520212345671 " + "🔥" * 30 + "Rs " + "9" * 60 + " @" + "a_" * 40
            + "c n i c " * 10 + "x@" * 30 + "1,2" * 40 + "\u200b" * 20 + "۳" * 40 + "\n")
    return (unit * (size // len(unit) + 1))[:size]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS,
                        help=f"labelled JSONL corpus; relative paths resolve from the repo root (default {DEFAULT_CORPUS})")
    parser.add_argument("--errors", action="store_true", help="list every record whose prediction differs from its label")
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each speed measurement (default 2)")
    args = parser.parse_args(argv)

    path = Path(args.corpus)
    path = path if path.is_absolute() else (REPO / path).resolve()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    predictions = [extract(r["text"]).to_dict() for r in records]

    results = score(records, predictions)
    print(f"corpus: {args.corpus} ({len(records)} records)")
    print(f"{'field':<12} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name, (p, r, f) in results.items():
        print(f"{name:<12} {p:9.3f} {r:7.3f} {f:6.3f}")
    macro = sum(f for _, _, f in results.values()) / len(results)
    print(f"macro-F1     {macro:.3f}")
    print(f"identifier precision {results['identifiers'][0]:.3f}")
    if args.errors:
        show_errors(records, predictions)

    texts = [r["text"] for r in records]
    mean = sum(map(len, texts)) / len(texts)
    print("speed (one process, CPU time):")
    print(f"  corpus posts as written (mean {mean:.0f} chars): {rate(texts, args.seconds):>9,.0f} posts/s")
    for size in SIZES:
        per_s = rate(sized_posts(texts, size, 50), args.seconds)
        label = "typical ~500-char posts" if size == SIZES[0] else f"{size // 1024} KB posts"
        print(f"  {label:<40} {per_s:>9,.0f} posts/s {per_s * size / 1024:>9,.0f} KB/s")
    text = adversarial()
    start = time.process_time()
    extract(text)
    print(f"  1 MB adversarial post: {time.process_time() - start:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

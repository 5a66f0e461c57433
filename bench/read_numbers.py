"""Reading real handwritten numbers: the development set of real cheque amounts.

    python bench/read_numbers.py [--real ../shared/data/realnumbers] [--reader PATH] [--model PATH]
        [--segment] [--json bench/results/numbers.json] [--misses 40]

Every image goes the way a user's file goes with ``digitrec predict --number`` (decoded by Pillow,
read by ``Predictor.read_number``): the number reader where one is found, or with ``--segment``
the older path that cuts the image into pieces and classifies each one. Reports:

* whole-number accuracy (the figure that matters), overall and per length;
* digit accuracy (1 - edit distance / length, floored at 0) and the wrong-length rate;
* how many wrong numbers are flagged uncertain, and how many right ones;
* time per image (the whole read, decode included) and for the whole set;
* every miss: file, truth, answer, confidence.

The set is for measuring and choosing only: never train on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Not bench/numbers.py: that name would shadow the standard library's ``numbers`` (which numpy
# imports) for every script in bench/, whose folder leads sys.path when it runs.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

from tui.core.errors import DigitrecError  # noqa: E402
from tui.core.inference import Predictor  # noqa: E402

REAL_DEFAULT = ROOT.parent / "shared" / "data" / "realnumbers"


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two digit strings."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def load_set(folder: Path) -> list[tuple[Path, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        return [(folder / "images" / row["file"], str(row["label"])) for row in csv.DictReader(fh)]


def measure(predictor: Predictor, items: list[tuple[Path, str]], segment: bool) -> dict:
    rows = []
    started = time.perf_counter()
    for path, truth in items:
        t0 = time.perf_counter()
        try:
            reading = predictor.read_number(path, segment=segment) if segment else predictor.read_number(path)
            out = reading.to_json()
        except DigitrecError as exc:
            out = {"number": "", "uncertain": True, "error": str(exc)}
        seconds = time.perf_counter() - t0
        rows.append({"file": path.name, "truth": truth, "answer": out.get("number", ""),
                     "confidence": out.get("confidence"), "uncertain": bool(out.get("uncertain")),
                     "doubtful": out.get("uncertain_positions", []), "seconds": seconds, "error": out.get("error")})
    total = time.perf_counter() - started
    return summarise(rows, total)


def summarise(rows: list[dict], total_seconds: float) -> dict:
    by_length: dict[int, list[bool]] = defaultdict(list)
    for r in rows:
        r["right"] = r["answer"] == r["truth"]
        by_length[len(r["truth"])].append(r["right"])
    right = [r for r in rows if r["right"]]
    wrong = [r for r in rows if not r["right"]]
    digit_acc = sum(max(0.0, 1 - edit_distance(r["answer"], r["truth"]) / len(r["truth"])) for r in rows) / len(rows)
    times = sorted(r["seconds"] for r in rows)
    sweep = {}
    if all(isinstance(r["confidence"], (int, float)) for r in rows):
        for threshold in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
            sweep[str(threshold)] = {
                "wrong_flagged": sum(r["confidence"] < threshold for r in wrong) / max(1, len(wrong)),
                "right_flagged": sum(r["confidence"] < threshold for r in right) / max(1, len(right))}
    return {
        "images": len(rows),
        "whole_number_accuracy": len(right) / len(rows),
        "per_length": {str(k): {"images": len(v), "right": sum(v), "accuracy": sum(v) / len(v)}
                       for k, v in sorted(by_length.items())},
        "digit_accuracy": digit_acc,
        "wrong_length_rate": sum(len(r["answer"]) != len(r["truth"]) for r in rows) / len(rows),
        "wrong_flagged": sum(r["uncertain"] for r in wrong) / max(1, len(wrong)),
        "right_flagged": sum(r["uncertain"] for r in right) / max(1, len(right)),
        "threshold_sweep": sweep,
        "median_seconds_per_image": times[len(times) // 2],
        "total_seconds": total_seconds,
        "misses": [{k: r[k] for k in ("file", "truth", "answer", "confidence", "uncertain", "doubtful", "error")}
                   for r in wrong],
    }


def report(name: str, result: dict, misses: int) -> None:
    print(f"\n{name}: {result['images']} real numbers")
    print(f"  whole numbers right   {result['whole_number_accuracy']:.1%}")
    for length, row in result["per_length"].items():
        print(f"    {length} digits           {row['right']:>3}/{row['images']:<3} {row['accuracy']:.1%}")
    print(f"  digit accuracy        {result['digit_accuracy']:.1%}")
    print(f"  wrong length          {result['wrong_length_rate']:.1%}")
    print(f"  wrong ones flagged    {result['wrong_flagged']:.1%}   right ones flagged {result['right_flagged']:.1%}")
    if result["threshold_sweep"]:
        print("  flagged if the whole number's confidence were under:")
        for threshold, row in result["threshold_sweep"].items():
            print(f"    {float(threshold):.2f}: wrong {row['wrong_flagged']:.1%}, right {row['right_flagged']:.1%}")
    print(f"  time                  {result['median_seconds_per_image'] * 1000:.1f} ms median per image, "
          f"{result['total_seconds']:.1f} s for the set")
    if misses:
        print(f"  misses (first {min(misses, len(result['misses']))} of {len(result['misses'])}): file, truth, answer, confidence")
        for m in result["misses"][:misses]:
            conf = f"{m['confidence']:.2f}" if isinstance(m["confidence"], (int, float)) else "-"
            flag = " uncertain" if m["uncertain"] else ""
            print(f"    {m['file']:<24} {m['truth']:>8} {m['answer'] or '(none)':>9} {conf}{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL_DEFAULT, help="the development set (labels.csv + images/)")
    parser.add_argument("--model", help="the digit model (default: the active one)")
    parser.add_argument("--reader", help="the number reader (default: number_reader.h5 beside the digit model)")
    parser.add_argument("--segment", action="store_true", help="measure the older cut-into-pieces path instead")
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--misses", type=int, default=40, help="how many misses to list")
    args = parser.parse_args(argv)
    if not (args.real / "labels.csv").is_file():
        print(f"bench/numbers.py: {args.real} not found (labels.csv); give --real PATH", file=sys.stderr)
        return 2
    if args.reader:
        os.environ["DIGITREC_READER"] = args.reader
    predictor = Predictor(args.model)
    items = load_set(args.real)
    result = measure(predictor, items, args.segment)
    name = "segmenting digit model" if args.segment else f"number reader ({getattr(predictor, 'reader_name', 'reader')})"
    report(name, result, args.misses)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"path": "segment" if args.segment else "reader", **result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

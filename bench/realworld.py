"""Accuracy on real and realistic user images: the real development set, failure classes, generated styles.

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/realworld.py [--model PATH] [--per-style 300]
        [--real ../shared/data/realdigits] [--per-class 100]

1. The real development set (``../shared/data/realdigits``: photos, drawings, small crops, pen
   renders from outside sources): accuracy overall, per kind and per source, the confusion matrix,
   false "no digit found" refusals, misses at >= 90% confidence, how many misses and correct answers
   are flagged uncertain, expected calibration error and a reliability table before calibration
   (the network's own probabilities, T=1) and as shown (the model's temperature), median
   preprocessing time, and every miss;
   then the same images changed as people's own come (``VARIANTS``): cropped to the ink, with and
   without a little margin; inside a black or a white frame; with a dark band down one side; with
   salt and pepper specks; circled; underlined.
2. The failure classes seen on real images, built from MNIST test digits (synth.FAILURE_CLASSES).
3. MNIST test digits rendered as photos, scans and drawings (synth.STYLES), beside the naive
   baseline (resize the whole image to 28x28) so the value of preprocessing is visible.

Each image goes through the real path a user's file takes (decode with Pillow, preprocess, predict).
Prints tables and writes bench/results/realworld.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.core.calibration import apply_temperature, expected_calibration_error, reliability_table  # noqa: E402
from tui.core.data import load_mnist  # noqa: E402
from tui.core.errors import ImageError  # noqa: E402
from tui.core.images import open_image, to_grayscale  # noqa: E402
from tui.core.inference import Predictor, judge  # noqa: E402
from tui.core.preprocess import preprocess_gray, preprocess_image  # noqa: E402
from tui.core.synth import (  # noqa: E402
    FAILURE_CLASSES, STYLES, crop_to_ink, render_failure_class, render_user_style, with_dark_edge, with_frame,
    with_ring, with_specks, with_underline,
)

REAL_DEFAULT = ROOT.parent / "shared" / "data" / "realdigits"
# The real set again, each image changed as people's own images come: cropped to the digit, framed.
VARIANTS = {
    "cropped to the ink": lambda gray: crop_to_ink(gray, 0.0),
    "cropped, 3 % margin": lambda gray: crop_to_ink(gray, 0.03),
    "black frame round it": lambda gray: with_frame(gray, 0.0),
    "white frame round it": lambda gray: with_frame(gray, 1.0),
    "dark band down the left": with_dark_edge,
    # 2 % of the pixels black or white (dust on a scanner's glass), the same pattern for every run.
    "salt and pepper specks, 2 %": lambda gray: with_specks(gray, np.random.default_rng(gray.size)),
    "circled (a ring round it)": with_ring,
    "underlined": with_underline,
}


def print_reliability(title: str, table: list[dict], ece: float) -> None:
    """One reliability table: per bin of shown confidence, how many answers and how often right."""
    print(f"  {title}: ECE {ece:.4f}")
    print(f"    {'shown':>11} {'n':>5} {'mean conf':>10} {'accuracy':>9}")
    for r in table:
        print(f"    {r['low']:>4.0%}-{r['high']:<5.0%} {r['count']:>5} {r['confidence']:>10.1%} {r['accuracy']:>9.1%}")


def real_set(predictor: Predictor, folder: Path, variant=None) -> dict:
    """The real development set through the user's path; refusals count as wrong answers. With
    ``variant`` (one of ``VARIANTS``), each decoded image is first changed by it."""
    rows = list(csv.DictReader(open(folder / "labels.csv", newline="")))
    inputs, refused, times = [], [], []
    for row in rows:
        gray = to_grayscale(open_image(folder / "images" / row["file"]))
        if variant is not None:
            gray = variant(gray)
        start = time.perf_counter()
        try:
            inputs.append(preprocess_gray(gray))
        except ImageError as exc:
            inputs.append(None)
            refused.append({"file": row["file"], "reason": str(exc)})
        times.append(time.perf_counter() - start)
    raw = predictor.predict_arrays(np.stack([x if x is not None else np.zeros((28, 28), "float32") for x in inputs]),
                                   calibrated=False)
    probs = apply_temperature(raw, predictor.temperature)
    labels = np.array([int(r["label"]) for r in rows])
    answer = probs.argmax(1)
    ok = (answer == labels) & np.array([x is not None for x in inputs])
    flags = np.array([judge(p, x, predictor.threshold)[0] if x is not None else True for p, x in zip(probs, inputs)])
    kinds = np.array([r["kind"] for r in rows])
    sources = np.array([r["source_repo"] for r in rows])
    confusion = np.zeros((10, 10), dtype=int)
    for t, a, x in zip(labels, answer, inputs):
        if x is not None:
            confusion[t, a] += 1
    misses = [{"file": r["file"], "truth": int(t), "answer": int(a), "confidence": round(float(p.max()), 3),
               "uncertain": bool(f)} for r, t, a, p, f, good in zip(rows, labels, answer, probs, flags, ok) if not good]
    return {
        "n": len(rows), "accuracy": float(ok.mean()),
        "per_kind": {k: {"n": int((kinds == k).sum()), "accuracy": float(ok[kinds == k].mean())} for k in sorted(set(kinds))},
        "per_source": {s: {"n": int((sources == s).sum()), "accuracy": float(ok[sources == s].mean())} for s in sorted(set(sources))},
        "confusion": confusion.tolist(), "no_digit_found": refused,
        "misses_at_90": sum(1 for m in misses if m["confidence"] >= 0.9),
        "misses_flagged": float(np.mean([m["uncertain"] for m in misses])) if misses else None,
        "correct_flagged": float(flags[ok].mean()) if ok.any() else None,
        "ece": expected_calibration_error(probs, labels), "reliability": reliability_table(probs, labels),
        "ece_uncalibrated": expected_calibration_error(raw, labels), "reliability_uncalibrated": reliability_table(raw, labels),
        "median_preprocess_ms": float(np.median(times) * 1000), "misses": misses,
    }


def failure_classes(predictor: Predictor, x_test: np.ndarray, y_test: np.ndarray, per_class: int, rng) -> dict:
    rows = {}
    for kind in FAILURE_CLASSES:
        idx = rng.choice(len(x_test), per_class, replace=False)
        inputs, failed = [], 0
        for i in idx:
            try:
                inputs.append(preprocess_image(roundtrip(render_failure_class(x_test[i], kind, rng))))
            except ImageError:
                inputs.append(np.zeros((28, 28), "float32"))
                failed += 1
        acc = float(np.mean(predictor.predict_arrays(np.stack(inputs)).argmax(1) == y_test[idx]))
        rows[kind] = {"n": per_class, "accuracy": acc, "no_digit_found": failed}
    return rows


def naive(img: Image.Image) -> np.ndarray:
    """What a script without preprocessing does: grayscale, resize to 28x28, invert if light."""
    gray = to_grayscale(img)
    small = np.asarray(Image.fromarray((gray * 255).astype("uint8")).resize((28, 28), Image.Resampling.BILINEAR),
                       dtype="float32") / 255.0
    return 1.0 - small if np.median(small) > 0.5 else small


def roundtrip(img: Image.Image) -> Image.Image:
    """Encode and decode as a user's file would be (photos already carry their JPEG artefacts)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--per-style", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--real", type=Path, default=REAL_DEFAULT, help="the real development set's folder")
    parser.add_argument("--per-class", type=int, default=100, help="images per failure class")
    args = parser.parse_args()
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"))
    predictor = Predictor(args.model)
    rng = np.random.default_rng(args.seed)
    rows = {}
    all_pre, all_naive = [], []
    started = time.perf_counter()
    for style in STYLES:
        idx = rng.choice(len(mnist.x_test), args.per_style, replace=False)
        ours, base, failed = [], [], 0
        for i in idx:
            img = roundtrip(render_user_style(mnist.x_test[i], style, rng))
            try:
                ours.append(preprocess_image(img))
            except Exception:  # counted as wrong: the user would get no answer
                ours.append(np.zeros((28, 28), "float32"))
                failed += 1
            base.append(naive(img))
        y = mnist.y_test[idx]
        acc = float(np.mean(predictor.predict_arrays(np.stack(ours)).argmax(1) == y))
        acc_naive = float(np.mean(predictor.predict_arrays(np.stack(base)).argmax(1) == y))
        rows[style] = {"n": len(idx), "accuracy": acc, "naive_accuracy": acc_naive, "no_digit_found": failed}
        all_pre.append(acc)
        all_naive.append(acc_naive)
    overall = float(np.mean(all_pre))
    print(f"model: {predictor.model_path} ({predictor.metadata.get('preset', '?')}, "
          f"MNIST test {predictor.metadata.get('test_accuracy', float('nan')):.2%})")
    real, variants = None, {}
    if (args.real / "labels.csv").is_file():
        real = real_set(predictor, args.real)
        print(f"\nreal development set ({args.real}): {real['accuracy']:.2%} of {real['n']}, "
              f"no digit found {len(real['no_digit_found'])}, misses at >=90% {real['misses_at_90']}, "
              f"median preprocessing {real['median_preprocess_ms']:.1f} ms")
        for kind, r in real["per_kind"].items():
            print(f"  {kind:8} {r['n']:>4} {r['accuracy']:>8.2%}")
        flagged = real["misses_flagged"]
        print(f"  uncertain flags: {flagged if flagged is None else f'{flagged:.0%}'} of misses, "
              f"{real['correct_flagged']:.1%} of correct answers (threshold {predictor.threshold:.2f}); "
              f"ECE {real['ece']:.4f}")
        print_reliability("reliability before calibration (T=1)", real["reliability_uncalibrated"], real["ece_uncalibrated"])
        print_reliability(f"reliability as shown (T={predictor.temperature:g})", real["reliability"], real["ece"])
        print("  worst sources: " + ", ".join(f"{s} {r['accuracy']:.0%}" for s, r in
                                              sorted(real["per_source"].items(), key=lambda kv: kv[1]["accuracy"])[:5]))
        print("  confusion (rows: truth 0-9, columns: answer 0-9):")
        for t, row in enumerate(real["confusion"]):
            print(f"    {t}: " + " ".join(f"{v:>3}" for v in row))
        for m in real["misses"]:
            print(f"  miss {m['file']:32} truth {m['truth']} answer {m['answer']} {m['confidence']:.2f}"
                  f"{' uncertain' if m['uncertain'] else ''}")
        for r in real["no_digit_found"]:
            print(f"  refused {r['file']}")
        for name, variant in VARIANTS.items():
            variants[name] = r = real_set(predictor, args.real, variant)
            print(f"  {name}: {r['accuracy']:.2%} ("
                  + ", ".join(f"{k} {v['accuracy']:.2%}" for k, v in r["per_kind"].items()) + "); misses: "
                  + (", ".join(m["file"] for m in r["misses"]) or "none"))
    else:
        print(f"\nreal development set: skipped ({args.real}/labels.csv not found; pass --real)")
    classes = failure_classes(predictor, mnist.x_test, mnist.y_test, args.per_class, rng)
    print(f"\n{'failure class':14} {'n':>5} {'digitrec':>9} {'no digit':>9}")
    for kind, r in classes.items():
        print(f"{kind:14} {r['n']:>5} {r['accuracy']:>9.2%} {r['no_digit_found']:>9}")
    print(f"\n{'style':10} {'n':>5} {'digitrec':>9} {'naive':>7} {'no digit':>9}")
    for style, r in rows.items():
        print(f"{style:10} {r['n']:>5} {r['accuracy']:>9.2%} {r['naive_accuracy']:>7.2%} {r['no_digit_found']:>9}")
    print(f"{'overall':10} {sum(r['n'] for r in rows.values()):>5} {overall:>9.2%} {np.mean(all_naive):>7.2%}")
    print(f"({time.perf_counter() - started:.1f} s)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "realworld.json").write_text(json.dumps({"model": str(predictor.model_path), "styles": rows,
                                                    "overall": overall, "seed": args.seed, "real": real,
                                                    "real_variants": variants,
                                                    "failure_classes": classes}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

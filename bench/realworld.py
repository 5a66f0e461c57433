"""Accuracy on realistic user-style images: MNIST test digits rendered as photos, scans, drawings.

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/realworld.py [--model PATH] [--per-style 300]

Each image goes through the real path a user's file takes (encode as PNG/JPEG, decode with Pillow,
preprocess, predict). Also reports the naive baseline (resize the whole image to 28x28) so the
value of preprocessing is visible. Prints a table and writes bench/results/realworld.json.
"""

from __future__ import annotations

import argparse
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

from tui.core.data import load_mnist  # noqa: E402
from tui.core.images import to_grayscale  # noqa: E402
from tui.core.inference import Predictor  # noqa: E402
from tui.core.preprocess import preprocess_image  # noqa: E402
from tui.core.synth import STYLES, render_user_style  # noqa: E402


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
    print(f"{'style':10} {'n':>5} {'digitrec':>9} {'naive':>7} {'no digit':>9}")
    for style, r in rows.items():
        print(f"{style:10} {r['n']:>5} {r['accuracy']:>9.2%} {r['naive_accuracy']:>7.2%} {r['no_digit_found']:>9}")
    print(f"{'overall':10} {sum(r['n'] for r in rows.values()):>5} {overall:>9.2%} {np.mean(all_naive):>7.2%}")
    print(f"({time.perf_counter() - started:.1f} s)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "realworld.json").write_text(json.dumps({"model": str(predictor.model_path), "styles": rows,
                                                    "overall": overall, "seed": args.seed}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

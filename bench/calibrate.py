"""Calibrate a trained model's confidence after the fact, and re-derive its "unsure" threshold.

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/calibrate.py [--model models/digit_recognizer.h5]
        [--fit validation|validation+styles] [--write]

1. Re-creates the model's validation split exactly as its training run did (``split_validation``
   with the run's config) and fits one temperature there; with ``--fit validation+styles`` also on
   the 2,400 failure-class and style images rendered from those validation digits
   (robust_trial.py's, seed 7): the images people's files become, which MNIST digits alone are not.
2. The threshold by the rule every preset's was chosen by: the highest (now in steps of 0.01) that flags
   (``inference.judge``) at most 3 % of the right answers on those 2,400 rendered images.
3. Reports, never chooses by, expected calibration error and flags on the real development set.

``--write`` stores ``temperature`` and ``confidence_threshold`` in the model's metadata (attributes
only; the weights stay byte for byte); then re-export the runtime file with ``digitrec export``.
MNIST test digits are never read.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui.core.calibration import apply_temperature, expected_calibration_error, fit_temperature  # noqa: E402
from tui.core.config import TrainConfig  # noqa: E402
from tui.core.data import load_mnist, split_validation  # noqa: E402
from tui.core.errors import ImageError  # noqa: E402
from tui.core.images import open_image, to_grayscale  # noqa: E402
from tui.core.inference import Predictor, judge  # noqa: E402
from tui.core.modelfile import update_metadata  # noqa: E402
from tui.core.preprocess import preprocess_gray  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "realdigits"
STYLE_CACHE = Path("/tmp/digitrec-calibration-styles.npz")
RULE_FLAGS_AT_MOST = 0.03  # of the right answers on the rendered validation images
# Steps of 0.01, the resolution confidence is shown at ("99 %"): calibrated, most right answers sit
# above 0.95, where steps of 0.05 (enough for the raw probabilities) leave the rule nothing to choose.
STEPS = np.round(np.arange(0.05, 1.0, 0.01), 2)


def validation_split(metadata: dict, mnist) -> tuple[np.ndarray, np.ndarray]:
    """The validation digits the model's run held out, re-created from its stored config."""
    cfg = TrainConfig.from_dict(metadata["config"])
    x, y = mnist.x_train, mnist.y_train
    if cfg.train_subset:
        x, y = x[: cfg.train_subset], y[: cfg.train_subset]
    return split_validation(x, y, cfg.validation_split, cfg.seed)[1]


def styled_validation(x_val: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """robust_trial.py's 2,400 failure-class and style images of validation digits (cached)."""
    if STYLE_CACHE.exists():
        cached = np.load(STYLE_CACHE)
        return cached["x"], cached["y"]
    sys.path.insert(0, str(ROOT / "bench" / "experiments"))
    from robust_trial import CACHE, PER_GROUP, render_groups  # noqa: PLC0415

    if CACHE.exists():  # robust_trial.py's own cache holds the same images after the real set's
        cached = np.load(CACHE)
        gen = np.char.startswith(cached["group"].astype(str), "gen:")
        return cached["x"][gen], cached["y"][gen]

    inputs, labels, _ = render_groups(x_val, y_val, PER_GROUP, np.random.default_rng(7))
    x, y = np.stack(inputs).astype("float32"), np.array(labels)
    np.savez_compressed(STYLE_CACHE, x=x, y=y)
    return x, y


def real_set(folder: Path) -> tuple[list, np.ndarray]:
    """The real development set through the user's path: inputs (None where refused) and labels."""
    rows = list(csv.DictReader(open(folder / "labels.csv", newline="")))
    inputs = []
    for row in rows:
        try:
            inputs.append(preprocess_gray(to_grayscale(open_image(folder / "images" / row["file"]))))
        except ImageError:
            inputs.append(None)
    return inputs, np.array([int(r["label"]) for r in rows])


def flags(probs: np.ndarray, inputs, threshold: float) -> np.ndarray:
    return np.array([judge(p, x, threshold)[0] if x is not None else True for p, x in zip(probs, inputs)])


def threshold_by_rule(probs: np.ndarray, inputs, labels: np.ndarray) -> tuple[float, float]:
    """The highest threshold that flags at most 3 % of the right answers, and the share it flags."""
    right = probs.argmax(1) == labels
    best = (float(STEPS[0]), float(flags(probs, inputs, STEPS[0])[right].mean()))
    for t in STEPS:
        share = float(flags(probs, inputs, t)[right].mean())
        if share <= RULE_FLAGS_AT_MOST:
            best = (float(t), share)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/digit_recognizer.h5")
    parser.add_argument("--fit", choices=["validation", "validation+styles"], default="validation")
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--write", action="store_true", help="store the --fit temperature and its threshold in the model")
    args = parser.parse_args()
    predictor = Predictor(args.model)
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"))
    x_val, y_val = validation_split(predictor.metadata, mnist)
    x_sty, y_sty = styled_validation(x_val, y_val)
    p_val, p_sty = predictor.predict_arrays(x_val, calibrated=False), predictor.predict_arrays(x_sty, calibrated=False)
    real_inputs, real_labels = real_set(args.real) if (args.real / "labels.csv").is_file() else ([], np.array([]))
    p_real = predictor.predict_arrays(np.stack([x if x is not None else np.zeros((28, 28), "float32")
                                                for x in real_inputs]), calibrated=False) if real_inputs else None
    fits = {"validation": fit_temperature(p_val, y_val),
            "validation+styles": fit_temperature(np.concatenate([p_val, p_sty]), np.concatenate([y_val, y_sty]))}
    print(f"model {args.model}: {len(y_val):,} validation digits, {len(y_sty):,} rendered from them")
    chosen = {}
    for name, t in [("none (T=1)", 1.0), *fits.items()]:
        sty = apply_temperature(p_sty, t)
        threshold, share = threshold_by_rule(sty, x_sty, y_sty)
        line = (f"  fit on {name:18} T={t:.4f}  ECE validation {expected_calibration_error(apply_temperature(p_val, t), y_val):.4f}"
                f", styles {expected_calibration_error(sty, y_sty):.4f}; threshold {threshold:.2f} "
                f"(flags {share:.1%} of right answers on the styles)")
        if p_real is not None:
            real = apply_temperature(p_real, t)
            right = (real.argmax(1) == real_labels) & np.array([x is not None for x in real_inputs])
            flagged = flags(real, real_inputs, threshold)
            line += (f"; real set: ECE {expected_calibration_error(real, real_labels):.4f}, misses flagged "
                     f"{flagged[~right].sum()}/{(~right).sum()}, right answers flagged {flagged[right].mean():.1%}")
        print(line)
        if name == args.fit:
            chosen = {"temperature": t, "temperature_fitted_on": f"{len(y_val)} validation images" + (
                f" and {len(y_sty)} rendered from them" if name == "validation+styles" else ""),
                "confidence_threshold": threshold}
    if args.write:
        update_metadata(args.model, chosen)
        print(f"wrote {chosen} to {args.model}; now run: digitrec export {args.model} --format tflite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

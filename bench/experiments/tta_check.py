"""Would averaging the model over variants of its input (test-time augmentation) read more digits?

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/experiments/tta_check.py [MODEL]

Judged where choices are made: failure classes and styles rendered from MNIST *validation* digits
(the 2,400 of robust_trial.py's cache, which that script builds, and 4,800 more rendered here
with another seed) and the validation split itself; the real development set is printed beside,
not used to choose. Rule, fixed before the first run: adopt the variant set with the fewest misses
on generated + validation, only if it has at least 10 % fewer than the input alone. Issue 10,
round 6 in BENCHMARKS.md (not adopted).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "experiments"))

import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from tui.core import pipeline  # noqa: E402
from tui.core.data import load_mnist, split_validation  # noqa: E402
from tui.core.inference import Predictor  # noqa: E402

CACHE = Path("/tmp/digitrec-robust-cache.npz")  # robust_trial.py's evaluation inputs
EXTRA = Path("/tmp/digitrec-tta-extra.npz")
COMBOS = {
    "input alone": ["id"],
    "+ four 1-px shifts": ["id", "s01", "s0-1", "s10", "s-10"],
    "+ 2x2 dilation": ["id", "dil"],
    "+ 3x3 cross dilation": ["id", "dil3"],
    "+ 2x2 dilation and erosion": ["id", "dil", "ero"],
    "all seven": ["id", "s01", "s0-1", "s10", "s-10", "dil", "ero"],
}


def extra_renders(x_val, y_val, per_group: int = 400):
    if EXTRA.exists():
        z = np.load(EXTRA)
        return z["x"], z["y"]
    from robust_trial import render_groups  # noqa: PLC0415

    xs, ys, _ = render_groups(x_val, y_val, per_group, np.random.default_rng(8))
    np.savez(EXTRA, x=np.stack(xs), y=np.array(ys))
    return np.stack(xs), np.array(ys)


def variants(x: np.ndarray) -> dict[str, np.ndarray]:
    out = {"id": x}
    for dy, dx in [(0, 1), (0, -1), (1, 0), (-1, 0)]:
        out[f"s{dy}{dx}"] = np.roll(np.roll(x, dy, 1), dx, 2)
    out["dil"] = ndi.grey_dilation(x, size=(1, 2, 2))
    out["ero"] = ndi.grey_erosion(x, size=(1, 2, 2))
    out["dil3"] = ndi.grey_dilation(x, footprint=ndi.generate_binary_structure(2, 1)[None])
    return out


def main() -> int:
    if not CACHE.exists():
        print(f"{CACHE} not found: run bench/experiments/robust_trial.py once to build it")
        return 1
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"), download=False)
    (_, _), (x_val, y_val) = split_validation(mnist.x_train, mnist.y_train, 0.1, 0)
    cache = np.load(CACHE)
    real = np.char.startswith(cache["group"].astype(str), "real:")
    ex, ey = extra_renders(x_val, y_val)
    pools = {
        "real dev set (not used to choose)": (cache["x"][real], cache["y"][real]),
        "generated": (np.concatenate([cache["x"][~real], ex]), np.concatenate([cache["y"][~real], ey])),
        "validation split": (pipeline.to_model_input(x_val)[..., 0], y_val),
    }
    predictor = Predictor(sys.argv[1] if len(sys.argv) > 1 else ROOT / "models" / "digit_recognizer.h5")
    misses = {}
    for pool, (x, y) in pools.items():
        probs = {k: predictor.predict_arrays(v.astype("float32")) for k, v in variants(x).items()}
        misses[pool] = {c: int((np.mean([probs[k] for k in ks], 0).argmax(1) != y).sum()) for c, ks in COMBOS.items()}
        print(f"{pool} ({len(y)}): {misses[pool]}")
    together = {c: misses["generated"][c] + misses["validation split"][c] for c in COMBOS}
    best = min(together, key=together.get)
    adopt = together[best] <= 0.9 * together["input alone"]
    print(f"generated + validation: {together}\nfewest: {best} ({together[best]} against {together['input alone']}): "
          f"{'adopt' if adopt else 'not adopted (needs 10 % fewer)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

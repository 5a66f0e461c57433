"""The training input pipeline alone: ms per 1,000 images with each augmentation switched off in turn.

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/experiments/pipeline_speed.py \\
        '[{}, {"shift": 0}, {"extra": {"augment_stroke": 0}}, {"extra": {"augment_lowres": 0}}]'

Each spec is the `default` preset at batch 256 with ``shift`` and ``extra`` overridden; the
dataset over 20,000 training images is read through three times and the fastest pass counts
(the map runs one thread per core, so this is wall time on all cores). Issue 13.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.core import pipeline  # noqa: E402
from tui.core.config import preset_config  # noqa: E402
from tui.core.data import load_mnist  # noqa: E402


def main() -> int:
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"), download=False)
    x, y = mnist.x_train[:20000], mnist.y_train[:20000]
    for spec in json.loads(sys.argv[1] if len(sys.argv) > 1 else "[{}]"):
        base = preset_config("default")
        cfg = base.with_overrides(batch_size=256, augment_shift=spec.get("shift", base.augment_shift),
                                  extra={**base.extra, **spec.get("extra", {})})
        ds = pipeline.train_dataset(x, y, cfg, one_hot=True)
        for _ in ds.take(3):
            pass
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in ds:
                pass
            best = min(best, time.perf_counter() - start)
        print(f"{json.dumps(spec):70s} {1000 * best / (len(x) / 1000):6.1f} ms/1k", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

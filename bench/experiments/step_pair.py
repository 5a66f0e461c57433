"""A training step's cost against classic's, in one process, trainers alternating.

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/experiments/step_pair.py \\
        '[{"preset": "classic"}, {}, {"ema": false}, {"fixed": true}]' [--rounds 10]

Each spec builds a preset's model (``preset``, default ``default``) with optional overrides
(``batch_size``, ``ema``, ``augment_shift``, ``weight_decay``, ``extra``, ``policy`` for a Keras
dtype policy), compiled as training compiles it, fed by the product's input pipeline over 20,000
training images (``"fixed": true`` feeds one batch from memory instead, to take the pipeline
out). The trainers run in turn, 30 steps of 128 images each per round, and every round's time is
divided by the first spec's in the same round: the machine's drift (a third between hours here)
hits both alike. Prints ms per 1,000 images and the median ratio with its quartiles. Issue 13.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from tui.core import model as model_lib, pipeline  # noqa: E402
from tui.core.config import preset_config  # noqa: E402
from tui.core.data import load_mnist  # noqa: E402
from tui.core.tf import import_tf  # noqa: E402

OVERRIDES = ("batch_size", "ema", "augment_shift", "epochs", "learning_rate", "steps_per_execution", "weight_decay")


def trainer(tf, keras, spec: dict, x, y):
    """(train function, iterator, batch size) for one spec."""
    base = preset_config(spec.get("preset", "default"))
    over = {k: spec[k] for k in OVERRIDES if k in spec}
    if "extra" in spec:
        over["extra"] = {**base.extra, **spec["extra"]}
    cfg = base.with_overrides(**over)
    keras.mixed_precision.set_global_policy(spec.get("policy", "float32"))
    model = model_lib.compile_model(model_lib.build_model(cfg, for_training=not spec.get("plain_norm")), cfg, 400)
    keras.mixed_precision.set_global_policy("float32")
    ds = pipeline.train_dataset(x, y, cfg, one_hot=model_lib.uses_one_hot(cfg)).repeat()
    if spec.get("fixed"):
        ds = tf.data.Dataset.from_tensors(next(iter(ds))).repeat()
    it = iter(ds)
    model.make_train_function()
    for _ in range(3):  # tracing and first allocations
        model.train_function(it)
    return model.train_function, it, cfg.batch_size


def block(fn, it, batch: int, images: int = 30 * 128) -> float:
    """ms per 1,000 images over one block of steps."""
    steps = max(1, images // batch)
    start = time.perf_counter()
    for _ in range(steps):
        out = fn(it)
    float(out["loss"])  # wait for the last step
    return 1e6 * (time.perf_counter() - start) / (steps * batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", help="JSON list of specs; the first is the reference")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    specs = json.loads(args.specs)
    tf, keras = import_tf()
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"), download=False)
    x, y = mnist.x_train[:20000], mnist.y_train[:20000]
    trainers = [trainer(tf, keras, spec, x, y) for spec in specs]
    times = [[block(*t) for t in trainers] for _ in range(args.rounds)]
    for j, spec in enumerate(specs):
        ratios = [row[j] / row[0] for row in times]
        q25, q75 = np.percentile(ratios, [25, 75])
        print(f"{json.dumps(spec):50s} {statistics.median(row[j] for row in times):7.1f} ms/1k  "
              f"x first {statistics.median(ratios):.3f} (quartiles {q25:.3f}-{q75:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where a training step's time goes: the `default` net's step with one part taken out at a time.

    python bench/experiments/step_ablation.py '[{}, {"norm": "fused"}, {"norm": null}, {"w": [4, 4, 4]}]'

Each spec builds the product's compact net (tui/core/model.py) with one change: ``w`` widths,
``norm`` "keras" (Keras' BatchNormalization), "fused" (tui.core.model.fused_batch_norm_class) or
null (no batch norm), ``ema``, ``ls`` (label smoothing, one-hot labels) and ``policy`` ("mixed_bfloat16" by default).
Every trainer is fed one fixed batch from memory (``B`` images, default 512), so the input
pipeline is out; they run in turn, and each round's time is divided by the first spec's in the
same round, so the machine's drift hits all alike. Prints ms per 1,000 images and the median
ratio. Issue 13: this is how the batch norms were found to cost a quarter of a step.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from tui.core import model as model_lib  # noqa: E402
from tui.core.config import TrainConfig  # noqa: E402
from tui.core.tf import import_tf  # noqa: E402

BATCH = int(os.environ.get("B", "512"))
ROUNDS = int(os.environ.get("R", "6"))


def build(keras, widths, norm):
    """The product's compact net (tui/core/model.py) with the chosen batch norm, or none (an
    identity in its place: the convolutions have no bias there, which costs nothing to leave out)."""
    classes = {"keras": keras.layers.BatchNormalization, "fused": model_lib.fused_batch_norm_class()}
    norm_cls = classes.get(norm) or (lambda **_: keras.layers.Identity())
    return model_lib.ARCHITECTURES["compact"](keras, TrainConfig(extra={"widths": list(widths)}), norm_cls)


def trainer(tf, keras, spec):
    with model_lib.dtype_policy(spec.get("policy", "mixed_bfloat16")):
        model = build(keras, spec.get("w", (32, 64, 128)), spec.get("norm", "keras"))
    optimizer = keras.optimizers.Adam(1e-3, use_ema=spec.get("ema", True), ema_momentum=0.99)
    labels = np.random.default_rng(0).integers(0, 10, BATCH)
    if spec.get("ls", True):
        model.compile(optimizer, keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                      metrics=[keras.metrics.CategoricalAccuracy()])
        y = tf.one_hot(labels, 10)
    else:
        model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
        y = tf.constant(labels)
    x = tf.constant(np.random.default_rng(1).random((BATCH, 28, 28, 1), dtype="float32"))
    it = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    model.make_train_function()
    for _ in range(3):  # tracing and first allocations
        model.train_function(it)
    return model.train_function, it


def block(fn, it, steps=max(4, 3840 // BATCH)):
    start = time.perf_counter()
    for _ in range(steps):
        out = fn(it)
    float(out["loss"])
    return 1e6 * (time.perf_counter() - start) / (steps * BATCH)


def main() -> int:
    specs = json.loads(sys.argv[1])
    tf, keras = import_tf()
    trainers = [trainer(tf, keras, spec) for spec in specs]
    rows = [[block(*t) for t in trainers] for _ in range(ROUNDS)]
    for j, spec in enumerate(specs):
        print(f"{json.dumps(spec):50s} {statistics.median(r[j] for r in rows):7.1f} ms/1k  "
              f"x first {statistics.median(r[j] / r[0] for r in rows):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One training trial judged on what users feed the model: validation split, real development set,
and failure classes / styles rendered from *validation* digits (never the MNIST test set).

Usage: robust_trial.py '{"preset": "default", "seed": 1, "extra": {"augment_stroke": 0.3}}' LABEL [--save PATH]
       robust_trial.py '{}' LABEL --model models/digit_recognizer.h5   (judge a saved model)

The evaluation inputs are preprocessed once through the product's pipeline and cached
(``/tmp/digitrec-robust-cache.npz``), so every candidate is judged on the same arrays. Appends a
JSON line to bench/results/trials.jsonl.
"""
import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui.core import model as model_lib, pipeline  # noqa: E402
from tui.core.config import TrainConfig  # noqa: E402
from tui.core.data import load_mnist, split_validation  # noqa: E402
from tui.core.errors import ImageError  # noqa: E402
from tui.core.images import open_image, to_grayscale  # noqa: E402
from tui.core.presets import PRESETS  # noqa: E402
from tui.core.preprocess import preprocess_gray, preprocess_image  # noqa: E402
from tui.core.synth import FAILURE_CLASSES, STYLES, render_failure_class, render_user_style  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "realdigits"
CACHE = Path("/tmp/digitrec-robust-cache.npz")
PER_GROUP = 200


def render_groups(x_val: np.ndarray, y_val: np.ndarray, per_group: int, rng) -> tuple[list, list, list]:
    """``per_group`` validation digits rendered in each failure class and style, through the
    product's preprocessing: (28x28 inputs, labels, "gen:<name>" groups)."""
    from realworld import roundtrip  # noqa: PLC0415

    inputs, labels, groups = [], [], []
    for name, render in [(k, render_failure_class) for k in FAILURE_CLASSES] + [(s, render_user_style) for s in STYLES]:
        for i in rng.choice(len(x_val), per_group, replace=False):
            try:
                inputs.append(preprocess_image(roundtrip(render(x_val[i], name, rng))))
            except ImageError:
                inputs.append(np.zeros((28, 28), "float32"))
            groups.append("gen:" + name)
            labels.append(int(y_val[i]))
    return inputs, labels, groups


def build_cache(x_val: np.ndarray, y_val: np.ndarray) -> dict:
    rows = list(csv.DictReader(open(REAL / "labels.csv", newline="")))
    inputs, groups, labels, files = [], [], [], []
    for row in rows:
        try:
            inputs.append(preprocess_gray(to_grayscale(open_image(REAL / "images" / row["file"]))))
        except ImageError:
            inputs.append(np.zeros((28, 28), "float32"))
        groups.append("real:" + row["kind"])
        labels.append(int(row["label"]))
        files.append(row["file"])
    gen_inputs, gen_labels, gen_groups = render_groups(x_val, y_val, PER_GROUP, np.random.default_rng(7))
    inputs += gen_inputs
    labels += gen_labels
    groups += gen_groups
    files += [""] * len(gen_inputs)
    data = dict(x=np.stack(inputs).astype("float32"), group=np.array(groups), y=np.array(labels), name=np.array(files))
    np.savez_compressed(CACHE, **data)
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("overrides")
    parser.add_argument("label")
    parser.add_argument("--save", default=None)
    parser.add_argument("--model", default=None, help="judge this saved model instead of training one")
    args = parser.parse_args()
    overrides = json.loads(args.overrides)
    preset = overrides.pop("preset", "default")
    base = dict(PRESETS[preset])
    extra = {**base.pop("extra", {}), **overrides.pop("extra", {})}
    cfg = TrainConfig(preset=preset, **{**base, **overrides, "extra": extra})
    cfg.validate()
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"))
    (x_tr, y_tr), (x_val, y_val) = split_validation(mnist.x_train, mnist.y_train, cfg.validation_split, 0)
    cache = dict(np.load(CACHE)) if CACHE.exists() else build_cache(x_val, y_val)

    from tui.core.tf import import_tf  # noqa: PLC0415

    tf, keras = import_tf()
    keras.utils.set_random_seed(cfg.seed)
    steps = -(-len(x_tr) // cfg.batch_size)
    one_hot = model_lib.uses_one_hot(cfg)
    t0 = time.perf_counter()
    if args.model:
        model = keras.models.load_model(args.model)
    else:
        model = model_lib.build_model(cfg, for_training=True)
        model_lib.compile_model(model, cfg, steps)
        model.fit(pipeline.train_dataset(x_tr, y_tr, cfg, one_hot), epochs=cfg.epochs, verbose=0)
        model = model_lib.plain_twin(model, cfg)
    train_s = time.perf_counter() - t0
    model = model_lib.compile_model(model, cfg, steps)
    _, val_acc = model.evaluate(pipeline.eval_dataset(x_val, y_val, one_hot=one_hot), verbose=0)
    if args.save:
        model.save(args.save)
    probs = model.predict(cache["x"][..., None], batch_size=512, verbose=0)
    ok = probs.argmax(1) == cache["y"]
    groups = {g: round(float(ok[cache["group"] == g].mean()), 4) for g in sorted(set(cache["group"]))}
    real = np.char.startswith(cache["group"].astype(str), "real:")
    gen = ~real
    misses = [f"{f}->{a}" for f, a, good, r in zip(cache["name"], probs.argmax(1), ok, real) if r and not good]
    row = dict(label=args.label, cfg=cfg.to_dict(), train_s=round(train_s, 1), val_acc=round(float(val_acc), 5),
               real_acc=round(float(ok[real].mean()), 5), gen_acc=round(float(ok[gen].mean()), 5), groups=groups,
               real_misses=misses, time=time.strftime("%Y-%m-%d %H:%M:%S"))
    print(json.dumps(row), flush=True)
    with open(ROOT / "bench/results/trials.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

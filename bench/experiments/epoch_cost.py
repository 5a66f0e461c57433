"""Where a training step of the `default` preset spends its time on this CPU, and what makes it cheaper.

    DIGITREC_MNIST=../shared/data/mnist.npz python bench/experiments/epoch_cost.py [--images 19200]

Each variant runs in a fresh process (Keras' dtype policy is global): build the `default` model,
compile it as training does, run one warm-up epoch over ``--images`` training images, then time a
second epoch. Reported: seconds per 1,000 images (wall and process CPU), relative to the baseline
measured in the same run. The input pipeline alone (the augmented tf.data iterator, no model) is
timed as well, so its share of a step shows. Issue 13, item 2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

VARIANTS = {
    "baseline (float32, batch 128)": {},
    "jit_compile (XLA)": {"jit": True},
    "mixed_bfloat16": {"policy": "mixed_bfloat16"},
    "batch 256": {"batch": 256},
    "batch 256 + mixed_bfloat16": {"batch": 256, "policy": "mixed_bfloat16"},
    "batch 512": {"batch": 512},
    "batch 512 + mixed_bfloat16": {"batch": 512, "policy": "mixed_bfloat16"},
    "steps_per_execution 8": {"spe": 8},
    "batch 256 + steps_per_execution 8": {"batch": 256, "spe": 8},
    "batch 256 + bf16 + steps_per_execution 8": {"batch": 256, "spe": 8, "policy": "mixed_bfloat16"},
    "steps_per_execution 4": {"spe": 4},
    "bf16 + steps_per_execution 4": {"spe": 4, "policy": "mixed_bfloat16"},
    "batch 256 + bf16 + steps_per_execution 4": {"batch": 256, "spe": 4, "policy": "mixed_bfloat16"},
    "fast: bf16 + steps_per_execution 4": {"preset": "fast", "spe": 4, "policy": "mixed_bfloat16"},
    "fast: float32": {"preset": "fast", "policy": "float32"},
    "classic (reference)": {"preset": "classic"},
    "no EMA": {"ema": False},
    "no augmentation": {"shift": 0},
    "pipeline only": {"pipeline_only": True},
}


def worker(spec: dict, images: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tui.core import model as model_lib, pipeline  # noqa: PLC0415
    from tui.core.config import preset_config  # noqa: PLC0415
    from tui.core.data import load_mnist  # noqa: PLC0415
    from tui.core.tf import import_tf  # noqa: PLC0415

    tf, keras = import_tf()
    if spec.get("policy"):
        keras.mixed_precision.set_global_policy(spec["policy"])
    overrides = {"batch_size": spec.get("batch", 128)}
    if "ema" in spec:
        overrides["ema"] = spec["ema"]
    if "shift" in spec:
        overrides["augment_shift"] = spec["shift"]
    cfg = preset_config(spec.get("preset", "default")).with_overrides(**overrides)
    m = load_mnist(os.environ["DIGITREC_MNIST"], download=False)
    x, y = m.x_train[:images], m.y_train[:images]
    one_hot = model_lib.uses_one_hot(cfg)
    ds = pipeline.train_dataset(x, y, cfg, one_hot=one_hot)
    steps = -(-images // cfg.batch_size)

    def timed(fn):
        w, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w, time.process_time() - c

    if spec.get("pipeline_only"):
        def epoch():
            for _ in ds:
                pass
    else:
        model = model_lib.compile_model(model_lib.build_model(cfg), cfg, steps)
        if spec.get("jit") or spec.get("spe"):
            model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"],
                          jit_compile=bool(spec.get("jit")), steps_per_execution=spec.get("spe", 1))

        def epoch():
            model.fit(ds, epochs=1, verbose=0)
    epoch()  # warm-up: tracing, compilation, first allocations
    wall, cpu = timed(epoch)
    return {"wall_per_1k": 1000 * wall / images, "cpu_per_1k": 1000 * cpu / images}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=19200)
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all variants (interleaved)")
    parser.add_argument("--only", help="variant names to run, separated by ';' (default: all)")
    parser.add_argument("--json")
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), args.images)))
        return 0
    names = [n for n in VARIANTS if not args.only or n in args.only.split(";")]
    rows: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            spec = VARIANTS[name]
            out = subprocess.run([sys.executable, __file__, "--images", str(args.images), "--worker", json.dumps(spec)],
                                 capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if out.returncode:
                print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            rows[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(name, rows[name][-1], flush=True)
    reference = next((n for n in ("baseline (float32, batch 128)", "classic (reference)") if rows.get(n)), None)
    if reference is None:
        print("no baseline or classic row: nothing to compare against")
        return 1
    base = min(r["wall_per_1k"] for r in rows[reference])
    print(f"ratios against: {reference}")
    print(f"\n{'variant':32} {'s/1k wall':>10} {'s/1k cpu':>9} {'x baseline':>10}")
    summary = {}
    for name, rs in rows.items():
        if not rs:
            continue
        wall = min(r["wall_per_1k"] for r in rs)
        cpu = min(r["cpu_per_1k"] for r in rs)
        summary[name] = {"wall_per_1k": round(wall, 4), "cpu_per_1k": round(cpu, 4), "ratio": round(wall / base, 3)}
        print(f"{name:32} {wall:10.3f} {cpu:9.3f} {wall / base:10.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

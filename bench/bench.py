"""Benchmark the presets against the classic Keras convnet, side by side on this machine.

    DIGITREC_MNIST=../shared/data/mnist.npz .venv/bin/python bench/bench.py [--seeds 3] [--quick]

Every (preset, seed) trains in a fresh subprocess through ``tui.core.train.run_training`` (what
``digitrec train`` does), so peak RSS is per config and nothing leaks between runs. Seeds are
interleaved (classic, fast, default for seed 0, then seed 1, ...) so that load from other users
of the machine hits every preset alike: compare the time *ratios*, not the seconds. Test accuracy
is read once at the end of each run, as ``digitrec train`` reports it; nothing is chosen by it.
Inference is timed in one more fresh process on the first ``default`` model. Results go to
``bench/results/bench-<date>.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUICK = dict(train_subset=3000, epochs=1)


def _worker_train(preset: str, seed: int, quick: bool, out: Path) -> None:
    """Train one preset with one seed; write wall time, accuracy and peak RSS as JSON."""
    from tui.core import runs  # noqa: PLC0415
    from tui.core.config import preset_config  # noqa: PLC0415
    from tui.core.data import load_mnist  # noqa: PLC0415
    from tui.core.train import run_training  # noqa: PLC0415

    cfg = preset_config(preset).with_overrides(seed=seed, **(QUICK if quick else {}))
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"), download=False)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{preset}-{seed}-"))
    model_path = work / "model.h5"
    started, cpu_started = time.monotonic(), time.process_time()
    result = run_training(cfg, data=mnist, output=model_path, run_dir=work / "run")
    total, cpu = time.monotonic() - started, time.process_time() - cpu_started
    if result.status != "done":
        raise SystemExit(f"{preset} seed {seed}: {result.status}: {result.reason}")
    done = [e for e in runs.read_events(work / "run") if e["type"] == "done"][-1]
    from tui.core.modelfile import read_metadata  # noqa: PLC0415

    precision = read_metadata(model_path).get("training_precision")
    row = {
        "preset": preset, "seed": seed, "config": cfg.to_dict(), "training_precision": precision,
        "train_seconds": done.get("train_seconds", result.seconds), "total_seconds": round(total, 2),
        "cpu_seconds": round(cpu, 1),  # all threads; less swayed than wall time by other users of the machine
        "test_accuracy": result.test_accuracy, "best_val_accuracy": result.best_val_accuracy,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "model_path": str(model_path), "model_bytes": model_path.stat().st_size,
    }
    out.write_text(json.dumps(row), encoding="utf-8")


def _sample_image() -> Path | None:
    folder = ROOT / "sample_images"
    images = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")) if folder.exists() else []
    return images[0] if images else None


def _worker_infer(model_path: Path, out: Path) -> None:
    """Time TF import, model load, 10k-image prediction and one-image latency in a fresh process."""
    import numpy as np  # noqa: PLC0415

    t = time.perf_counter()
    from tui.core.tf import import_tf  # noqa: PLC0415

    tf, keras = import_tf()
    import_s = time.perf_counter() - t

    from tui.core import model as model_lib  # noqa: PLC0415
    from tui.core import pipeline  # noqa: PLC0415
    from tui.core.config import TrainConfig  # noqa: PLC0415
    from tui.core.data import load_mnist  # noqa: PLC0415
    from tui.core.modelfile import load_model, read_metadata  # noqa: PLC0415

    t = time.perf_counter()
    model = load_model(model_path)  # the app's loader: stored architecture, safe mode
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    cfg = TrainConfig.from_dict(read_metadata(model_path)["config"])
    rebuilt = model_lib.build_model(cfg)
    rebuilt.load_weights(model_path)
    rebuild_s = time.perf_counter() - t

    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"), download=False)
    x = pipeline.to_model_input(mnist.x_test)
    timings = {}
    for name, fn in (("predict_on_batch", model.predict_on_batch),
                     ("call", lambda a: model(a, training=False)),
                     ("tf_function", tf.function(lambda a: model(a, training=False), reduce_retracing=True))):
        # First call includes tracing the graph for this input shape; later calls do not.
        for attempt in ("first", "warm"):
            t = time.perf_counter()
            probs = np.asarray(fn(x))
            timings[f"{name}_{attempt}"] = round(time.perf_counter() - t, 3)
    acc = float((probs.argmax(1) == mnist.y_test).mean())
    rebuilt_diff = float(np.abs(np.asarray(rebuilt.predict_on_batch(x[:1000])) - probs[:1000]).max())

    sample = _sample_image()
    one = []
    predict_one = tf.function(lambda a: model(a, training=False), reduce_retracing=True)
    if sample is not None:
        try:
            from tui.core.preprocess import preprocess_path  # noqa: PLC0415
        except ImportError:
            preprocess_path = None
        for _ in range(30):
            t = time.perf_counter()
            if preprocess_path is not None:
                pre = preprocess_path(sample)
                arr = getattr(pre, "input28", pre)
            else:
                arr = mnist.x_test[0]
            np.asarray(predict_one(pipeline.to_model_input(arr)))
            one.append(time.perf_counter() - t)
    row = {
        "tf_import_s": round(import_s, 2), "load_model_s": round(load_s, 3), "rebuild_load_weights_s": round(rebuild_s, 3),
        "predict_10k_s": timings, "accuracy_check": acc, "rebuilt_max_abs_diff": rebuilt_diff, "model_bytes": model_path.stat().st_size,
        "one_image_ms_median": round(1000 * statistics.median(one[1:]), 1) if one else None,
        "one_image_ms_first": round(1000 * one[0], 1) if one else None, "sample_image": str(sample) if sample else None,
    }
    out.write_text(json.dumps(row), encoding="utf-8")


def _spawn(args: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, __file__, *args, "--json-out", str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    row = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return row


def _versions() -> dict[str, str]:
    import importlib.metadata as md  # noqa: PLC0415

    found = {}
    for pkg in ("tensorflow", "keras", "numpy", "h5py"):
        try:
            found[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            found[pkg] = "?"
    return found


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2%}"
    return f"{statistics.mean(values):.2%} ± {statistics.stdev(values):.2%} (min {min(values):.2%}, max {max(values):.2%})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds for classic, fast and default")
    ap.add_argument("--best-seeds", type=int, default=None, help="seeds for best (slow; default: as --seeds)")
    ap.add_argument("--presets", default="classic,fast,default,best")
    ap.add_argument("--quick", action="store_true", help="1 epoch on 3000 images: checks the harness, not the models")
    ap.add_argument("--worker", nargs=2, metavar=("PRESET", "SEED"), help=argparse.SUPPRESS)
    ap.add_argument("--infer", metavar="MODEL", help=argparse.SUPPRESS)
    ap.add_argument("--json-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker_train(args.worker[0], int(args.worker[1]), args.quick, Path(args.json_out))
        return 0
    if args.infer:
        _worker_infer(Path(args.infer), Path(args.json_out))
        return 0

    presets = args.presets.split(",")
    plan = [(p, s) for s in range(args.seeds) for p in presets if p != "best"]
    best_seeds = args.seeds if args.best_seeds is None else args.best_seeds
    plan += [("best", s) for s in range(best_seeds) if "best" in presets]
    rows = []
    for preset, seed in plan:
        print(f"training {preset} seed {seed} ...", flush=True)
        row = _spawn(["--worker", preset, str(seed)] + (["--quick"] if args.quick else []))
        print(f"  {row['train_seconds']:.1f}s  test {row['test_accuracy']:.2%}  val {row['best_val_accuracy']:.2%}  "
              f"rss {row['peak_rss_mb']} MB", flush=True)
        rows.append(row)

    default_model = next((r["model_path"] for r in rows if r["preset"] == "default"), rows[0]["model_path"])
    print("timing inference ...", flush=True)
    infer = _spawn(["--infer", default_model])

    classic = [r["train_seconds"] for r in rows if r["preset"] == "classic"]
    ref = statistics.mean(classic) if classic else None
    summary = {}
    print()
    classic_cpu = [r["cpu_seconds"] for r in rows if r["preset"] == "classic" and "cpu_seconds" in r]
    print(f"{'preset':8s} {'runs':>4s} {'train s':>8s} {'x classic':>9s} {'cpu x classic':>13s}  {'peak RSS':>8s}  test accuracy")
    for preset in presets:
        mine = [r for r in rows if r["preset"] == preset]
        if not mine:
            continue
        secs = [r["train_seconds"] for r in mine]
        accs = [r["test_accuracy"] for r in mine]
        # Ratio per seed against the classic run of the same seed (trained minutes apart).
        ratios = [r["train_seconds"] / c["train_seconds"] for r in mine
                  for c in rows if c["preset"] == "classic" and c["seed"] == r["seed"]] or (
                  [statistics.mean(secs) / ref] if ref else [])
        summary[preset] = {
            "runs": len(mine), "train_seconds": secs, "mean_train_seconds": round(statistics.mean(secs), 1),
            "ratio_vs_classic": round(statistics.mean(ratios), 3) if ratios else None,
            "ratio_vs_classic_mean_time": round(statistics.mean(secs) / ref, 3) if ref else None,
            "test_accuracy": accs, "mean_test_accuracy": round(statistics.mean(accs), 5),
            "std_test_accuracy": round(statistics.stdev(accs), 5) if len(accs) > 1 else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in mine), "model_bytes": mine[0]["model_bytes"],
            # CPU seconds of the whole run (data, training, checkpoints, test), against classic's:
            # a steadier companion to the wall-time ratio on a shared machine.
            "cpu_ratio_vs_classic": round(statistics.mean(r["cpu_seconds"] for r in mine) / statistics.mean(classic_cpu), 3)
            if classic_cpu else None,
        }
        s = summary[preset]
        ratio = f"{s['ratio_vs_classic_mean_time']:.2f}" if s["ratio_vs_classic_mean_time"] else "-"
        cpu_ratio = f"{s['cpu_ratio_vs_classic']:.2f}" if s["cpu_ratio_vs_classic"] else "-"
        print(f"{preset:8s} {len(mine):4d} {s['mean_train_seconds']:8.1f} {ratio:>9s} {cpu_ratio:>13s}  {s['peak_rss_mb']:5d} MB  {_spread(accs)}")
    print()
    print(f"inference ({Path(default_model).name} from default): TF import {infer['tf_import_s']}s, "
          f"load_model {infer['load_model_s']}s, rebuild+load_weights {infer['rebuild_load_weights_s']}s, "
          f"10k images {infer['predict_10k_s']}, one image (preprocess+predict) {infer['one_image_ms_median']} ms median, "
          f"file {infer['model_bytes'] / 1e6:.2f} MB")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "processor": _cpu_model(), "versions": _versions(),
        "load_average_end": os.getloadavg(), "summary": summary, "inference": infer, "runs": rows,
    }, indent=1), encoding="utf-8")
    print(f"results: {out.relative_to(ROOT)}")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())

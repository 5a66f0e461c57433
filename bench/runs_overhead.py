"""What issue 14's run features cost: TensorBoard files during training, run sizes in listings,
and reading runs for a comparison. Every figure is a ratio or a time measured side by side in
this process, never against a number from another machine.

    DIGITREC_MNIST=../shared/data/mnist.npz .venv/bin/python bench/runs_overhead.py [--pairs 3]

1. Training speed with and without the TensorBoard writer: the classic preset, 2 epochs on 12,000
   images, alternating on/off so that load from other processes falls on both alike; the ratio
   of the fit times (median over pairs).
2. One ``SummaryLog.record`` call for a batch and for an epoch event (median over 2,000 / 200).
3. ``list_runs`` on 60 run folders with and without each folder's size on disk.
4. ``compare_runs`` on six runs of 30 epochs with a full record of batch events (about 2,600
   each, what an 11-minute ``best`` run writes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tui.core import compare, runs, tensorboard, train  # noqa: E402
from tui.core.config import TrainConfig  # noqa: E402
from tui.core.data import load_mnist  # noqa: E402


class NoSummaries(tensorboard.SummaryLog):
    """The writer switched off: the 'without' side of the comparison."""

    def __init__(self, run_dir: Path) -> None:
        self.writers, self.error = {}, None

    def record(self, event) -> None:
        pass


def fit_seconds(mnist, base: Path, with_summaries: bool, index: int) -> float:
    train.SummaryLog = tensorboard.SummaryLog if with_summaries else NoSummaries
    cfg = TrainConfig(preset="classic", arch="classic", epochs=2, batch_size=128, learning_rate=2e-3,
                      train_subset=12000, seed=1)
    result = train.run_training(cfg, data=mnist, output=base / f"m{index}.h5", run_dir=base / f"run{index}",
                                evaluate_test=False)
    assert result.status == "done", result.reason
    done = runs.read_events(result.run_dir)[-1]
    return float(done["train_seconds"])


def bench_training(pairs: int) -> None:
    mnist = load_mnist(os.environ.get("DIGITREC_MNIST"))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        fit_seconds(mnist, base, True, 0)  # warm-up: graph building, caches
        ratios = []
        for i in range(pairs):
            on = fit_seconds(mnist, base, True, 2 * i + 1)
            off = fit_seconds(mnist, base, False, 2 * i + 2)
            ratios.append(on / off)
            print(f"  pair {i + 1}: with {on:.2f} s, without {off:.2f} s, ratio {on / off:.3f}")
        print(f"training with TensorBoard files / without: median ratio {statistics.median(ratios):.3f} "
              f"({pairs} pairs)")
    train.SummaryLog = tensorboard.SummaryLog


def bench_record() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = tensorboard.SummaryLog(Path(tmp))
        batch = {"type": "batch", "epoch": 1, "steps": 500, "loss": 0.3, "accuracy": 0.9, "images_per_sec": 3000.0}
        times = []
        for step in range(1, 2001):
            start = time.perf_counter()
            log.record({**batch, "step": step})
            times.append(time.perf_counter() - start)
        epoch_times = []
        for epoch in range(1, 201):
            event = {"type": "epoch", "epoch": epoch, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.2,
                     "val_accuracy": 0.95, "learning_rate": 1e-3}
            start = time.perf_counter()
            log.record(event)
            epoch_times.append(time.perf_counter() - start)
        log.close()
    per_batch = statistics.median(times)
    print(f"SummaryLog.record: batch event {per_batch * 1e3:.2f} ms, epoch event (with flush) "
          f"{statistics.median(epoch_times) * 1e3:.2f} ms; at {train.BATCH_EVENTS_PER_SECOND} batch events a second "
          f"that is {per_batch * train.BATCH_EVENTS_PER_SECOND:.2%} of the training time")


def scripted_run(base: Path, name: str, epochs: int, batches_per_epoch: int) -> None:
    path = base / name
    path.mkdir(parents=True)
    (path / runs.CONFIG).write_text(json.dumps({"train": {"preset": "best", "epochs": epochs}}))
    lines = [{"type": "start", "time": 1.0, "pid": 2**22 + 1, "epochs": epochs, "steps_per_epoch": 422}]
    for epoch in range(1, epochs + 1):
        for step in range(batches_per_epoch):
            lines.append({"type": "batch", "time": 2.0, "epoch": epoch, "step": step, "steps": 422, "loss": 0.1,
                          "accuracy": 0.97, "images_per_sec": 900.0, "eta_s": 100.0})
        lines.append({"type": "epoch", "time": 3.0, "epoch": epoch, "epochs": epochs, "val_accuracy": 0.99,
                      "val_loss": 0.03, "seconds": 22.0})
    lines.append({"type": "done", "time": 4.0, "best_val_accuracy": 0.99, "test_accuracy": 0.997, "seconds": 700})
    (path / runs.EVENTS).write_text("".join(json.dumps(line) + "\n" for line in lines))
    for name in ("best.h5", "last.h5", "model.h5", "train.log"):
        (path / name).write_bytes(b"x" * 1000)


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_listing_and_compare() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for i in range(60):
            scripted_run(base, f"run-{i:03d}", epochs=2, batches_per_epoch=20)
        with_sizes = timed(lambda: runs.list_runs(base))
        real_usage = runs.disk_usage
        runs.disk_usage = lambda path: 0
        without = timed(lambda: runs.list_runs(base))
        runs.disk_usage = real_usage
        print(f"list_runs on 60 runs: {with_sizes * 1e3:.1f} ms with sizes, {without * 1e3:.1f} ms without "
              f"(ratio {with_sizes / without:.2f})")
        long_runs = base / "long"
        for i in range(6):
            scripted_run(long_runs, f"long-{i}", epochs=30, batches_per_epoch=88)
        paths = sorted(long_runs.iterdir())
        seconds = timed(lambda: compare.compare_runs(paths))
        print(f"compare_runs on 6 runs x 30 epochs (~2,640 batch events each): {seconds * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    bench_record()
    bench_listing_and_compare()
    if not args.skip_training:
        bench_training(args.pairs)


if __name__ == "__main__":
    main()

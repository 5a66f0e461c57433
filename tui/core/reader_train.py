"""Training the number reader as a recorded run (``digitrec train --preset reader``).

The body plugs into :func:`tui.core.train.run_training` like a fine-tune does, so a reader run has
the same ``events.jsonl``, checkpoints, TensorBoard files, cancel and resume as any other run.

What it trains on, in order:

1. synthetic numbers drawn from MNIST *training* digits (:mod:`tui.core.numsynth`), made once per
   run in worker processes and reused each epoch;
2. where given, real labelled lines (a folder with ``labels.csv``: ``file,label``; the preset reads
   ``$DIGITREC_NUMBERS_TRAIN`` or ``extra.real_lines``), each epoch in fresh random distortions.
   A slice of them is held out, and its whole-number accuracy is the run's validation accuracy.

Never point ``real_lines`` at a development or test set.
"""

from __future__ import annotations

import csv
import math
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
import numpy as np
from scipy import ndimage

from tui.core import runs
from tui.core.errors import DigitrecError
from tui.core.lines import normalise_line

NUMBERS_TRAIN_ENV = "DIGITREC_NUMBERS_TRAIN"


class ReaderDataError(DigitrecError):
    """The real lines given to train the reader cannot be used."""


# -- data ------------------------------------------------------------------------------------------


def load_labelled_lines(folder: str | os.PathLike) -> list[tuple[np.ndarray, str, str]]:
    """(grayscale, label, file name) for every image a ``labels.csv`` in ``folder`` names.

    The CSV needs ``file`` and ``label`` columns; labels are read as text, so leading zeros stay,
    and any non-digit in a label (a stray space) is dropped.
    """
    from tui.core.images import open_image, to_grayscale  # noqa: PLC0415

    folder = Path(folder)
    table = folder / "labels.csv"
    if not table.is_file():
        raise ReaderDataError(f"{folder} has no labels.csv (columns file,label); give a folder of labelled number images")
    lines = []
    with open(table, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            label = "".join(c for c in str(row.get("label", "")) if c.isdigit())
            name = row.get("file") or ""
            path = folder / "images" / name if (folder / "images" / name).is_file() else folder / name
            if not label or not path.is_file():
                continue
            lines.append((to_grayscale(open_image(path)), label, name))
    if not lines:
        raise ReaderDataError(f"{table} names no readable, labelled images")
    return lines


def distort(rng: np.random.Generator, gray: np.ndarray) -> np.ndarray:
    """A real line in new clothes: small rotation, shear and stretch, margins trimmed or padded,
    contrast and gamma, blur and grain (paper white is 1)."""
    h, w = gray.shape
    angle = np.deg2rad(rng.uniform(-3, 3))
    shear = rng.uniform(-0.2, 0.2)
    sx, sy = rng.uniform(0.85, 1.15), rng.uniform(0.9, 1.1)
    matrix = np.array([[np.cos(angle) / sy, -np.sin(angle)], [np.sin(angle) + shear, np.cos(angle) / sx]])
    centre = np.array([h / 2, w / 2])
    out = ndimage.affine_transform(gray, matrix, offset=centre - matrix @ centre, order=1, mode="nearest")
    top, bottom = rng.integers(-3, int(0.12 * h) + 1, size=2)
    left, right = rng.integers(-3, int(0.05 * w) + 1, size=2)
    out = np.pad(out, ((max(0, -top), max(0, -bottom)), (max(0, -left), max(0, -right))), mode="edge")
    out = out[max(0, top):out.shape[0] - max(0, bottom), max(0, left):out.shape[1] - max(0, right)]
    out = np.clip(out, 0, 1) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.3:
        out = ndimage.gaussian_filter(out, rng.uniform(0.3, 1.0))
    out = out + rng.normal(0, rng.uniform(0, 0.03), out.shape)
    return np.clip(out, 0, 1).astype(np.float32)


def encode_labels(labels: list[str], width: int) -> np.ndarray:
    """Digit strings to an (N, width) int32 array padded with -1 (CTC's targets)."""
    out = np.full((len(labels), width), -1, dtype=np.int32)
    for i, label in enumerate(labels):
        out[i, :len(label)] = [int(c) for c in label[:width]]
    return out


def _synth_chunk(args: tuple[int, int, str]) -> tuple[np.ndarray, list[str]]:
    """``count`` synthetic lines from seed ``seed`` (a worker process's share)."""
    from tui.core.data import load_mnist  # noqa: PLC0415
    from tui.core.numsynth import DigitBank, render_number  # noqa: PLC0415

    seed, count, data_path = args
    mnist = load_mnist(data_path or None)
    bank = DigitBank(mnist.x_train, mnist.y_train)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(count):
        item = render_number(rng, bank)
        xs.append(normalise_line(item.gray))
        ys.append(item.label)
    return np.stack(xs).astype(np.float16), ys


def synthetic_lines(count: int, seed: int, data_path: str | None, workers: int = 2) -> tuple[np.ndarray, list[str]]:
    """``count`` normalised synthetic lines and their labels, made in ``workers`` processes."""
    chunks = max(1, workers * 4)
    sizes = [count // chunks + (1 if i < count % chunks else 0) for i in range(chunks)]
    jobs = [(seed * 1000 + i, n, data_path or "") for i, n in enumerate(sizes) if n]
    if workers <= 1:
        parts = [_synth_chunk(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_synth_chunk, jobs))
    return np.concatenate([p[0] for p in parts]), [y for p in parts for y in p[1]]


# -- decoding for validation ------------------------------------------------------------------------


def whole_number_accuracy(probs: np.ndarray, labels: list[str]) -> float:
    from tui.core.ctc import greedy_decode  # noqa: PLC0415

    right = sum(greedy_decode(p).text == label for p, label in zip(probs, labels))
    return right / max(1, len(labels))


# -- the run's body ----------------------------------------------------------------------------------


def train_reader(cfg, data_path, data, output, run_dir, initial_epoch, writer, reporter, log, flag, finish, started,
                 evaluate_test):
    """The body of a reader run, for ``run_training(trainer=...)`` (same arguments as its default)."""
    from tui.core import reader_model  # noqa: PLC0415 - imports TensorFlow
    from tui.core.modelfile import check_output_writable, library_versions, save_model  # noqa: PLC0415
    from tui.core.tf import import_tf  # noqa: PLC0415
    from tui.core.train import Cancelled, TrainResult, _make_callback, publish_run  # noqa: PLC0415
    from tui.core.tensorboard import SummaryLog  # noqa: PLC0415

    check_output_writable(output)
    extra = cfg.extra or {}
    rng = np.random.default_rng(cfg.seed)
    real_dir = extra.get("real_lines") or os.environ.get(NUMBERS_TRAIN_ENV)
    real = load_labelled_lines(real_dir) if real_dir else []
    log(f"real lines: {len(real)} from {real_dir}" if real else "real lines: none (synthetic only)")
    order = rng.permutation(len(real))
    n_val = int(round(len(real) * cfg.validation_split))
    val_real = [real[i] for i in order[:n_val]]
    train_real = [real[i] for i in order[n_val:]]
    if cfg.train_subset:
        count = int(cfg.train_subset)
    else:
        count = int(extra.get("synthetic", 40000))
    if flag.is_set():
        raise Cancelled(flag.reason)
    made = time.monotonic()
    syn_x, syn_y = synthetic_lines(count, cfg.seed, data_path, workers=int(extra.get("workers", 2)))
    log(f"{len(syn_y):,} synthetic lines made in {time.monotonic() - made:.0f}s")
    val_syn = min(len(syn_y) // 10, 1000)
    val_x = [normalise_line(g) for g, _, _ in val_real]
    val_y = [label for _, label, _ in val_real]
    if not val_y:  # synthetic only: hold out synthetic lines instead
        val_x, val_y = list(syn_x[:val_syn].astype(np.float32)), syn_y[:val_syn]
    syn_x, syn_y = syn_x[val_syn:], syn_y[val_syn:]
    repeats = int(extra.get("real_repeats", 12)) if train_real else 0
    per_epoch = len(syn_y) + repeats * len(train_real)
    steps = math.ceil(per_epoch / cfg.batch_size)
    tf, keras = import_tf()
    if flag.is_set():
        raise Cancelled(flag.reason)
    model = reader_model.build_reader(tuple(extra.get("widths", (24, 48, 64, 64, 96))), int(extra.get("rnn", 64)),
                                      float(extra.get("dropout", 0.25)), seed=cfg.seed)
    # Optionally the last ``finishing`` epochs are real lines only, at a low constant rate. Measured
    # and not adopted by the preset: the development set of cheque amounts 87.2 -> 87.6 %, real
    # single digits read as numbers 96.5 -> 95.7 % (BENCHMARKS.md "Reading numbers").
    finishing = min(int(extra.get("real_finish_epochs", 0)), cfg.epochs - 1) if train_real else 0
    main_epochs = cfg.epochs - finishing
    total = main_epochs * steps
    warm = min(300, total // 10)
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate / 10, max(1, total - warm), alpha=0.02,
                                                      warmup_target=cfg.learning_rate, warmup_steps=warm)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0), loss=reader_model.ctc_loss)
    if initial_epoch:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(run_dir / runs.LAST_CHECKPOINT)
        model.optimizer.iterations.assign(min(initial_epoch, main_epochs) * steps)
    meta = {
        "preset": cfg.preset, "arch": cfg.arch, "kind": "number_reader", "config": cfg.to_dict(), "run_id": run_dir.name,
        "trained_by": "digitrec train", "train_size": per_epoch, "val_size": len(val_y),
        "synthetic_lines": len(syn_y), "real_lines": len(train_real), "real_source": str(real_dir) if real else None,
        "versions": library_versions(), "training_precision": "float32",
    }
    event = writer.emit("start", run_id=run_dir.name, pid=os.getpid(), config=cfg.to_dict(), output=str(output),
                        epochs=cfg.epochs, steps_per_epoch=steps, train_size=per_epoch, val_size=len(val_y),
                        initial_epoch=initial_epoch, data=data_path)
    from tui.core.train import describe_event  # noqa: PLC0415

    log(describe_event(event))
    if reporter:
        reporter(event)
    val_arr = np.stack(val_x)[..., None].astype(np.float32)

    class WholeNumbers(keras.callbacks.Callback):
        """Validation as whole numbers read right (greedy CTC), put in the epoch's logs."""

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                probs = self.model.predict(val_arr, batch_size=256, verbose=0)
                logs["val_accuracy"] = whole_number_accuracy(probs, val_y)

    recorder = _make_callback(keras, writer=writer, reporter=reporter, log=log, flag=flag, run_dir=run_dir, cfg=cfg,
                              steps=steps, initial_epoch=initial_epoch, meta=meta, summaries=SummaryLog(run_dir))
    width = reader_model.MAX_DIGITS

    def epoch_data(epoch: int):
        erng = np.random.default_rng([cfg.seed, epoch])
        real_only = epoch >= main_epochs
        xs = [] if real_only else [syn_x]
        labels = [] if real_only else list(syn_y)
        for _ in range(repeats):
            xs.append(np.stack([normalise_line(distort(erng, g)) for g, _, _ in train_real]).astype(np.float16))
            labels += [label for _, label, _ in train_real]
        x = np.concatenate(xs)
        y = encode_labels(labels, width)
        perm = erng.permutation(len(x))
        return x[perm], y[perm]

    def batches(first: int, last: int, per_epoch: int):
        # The next epoch's distorted real lines are made in a thread while this epoch trains.
        with ThreadPoolExecutor(1) as pool:
            upcoming = pool.submit(epoch_data, first)
            for epoch in range(first, last):
                x, y = upcoming.result()
                if epoch + 1 < last:
                    upcoming = pool.submit(epoch_data, epoch + 1)
                for start in range(0, per_epoch * cfg.batch_size, cfg.batch_size):
                    idx = np.arange(start, start + cfg.batch_size) % len(x)
                    yield x[idx][..., None].astype(np.float32), y[idx]

    spec = (tf.TensorSpec((None, *val_arr.shape[1:]), tf.float32), tf.TensorSpec((None, width), tf.int32))

    def dataset(first: int, last: int, per_epoch: int):
        return tf.data.Dataset.from_generator(lambda: batches(first, last, per_epoch), output_signature=spec).prefetch(2)

    fit_started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if initial_epoch < main_epochs:
            model.fit(dataset(initial_epoch, main_epochs, steps), epochs=main_epochs, steps_per_epoch=steps,
                      initial_epoch=initial_epoch, callbacks=[WholeNumbers(), recorder], verbose=0)
        if finishing:
            real_steps = math.ceil(repeats * len(train_real) / cfg.batch_size)
            model.compile(optimizer=keras.optimizers.Adam(float(extra.get("real_finish_lr", 2e-4)), clipnorm=5.0),
                          loss=reader_model.ctc_loss)
            finisher = _make_callback(keras, writer=writer, reporter=reporter, log=log, flag=flag, run_dir=run_dir,
                                      cfg=cfg, steps=real_steps, initial_epoch=max(initial_epoch, main_epochs),
                                      meta=meta, summaries=SummaryLog(run_dir))
            finisher.best_val = recorder.best_val
            model.fit(dataset(max(initial_epoch, main_epochs), cfg.epochs, real_steps), epochs=cfg.epochs,
                      steps_per_epoch=real_steps, initial_epoch=max(initial_epoch, main_epochs),
                      callbacks=[WholeNumbers(), finisher], verbose=0)
            recorder = finisher
    train_seconds = time.monotonic() - fit_started
    final_meta = {**meta, "epochs_run": cfg.epochs, "training_seconds": round(train_seconds, 2),
                  "date": time.strftime("%Y-%m-%d"), "test_accuracy": None, "best_val_accuracy": recorder.best_val}
    final = save_model(model, run_dir / runs.FINAL_MODEL, final_meta)
    previous = publish_run(model, final, Path(output), flag, log)
    seconds = time.monotonic() - started
    finish("done", model=str(output), run_model=str(final), previous_model=str(previous) if previous else None,
           best_val_accuracy=recorder.best_val, test_accuracy=None, seconds=round(seconds, 2),
           train_seconds=round(train_seconds, 2), note="validation is whole numbers read right")
    return TrainResult(status="done", run_dir=run_dir, model_path=Path(output), best_val_accuracy=recorder.best_val,
                       seconds=seconds)

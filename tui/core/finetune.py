"""Teach the model your handwriting: fine-tune the active model on a folder of your labelled digits.

Your images go through the same preprocessing as prediction, are augmented, and are mixed with
MNIST training images so nothing is forgotten. Part of them is held out: accuracy on that part
and on the MNIST test set is measured before and after, and the new model replaces the old one
only if MNIST test accuracy falls by no more than ``max_mnist_drop`` (0.1 points by default).
A fine-tune is a recorded run (``runs/<run-id>/``) like any training, so the app follows it live.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tui.core import runs
from tui.core.config import TrainConfig
from tui.core.errors import DigitrecError, ImageError

PRESET = "finetune"  # how a fine-tune shows in `runs` and the Train panel
MIN_IMAGES = 4  # fewer labelled images than this teach nothing and leave nothing to hold out
LABEL_SEPARATORS = ("_", "-", " ", ".")


@dataclass(frozen=True)
class FinetuneSettings:
    """How a fine-tune runs; stored in the run's ``config.json`` under ``finetune``."""

    folder: str
    base_model: str
    epochs: int = 2
    learning_rate: float = 3e-4
    batch_size: int = 64
    mnist_images: int = 12000  # MNIST training images mixed in, so the model keeps what it knew
    user_share: float = 0.5  # the share of a digit's places in the mix given to (augmented) copies of your images
    held_out: float = 0.25  # the share of your images kept aside to measure the change
    max_mnist_drop: float = 0.001  # refuse the new model if MNIST test accuracy falls by more (0.001 = 0.1 points)
    test_limit: int | None = None  # MNIST test images used for the guard (None: all 10,000)
    seed: int = 0

    def __post_init__(self) -> None:
        from tui.core.config import ConfigError  # noqa: PLC0415

        self.train_config().validate()
        if self.mnist_images < 0 or not 0 <= self.held_out < 0.9 or not 0 < self.user_share < 1:
            raise ConfigError("MNIST images must be 0 or more, the held-out share in [0, 0.9) and the share of your "
                              "images in (0, 1); check the values you gave")

    def train_config(self) -> TrainConfig:
        return TrainConfig(preset=PRESET, arch="finetune", epochs=self.epochs, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, validation_split=0.0, seed=self.seed)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FinetuneSettings":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LabelledImages:
    """Your digits as the model will see them, with their labels; what could not be used is listed."""

    inputs: np.ndarray  # (N, 28, 28) float32 in [0, 1]
    labels: np.ndarray  # (N,) int
    paths: list[str]
    # One line each, to follow "skipped ": unlabelled or unreadable files, entries that are no file to read.
    skipped: list[str] = field(default_factory=list)


# -- your labelled digits ---------------------------------------------------------------------------


def label_of(path: Path, root: Path) -> int | None:
    """The digit a file is labelled with: its folder ``0/``..``9/`` under ``root``, or a name like ``7_...``."""
    try:
        parent = path.parent.relative_to(root)
    except ValueError:
        parent = Path()
    if parent.parts and len(parent.parts[0]) == 1 and parent.parts[0].isdigit():
        return int(parent.parts[0])
    name = path.name
    if len(name) > 2 and name[0].isdigit() and name[1] in LABEL_SEPARATORS:
        return int(name[0])
    return None


def collect_labelled(folder: str | os.PathLike) -> LabelledImages:
    """Read and preprocess every labelled image in ``folder`` (names ``7_...``, or subfolders ``0/``..``9/``)."""
    from tui.core.images import Skipped, collect_images  # noqa: PLC0415
    from tui.core.preprocess import preprocess_path  # noqa: PLC0415

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ImageError(f"{root} is not a folder; give a folder of your labelled digits (files named 7_... "
                         "or subfolders 0/ to 9/)")
    sources = [root] + [root / str(d) for d in range(10) if (root / str(d)).is_dir()]
    inputs, labels, paths, skipped = [], [], [], []
    for path, problem in collect_images(sources):
        if isinstance(problem, Skipped):
            skipped.append(f"{path}: {problem.reason}")
            continue
        if problem is not None:  # a folder without images among them: the count below says if none are left
            continue
        label = label_of(path, root)
        if label is None:
            skipped.append(f"{path.name}: no label (name it like 7_{path.name} or put it in a folder 0/ to 9/)")
            continue
        try:
            inputs.append(preprocess_path(path).input28)
        except ImageError as exc:
            skipped.append(str(exc))
            continue
        labels.append(label)
        paths.append(str(path))
    if len(inputs) < MIN_IMAGES:
        found = f"found {len(inputs)}" + (f" ({len(skipped)} skipped: {skipped[0]})" if skipped else "")
        raise ImageError(f"{root}: need at least {MIN_IMAGES} labelled digit images to teach, {found}; name files "
                         "like 7_mine.png or put them in subfolders 0/ to 9/")
    return LabelledImages(np.stack(inputs).astype(np.float32), np.asarray(labels, dtype=np.int64), paths, skipped)


def split_held_out(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices to teach with and to hold out: ``fraction`` of each digit's images, at least one of any
    digit that has two or more, none of a digit with a single image."""
    rng = np.random.default_rng(seed)
    teach, held = [], []
    for digit in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        n_held = 0 if len(idx) < 2 else max(1, int(round(len(idx) * fraction)))
        held.extend(idx[:n_held])
        teach.extend(idx[n_held:])
    return np.sort(np.asarray(teach, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


def augment(inputs: np.ndarray, copies: int, rng: np.random.Generator) -> np.ndarray:
    """``copies`` variants of each input: small rotations, zooms, shears and shifts, as handwriting varies."""
    from scipy import ndimage  # noqa: PLC0415

    out = np.empty((len(inputs) * copies, *inputs.shape[1:]), dtype=np.float32)
    centre = (np.asarray(inputs.shape[1:]) - 1) / 2
    k = 0
    for image in inputs:
        for _ in range(copies):
            angle = np.deg2rad(rng.uniform(-12, 12))
            scale = rng.uniform(0.9, 1.1)
            shear = rng.uniform(-0.15, 0.15)
            rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            matrix = rotate @ np.array([[1.0, shear], [0.0, 1.0]]) / scale
            shift = rng.uniform(-1.5, 1.5, size=2)
            offset = centre - matrix @ (centre + shift)
            out[k] = ndimage.affine_transform(image, matrix, offset=offset, order=1, mode="constant", cval=0.0)
            k += 1
    return np.clip(out, 0.0, 1.0)


def training_mix(x_mnist: np.ndarray, y_mnist: np.ndarray, x_teach: np.ndarray, y_teach: np.ndarray,
                 settings: FinetuneSettings) -> tuple[np.ndarray, np.ndarray, int]:
    """Your images, augmented, mixed with MNIST so that every digit keeps its usual share of the mix.

    Each digit gets ``mnist_images / 10`` places; your copies of a digit fill up to ``user_share``
    of them (at least the originals) and MNIST images of that digit the rest. Adding a few hundred
    7s on top of MNIST instead would teach the model that 7s are common, which costs MNIST accuracy
    (measured: 0.2 points). Returns uint8 images, labels, and the most copies made of one image.
    """
    rng = np.random.default_rng(settings.seed)
    slot = max(1, settings.mnist_images // 10)
    xs, ys, most = [], [], 1
    for digit in range(10):
        mine = x_teach[y_teach == digit]
        copies = max(1, round(settings.user_share * slot / len(mine))) if len(mine) else 0
        if copies:
            most = max(most, copies)
            variants = np.concatenate([mine, augment(mine, copies - 1, rng)]) if copies > 1 else mine
            xs.append(np.rint(variants * 255).astype(np.uint8))
            ys.append(np.full(len(variants), digit))
        theirs = np.flatnonzero(y_mnist == digit)
        take = min(len(theirs), max(slot - len(mine) * copies, 0))
        chosen = rng.choice(theirs, size=take, replace=False)
        xs.append(x_mnist[chosen])
        ys.append(y_mnist[chosen].astype(np.int64))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64), most


def accuracy(predictor: Any, inputs: np.ndarray, labels: np.ndarray) -> float | None:
    """The share of ``inputs`` predicted as ``labels``; None when there are none to measure."""
    if len(labels) == 0:
        return None
    return float(np.mean(predictor.predict_arrays(inputs).argmax(axis=1) == labels))


# -- the fine-tune as a run --------------------------------------------------------------------------


def create_finetune_run(settings: FinetuneSettings, output: str | os.PathLike, data: str | None = None,
                        base: Path | None = None) -> Path:
    """A run folder for a fine-tune, its ``config.json`` naming the folder, the base model and the settings."""
    return runs.create_run(base, PRESET, {"train": settings.train_config().to_dict(), "finetune": asdict(settings),
                                          "output": str(output), "data": data})


def run_finetune(settings: FinetuneSettings, output: str | os.PathLike, *, data_path: str | None = None,
                 data: Any = None, run_dir: Path | None = None, reporter: Any = None, flag: Any = None):
    """Fine-tune as a recorded run; returns :class:`tui.core.train.TrainResult` (never raises once the run exists)."""
    from tui.core.train import run_training  # noqa: PLC0415

    run_dir = run_dir or create_finetune_run(settings, output, data_path)

    def body(cfg, data_path, data, output, run_dir, initial_epoch, writer, reporter, log, flag, finish, started,
             evaluate_test):
        return _finetune(settings, data_path, data, Path(output), run_dir, writer, reporter, log, flag, finish, started)

    return run_training(settings.train_config(), data_path=data_path, data=data, output=output, run_dir=run_dir,
                        reporter=reporter, flag=flag, trainer=body)


def _finetune(settings: FinetuneSettings, data_path, data, output: Path, run_dir: Path, writer, reporter, log, flag,
              finish, started):
    from tui.core import pipeline  # noqa: PLC0415
    from tui.core.data import load_mnist  # noqa: PLC0415
    from tui.core.inference import Predictor  # noqa: PLC0415
    from tui.core.names import for_text  # noqa: PLC0415
    from tui.core.modelfile import (  # noqa: PLC0415
        check_output_writable,
        library_versions,
        load_model,
        read_metadata,
        save_model,
    )
    from tui.core.tf import import_tf  # noqa: PLC0415
    from tui.core.tensorboard import SummaryLog  # noqa: PLC0415
    from tui.core.train import (  # noqa: PLC0415
        Cancelled,
        TrainResult,
        _make_callback,
        calibrate,
        publish_model,
        write_runtime_file,
    )

    cfg = settings.train_config()
    check_output_writable(output)
    mine = collect_labelled(settings.folder)
    teach_idx, held_idx = split_held_out(mine.labels, settings.held_out, settings.seed)
    for line in mine.skipped:  # on the console (or the app's log) as well as in train.log
        log(f"skipped {for_text(line)}")
        if reporter:
            reporter({"type": "skipped", "line": line})
    mnist = data or load_mnist(data_path)
    _, keras = import_tf()
    if flag.is_set():
        raise Cancelled(flag.reason)
    model = load_model(settings.base_model)
    predictor = Predictor(settings.base_model, model=model)
    x_test, y_test = mnist.x_test, mnist.y_test
    if settings.test_limit:
        x_test, y_test = x_test[: settings.test_limit], y_test[: settings.test_limit]
    x_held, y_held = mine.inputs[held_idx], mine.labels[held_idx]
    before = {"held_out": accuracy(predictor, x_held, y_held), "mnist": accuracy(predictor, x_test, y_test)}

    x, y, copies = training_mix(mnist.x_train, mnist.y_train, mine.inputs[teach_idx], mine.labels[teach_idx], settings)
    steps = math.ceil(len(x) / cfg.batch_size)

    # Batch-norm statistics stay as MNIST set them: a few hundred images of one hand would skew them.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    # The loss the base model was trained with (label smoothing or not): with another one every output
    # moves, not only those for your digits. Measured on the shipped model and 24 constructed 7s: hard
    # labels cost 0.23-0.28 MNIST points (also when tuning the last layer only, or with weight
    # averaging); its own smoothing 0.05.
    smoothing = float(((read_metadata(settings.base_model) or {}).get("config") or {}).get("label_smoothing") or 0.0)
    cfg = dataclasses.replace(cfg, label_smoothing=smoothing)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    meta = {"preset": PRESET, "arch": "finetune", "config": cfg.to_dict(), "finetune": asdict(settings),
            "run_id": run_dir.name, "trained_by": "digitrec train --finetune", "dataset_sha256": mnist.sha256,
            "train_size": len(x), "user_images": len(mine.labels), "versions": library_versions(),
            "confidence_threshold": predictor.threshold}  # the base's "unsure" line: the same network, nudged
    event = writer.emit("start", run_id=run_dir.name, pid=os.getpid(), config=cfg.to_dict(), output=str(output),
                        epochs=cfg.epochs, steps_per_epoch=steps, train_size=len(x), val_size=len(y_held),
                        initial_epoch=0, data=mnist.source, finetune=settings.folder, user_images=len(mine.labels),
                        held_out=len(y_held), skipped=len(mine.skipped))
    log(f"fine-tuning {settings.base_model} on {len(teach_idx)} of your images ({copies} variants each) mixed with "
        f"MNIST to {len(x):,} images; {len(held_idx)} held out")
    if reporter:
        reporter(event)
    recorder = _make_callback(keras, writer=writer, reporter=reporter, log=log, flag=flag, run_dir=run_dir, cfg=cfg,
                              steps=steps, initial_epoch=0, meta=meta, summaries=SummaryLog(run_dir))
    # The held-out digits are the validation curve the Train panel plots; nothing is chosen by it.
    val = pipeline.eval_dataset(x_held, y_held, one_hot=True) if len(y_held) else None
    fit_started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "shuffle ignored for a tf.data.Dataset": it is shuffled
        model.fit(pipeline.train_dataset(x, y, cfg, one_hot=True), epochs=cfg.epochs, validation_data=val, callbacks=[recorder],
                  verbose=0)
    train_seconds = time.monotonic() - fit_started
    after = {"held_out": accuracy(predictor, x_held, y_held), "mnist": accuracy(predictor, x_test, y_test)}
    # Enough held-out images of your own refit the temperature; fewer would only add noise to it, and
    # the base's still describes the same network, nudged (as its threshold does).
    calibration = calibrate(model, x_held, y_held) or (
        {"temperature": predictor.temperature} if predictor.temperature != 1.0 else {})
    final = save_model(model, run_dir / runs.FINAL_MODEL, {
        **meta, **calibration, "epochs_run": cfg.epochs, "training_seconds": round(train_seconds, 2), "date": time.strftime("%Y-%m-%d"),
        "test_accuracy": round(after["mnist"], 6), "held_out_before": before["held_out"],
        "held_out_after": after["held_out"], "test_accuracy_before": round(before["mnist"], 6)})
    if flag.is_set():
        raise Cancelled(flag.reason)
    report = describe_change(before, after, len(y_held), len(y_test))
    kept = before["mnist"] - after["mnist"] <= settings.max_mnist_drop + 1e-12
    previous = None
    if kept:
        previous = publish_model(final, output)
        write_runtime_file(model, Path(output), log)  # the .tflite follows the .h5 it was made from
        note = report
    else:
        note = (f"{report}; NOT saved to {output}: MNIST test accuracy fell by "
                f"{(before['mnist'] - after['mnist']) * 100:.2f} points, more than the "
                f"{settings.max_mnist_drop * 100:.2f} allowed; the active model is unchanged and the fine-tuned one "
                f"is kept at {final}")
    seconds = time.monotonic() - started
    finish("done", model=str(output) if kept else None, run_model=str(final),
           previous_model=str(previous) if previous else None, test_accuracy=round(after["mnist"], 6),
           seconds=round(seconds, 2), train_seconds=round(train_seconds, 2), note=note, refused=not kept,
           held_out_before=before["held_out"], held_out_after=after["held_out"],
           test_accuracy_before=round(before["mnist"], 6), held_out=len(y_held))
    return TrainResult(status="done", run_dir=run_dir, model_path=Path(output) if kept else final,
                       test_accuracy=after["mnist"], seconds=seconds, reason="" if kept else note)


def describe_change(before: dict[str, float], after: dict[str, float], held: int, tested: int) -> str:
    """One line: held-out accuracy and MNIST test accuracy before and after."""
    mine = (f"your {held} held-out digits {before['held_out']:.0%} -> {after['held_out']:.0%}" if held
            else "no held-out digits (give at least two of a digit to measure)")
    return f"{mine}; MNIST test ({tested:,}) {before['mnist']:.2%} -> {after['mnist']:.2%}"


# -- saving corrections into the teaching folder -------------------------------------------------------


def _new_file(folder: Path, stem: str, suffix: str):
    """Open a new file ``stem{suffix}`` (or ``stem-2{suffix}``...) in ``folder``, never replacing one."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            return path, open(path, "xb")
        except FileExistsError:
            n += 1


def _written(path: Path, fh, write) -> Path:
    """Run ``write(fh)``; a file left half-written by a failure is removed."""
    try:
        with fh:
            write(fh)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def save_labelled(kind: str, value: Any, digit: int, folder: str | os.PathLike) -> Path:
    """Save an image into the teaching ``folder`` as ``{digit}_...``: a file (``kind`` "path") is copied as
    it is; a 28x28 model input (``kind`` "input") is written as a PNG. Nothing is overwritten."""
    from PIL import Image  # noqa: PLC0415

    folder = Path(folder).expanduser()
    try:
        if kind == "path":
            source = Path(value)
            if not source.is_file():
                raise ImageError(f"{source} is no longer there; predict the image again")
            stem = source.stem[2:] if label_of(source, source.parent) is not None else source.stem
            path, fh = _new_file(folder, f"{digit}_{stem}", source.suffix.lower())

            def copy(out) -> None:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, out)

            return _written(path, fh, copy)
        if kind == "input":
            ink = np.clip(np.asarray(value, dtype=np.float32), 0.0, 1.0)
            image = Image.fromarray(np.rint(255 * ink).astype(np.uint8)).resize((112, 112), Image.Resampling.BILINEAR)
            path, fh = _new_file(folder, f"{digit}_corrected_{time.strftime('%Y%m%d-%H%M%S')}", ".png")
            return _written(path, fh, lambda out: image.save(out, format="PNG"))
    except OSError as exc:
        raise DigitrecError(f"could not save into {folder}/ ({exc.strerror or exc}); check the folder is writable") from None
    raise ValueError(f"unknown image kind {kind!r}")

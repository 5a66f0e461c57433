"""Training as a run: a Keras fit wrapped so that every step is recorded in the run folder.

A run writes ``events.jsonl`` (see :mod:`tui.core.runs`), a human-readable ``train.log``,
``last.h5`` after every epoch (for ``--resume``), ``best.h5`` whenever validation accuracy
improves, and ``model.h5`` at the end, which is then copied atomically to the output path.
Ctrl+C, SIGTERM and SIGHUP stop the run within about one batch and record ``cancelled``;
the output model is only ever replaced by a finished run.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui.core import runs
from tui.core.config import TrainConfig
from tui.core.data import Mnist, load_mnist, split_validation
from tui.core.errors import DigitrecError, RunError
from tui.core.modelfile import check_output_writable, default_output, save_model
from tui.core.tensorboard import SummaryLog

BATCH_EVENTS_PER_SECOND = 4
# The fewest validation images a temperature is fitted on. A few hundred a small model gets all
# right would push the fit to its bound (the likelihood only grows as it sharpens); below this the
# model's probabilities are shown as they are.
CALIBRATION_MIN_IMAGES = 500
Reporter = Callable[[dict[str, Any]], None]


class Cancelled(Exception):
    """Raised inside fit when a stop was requested; carries the reason."""


@dataclass
class TrainResult:
    status: str  # done | cancelled | error
    run_dir: Path
    model_path: Path | None = None
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0
    reason: str = ""


class StopFlag:
    """Set by signal handlers (or another thread); checked after every batch."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event = threading.Event()

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


SIGNAL_REASONS = {
    signal.SIGINT: "interrupted by Ctrl+C",
    signal.SIGTERM: "stopped by SIGTERM (stop requested)",
}
if hasattr(signal, "SIGHUP"):
    SIGNAL_REASONS[signal.SIGHUP] = "the terminal closed (SIGHUP)"


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag):
    """Turn Ctrl+C, SIGTERM and SIGHUP into a cooperative stop for the duration of training."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, _frame):
        flag.set(SIGNAL_REASONS.get(signum, f"signal {signum}"))

    for sig in SIGNAL_REASONS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _make_callback(keras, *, writer: runs.EventWriter, reporter: Reporter | None, log, flag: StopFlag,
                   run_dir: Path, cfg: TrainConfig, steps: int, initial_epoch: int, meta: dict[str, Any],
                   summaries: SummaryLog):
    """The Keras callback that records progress, checkpoints, and honours the stop flag."""
    from tui.core import model as model_lib  # noqa: PLC0415 - imports TensorFlow, as the caller has

    class RunRecorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best_val = None
            self.epoch = initial_epoch
            self.last_emit = 0.0
            self.step_time = None
            self.batch_start = None
            self.epoch_start = time.monotonic()
            self.last_batch = -1  # the last step Keras reported in this epoch
            self.twin = None

        def float32_model(self):
            """The model as it is saved: itself, or (trained in mixed precision) one float32 twin
            built at the first checkpoint and given the current weights at each later one."""
            if self.twin is None:
                self.twin = model_lib.plain_twin(self.model, cfg)
            elif self.twin is not self.model:
                self.twin.set_weights(self.model.get_weights())
            return self.twin

        def emit(self, kind, **data):
            event = writer.emit(kind, **data)
            summaries.record(event)
            if reporter:
                reporter(event)
            return event

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1
            self.epoch_start = time.monotonic()
            self.batch_start = time.monotonic()
            self.last_batch = -1

        def on_train_batch_begin(self, batch, logs=None):
            if self.batch_start is None:
                self.batch_start = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            # With steps_per_execution > 1 Keras calls this once per group of steps, with the
            # index of the group's last step.
            now = time.monotonic()
            first = self.last_batch < 0
            elapsed = (now - (self.batch_start or now)) / max(1, batch - self.last_batch)
            self.last_batch = batch
            self.batch_start = now
            # A moving average of step time; an epoch's first (graph-building) call is not typical.
            if not first:
                self.step_time = elapsed if self.step_time is None else 0.9 * self.step_time + 0.1 * elapsed
            if flag.is_set():
                self.on_train_end()
                raise Cancelled(flag.reason or "stopped")
            step = min(batch + 1, steps)  # a last, partial group of steps still ends at the last one
            if now - self.last_emit >= 1.0 / BATCH_EVENTS_PER_SECOND or step == steps:
                self.last_emit = now
                logs = logs or {}
                remaining = (cfg.epochs - self.epoch) * steps + (steps - step)
                st = self.step_time
                self.emit(
                    "batch", epoch=self.epoch, epochs=cfg.epochs, step=step, steps=steps,
                    loss=_num(logs.get("loss")), accuracy=_num(logs.get("accuracy")),
                    images_per_sec=round(cfg.batch_size / st, 1) if st else None,
                    eta_s=round(remaining * st, 1) if st else None,
                )

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            lr = self.model.optimizer.learning_rate
            try:
                lr = float(np.asarray(lr))
            except (TypeError, ValueError):
                lr = None
            val_acc = _num(logs.get("val_accuracy"))
            event = self.emit(
                "epoch", epoch=epoch + 1, epochs=cfg.epochs,
                loss=_num(logs.get("loss")), accuracy=_num(logs.get("accuracy")),
                val_loss=_num(logs.get("val_loss")), val_accuracy=val_acc,
                learning_rate=lr, seconds=round(time.monotonic() - self.epoch_start, 2),
            )
            log(describe_event(event))
            checkpoint_meta = {**meta, "epochs_run": epoch + 1, "checkpoint": True}
            save_model(self.float32_model(), run_dir / runs.LAST_CHECKPOINT, {**checkpoint_meta, "val_accuracy": val_acc})
            if val_acc is not None and (self.best_val is None or val_acc > self.best_val):
                self.best_val = val_acc
                shutil.copyfile(run_dir / runs.LAST_CHECKPOINT, run_dir / f".{runs.BEST_CHECKPOINT}.tmp")
                os.replace(run_dir / f".{runs.BEST_CHECKPOINT}.tmp", run_dir / runs.BEST_CHECKPOINT)

        def on_train_end(self, logs=None):
            summaries.close()
            if summaries.error:
                log(summaries.error)

    return RunRecorder()


def _num(value) -> float | None:
    if value is None:
        return None
    try:
        v = float(np.asarray(value))
    except (TypeError, ValueError):
        return None
    return round(v, 6) if math.isfinite(v) else None


def describe_event(event: dict[str, Any]) -> str:
    """One plain line for a log file or a non-terminal stdout; missing or odd fields show as '?'."""
    kind = event.get("type")
    if kind == "epoch":
        parts = [f"epoch {_field(event, 'epoch')}/{_field(event, 'epochs')}", _named(event, "loss", "loss"),
                 _named(event, "accuracy", "acc")]
        if event.get("val_loss") is not None or event.get("val_accuracy") is not None:
            parts += [_named(event, "val_loss", "val_loss"), _named(event, "val_accuracy", "val_acc")]
        parts.append(f"{_field(event, 'seconds', '.1f')}s")
        return "  ".join(p for p in parts if p)
    if kind == "start":
        config = event.get("config") if isinstance(event.get("config"), dict) else {}
        return (f"run {_field(event, 'run_id')}: preset {config.get('preset', '?')}, {_field(event, 'epochs')} epochs x "
                f"{_field(event, 'steps_per_epoch')} steps, {_field(event, 'train_size')} train / "
                f"{_field(event, 'val_size')} validation images")
    if kind == "done":
        acc = event.get("test_accuracy")
        line = f"done in {_field(event, 'seconds', '.1f')}s" + (f", test accuracy {_field(event, 'test_accuracy', '.2%')}" if acc is not None else "")
        if event.get("model"):
            line += f"; model saved to {event['model']}"
        if event.get("previous_model"):
            line += f" (the one it replaced is kept as {event['previous_model']})"
        if event.get("note"):
            line += f"; {event['note']}"
        return line
    if kind == "cancelled":
        kept = event.get("checkpoint")
        return f"cancelled: {event.get('reason') or 'stopped'}" + (f"; best checkpoint kept at {kept}" if kept else "")
    if kind == "error":
        return f"error: {event.get('reason') or 'no reason recorded'}"
    if kind == "skipped":  # a fine-tune's image it could not use (see finetune.collect_labelled)
        from tui.core.names import for_text  # noqa: PLC0415

        return f"skipped {for_text(str(event.get('line', '?')))}"
    return str(event)


def _field(event: dict[str, Any], key: str, spec: str = "") -> str:
    """``event[key]`` formatted with ``spec``, or '?' when it is missing or not what the spec needs."""
    value = event.get(key)
    if value is None:
        return "?"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return "?"


def _named(event: dict[str, Any], key: str, label: str) -> str:
    return f"{label} {_field(event, key, '.4f')}" if event.get(key) is not None else ""


def previous_path(output: Path) -> Path:
    """Where a replaced model is kept: ``digit_recognizer.h5`` -> ``digit_recognizer.previous.h5``."""
    return output.with_name(f"{output.stem}.previous{output.suffix}")


def publish_model(final: Path, output: Path) -> Path | None:
    """Copy a finished run's model to ``output`` atomically, keeping any model it replaces.

    The old file is hard-linked (or copied) to ``previous_path(output)`` before the new one is
    renamed over it, so at every instant ``output`` is a whole model and nothing is lost.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.copy.h5")
    kept = None
    try:
        if output.exists():
            kept = previous_path(output)
            staging = output.with_name(f".{kept.name}.{os.getpid()}.tmp")
            try:
                os.link(output, staging)
            except OSError:
                shutil.copyfile(output, staging)
            os.replace(staging, kept)
        shutil.copyfile(final, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    except OSError as exc:
        for leftover in output.parent.glob(f".{output.stem}*.{os.getpid()}.*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise RunError(f"could not write {output} ({exc.strerror or exc}); the trained model is kept at {final}") from None
    return kept


def write_runtime_file(model, output: Path, log: Callable[[str], None]) -> None:
    """Write the published model's LiteRT file beside it, so prediction never waits for TensorFlow.

    A failure costs only time: the file is rebuilt on first use, so the run still succeeds.
    """
    from tui.core.modelfile import read_metadata  # noqa: PLC0415
    from tui.core.runtime import export_runtime, first_line  # noqa: PLC0415

    try:
        log(f"runtime file {export_runtime(model, output, read_metadata(output))} written")
    except Exception as exc:  # noqa: BLE001
        log(f"could not write the runtime file for {output} ({first_line(exc)}); it is rebuilt on first use")


def calibrate(model, x_val: np.ndarray, y_val: np.ndarray) -> dict[str, Any]:
    """The metadata that makes the model's confidence honest: the temperature fitted on the run's
    own validation split (``temperature``, ``temperature_fitted_on``), or nothing when the split is
    smaller than CALIBRATION_MIN_IMAGES (the model's probabilities are then shown as they are)."""
    from tui.core import pipeline  # noqa: PLC0415
    from tui.core.calibration import fit_temperature  # noqa: PLC0415

    if len(x_val) < CALIBRATION_MIN_IMAGES:
        return {}
    probs = model.predict(pipeline.to_model_input(x_val), batch_size=1024, verbose=0)
    return {"temperature": fit_temperature(probs, y_val), "temperature_fitted_on": f"{len(x_val)} validation images"}


def publish_run(model, final: Path, output: Path, flag: StopFlag, log: Callable[[str], None]) -> Path | None:
    """Publish a finished run's saved model to ``output`` with its runtime file, unless a stop came
    after the last batch (the old output is then kept); returns where a replaced model is kept."""
    if flag.is_set():
        raise Cancelled(flag.reason)
    previous = publish_model(final, Path(output))
    if previous:
        log(f"the model it replaced is kept at {previous}")
    write_runtime_file(model, Path(output), log)
    return previous


def resume_point(run_dir: Path) -> tuple[TrainConfig, dict[str, Any], int]:
    """Config, stored options and last finished epoch of a run that can be resumed."""
    import json  # noqa: PLC0415

    run_dir = Path(run_dir)
    summary = runs.summarise(run_dir)
    if summary.status == "running":
        raise RunError(f"run {summary.run_id} is still running (pid {summary.pid}); stop it before resuming")
    if summary.status == "done":
        raise RunError(f"run {summary.run_id} already finished; start a new run instead")
    if not (run_dir / runs.LAST_CHECKPOINT).exists():
        raise RunError(f"run {summary.run_id} has no checkpoint to resume from (it stopped before its first epoch ended); start a new run")
    stored = json.loads((run_dir / runs.CONFIG).read_text(encoding="utf-8"))
    cfg = TrainConfig.from_dict(stored["train"])
    done_epochs = max((int(e["epoch"]) for e in summary.history), default=0)
    if done_epochs >= cfg.epochs and not (run_dir / runs.FINAL_MODEL).is_file():
        # last.h5 is not the finished model: that also has its weights averaged and batch norms re-estimated.
        raise RunError(f"run {summary.run_id} trained all {cfg.epochs} epochs but stopped before saving its final "
                       f"model; its last checkpoint {run_dir / runs.LAST_CHECKPOINT} is a model you can evaluate or "
                       "use as it is (without the final touches), or start a new run")
    return cfg, stored, min(done_epochs, cfg.epochs)


def run_training(
    cfg: TrainConfig,
    *,
    data_path: str | None = None,
    data: Mnist | None = None,
    output: str | os.PathLike | None = None,
    run_dir: Path | None = None,
    resume: Path | None = None,
    reporter: Reporter | None = None,
    flag: StopFlag | None = None,
    evaluate_test: bool = True,
    trainer: Callable[..., TrainResult] | None = None,
    accepted: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train ``cfg`` as a recorded run; returns how it ended. Never raises for cancel or errors
    after the run folder exists: those are recorded and returned. ``trainer`` replaces the usual
    training body (a fine-tune uses it) and gets the same arguments. ``accepted(run_dir)`` is called
    once the run may go ahead (a resume is possible, the output is free), before data and TensorFlow load.

    Raises :class:`RunError` before anything is written when the run cannot be resumed or another
    run holds the output (see :func:`tui.core.runs.output_lock`)."""
    flag = flag or StopFlag()
    initial_epoch = 0
    if resume is not None:
        run_dir = Path(resume)
        cfg, stored, initial_epoch = resume_point(run_dir)
        retarget = bool(output) and str(output) != stored.get("output")  # --output on resume: it finishes there
        output = output or stored.get("output")
        data_path = data_path or stored.get("data")
    output = Path(output) if output else default_output(cfg.arch)
    if resume is not None and initial_epoch >= cfg.epochs:  # stopped after its last epoch: publish its model
        trainer = _publish_finished
    elif trainer is None and cfg.arch == "reader":
        from tui.core.reader_train import train_reader  # noqa: PLC0415

        trainer = train_reader
    with runs.output_lock(output) as claim:  # refused here, before any run folder is made
        if run_dir is None:
            run_dir = runs.create_run(None, cfg.preset, {"train": cfg.to_dict(), "output": str(output), "data": data_path})
        else:
            run_dir = Path(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
            if not (run_dir / runs.CONFIG).exists():
                runs.write_json_atomic(run_dir / runs.CONFIG, {"train": cfg.to_dict(), "output": str(output), "data": data_path})
        claim(run_dir)
        if resume is not None and retarget:
            runs.write_json_atomic(run_dir / runs.CONFIG, {**stored, "output": str(output)})
        if accepted:
            accepted(run_dir)
        (run_dir / runs.PID_FILE).write_text(str(os.getpid()), encoding="ascii")
        writer = runs.EventWriter(run_dir)
        log_fh = open(run_dir / runs.LOG, "a", encoding="utf-8")

        def log(line: str) -> None:
            try:
                log_fh.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                log_fh.flush()
            except (OSError, ValueError):
                pass

        def finish(kind: str, **data) -> dict[str, Any]:
            event = writer.emit(kind, **data)
            log(describe_event(event))
            if reporter:
                reporter(event)
            return event

        started = time.monotonic()
        result = TrainResult(status="error", run_dir=run_dir)
        try:
            with stop_on_signals(flag):
                result = (trainer or _train)(cfg, data_path, data, output, run_dir, initial_epoch, writer, reporter, log,
                                             flag, finish, started, evaluate_test)
        except Cancelled as exc:
            best = run_dir / runs.BEST_CHECKPOINT
            kept = best if best.exists() else (run_dir / runs.LAST_CHECKPOINT if (run_dir / runs.LAST_CHECKPOINT).exists() else None)
            finish("cancelled", reason=str(exc), checkpoint=str(kept) if kept else None)
            result = TrainResult(status="cancelled", run_dir=run_dir, model_path=kept, reason=str(exc),
                                 seconds=time.monotonic() - started)
        except DigitrecError as exc:
            finish("error", reason=str(exc))
            result = TrainResult(status="error", run_dir=run_dir, reason=str(exc), seconds=time.monotonic() - started)
        except MemoryError:
            reason = "out of memory; try a smaller batch size or a subset"
            finish("error", reason=reason)
            result = TrainResult(status="error", run_dir=run_dir, reason=reason)
        except Exception as exc:  # the run must end with a record, whatever went wrong
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else 'unexpected failure'}"
            finish("error", reason=reason)
            result = TrainResult(status="error", run_dir=run_dir, reason=reason)
        finally:
            writer.close()
            log_fh.close()
        return result


def _publish_finished(cfg, data_path, data, output, run_dir, initial_epoch, writer, reporter, log, flag, finish,
                      started, evaluate_test) -> TrainResult:
    """Resume a run stopped after its last epoch (e.g. Ctrl+C during the test evaluation): its finished
    model, ``model.h5``, was saved (evaluated, weights averaged) before the stop was honoured; publish it."""
    from tui.core.modelfile import DIGIT, READER, load_model, read_metadata  # noqa: PLC0415

    check_output_writable(output)
    final = run_dir / runs.FINAL_MODEL
    meta = read_metadata(final)
    summary = runs.summarise(run_dir)
    before = next((e for e in reversed(runs.read_events(run_dir)) if e["type"] == "start"), {})
    event = writer.emit(
        "start", run_id=run_dir.name, pid=os.getpid(), config=cfg.to_dict(), output=str(output), epochs=cfg.epochs,
        steps_per_epoch=before.get("steps_per_epoch"), train_size=before.get("train_size"),
        val_size=before.get("val_size"), initial_epoch=initial_epoch, data=before.get("data"),
    )
    log(describe_event(event))
    if reporter:
        reporter(event)
    model = load_model(final, READER if cfg.arch == "reader" else DIGIT)  # for its runtime file
    previous = publish_run(model, final, Path(output), flag, log)
    seconds = time.monotonic() - started
    test_acc = meta.get("test_accuracy")
    finish("done", model=str(output), run_model=str(final), previous_model=str(previous) if previous else None,
           best_val_accuracy=summary.best_val_accuracy, test_accuracy=test_acc, test_loss=meta.get("test_loss"),
           seconds=round(seconds, 2), note="published the model the run finished before it was stopped")
    return TrainResult(status="done", run_dir=run_dir, model_path=Path(output),
                       best_val_accuracy=summary.best_val_accuracy, test_accuracy=test_acc, seconds=seconds)


def _train(cfg, data_path, data, output, run_dir, initial_epoch, writer, reporter, log, flag, finish, started,
           evaluate_test) -> TrainResult:
    from tui.core import model as model_lib  # noqa: PLC0415 - imports TensorFlow
    from tui.core import pipeline  # noqa: PLC0415
    from tui.core.modelfile import library_versions  # noqa: PLC0415
    from tui.core.tf import import_tf  # noqa: PLC0415

    check_output_writable(output)  # a run must not train for an hour and then fail to save
    mnist = data or load_mnist(data_path)
    if flag.is_set():
        raise Cancelled(flag.reason)
    tf, keras = import_tf()
    if flag.is_set():  # a stop asked for while TensorFlow was loading
        raise Cancelled(flag.reason)
    x, y = mnist.x_train, mnist.y_train
    if cfg.train_subset:
        x, y = x[: cfg.train_subset], y[: cfg.train_subset]
    (x_tr, y_tr), (x_val, y_val) = split_validation(x, y, cfg.validation_split, cfg.seed)
    steps = math.ceil(len(x_tr) / cfg.batch_size)
    one_hot = model_lib.uses_one_hot(cfg)
    with model_lib.strategy_scope():  # MirroredStrategy when several GPUs are visible
        precision = model_lib.training_precision(cfg)  # mixed bfloat16 where the CPU has it natively
        with model_lib.dtype_policy(precision):
            model = model_lib.build_model(cfg, for_training=True)
        model_lib.compile_model(model, cfg, steps)
    if initial_epoch:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(run_dir / runs.LAST_CHECKPOINT)
        # Continue the learning-rate schedule where it stopped (Adam's moments start afresh).
        model.optimizer.iterations.assign(initial_epoch * steps)
    meta = {
        "preset": cfg.preset, "arch": cfg.arch, "config": cfg.to_dict(), "run_id": run_dir.name,
        "trained_by": "digitrec train", "dataset_sha256": mnist.sha256, "train_size": len(x_tr),
        "val_size": len(x_val), "versions": library_versions(), "training_precision": precision,
    }
    event = writer.emit(
        "start", run_id=run_dir.name, pid=os.getpid(), config=cfg.to_dict(), output=str(output),
        epochs=cfg.epochs, steps_per_epoch=steps, train_size=len(x_tr), val_size=len(x_val),
        initial_epoch=initial_epoch, data=mnist.source,
    )
    log(describe_event(event))
    if reporter:
        reporter(event)
    recorder = _make_callback(keras, writer=writer, reporter=reporter, log=log, flag=flag, run_dir=run_dir,
                              cfg=cfg, steps=steps, initial_epoch=initial_epoch, meta=meta,
                              summaries=SummaryLog(run_dir))  # the same curves as TensorBoard event files
    val = pipeline.eval_dataset(x_val, y_val, one_hot=one_hot) if len(x_val) else None
    gate, schedule = pipeline.augmentation_gate(cfg)  # clean final epochs, where the preset asks for them
    fit_started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "shuffle ignored for a tf.data.Dataset": it is shuffled
        model.fit(
            pipeline.train_dataset(x_tr, y_tr, cfg, one_hot=one_hot, gate=gate), epochs=cfg.epochs,
            initial_epoch=initial_epoch, validation_data=val, callbacks=[recorder, *schedule],
            verbose=0,
        )
    train_seconds = time.monotonic() - fit_started
    float32_model = recorder.float32_model()  # what is evaluated, saved and converted
    if float32_model is not model:
        with model_lib.strategy_scope():
            model = model_lib.compile_model(float32_model, cfg, steps)
    note = ""
    short = cfg.epochs * steps < model_lib.SHORT_RUN_STEPS
    recalibrate = model_lib.recalibration_size(cfg, cfg.epochs * steps)
    if recalibrate:
        sample = pipeline.to_model_input(x_tr[:recalibrate])
        with model_lib.strategy_scope():
            if model_lib.recalibrate_batch_norm(model, sample):
                meta["batch_norm_recalibrated_on"] = len(sample)
                note = (f"short run ({cfg.epochs * steps} steps): " if short else "") + \
                    f"batch-norm statistics re-estimated on {len(sample):,} training images"
    calibration = calibrate(model, x_val, y_val)
    if calibration:
        meta.update(calibration)
        log(f"confidence calibrated: temperature {calibration['temperature']} fitted on "
            f"{calibration['temperature_fitted_on']}")
    test_acc = test_loss = None
    if evaluate_test:
        # Reported in the metadata only; nothing is chosen by it.
        test_loss, test_acc = model.evaluate(pipeline.eval_dataset(mnist.x_test, mnist.y_test, one_hot=one_hot), verbose=0)
        test_acc, test_loss = round(float(test_acc), 6), round(float(test_loss), 6)
    final_meta = {
        **meta, "epochs_run": cfg.epochs, "training_seconds": round(train_seconds, 2),
        "date": time.strftime("%Y-%m-%d"), "test_accuracy": test_acc, "test_loss": test_loss,
        "best_val_accuracy": recorder.best_val,
    }
    final = save_model(model, run_dir / runs.FINAL_MODEL, final_meta)
    previous = publish_run(model, final, Path(output), flag, log)
    seconds = time.monotonic() - started
    finish("done", model=str(output), run_model=str(final), previous_model=str(previous) if previous else None, best_val_accuracy=recorder.best_val,
           test_accuracy=test_acc, test_loss=test_loss, seconds=round(seconds, 2), train_seconds=round(train_seconds, 2),
           note=note or None)
    return TrainResult(status="done", run_dir=run_dir, model_path=Path(output), best_val_accuracy=recorder.best_val,
                       test_accuracy=test_acc, seconds=seconds)

"""The ``digitrec`` command line: the app by default, and headless train/runs/watch/evaluate/predict.

Imports are lazy so that ``digitrec --help`` answers at once and never loads TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from tui import __version__
from tui.core.lean import defer_numpy_dev_modules, one_blas_thread

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="PATH", help="MNIST .npz file (default: $DIGITREC_MNIST, then the Keras cache, then download)")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", help="model file (default: models/digit_recognizer.h5 or $DIGITREC_MODEL)")


def _add_runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=("auto", "litert", "tensorflow"), default=None,
                   help="what computes the predictions: LiteRT (fast start, the default where installed) or "
                        "TensorFlow (default: $DIGITREC_RUNTIME or auto)")


def _add_low_bandwidth(p: argparse.ArgumentParser, default=False) -> None:
    p.add_argument("--low-bandwidth", action="store_true", default=default,
                   help="redraw live views less often, for slow SSH links (also: DIGITREC_LOW_BANDWIDTH=1)")


def low_bandwidth_wanted(args: argparse.Namespace, environ=os.environ) -> bool:
    """``--low-bandwidth``, or ``DIGITREC_LOW_BANDWIDTH`` set to anything but 0/false/no/off."""
    setting = environ.get("DIGITREC_LOW_BANDWIDTH", "").strip().lower()
    return bool(getattr(args, "low_bandwidth", False)) or setting not in ("", "0", "false", "no", "off")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitrec",
        description="Train, watch, test and use a handwritten-digit recogniser. With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"digitrec {__version__}")
    _add_low_bandwidth(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    app = sub.add_parser("app", help="open the terminal app (the default)")
    _add_model(app)
    _add_data(app)
    _add_low_bandwidth(app, default=argparse.SUPPRESS)  # `digitrec --low-bandwidth app` keeps it too

    train = sub.add_parser("train", help="train a model as a recorded run in runs/")
    train.add_argument("--preset", default=None, help="classic, fast, default, best or robust (default: default)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float, help="peak learning rate")
    train.add_argument("--lr-schedule", choices=("constant", "cosine", "onecycle"))
    train.add_argument("--validation-split", type=float, help="fraction of the training set held out for validation")
    train.add_argument("--seed", type=int)
    train.add_argument("--augment-shift", type=int, help="random shifts of up to N pixels (0: off)")
    train.add_argument("--label-smoothing", type=float)
    train.add_argument("--subset", dest="train_subset", type=int, help="train on the first N images only (quick trials)")
    train.add_argument("--precision", choices=("auto", "float32", "bfloat16"),
                       help="compute precision while training (default: the preset's; fast and default use auto: mixed "
                            "bfloat16 on a CPU with native bf16, float32 elsewhere); the saved model is float32 either way")
    train.add_argument("--output", metavar="PATH", help="where the finished model goes (default: models/digit_recognizer.h5)")
    train.add_argument("--resume", metavar="RUN", help="continue a cancelled or interrupted run from its last checkpoint")
    train.add_argument("--finetune", metavar="FOLDER",
                       help="teach the model your handwriting: fine-tune it on FOLDER's labelled digits (files named "
                            "7_... or subfolders 0/..9/), mixed with MNIST; replaces --output (default: the model) "
                            "only if MNIST test accuracy holds")
    train.add_argument("--model", metavar="PATH", help="with --finetune: the model to start from (default: the active model)")
    train.add_argument("--max-mnist-drop", type=float, metavar="POINTS",
                       help="with --finetune: refuse the new model if MNIST test accuracy falls by more (default 0.1)")
    train.add_argument("--mnist-images", type=int, metavar="N",
                       help="with --finetune: MNIST training images mixed in (default 12000)")
    train.add_argument("--run-dir", help=argparse.SUPPRESS)  # a run prepared by the app's launcher
    train.add_argument("--no-test", action="store_true", help="skip the final test-set evaluation")
    _add_data(train)

    from tui.core.prune import DEFAULT_KEEP  # light: no TensorFlow, no h5py

    runs_p = sub.add_parser("runs", help="list training runs with status, progress and best validation accuracy")
    runs_p.add_argument("--json", action="store_true", help="one JSON object per run (with --compare: one object)")
    runs_p.add_argument("--compare", nargs="+", metavar="RUN",
                        help="compare 2 to 6 runs (ids, unique prefixes, 'latest'): settings that differ and results")
    runs_p.add_argument("--prune", action="store_true",
                        help="delete old runs, keeping the newest (never one that is training or holds a model in use)")
    runs_p.add_argument("--keep", type=int, metavar="N",
                        help=f"with --prune: how many of the newest runs to keep (default {DEFAULT_KEEP}; 0 with --failed)")
    runs_p.add_argument("--failed", action="store_true",
                        help="with --prune: delete only runs that did not finish (error, cancelled, interrupted)")
    runs_p.add_argument("--dry-run", action="store_true", help="with --prune: list what would be deleted, delete nothing")

    watch = sub.add_parser("watch", help="follow a run's progress live (from another terminal too)")
    watch.add_argument("run", nargs="?", default="latest", help="run id, unique prefix, folder or 'latest'")

    stop = sub.add_parser("stop", help="ask a running run to stop (it keeps its best checkpoint)")
    stop.add_argument("run", nargs="?", default=None, help="run id or prefix (default: the latest run that is training)")

    ev = sub.add_parser("evaluate", help="test accuracy, per-class precision/recall, confusion matrix")
    _add_model(ev)
    _add_data(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--worst", type=int, default=5, metavar="N", help="show the N most confident mistakes (default 5)")
    _add_runtime(ev)
    ev.add_argument("--cross-check", action="store_true",
                    help="also run the Keras model in TensorFlow and report how far the two runtimes' probabilities differ")

    pr = sub.add_parser("predict", help="predict the digit in image files or folders")
    pr.add_argument("paths", nargs="+", metavar="PATH")
    _add_model(pr)
    pr.add_argument("--json", action="store_true", help="one JSON object per image")
    pr.add_argument("--blocks", action="store_true", help="finer half-block rendering instead of ASCII")
    pr.add_argument("--number", action="store_true", help="each image holds several digits (e.g. 2026): read them left to right")
    pr.add_argument("--explain", action="store_true",
                    help="show which parts of each image the answer rests on (an occlusion-sensitivity map)")
    _add_runtime(pr)

    rd = sub.add_parser("read", help="read the handwritten number in each image (e.g. an amount, a year), whole")
    rd.add_argument("paths", nargs="+", metavar="PATH")
    rd.add_argument("--reader", metavar="PATH",
                    help="the number reader (default: number_reader.h5 beside the digit model, or $DIGITREC_READER)")
    _add_model(rd)
    rd.add_argument("--segment", action="store_true",
                    help="cut the number into digits and classify each with the digit model instead")
    rd.add_argument("--json", action="store_true", help="one JSON object per image")
    rd.add_argument("--blocks", action="store_true", help="finer half-block rendering instead of ASCII")
    _add_runtime(rd)

    models = sub.add_parser("models", help="list the models in models/ with their metadata and runtime files")
    models.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="write a model as LiteRT (.tflite), Keras (.keras) or a TensorFlow SavedModel")
    export.add_argument("model", metavar="MODEL", help="the .h5 model to export")
    export.add_argument("--format", choices=("tflite", "keras", "savedmodel"), default="tflite",
                        help="tflite: the runtime file digitrec predicts with (default); keras; savedmodel (a folder)")
    export.add_argument("--output", metavar="PATH", help="where to write it (default: beside MODEL)")
    export.add_argument("--force", action="store_true",
                        help="replace an existing file at the output that digitrec did not write (never a folder "
                             "holding anything but a SavedModel)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from tui.core.errors import DigitrecError

    if args.command not in (None, "app"):
        # A character the locale cannot show (a file name, a bar) becomes '?' rather than a crash.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(errors="replace")
    try:
        handler = COMMANDS[args.command or "app"]
        if hasattr(args, "data"):  # app, train, evaluate: MNIST may be read, here or in a training process
            from tui.core.data import refuse_non_file

            refuse_non_file(args.data)
        return handler(args)
    except DigitrecError as exc:
        print(f"digitrec: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("digitrec: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # e.g. `digitrec predict ... | head`
        return EXIT_OK
    except Exception as exc:  # last resort: one line, never a traceback
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        print(f"digitrec: unexpected error: {type(exc).__name__}{': ' + detail if detail else ''}", file=sys.stderr)
        return EXIT_FAIL


# --- app ------------------------------------------------------------------------------------


def cmd_app(args) -> int:
    one_blas_thread()  # the app's own numpy work is small; its first screen comes sooner
    from tui.app.app import run_app

    return run_app(model=getattr(args, "model", None), data=getattr(args, "data", None),
                   low_bandwidth=low_bandwidth_wanted(args)) or EXIT_OK


# --- train ----------------------------------------------------------------------------------


class TrainPrinter:
    """Shows run events: a live Rich progress bar in a terminal, plain lines otherwise.

    ``errors=False`` leaves out ``error`` records, for a caller that prints the failure itself.
    """

    def __init__(self, stream=None, errors: bool = True):
        self.stream = stream or sys.stdout
        self.errors = errors
        self.tty = self.stream.isatty()
        self.progress = None  # the live bar, from the first batch of a run to its last record
        self.task = None

    def __call__(self, event: dict) -> None:
        from tui.core.runs import TERMINAL, worse_than_replaced
        from tui.core.train import describe_event

        if event.get("type") == "batch":
            if self.tty:
                self._bar(event)
            return
        if event.get("type") in TERMINAL:
            self.clear()
        if event.get("type") == "error" and not self.errors:
            return
        self._print(describe_event(event))
        if event.get("type") == "done" and (warning := worse_than_replaced(event)):
            self._print(f"note: {warning}")

    def _print(self, line: str) -> None:
        if self.progress is not None:  # above the live bar
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=self.stream, flush=True)

    def _bar(self, e: dict) -> None:
        step, steps = _int_or_none(e.get("step")), _int_or_none(e.get("steps"))
        fields = {
            "epoch": f"{e.get('epoch', '?')}/{e.get('epochs', '?')}",
            "loss": _metric(e, "loss", "loss {:.4f}"),
            "acc": _metric(e, "accuracy", "acc {:.4f}"),
            "eta": f"ETA {_duration(e['eta_s'])}" if isinstance(e.get("eta_s"), (int, float)) else "ETA ?",
            "speed": _metric(e, "images_per_sec", "{:,.0f} img/s") if e.get("images_per_sec") else "",
        }
        if self.progress is None:
            self._start()
        self.progress.update(self.task, completed=step or 0, total=steps or None, refresh=True, **fields)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = Console(file=self.stream, force_terminal=True)
        # ETA and speed come from the run's own records (the whole run, measured by the trainer),
        # not from Rich's clock, so `watch` shows the same figures when it replays a run.
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"), TextColumn("{task.fields[acc]}"), TextColumn("{task.fields[eta]}"),
            TextColumn("{task.fields[speed]}"), console=console, auto_refresh=False, transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=None, epoch="?", loss="", acc="", eta="", speed="")

    def clear(self) -> None:
        """Remove the live progress bar, if one is showing."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = self.task = None


def _metric(event: dict, key: str, template: str) -> str:
    value = event.get(key)
    return template.format(value) if isinstance(value, (int, float)) else ""


def _int_or_none(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# Settings a resumed run keeps from its start: changing them would change what the checkpoint means.
FIXED_ON_RESUME = (("preset", "--preset"), ("epochs", "--epochs"), ("batch_size", "--batch-size"),
                   ("learning_rate", "--lr"), ("lr_schedule", "--lr-schedule"), ("validation_split", "--validation-split"),
                   ("seed", "--seed"), ("augment_shift", "--augment-shift"), ("label_smoothing", "--label-smoothing"),
                   ("train_subset", "--subset"), ("precision", "--precision"))
# Options that only mean something to a fine-tune; anywhere else they would be silently ignored.
FINETUNE_ONLY = (("model", "--model"), ("max_mnist_drop", "--max-mnist-drop"), ("mnist_images", "--mnist-images"))
DEFAULT_MAX_MNIST_DROP = 0.1  # points


def cmd_train(args) -> int:
    from tui.core import runs
    from tui.core.errors import RunError

    if args.resume is not None:
        given = [flag for dest, flag in FIXED_ON_RESUME if getattr(args, dest) is not None]
        if given:
            print(f"digitrec: --resume continues a run with the settings it started with; {', '.join(given)} "
                  f"cannot change (only --output, --data and --no-test can); start a new run to use them",
                  file=sys.stderr)
            return EXIT_USAGE
    if args.finetune is None:
        given = [flag for dest, flag in FINETUNE_ONLY if getattr(args, dest) is not None]
        if given:
            print(f"digitrec: fine-tune options only go with --finetune: {', '.join(given)} (a training starts "
                  "from scratch, --resume from the run's own checkpoint)", file=sys.stderr)
            return EXIT_USAGE
    if args.finetune is not None:
        given = [flag for dest, flag in FIXED_ON_RESUME + (("resume", "--resume"),)
                 if dest not in ("epochs", "batch_size", "learning_rate", "seed") and getattr(args, dest) is not None]
        if given:
            print(f"digitrec: --finetune cannot be combined with {', '.join(given)} (it takes --epochs, --batch-size, "
                  "--lr, --seed, --model, --output, --mnist-images, --max-mnist-drop)", file=sys.stderr)
            return EXIT_USAGE
    try:
        with runs.training_lock():
            return _train_locked(args)
    except RunError as exc:
        if args.run_dir:  # a run prepared by the app: its folder must say why it never trained
            writer = runs.EventWriter(Path(args.run_dir))
            writer.emit("error", reason=str(exc))
            writer.close()
        raise


def _train_locked(args) -> int:
    from tui.core import runs
    from tui.core.config import TrainConfig, preset_config
    from tui.core.modelfile import check_output_writable, default_output
    from tui.core.presets import DEFAULT_PRESET
    from tui.core.train import run_training

    overrides = {dest: getattr(args, dest) for dest, _ in FIXED_ON_RESUME if dest != "preset"}
    printer = TrainPrinter(errors=False)  # a failure is printed once, on stderr, with the run folder
    stored = json.loads((Path(args.run_dir) / runs.CONFIG).read_text(encoding="utf-8")) if args.run_dir else {}
    if args.finetune is not None or "finetune" in stored:
        return _finetune(args, stored, printer)
    if args.resume is not None:
        run_dir = runs.find_run(args.resume)
        if (run_dir / runs.CONFIG).is_file() and "finetune" in json.loads((run_dir / runs.CONFIG).read_text(encoding="utf-8")):
            from tui.core.errors import RunError

            raise RunError(f"run {run_dir.name} is a fine-tune, which starts over rather than resumes: "
                           "run `digitrec train --finetune FOLDER` again")
        if args.output:
            check_output_writable(args.output)
        result = run_training(None, data_path=args.data, output=args.output, resume=run_dir, reporter=printer,
                              evaluate_test=not args.no_test,
                              accepted=lambda run: print(f"resuming run {run.name}", flush=True))
    elif args.run_dir:
        cfg = TrainConfig.from_dict(stored["train"])
        result = run_training(cfg, data_path=args.data or stored.get("data"), output=stored.get("output"),
                              run_dir=Path(args.run_dir), reporter=printer, evaluate_test=not args.no_test)
    else:
        cfg = preset_config(args.preset or DEFAULT_PRESET).with_overrides(**overrides)
        check_output_writable(args.output or default_output(cfg.arch))
        result = run_training(cfg, data_path=args.data, output=args.output, reporter=printer,
                              evaluate_test=not args.no_test)
    if result.status == "done":
        return EXIT_OK
    if result.status == "cancelled":
        if runs.summarise(result.run_dir).resumable:
            hint = f"resume with `digitrec train --resume {result.run_dir.name}`"
        else:
            hint = "it stopped before its first epoch ended, so there is nothing to resume; start a new run"
        print(f"run folder: {result.run_dir} ({hint})", file=sys.stderr)
        return EXIT_CANCELLED
    print(f"digitrec: training failed: {result.reason} (run folder: {result.run_dir})", file=sys.stderr)
    return EXIT_FAIL


def _finetune(args, stored: dict, printer) -> int:
    """``train --finetune FOLDER``, or a fine-tune the app prepared (``--run-dir``)."""
    from tui.core.finetune import FinetuneSettings, run_finetune
    from tui.core.modelfile import check_output_writable, default_model_path

    if stored:
        settings = FinetuneSettings.from_dict(stored["finetune"])
        output, data, run_dir = stored.get("output"), args.data or stored.get("data"), Path(args.run_dir)
    else:
        base = Path(args.model) if args.model else default_model_path()
        if not base.is_file():
            from tui.core.errors import ModelFileError

            raise ModelFileError(f"no model at {base} to fine-tune; train one first (`digitrec train`) or pass --model")
        extra = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                                   ("learning_rate", args.learning_rate), ("seed", args.seed),
                                   ("mnist_images", args.mnist_images)) if v is not None}
        settings = FinetuneSettings(folder=args.finetune, base_model=str(base),
                                    max_mnist_drop=(args.max_mnist_drop if args.max_mnist_drop is not None
                                                    else DEFAULT_MAX_MNIST_DROP) / 100, **extra)
        output, data, run_dir = args.output or str(base), args.data, None
        check_output_writable(output)
    result = run_finetune(settings, output, data_path=data, run_dir=run_dir, reporter=printer)
    if result.status == "done":
        return EXIT_FAIL if result.reason else EXIT_OK  # a refused model is not a success for a script
    if result.status == "cancelled":
        print(f"run folder: {result.run_dir} (a stopped fine-tune changes nothing; start it again)", file=sys.stderr)
        return EXIT_CANCELLED
    print(f"digitrec: fine-tuning failed: {result.reason} (run folder: {result.run_dir})", file=sys.stderr)
    return EXIT_FAIL


# --- runs / watch / stop -------------------------------------------------------------------------


def _pct(value) -> str:
    return f"{value:.2%}" if isinstance(value, (int, float)) else "-"


def cmd_runs(args) -> int:
    from rich.filesize import decimal

    from tui.core.runs import list_runs, runs_dir

    misplaced = [flag for flag, given in (("--keep", args.keep is not None), ("--failed", args.failed),
                                          ("--dry-run", args.dry_run)) if given and not args.prune]
    if misplaced or (args.prune and args.compare):
        what = f"{', '.join(misplaced)} only go{'es' if len(misplaced) == 1 else ''} with --prune" if misplaced \
            else "--prune and --compare cannot be used together"
        print(f"digitrec: {what}; see `digitrec runs --help`", file=sys.stderr)
        return EXIT_USAGE
    if args.compare:
        return _compare_runs(args)
    if args.prune:
        return _prune_runs(args)
    found = list_runs()
    if args.json:
        for r in found:
            print(json.dumps({"run_id": r.run_id, "status": r.status, "preset": r.preset, "epoch": r.epoch,
                              "epochs": r.epochs, "progress": round(r.progress, 4), "best_val_accuracy": r.best_val_accuracy,
                              "test_accuracy": r.test_accuracy, "reason": r.reason, "warning": r.warning or None,
                              "size_bytes": r.size_bytes, "path": str(r.path)}))
        return EXIT_OK
    if not found:
        print(f"no runs in {runs_dir()}/ yet; start one with `digitrec train`")
        return EXIT_OK
    print(f"{'RUN':34} {'STATUS':11} {'PRESET':8} {'EPOCH':>7} {'BEST VAL':>9} {'TEST':>8} {'SIZE':>8}  NOTE")
    for r in found:
        epoch = f"{r.epoch}/{r.epochs}" if r.epochs else "-"
        note = r.reason if r.status != "done" else (r.model or "")
        if r.resumable:
            note = (note + "; " if note else "") + "resumable with --resume"
        if r.warning:
            note = (note + "; " if note else "") + r.warning
        size = decimal(r.size_bytes) if r.size_bytes is not None else "-"
        print(f"{r.run_id:34} {r.status:11} {r.preset:8} {epoch:>7} {_pct(r.best_val_accuracy):>9} "
              f"{_pct(r.test_accuracy):>8} {size:>8}  {note}")
    return EXIT_OK


def _compare_runs(args) -> int:
    from tui.core.compare import compare_runs, format_comparison, resolve_runs

    comparison = compare_runs(resolve_runs(args.compare))
    print(json.dumps(comparison.to_json()) if args.json else format_comparison(comparison))
    return EXIT_OK


def _prune_runs(args) -> int:
    from rich.filesize import decimal

    from tui.core.errors import RunError
    from tui.core.prune import DEFAULT_KEEP, delete_run, plan_prune
    from tui.core.runs import list_runs, runs_dir

    keep = args.keep if args.keep is not None else (0 if args.failed else DEFAULT_KEEP)
    if keep < 0:
        print("digitrec: --keep must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    plan = plan_prune(list_runs(), keep, failed_only=args.failed)
    for summary, reason in plan.spared:
        print(f"kept {summary.run_id}: {reason}")
    freed = failed = 0
    for summary in plan.remove:
        if args.dry_run:
            print(f"would delete {summary.run_id} ({summary.status}, {decimal(summary.size_bytes or 0)})")
            continue
        try:
            freed += delete_run(summary)
        except RunError as exc:  # e.g. it started training since the listing
            failed += 1
            print(f"digitrec: {exc}", file=sys.stderr)
            continue
        print(f"deleted {summary.run_id} ({summary.status}, {decimal(summary.size_bytes or 0)})")
    if not plan.remove:
        which = "runs that did not finish" if args.failed else "runs"
        print(f"nothing to delete: {runs_dir()}/ has no {which} beyond the newest {keep}")
    elif not args.dry_run:
        print(f"deleted {len(plan.remove) - failed} run{'s' if len(plan.remove) - failed != 1 else ''}, "
              f"freed {decimal(freed)}")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_watch(args) -> int:
    from tui.core.runs import find_run, follow, summarise

    run_dir = find_run(args.run)
    summary = summarise(run_dir)
    print(f"watching run {run_dir.name} ({summary.status}); Ctrl+C stops watching, not the run", flush=True)
    printer = TrainPrinter()
    last = None
    try:
        for event in follow(run_dir, idle_timeout=None if summary.status in ("running", "starting") else 0.5):
            last = event
            if event["type"] == "lost":
                printer.clear()
                print(f"run lost: {event['reason']}", flush=True)
                return EXIT_FAIL
            printer(event)
    finally:  # Ctrl+C too: the live bar goes and the cursor comes back
        printer.clear()
    if last is None or last["type"] not in ("done", "cancelled", "error"):
        print(f"run {run_dir.name} has not started yet or has no record", flush=True)
    return EXIT_OK if last and last["type"] == "done" else EXIT_FAIL


def cmd_stop(args) -> int:
    from tui.core.errors import RunError
    from tui.core.launch import active_runs, stop_run
    from tui.core.runs import find_run

    if args.run in (None, "latest", "last"):  # the latest run that is training, not just the newest run
        active = active_runs()
        if not active:
            raise RunError("no run is training; `digitrec runs` lists runs")
        run_dir = active[0].path
    else:
        run_dir = find_run(args.run)
    stop_run(run_dir)
    print(f"asked run {run_dir.name} to stop; it records 'cancelled' within about one batch")
    return EXIT_OK


# --- evaluate ----------------------------------------------------------------------------------


def cmd_evaluate(args) -> int:
    one_blas_thread()  # evaluation runs on LiteRT (or TensorFlow's own threads), not numpy's BLAS
    defer_numpy_dev_modules()  # after one_blas_thread: it imports numpy
    from tui.core.evaluate import evaluate

    tty = sys.stderr.isatty() and not args.json

    def progress(done: int, total: int) -> None:
        if tty:
            sys.stderr.write(f"\revaluating {done}/{total}")
            sys.stderr.flush()

    report = evaluate(args.model, args.data, progress=progress, runtime=args.runtime, notify=_notice)
    if tty:
        sys.stderr.write("\r" + " " * 30 + "\r")
    check = _cross_check(args) if args.cross_check else None
    if args.json:
        print(json.dumps({**report.to_json(mistakes=args.worst), **({"cross_check": check} if check else {})}))
    else:
        print(format_report(report, args.worst))
        if check:
            print(f"\ncross-check against {check['other']}: largest probability difference "
                  f"{check['max_abs_difference']:.1e}, {check['digits_differ']} of {check['n']} predicted digits differ")
    return EXIT_OK if not check or check["digits_differ"] == 0 else EXIT_FAIL  # the same code with or without --json


def _cross_check(args) -> dict:
    from tui.core.evaluate import cross_check

    return cross_check(args.model, args.data, runtime=args.runtime)


def _notice(line: str) -> None:
    """One line on stderr when a runtime file had to be rebuilt (or could not be)."""
    print(f"digitrec: {line}", file=sys.stderr, flush=True)


def format_report(report, worst: int) -> str:
    from tui.core.render import ascii_digit, probability_bars, side_by_side

    lines = [
        f"model     {report.model_path}" + (f"  (runtime: {report.runtime})" if report.runtime else ""),
        f"test set  {report.n} images",
        f"accuracy  {report.accuracy:.2%}  ({report.n - round(report.accuracy * report.n)} wrong)",
        f"loss      {report.loss:.4f}",
        "",
        "digit  precision  recall      f1  support",
    ]
    for row in report.per_class:
        lines.append(f"{row['digit']:>5}  {row['precision']:>9.2%}  {row['recall']:>6.2%}  {row['f1']:>6.2%}  {row['support']:>7}")
    lines += ["", "confusion matrix (rows: true digit, columns: predicted)", "      " + "".join(f"{d:>6}" for d in range(10))]
    for d, row in enumerate(report.confusion):
        lines.append(f"{d:>6}" + "".join(f"{v:>6}" if v else f"{'.':>6}" for v in row))
    if worst and report.mistakes:
        lines += ["", f"most confident mistakes ({min(worst, len(report.mistakes))} of {len(report.mistakes)})"]
        for m in report.mistakes[:worst]:
            lines.append(f"test #{m.index}: true {m.true}, predicted {m.predicted} ({m.confidence:.1%})")
            lines += side_by_side(ascii_digit(m.image28), probability_bars(m.probabilities, ascii_only=True))
            lines.append("")
    return "\n".join(lines).rstrip()


# --- predict / models ----------------------------------------------------------------------------


PROGRESS_MIN_IMAGES = 50  # below this a folder is done before a progress bar would help


def cmd_predict(args) -> int:
    one_blas_thread()  # prediction and preprocessing do no linear algebra of size
    defer_numpy_dev_modules()  # after one_blas_thread: it imports numpy
    from tui.core.batch import preprocessing_pool, stream_predictions
    from tui.core.images import collect_images
    from tui.core.inference import Predictor

    if args.number and args.explain:
        print("digitrec: --explain explains single digits; use it without --number", file=sys.stderr)
        return EXIT_USAGE
    if args.number:
        return cmd_read(args)
    collected = [] if args.explain else collect_images(args.paths)
    total = sum(problem is None for _, problem in collected)
    # Forked before the model loads (a runtime may start threads), and only for large folders.
    pool = preprocessing_pool(total)
    with pool or contextlib.nullcontext():
        predictor = Predictor(args.model, runtime=args.runtime, notify=_notice)
        mode = _render_mode(args)
        if args.explain:
            return _explain(predictor, args, mode)
        return _predict_files(predictor, collected, total, pool, args, mode)


def cmd_read(args) -> int:
    """``read`` (and ``predict --number``): each image's number, read whole by the number reader."""
    one_blas_thread()
    defer_numpy_dev_modules()
    from tui.core.inference import number_source

    source = number_source(args.model, getattr(args, "reader", None), args.runtime, _notice,
                           segment=getattr(args, "segment", False))
    return _predict_numbers(source, args, _render_mode(args))


def _predict_files(predictor, collected, total: int, pool, args, mode: str) -> int:
    from tui.core.batch import stream_predictions
    from tui.core.images import split_skipped
    from tui.core.names import for_text

    collected, skipped = split_skipped(collected)
    for skip in skipped:
        _say_skipped(skip, args.json)
    failed = done = 0
    with _progress(total) as advance:
        for p in stream_predictions(predictor, collected, pool=pool):
            done += 1
            if p.error:
                failed += 1
                if args.json:
                    _print_json(p.to_json())
                else:
                    print(f"digitrec: {for_text(p.error)}", file=sys.stderr, flush=True)
            else:
                _print_prediction(p, args.json, mode)
            advance()
    if not args.json and done + len(skipped) > 1:
        print(f"{done - failed} predicted, {failed} failed" + (f", {len(skipped)} skipped" if skipped else ""),
              file=sys.stderr)
    return EXIT_FAIL if failed else EXIT_OK


def _say_skipped(skip, as_json: bool) -> None:
    """One line for a folder entry passed over: a JSON object with ``skipped`` (the reason), or ``digitrec: skipped ...``."""
    from tui.core.names import for_text

    if as_json:
        _print_json({"path": str(skip.path), "skipped": skip.reason})
    else:
        print(f"digitrec: {for_text(str(skip))}", file=sys.stderr, flush=True)


def _print_json(obj: dict) -> None:
    """One JSON line, valid UTF-8 whatever bytes the file names hold (see ``tui.core.names``)."""
    from tui.core.names import json_safe

    print(json.dumps(json_safe(obj)), flush=True)


def _print_prediction(p, as_json: bool, mode: str) -> None:
    from tui.core.names import for_text
    from tui.core.render import format_prediction

    if as_json:
        _print_json(p.to_json())
        return
    print(format_prediction(for_text(p.path), p.digit, p.confidence, p.probabilities, p.input28, mode=mode,
                            uncertain=p.uncertain, note=p.reason))
    print(flush=True)


class _progress:
    """A Rich progress bar on stderr while a large batch is predicted, if stderr is a terminal; else nothing.

    Results printed meanwhile (to stdout, or errors to stderr) appear above the bar.
    """

    def __init__(self, total: int):
        self.total = total
        self.bar = None

    def __enter__(self):
        if self.total < PROGRESS_MIN_IMAGES:  # decided before importing Rich: one image should not pay for it
            return lambda: None
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=console, transient=True, redirect_stdout=sys.stdout.isatty(), redirect_stderr=True)
        self.bar.start()
        task = self.bar.add_task("predict", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _render_mode(args) -> str:
    """``blocks`` when asked for and the output can show half blocks; ASCII otherwise, with a note why."""
    if not args.blocks:
        return "ascii"
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "▀▄█░".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        print(f"digitrec: the output encoding ({encoding}) cannot show half blocks; drawing with ASCII instead "
              "(use a UTF-8 locale for --blocks)", file=sys.stderr)
        return "ascii"
    return "blocks"


def _per_image(args, work, failed: list):
    """``(path, work(path))`` for each image named in ``args.paths``; an image that fails is reported (a JSON
    line or ``digitrec: ...`` on stderr), added to ``failed`` and skipped, so the rest still run. A folder
    entry that is no file to read is named as skipped, and is not a failure."""
    from tui.core.errors import ImageError
    from tui.core.images import Skipped, collect_images
    from tui.core.names import for_text

    for path, problem in collect_images(args.paths):
        if isinstance(problem, Skipped):
            _say_skipped(problem, args.json)
            continue
        try:
            if problem:
                raise problem
            result = work(path)
        except ImageError as exc:
            failed.append(path)
            if args.json:
                _print_json({"path": str(path), "error": str(exc)})
            else:
                print(f"digitrec: {for_text(str(exc))}", file=sys.stderr, flush=True)
            continue
        yield path, result


def _predict_numbers(predictor, args, mode: str) -> int:
    from tui.core.names import for_text
    from tui.core.render import ascii_digit, probability_bars, side_by_side

    failed: list = []
    for path, reading in _per_image(args, predictor.read_number, failed):
        if args.json:
            _print_json(reading.to_json())
            continue
        unsure = [str(i) for i in reading.doubtful_positions]
        notes = [f"{reading.confidence:.1%} sure"] if reading.confidence is not None else []
        if unsure:
            notes.append(f"unsure of digit {', '.join(unsure)}")
        elif reading.uncertain and reading.reason:
            notes.append(f"uncertain: {reading.reason}")
        note = f" ({'; '.join(notes)})" if notes else ""
        print(f"{for_text(str(path))}: read {reading.text or '(no digits)'}{note}")
        for i, p in enumerate(reading.digits, 1):
            flag = f", uncertain: {p.reason}" if p.uncertain else ""
            print(f"digit {i}: {p.digit} ({p.confidence:.1%}{flag})")
            print("\n".join(side_by_side(ascii_digit(p.input28, mode=mode),
                                         probability_bars(p.probabilities, ascii_only=mode == "ascii"))))
        print(flush=True)
    return EXIT_FAIL if failed else EXIT_OK


def _explain(predictor, args, mode: str) -> int:
    """``predict --explain``: each image as the model saw it beside its occlusion-sensitivity map."""
    from tui.core.explain import explain_input, format_explanation
    from tui.core.names import for_text
    from tui.core.preprocess import preprocess_path

    def explain(path):
        return explain_input(predictor, preprocess_path(path).input28, path=str(path) if args.json else for_text(str(path)))

    failed: list = []
    for _, explanation in _per_image(args, explain, failed):
        if args.json:
            _print_json(explanation.to_json())
        else:
            print(format_explanation(explanation, mode) + "\n", flush=True)
    return EXIT_FAIL if failed else EXIT_OK


def cmd_models(args) -> int:
    from tui.core.modelfile import MODELS_DIR, list_models
    from tui.core.runtime import SUFFIX, runtime_path, runtime_state

    found = list_models(MODELS_DIR)
    # A runtime file without its .h5 is listed on its own: it still predicts (`--model x.tflite`).
    alone = sorted(p for p in MODELS_DIR.glob(f"*{SUFFIX}") if not p.name.startswith(".")
                   and not any(runtime_path(m.path) == p for m in found)) if MODELS_DIR.is_dir() else []
    if args.json:
        for m in found:
            state, note = runtime_state(m.path)
            rt = runtime_path(m.path)
            runtime = {"path": str(rt), "size_bytes": _size(rt), "state": state, "note": note}
            print(json.dumps({"path": str(m.path), "size_bytes": m.size_bytes, "metadata": m.metadata, "error": m.error,
                              "runtime": runtime}, default=str))
        for p in alone:
            print(json.dumps({"path": str(p), "size_bytes": _size(p), "runtime_only": True}))
        return EXIT_OK
    if not found and not alone:
        print(f"no models in {MODELS_DIR}/; train one with `digitrec train`")
        return EXIT_OK
    for m in found:
        meta = m.metadata
        if m.error:
            print(f"{str(m.path):40} unreadable: {m.error}")
            continue
        if meta.get("kind") == "number_reader":  # found by `read` and `predict --number`, not by `--model`
            print(f"{str(m.path):40} {m.size_bytes / 1e6:5.1f} MB  number reader: whole numbers right on held-out "
                  f"real lines {_pct(meta.get('best_val_accuracy')):>7}  {meta.get('date', '')}")
        else:
            print(f"{str(m.path):40} {m.size_bytes / 1e6:5.1f} MB  preset {meta.get('preset', '?'):8} "
                  f"test {_pct(meta.get('test_accuracy')):>7}  {meta.get('date', '')}")
        rt = runtime_path(m.path)
        size = f"{_size(rt) / 1e6:5.1f} MB" if rt.exists() else " " * 8
        print(f"  {str(rt):38} {size}  LiteRT runtime: {runtime_state(m.path)[1]}")
    for p in alone:
        print(f"{str(p):40} {_size(p) / 1e6:5.1f} MB  LiteRT runtime alone (no .h5 beside it): `--model {p}` predicts with it")
    return EXIT_OK


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def cmd_export(args) -> int:
    from tui.core.export import export_model

    written = export_model(Path(args.model), args.format, Path(args.output) if args.output else None, force=args.force)
    print(f"wrote {written} ({args.format})")
    return EXIT_OK


COMMANDS = {
    "app": cmd_app,
    "train": cmd_train,
    "runs": cmd_runs,
    "watch": cmd_watch,
    "stop": cmd_stop,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "read": cmd_read,
    "models": cmd_models,
    "export": cmd_export,
}

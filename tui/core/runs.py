"""Training runs on disk: ``runs/<run-id>/`` with ``config.json``, append-only ``events.jsonl``,
``train.log``, checkpoints and the final model; plus listing, summarising and following runs.

Event kinds written to ``events.jsonl`` (one JSON object per line, each with ``type`` and ``time``):

- ``start``: ``run_id``, ``pid``, ``config``, ``output``, ``epochs``, ``steps_per_epoch``,
  ``train_size``, ``val_size``, ``initial_epoch`` (non-zero on resume)
- ``batch``: ``epoch`` (1-based), ``step``, ``steps``, ``loss``, ``accuracy``,
  ``images_per_sec``, ``eta_s`` (whole run); throttled to a few per second
- ``epoch``: ``epoch``, ``epochs``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
  ``learning_rate``, ``seconds``
- ``done``: ``model``, ``best_val_accuracy``, ``seconds``, optional ``test_accuracy``
- ``cancelled``: ``reason``, ``checkpoint`` (best checkpoint kept, or null)
- ``error``: ``reason``
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.errors import RunError

TERMINAL = ("done", "cancelled", "error")
EVENTS = "events.jsonl"
CONFIG = "config.json"
LOG = "train.log"
BEST_CHECKPOINT = "best.h5"
LAST_CHECKPOINT = "last.h5"
FINAL_MODEL = "model.h5"
PID_FILE = "pid"  # the training process, written before TensorFlow loads
PROCESS_LOG = "output.log"  # stdout and stderr of a run started by the app's launcher
TRAINING_LOCK = ".training.lock"  # held by the process that trains; one training at a time per runs folder
# How much later than its record a process may seem to have started and still be the one recorded:
# /proc gives start times in clock ticks after a boot time rounded to the second.
START_TIME_SLACK_S = 2.0


def runs_dir() -> Path:
    """Where runs live: ``$DIGITREC_RUNS`` or ``./runs``."""
    return Path(os.environ.get("DIGITREC_RUNS", "runs"))


def new_run_id(preset: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{preset}-{secrets.token_hex(2)}"


def create_run(base: Path | None, preset: str, config: dict[str, Any]) -> Path:
    """Make a fresh run folder holding ``config.json``; return its path."""
    base = base or runs_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            path = base / new_run_id(preset)
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 collisions of a random suffix
            raise RunError(f"could not create a run folder in {base}")
        write_json_atomic(path / CONFIG, config)
    except OSError as exc:
        raise RunError(f"cannot create a run in {base}: {exc.strerror or exc}; check the folder is writable") from None
    return path


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class EventWriter:
    """Appends events to a run's ``events.jsonl``; each line is written whole and flushed."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / EVENTS
        self._fh = open(self.path, "a", encoding="utf-8")

    def emit(self, type_: str, **data: Any) -> dict[str, Any]:
        event = strict_json({"type": type_, "time": round(time.time(), 3), **data})
        line = json.dumps(event, default=_jsonable, allow_nan=False) + "\n"
        try:
            self._fh.write(line)
            self._fh.flush()
            if type_ in TERMINAL or type_ in ("start", "epoch"):
                os.fsync(self._fh.fileno())
        except (OSError, ValueError):
            pass  # a full disk must not turn a finished epoch into a crash; the log says the rest
        return event

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinity (not JSON, though Python writes them) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    try:
        return strict_json(float(value))
    except (TypeError, ValueError):
        return str(value)


def parse_events(text: str) -> list[dict[str, Any]]:
    """Parse ``events.jsonl`` text, skipping a half-written last line or garbage."""
    events = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "type" in event:
            events.append(event)
    return events


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    try:
        return parse_events((Path(run_dir) / EVENTS).read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return []


class EventTail:
    """Non-blocking reader of a run's events: call :meth:`poll` to get what was appended since."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / EVENTS
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        if not chunk:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")
        return parse_events(complete.decode("utf-8", errors="replace"))


def follow(run_dir: Path, interval: float = 0.25, idle_timeout: float | None = None) -> Iterator[dict[str, Any]]:
    """Yield a run's events from the start, then live, until its end: the terminal event after
    its last ``start`` (a resumed run's ``cancelled`` is followed by another ``start``).

    Stops early when the writing process is gone without a terminal event (killed), after
    yielding a synthetic ``{"type": "lost", ...}`` event, or after ``idle_timeout`` seconds
    with nothing new.
    """
    tail = EventTail(run_dir)
    pid = recorded_at = None
    last_new = time.monotonic()
    while True:
        events = tail.poll()
        i = 0
        while i < len(events):
            event = events[i]
            i += 1
            if event["type"] == "start":
                pid = _int(event.get("pid"), None)
                file_pid, file_time = read_pid_file(run_dir)
                recorded_at = file_time if file_pid == pid else None
            yield event
            if event["type"] in TERMINAL:
                if i == len(events):
                    events += tail.poll()  # what was written since, e.g. the resumed run's start
                if not any(e["type"] == "start" for e in events[i:]):
                    return
        now = time.monotonic()
        if events:
            last_new = now
        elif pid is not None and not is_run_process(pid, recorded_at):
            # One more read: the process may have written its last line just before exiting.
            for event in tail.poll():
                yield event
                if event["type"] in TERMINAL:
                    return
            yield {"type": "lost", "time": time.time(), "reason": f"training process {pid} ended without a final record"}
            return
        elif idle_timeout is not None and now - last_new > idle_timeout:
            return
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, ValueError, TypeError):
        return False
    # A zombie child (exited, not yet reaped) still answers kill(0); check /proc where it exists.
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None where /proc cannot tell."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(") ", 1)[1].split()
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration, TypeError):
        return None


def is_run_process(pid: int | None, recorded_at: float | None) -> bool:
    """Whether ``pid`` is alive and can be the process recorded at ``recorded_at``.

    A process that started after the record was written is another program that was given the
    same pid once the run's own process had ended; it must never be signalled on the run's behalf.
    """
    if pid is None or not pid_alive(pid):
        return False
    if recorded_at is None:
        return True
    started = process_start_time(pid)
    return started is None or started <= recorded_at + START_TIME_SLACK_S


def read_pid_file(run_dir: Path) -> tuple[int | None, float | None]:
    """The pid a run recorded in its ``pid`` file and when the file was written."""
    path = Path(run_dir) / PID_FILE
    try:
        return int(path.read_text(encoding="ascii").strip()), path.stat().st_mtime
    except (OSError, ValueError):
        return None, None


@dataclass
class RunSummary:
    """What a run's events say about it, for listings and the app."""

    run_id: str
    path: Path
    status: str  # new | starting | running | done | cancelled | error | interrupted
    preset: str = "?"
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    best_val_accuracy: float | None = None
    last_val_loss: float | None = None
    test_accuracy: float | None = None
    started: float | None = None
    created: float | None = None  # when the run folder was made: where a run that never started sorts
    ended: float | None = None
    reason: str = ""
    note: str = ""  # what a finished run did beyond the usual (e.g. batch-norm statistics re-estimated)
    warning: str = ""  # what is wrong with the run's record itself (e.g. config.json missing)
    pid: int | None = None
    pid_recorded_at: float | None = None  # when the pid file naming ``pid`` was written
    finished_epochs: int = 0  # epochs completed, as opposed to ``epoch``, the one in progress while running
    model: str | None = None
    previous_model: str | None = None  # where a finished run kept the model it replaced
    output: str | None = None
    eta_s: float | None = None
    images_per_sec: float | None = None
    last_val_accuracy: float | None = None
    seconds: float | None = None  # how long a finished run took
    size_bytes: int | None = None  # the run folder's files, filled in by list_runs
    history: list[dict[str, Any]] = field(default_factory=list)  # epoch events

    @property
    def active(self) -> bool:
        """Still going (or about to): the process has not written its final record."""
        return self.status in ("new", "starting", "running")

    def apply(self, ev: dict[str, Any]) -> None:
        """Fold one event into the summary; the app calls this live, :func:`summarise` in bulk."""
        kind = ev.get("type")
        if kind == "start":
            self.status = "running"
            pid = _int(ev.get("pid"), self.pid)
            if pid != self.pid:  # a resumed run has a new process: the old pid file time says nothing about it
                self.pid, self.pid_recorded_at = pid, None
            self.epochs = _int(ev.get("epochs"), self.epochs)
            self.steps = _int(ev.get("steps_per_epoch"), self.steps)
            self.epoch = _int(ev.get("initial_epoch"), 0)
            self.finished_epochs = self.epoch
            self.step = 0
            self.output = ev.get("output", self.output)
            if self.started is None:
                self.started = ev.get("time")
            self.reason = ""
        elif kind == "batch":
            self.epoch = _int(ev.get("epoch"), self.epoch)
            self.step = _int(ev.get("step"), self.step)
            self.steps = _int(ev.get("steps"), self.steps)
            self.eta_s = _float(ev.get("eta_s"))
            self.images_per_sec = _float(ev.get("images_per_sec"))
        elif kind == "epoch":
            self.epoch = _int(ev.get("epoch"), self.epoch)
            self.epochs = _int(ev.get("epochs"), self.epochs)
            self.step = self.steps
            self.finished_epochs = max(self.finished_epochs, self.epoch)
            self.history.append(ev)
            va = _float(ev.get("val_accuracy"))
            if va is not None:
                self.last_val_accuracy = va
                if self.best_val_accuracy is None or va > self.best_val_accuracy:
                    self.best_val_accuracy = va
            if (vl := _float(ev.get("val_loss"))) is not None:
                self.last_val_loss = vl
        elif kind in TERMINAL:
            self.status = kind
            self.ended = ev.get("time")
            self.reason = str(ev.get("reason") or "")
            self.note = str(ev.get("note") or "")
            self.model = ev.get("model") or ev.get("checkpoint")
            self.previous_model = ev.get("previous_model")
            if kind != "done":  # a stopped run counts the epochs it finished, not the one it was in
                self.epoch = self.finished_epochs
            self.seconds = _float(ev.get("seconds"))
            if (best := _float(ev.get("best_val_accuracy"))) is not None:
                self.best_val_accuracy = best
            if (test := _float(ev.get("test_accuracy"))) is not None:
                self.test_accuracy = test

    @property
    def progress(self) -> float:
        """Fraction of the run done, 0..1."""
        if self.status == "done":
            return 1.0
        if not self.epochs:
            return 0.0
        within = self.step / self.steps if self.steps else 0.0
        done_epochs = self.epoch - 1 + within if self.status == "running" else self.epoch
        return max(0.0, min(1.0, done_epochs / self.epochs))

    @property
    def resumable(self) -> bool:
        return (self.status in ("cancelled", "interrupted", "error") and (self.path / LAST_CHECKPOINT).exists()
                and (self.path / CONFIG).exists())

    @property
    def process_alive(self) -> bool:
        """Whether the run's own training process is still there (not just some process with its pid)."""
        return is_run_process(self.pid, self.pid_recorded_at)


def summarise(run_dir: Path, events: list[dict[str, Any]] | None = None) -> RunSummary:
    run_dir = Path(run_dir)
    events = read_events(run_dir) if events is None else events
    s = RunSummary(run_id=run_dir.name, path=run_dir, status="new")
    try:
        cfg = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        s.preset = str(cfg.get("train", cfg).get("preset", "?"))
    except FileNotFoundError:
        s.warning = f"{CONFIG} is missing from the run folder"
    except (OSError, ValueError, AttributeError):
        s.warning = f"{CONFIG} is unreadable"
    for ev in events:
        s.apply(ev)
    file_pid, file_time = read_pid_file(run_dir)
    if file_pid is not None and (s.pid is None or s.pid == file_pid):
        s.pid_recorded_at = file_time
    if s.status == "new" and file_pid is not None:
        s.pid = file_pid
        s.status = "starting" if is_run_process(file_pid, file_time) else "interrupted"
        if s.status == "interrupted":
            s.reason = f"the training process ended before it started training; {_see_log(run_dir)}"
    if s.status == "running" and not is_run_process(s.pid, s.pid_recorded_at):
        s.status = "interrupted"
        s.reason = "the training process stopped without a final record (killed or machine restarted)"
    if s.status == "interrupted":
        s.epoch = s.finished_epochs
    s.created = _created(run_dir, events)
    return s


def _created(run_dir: Path, events: list[dict[str, Any]]) -> float | None:
    """When a run folder was made: its ``config.json`` is written then; else its first record's time."""
    with contextlib.suppress(OSError):
        return (run_dir / CONFIG).stat().st_mtime
    return _float(events[0].get("time")) if events else None


def _see_log(run_dir: Path) -> str:
    """Where to look for why a run failed: the log files it actually has."""
    logs = [name for name in (PROCESS_LOG, LOG) if (Path(run_dir) / name).is_file()]
    if not logs:
        return "it wrote no log"
    return f"see {' and '.join(logs)} in the run folder"


def _int(value: Any, default: int | None = 0) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def list_runs(base: Path | None = None) -> list[RunSummary]:
    """All runs under ``base`` (default :func:`runs_dir`), newest first."""
    base = base or runs_dir()
    if not base.is_dir():
        return []
    # A folder missing config.json is still listed (with a note) if it has a record of a run; a
    # hidden one is a run being deleted (see tui.core.prune).
    found = [summarise(p) for p in base.iterdir()
             if p.is_dir() and not p.name.startswith(".") and any((p / name).exists() for name in (CONFIG, EVENTS, PID_FILE))]
    for s in found:
        s.size_bytes = disk_usage(s.path)
    # A run that never started (e.g. a fine-tune refused for too few images) sorts by when it was made.
    return sorted(found, key=lambda s: (s.started or s.created or 0, s.run_id), reverse=True)


def disk_usage(path: Path) -> int:
    """Bytes in the files under ``path``; symbolic links count as links, never followed."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def find_run(ref: str, base: Path | None = None) -> Path:
    """Resolve a run id, a unique prefix, ``latest`` (``latest~1`` the one before), or a run folder's path."""
    base = base or runs_dir()
    if not ref or not ref.strip():  # e.g. `--resume "$RUN"` with RUN unset
        raise RunError("no run given (the name is empty); pass a run id, a unique prefix or 'latest'")
    direct = Path(ref)
    if any((direct / name).exists() for name in (CONFIG, EVENTS)):
        return direct
    runs = list_runs(base)
    if ref in ("latest", "last") and runs:
        return runs[0].path
    back = re.fullmatch(r"(?:latest|last)~(\d+)", ref)
    if back:  # like git's HEAD~N: the Nth run before the latest
        if int(back.group(1)) < len(runs):
            return runs[int(back.group(1))].path
        raise RunError(f"{ref!r}: there are only {len(runs)} runs in {base}; `digitrec runs` lists them")
    matches = [r.path for r in runs if r.run_id == ref] or [r.path for r in runs if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunError(f"no run {ref!r} in {base}; `digitrec runs` lists them")
    raise RunError(f"{ref!r} matches {len(matches)} runs; give more of the run id")


@contextlib.contextmanager
def training_lock(base: Path | None = None) -> Iterator[None]:
    """Held by the process that trains, for as long as it trains: one training at a time per runs folder.

    Two trainings at once would race for the same output model and share two cores; the app and the
    CLI both refuse a second one. The kernel drops the lock when the process ends, even when killed.
    """
    base = base or runs_dir()
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the app's check of live runs is the guard
    except ImportError:
        yield
        return
    try:
        base.mkdir(parents=True, exist_ok=True)
        fh = open(base / TRAINING_LOCK, "a")  # noqa: SIM115 - held open for the whole training
    except OSError as exc:
        raise RunError(f"cannot create a run in {base}: {exc.strerror or exc}; check the folder is writable") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            active = [r for r in list_runs(base) if r.active and r.process_alive]
            which = f"run {active[0].run_id}" if active else "another run"
            raise RunError(f"{which} is already training; one training at a time: stop it first "
                           "(`digitrec stop`) or wait for it to finish") from None
        yield


def output_lock_path(output: Path) -> Path:
    """The lock file a run holds beside the model it will publish: ``models/x.h5`` -> ``models/.x.h5.lock``."""
    return output.with_name(f".{output.name}.lock")


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[Callable[[Path], None]]:
    """Held by the run that will publish ``output``, for as long as it runs: one run per output model,
    whatever runs folder each lives in (two would each replace the other's model, and the model kept
    as ``.previous`` would not be the user's). Yields ``claim(run_dir)``, which records the holder in
    the lock file so that a refused run can name it. The kernel drops the lock however the process ends.
    """
    output = Path(output)
    lock = output_lock_path(output)
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the runs-folder lock is the only guard
    except ImportError:
        yield lambda run_dir: None
        return
    while True:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
        except OSError as exc:
            raise RunError(f"cannot write beside the output model {output} ({exc.strerror or exc}); make "
                           f"{output.parent} writable or pass --output PATH") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip()
            fh.close()
            which = f"run {Path(holder).name}" if holder else "another run"
            stop = f"`digitrec stop {holder}`" if holder else "`digitrec stop`"
            raise RunError(f"{which} is training into {output}; one run per output model: stop it first ({stop}), "
                           "wait for it to finish, or pass another --output") from None
        try:  # the holder removes the file as it ends: a lock on a file no longer there guards nothing
            same = os.path.samestat(os.fstat(fh.fileno()), os.stat(lock))
        except OSError:
            same = False
        if same:
            break
        fh.close()

    def claim(run_dir: Path) -> None:
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
            fh.write(str(Path(run_dir).resolve()))
            fh.flush()

    try:
        yield claim
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while still held, so no other run can be holding it
        fh.close()


def worse_than_replaced(done: dict[str, Any]) -> str | None:
    """For a ``done`` event: a warning when the new model tests worse than the model it replaced, with the way back."""
    new, previous, model = _float(done.get("test_accuracy")), done.get("previous_model"), done.get("model")
    if new is None or not previous or not model:
        return None
    from tui.core.errors import DigitrecError  # noqa: PLC0415
    from tui.core.modelfile import read_metadata  # noqa: PLC0415 - h5py only

    try:
        old = _float(read_metadata(previous).get("test_accuracy"))
    except (DigitrecError, OSError):
        return None
    if old is None or new >= old:
        return None
    return (f"its test accuracy {new:.2%} is lower than the {old:.2%} of the model it replaced; "
            f"to go back: mv {previous} {model}")

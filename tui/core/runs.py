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

import json
import os
import secrets
import time
from collections.abc import Iterator
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
        event = {"type": type_, "time": round(time.time(), 3), **data}
        line = json.dumps(event, default=_jsonable) + "\n"
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


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
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
    """Yield a run's events from the start, then live, until a terminal event.

    Stops early when the writing process is gone without a terminal event (killed), after
    yielding a synthetic ``{"type": "lost", ...}`` event, or after ``idle_timeout`` seconds
    with nothing new.
    """
    tail = EventTail(run_dir)
    pid = None
    last_new = time.monotonic()
    while True:
        events = tail.poll()
        for event in events:
            if event["type"] == "start":
                pid = event.get("pid")
            yield event
            if event["type"] in TERMINAL:
                return
        now = time.monotonic()
        if events:
            last_new = now
        elif pid is not None and not pid_alive(pid):
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
    ended: float | None = None
    reason: str = ""
    note: str = ""  # what a finished run did beyond the usual (e.g. batch-norm statistics re-estimated)
    pid: int | None = None
    model: str | None = None
    output: str | None = None
    eta_s: float | None = None
    images_per_sec: float | None = None
    last_val_accuracy: float | None = None
    seconds: float | None = None  # how long a finished run took
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
            self.pid = _int(ev.get("pid"), self.pid)
            self.epochs = _int(ev.get("epochs"), self.epochs)
            self.steps = _int(ev.get("steps_per_epoch"), self.steps)
            self.epoch = _int(ev.get("initial_epoch"), 0)
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
        return self.status in ("cancelled", "interrupted", "error") and (self.path / LAST_CHECKPOINT).exists()


def summarise(run_dir: Path, events: list[dict[str, Any]] | None = None) -> RunSummary:
    run_dir = Path(run_dir)
    events = read_events(run_dir) if events is None else events
    s = RunSummary(run_id=run_dir.name, path=run_dir, status="new")
    try:
        cfg = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        s.preset = str(cfg.get("train", cfg).get("preset", "?"))
    except (OSError, ValueError, AttributeError):
        pass
    for ev in events:
        s.apply(ev)
    if s.status == "new":
        try:
            launcher_pid = int((run_dir / PID_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            launcher_pid = None
        if launcher_pid is not None:
            s.pid = launcher_pid
            s.status = "starting" if pid_alive(launcher_pid) else "interrupted"
            if s.status == "interrupted":
                s.reason = "the training process ended before it started training; see output.log in the run folder"
    if s.status == "running" and (s.pid is None or not pid_alive(s.pid)):
        s.status = "interrupted"
        s.reason = "the training process stopped without a final record (killed or machine restarted)"
    return s


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
    found = [summarise(p) for p in base.iterdir() if p.is_dir() and (p / CONFIG).exists()]
    return sorted(found, key=lambda s: (s.started or 0, s.run_id), reverse=True)


def find_run(ref: str, base: Path | None = None) -> Path:
    """Resolve a run id, a unique prefix, ``latest``, or a path to a run folder."""
    base = base or runs_dir()
    direct = Path(ref)
    if (direct / CONFIG).exists():
        return direct
    runs = list_runs(base)
    if ref in ("latest", "last") and runs:
        return runs[0].path
    matches = [r.path for r in runs if r.run_id == ref] or [r.path for r in runs if r.run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunError(f"no run {ref!r} in {base}; `digitrec runs` lists them")
    raise RunError(f"{ref!r} matches {len(matches)} runs; give more of the run id")

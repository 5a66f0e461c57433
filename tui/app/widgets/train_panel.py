"""The Train panel: a form to start a run, and a live view of the run being followed.

The run trains in its own process (``tui.core.launch``); this panel only reads the run's
``events.jsonl`` with :class:`tui.core.runs.EventTail` on a timer, so it can attach to a run
started elsewhere, detach, and never stalls while TensorFlow works.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static

from tui.app.bandwidth import NORMAL, Pace, Throttle
from tui.app.messages import CommandRequested
from tui.app.widgets.plots import MetricPlot
from tui.app.widgets.runs_table import RunsTable
from tui.core import runs
from tui.core.config import preset_config
from tui.core.presets import DEFAULT_PRESET, PRESETS

DEFAULT_OUTPUT = "models/digit_recognizer.h5"  # where a run saves its model unless told otherwise
POLL_SECONDS = 0.25  # how often the events file is read; redraws are paced separately (bandwidth.Pace)
START_GRACE_SECONDS = 120  # a launched run with no events and no process after this is lost

FIELDS = (  # input id, command key, config field (its preset value is the placeholder), label
    ("epochs", "epochs", "epochs", "epochs"),
    ("batch_size", "batch_size", "batch_size", "batch"),
    ("lr", "lr", "learning_rate", "lr"),
    ("subset", "subset", "train_subset", "subset"),
)


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_run(state: runs.RunSummary) -> str:
    """One line about a followed run, for the log, the status bar and the quit question."""
    if state.status == "starting":
        return f"run {state.run_id}: starting (loading TensorFlow)…"
    if state.status == "running":
        return f"run {state.run_id}: epoch {state.epoch}/{state.epochs}, step {state.step}/{state.steps}"
    if state.status == "done":
        parts = [f"run {state.run_id} finished"]
        if state.best_val_accuracy is not None:
            parts.append(f"best val accuracy {state.best_val_accuracy:.2%}")
        if state.test_accuracy is not None:
            parts.append(f"test accuracy {state.test_accuracy:.2%}")
        if state.seconds is not None:
            parts.append(f"in {format_duration(state.seconds)}")
        text = ", ".join(parts) + (f"; model saved to {state.model}" if state.model else "")
        return text + (f"; {state.note}" if state.note else "")
    if state.status == "cancelled":
        kept = f"; best checkpoint kept at {state.model}" if state.model else ""
        return f"run {state.run_id} stopped at epoch {state.epoch}/{state.epochs}{kept}"
    return f"run {state.run_id} {'failed' if state.status == 'error' else 'was lost'}: {state.reason}"


class TrainPanel(VerticalScroll):
    """Start, watch and stop training; list earlier runs."""

    @dataclass
    class RunEnded(Message):
        """The followed run finished, was stopped, failed or vanished."""

        state: runs.RunSummary

    def __init__(self, pace: Pace = NORMAL, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pace = pace
        self.state: runs.RunSummary | None = None
        self._tail: runs.EventTail | None = None
        self._followed_at = 0.0
        self._progress_pace = Throttle(pace.progress_seconds)
        self._progress_stale = False  # events arrived that the progress line does not show yet

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-form"):
            yield Select([(name, name) for name in PRESETS], value=DEFAULT_PRESET, allow_blank=False,
                         id="preset", tooltip="training preset", compact=True)
            for input_id, _, _, _ in FIELDS:
                kind = "number" if input_id == "lr" else "integer"
                yield Input(id=input_id, type=kind, classes="train-field",
                            tooltip=input_id.replace("_", " "), compact=True)
        with Horizontal(id="train-output-row"):
            yield Label("save to", id="output-label")
            yield Input(id="output", placeholder=DEFAULT_OUTPUT, compact=True,
                        tooltip="where the trained model is saved (a .h5 file)")
        with Horizontal(id="train-buttons"):
            yield Button("Start ^t", id="start-training", variant="success", tooltip="start training (ctrl+t)",
                         compact=True)
            yield Button("Stop ^s", id="stop-training", variant="error", tooltip="stop the run (ctrl+s)",
                         compact=True)
            yield Label("no run followed; start one or `attach` to one", id="run-title")
        yield ProgressBar(total=100, id="train-progress", show_eta=False)
        yield Static("", id="train-progress-text")
        with Horizontal(id="plots"):
            yield MetricPlot("loss", id="loss-plot", pace_seconds=self.pace.plot_seconds)
            yield MetricPlot("accuracy %", percent=True, id="accuracy-plot", pace_seconds=self.pace.plot_seconds)
        yield Label("Runs: enter follows, space marks, c compares the marked, d deletes", classes="section-title")
        yield RunsTable(id="runs-table")

    def on_mount(self) -> None:
        self._apply_preset_placeholders(DEFAULT_PRESET)
        self.set_interval(POLL_SECONDS, self.poll, name="train-poll")

    # -- the form ---------------------------------------------------------------------------

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._apply_preset_placeholders(event.value)

    def _apply_preset_placeholders(self, preset: str) -> None:
        cfg = preset_config(preset).to_dict()
        for input_id, _, source, label in FIELDS:
            value = cfg.get(source)
            self.query_one(f"#{input_id}", Input).placeholder = f"{label} {value if value is not None else 'all'}"

    def command_text(self) -> str:
        """The `train` command the form describes (blank fields keep the preset's values)."""
        preset = self.query_one("#preset", Select).value
        parts = ["train", f"preset={preset if isinstance(preset, str) else DEFAULT_PRESET}"]
        for input_id, key, _, _ in FIELDS:
            value = self.query_one(f"#{input_id}", Input).value.strip()
            if value:
                parts.append(f"{key}={value}")
        output = self.query_one("#output", Input).value.strip()
        if output:
            parts.append(shlex.quote(f"output={output}"))
        return " ".join(parts)

    @on(Button.Pressed, "#start-training")
    def _start(self) -> None:
        self.post_message(CommandRequested(self.command_text()))

    @on(Button.Pressed, "#stop-training")
    def _stop(self) -> None:
        self.post_message(CommandRequested("stop"))

    @on(DataTable.RowSelected, "#runs-table")
    def _attach_row(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(CommandRequested(f"attach {shlex.quote(event.row_key.value)}"))

    # -- following a run ----------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self.state is not None and self.state.active

    def follow(self, run_dir: Path) -> runs.RunSummary:
        """Follow ``run_dir`` from its first event; replaces any run followed before."""
        self.state = runs.RunSummary(run_id=Path(run_dir).name, path=Path(run_dir), status="starting")
        self._tail = runs.EventTail(Path(run_dir))
        self._followed_at = time.monotonic()
        for plot in self.query(MetricPlot):
            plot.reset()
        # Not total=None: its animation redraws the bar 15 times a second; the text counts the wait instead.
        self.query_one("#train-progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#run-title", Label).update(f"run {self.state.run_id}")
        self._progress_stale = True
        self._progress_pace.reset()
        self.poll()
        return self.state

    def poll(self) -> None:
        """Read new events, update the view, and notice a run that ended or vanished.

        Events are read four times a second, but the progress line and the plots are redrawn at the
        panel's pace, except for a new epoch, status or end, which show at once; all in one frame.
        """
        state, tail = self.state, self._tail
        if state is None or tail is None:
            return
        with self.app.batch_update():
            ended = self._read_events(state, tail)
            if self._progress_stale and (ended or self._progress_pace.ready()):
                self._progress_stale = False
                self._show_progress(state)
            for plot in self.query(MetricPlot):
                plot.redraw_if_dirty(force=ended)
        if ended:
            self.post_message(self.RunEnded(state))

    def _read_events(self, state: runs.RunSummary, tail: runs.EventTail) -> bool:
        """Apply new events to ``state`` and the plots; True when the run just ended or vanished."""
        if not state.active:
            return False
        events = tail.poll()
        if not events and not self._process_alive(state):
            events = tail.poll()  # it may have written its last line just before exiting
            for event in events:
                self._apply(state, event)
            if state.active:
                state.status = "lost"
                state.reason = "the training process ended without a final record; see its train.log"
            self._progress_stale = True
            return True
        for event in events:
            self._apply(state, event)
        # A waiting run counts its seconds; a new epoch or status shows at once, not at the next tick.
        self._progress_stale = self._progress_stale or bool(events) or state.status == "starting"
        if any(event.get("type") != "batch" for event in events):
            self._progress_pace.reset()
        return not state.active

    def _process_alive(self, state: runs.RunSummary) -> bool:
        file_pid, recorded_at = runs.read_pid_file(state.path)
        pid = state.pid if state.pid is not None else file_pid
        if pid is None:
            return time.monotonic() - self._followed_at < START_GRACE_SECONDS
        # A pid now used by a process that started after the record is not the run's process.
        return runs.is_run_process(pid, recorded_at if file_pid == pid else None)

    def _apply(self, state: runs.RunSummary, event: dict[str, Any]) -> None:
        state.apply(event)
        loss_plot = self.query_one("#loss-plot", MetricPlot)
        acc_plot = self.query_one("#accuracy-plot", MetricPlot)
        kind = event.get("type")
        if kind == "start":
            loss_plot.epochs = acc_plot.epochs = state.epochs
        elif kind == "batch":
            x = state.epoch - 1 + (state.step / state.steps if state.steps else 0)
            if (loss := _float(event.get("loss"))) is not None:
                loss_plot.add_train(x, loss)
            if (acc := _float(event.get("accuracy"))) is not None:
                acc_plot.add_train(x, acc)
        elif kind == "epoch":
            if (val_loss := _float(event.get("val_loss"))) is not None:
                loss_plot.add_val(state.epoch, val_loss)
            if (val_acc := _float(event.get("val_accuracy"))) is not None:
                acc_plot.add_val(state.epoch, val_acc)

    def _show_progress(self, state: runs.RunSummary) -> None:
        bar = self.query_one("#train-progress", ProgressBar)
        total = state.epochs * state.steps
        if total:
            done = (max(state.epoch, 1) - 1) * state.steps + state.step
            bar.update(total=total, progress=total if state.status == "done" else done)
        self.query_one("#run-title", Label).update(f"run {state.run_id} · {state.status}")
        if state.status == "running":
            speed = f"{state.images_per_sec:,.0f} img/s" if state.images_per_sec else "– img/s"
            text = (f"epoch {state.epoch}/{state.epochs} · step {state.step}/{state.steps} · "
                    f"ETA {format_duration(state.eta_s)} · {speed}")
            if state.last_val_accuracy is not None:
                text += f" · val acc {state.last_val_accuracy:.2%}"
        elif state.status == "starting":
            text = f"{describe_run(state)} {format_duration(time.monotonic() - self._followed_at)}"
        else:
            text = describe_run(state)
        self.query_one("#train-progress-text", Static).update(text)

    # -- the runs list ------------------------------------------------------------------------

    def show_runs(self, summaries: list[runs.RunSummary]) -> None:
        self.query_one("#runs-table", RunsTable).show(summaries)

    @property
    def marked_runs(self) -> list[str]:
        """Run ids marked (space) in the runs table, in the order they were marked."""
        return list(self.query_one("#runs-table", RunsTable).marked)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

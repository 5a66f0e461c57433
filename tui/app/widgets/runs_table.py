"""The runs table of the Train panel: enter follows a run, space marks runs to compare, ``c``
compares the marked ones and ``d`` deletes the highlighted one (the app asks first)."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.filesize import decimal
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.app.messages import CommandRequested
from tui.core import runs
from tui.core.compare import MAX_RUNS, MIN_RUNS

MARK = "●"
COLUMNS = ("run", "status", "preset", "epochs", "best val", "test", "size")


def run_cells(s: runs.RunSummary) -> tuple[str, ...]:
    """The cells of a run's row, as the runs table and the `runs` answer show them."""
    return (
        s.run_id,
        s.status,
        s.preset,
        f"{s.epoch}/{s.epochs}" if s.epochs else "–",
        f"{s.best_val_accuracy:.2%}" if s.best_val_accuracy is not None else "–",
        f"{s.test_accuracy:.2%}" if s.test_accuracy is not None else "–",
        decimal(s.size_bytes) if s.size_bytes is not None else "–",
    )


class RunsTable(DataTable):
    """Runs, newest first, with a mark column; rows are keyed by the run's folder."""

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark", id="runs-mark", tooltip="mark or unmark the run to compare it"),
        Binding("c", "compare", "Compare", id="runs-compare", tooltip="compare the marked runs (2 to 6)"),
        Binding("d,delete", "delete", "Delete", id="runs-delete", tooltip="delete the highlighted run (asks first)"),
    ]

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.marked: list[str] = []  # run ids, in the order they were marked

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, summaries: list[runs.RunSummary]) -> None:
        """Replace the rows, keeping the marks and the highlighted run where they still exist."""
        highlighted = self._key_at_cursor()
        self.clear()
        self.marked = [m for m in self.marked if any(s.run_id == m for s in summaries)]
        for s in summaries:
            self.add_row(self._mark_cell(s.run_id), *run_cells(s), key=str(s.path))
        if highlighted is not None and highlighted in self.rows:
            self.move_cursor(row=self.get_row_index(highlighted))

    def _key_at_cursor(self):
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key

    def _mark_cell(self, run_id: str) -> Text:
        if run_id not in self.marked:
            return Text("")
        return Text(MARK, style="bold green")

    def action_toggle_mark(self) -> None:
        key = self._key_at_cursor()
        if key is None or key.value is None:
            return
        run_id = Path(key.value).name
        if run_id in self.marked:
            self.marked.remove(run_id)
        elif len(self.marked) >= MAX_RUNS:
            self.notify(f"at most {MAX_RUNS} runs can be compared; unmark one first (space)", severity="warning")
            return
        else:
            self.marked.append(run_id)
        self.update_cell(key, "mark", self._mark_cell(run_id))

    def action_compare(self) -> None:
        if len(self.marked) < MIN_RUNS:
            self.notify(f"mark {MIN_RUNS} to {MAX_RUNS} runs with space, then press c", severity="warning")
            return
        self.post_message(CommandRequested("compare " + " ".join(shlex.quote(m) for m in self.marked)))

    def action_delete(self) -> None:
        key = self._key_at_cursor()
        if key is not None and key.value:
            self.post_message(CommandRequested(f"delete {shlex.quote(Path(key.value).name)}"))

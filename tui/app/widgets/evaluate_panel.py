"""The Evaluate panel: test-set accuracy and loss, a per-class table, the confusion heatmap and a
browser of the misclassified test digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, DataTable, Label, ProgressBar, Static

from tui.app.messages import CommandRequested
from tui.app.widgets.confusion import ConfusionMatrix
from tui.app.widgets.prediction import digit_with_bars


class MistakeBrowser(Static, can_focus=True):
    """One misclassified test digit at a time; left/right (or n/p) to move through them."""

    BINDINGS = [
        Binding("right,n", "move(1)", "Next mistake", id="mistake-next"),
        Binding("left,p", "move(-1)", "Previous mistake", id="mistake-prev"),
        Binding("x", "explain", "Explain", id="mistake-explain", tooltip="why the model read this digit as it did"),
    ]

    index: reactive[int] = reactive(0)
    mode: reactive[str] = reactive("ascii")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.mistakes: list[Any] = []

    def on_mount(self) -> None:
        self._draw()

    def show_mistakes(self, mistakes: list[Any]) -> None:
        self.mistakes = list(mistakes)
        self.index = 0
        self._draw()

    def action_move(self, step: int) -> None:
        if self.mistakes:
            self.index = (self.index + step) % len(self.mistakes)

    def action_explain(self) -> None:
        if self.mistakes:
            self.post_message(CommandRequested(f"explain mistake {self.index + 1}"))

    def watch_index(self) -> None:
        self._draw()

    def watch_mode(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.mistakes:
            self.update(Text("no mistakes to show (evaluate first)", style="dim"))
            return
        m = self.mistakes[self.index]
        head = Text.assemble(
            (f"mistake {self.index + 1}/{len(self.mistakes)}", "bold"),
            f" · test image #{m.index} · true ",
            (str(m.true), "bold green"),
            " · predicted ",
            (str(m.predicted), "bold red"),
            f" ({m.confidence:.1%}) · ←/→ to browse, x explains",
        )
        body = digit_with_bars(m.image28, m.probabilities, mode=self.mode, highlight=m.predicted)
        self.update(Text("\n").join([head, body]))


class EvaluatePanel(VerticalScroll):
    """Runs nothing itself: the app evaluates in a worker and calls :meth:`show_report`."""

    @dataclass
    class Progress(Message):
        """Evaluation progress from the worker; only the newest one matters."""

        done: int
        total: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, EvaluatePanel.Progress)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="panel-buttons"):
            yield Button("Evaluate ^r", id="run-evaluation", variant="primary",
                         tooltip="evaluate the active model on the test set (ctrl+r)", compact=True)
            yield Label("not evaluated yet", id="eval-status")
        yield ProgressBar(total=100, id="eval-progress", show_eta=True)
        yield Static("", id="eval-summary")
        yield Label("Per class", classes="section-title")
        yield DataTable(id="per-class", cursor_type="row", zebra_stripes=True)
        yield Label("Confusion matrix (rows: true digit, columns: predicted)", classes="section-title")
        yield ConfusionMatrix(id="confusion")
        yield Label("Mistakes", classes="section-title")
        yield MistakeBrowser(id="mistakes")

    def on_mount(self) -> None:
        self.query_one("#per-class", DataTable).add_columns("digit", "precision", "recall", "f1", "support")
        self.query_one("#confusion", ConfusionMatrix).show_matrix(None)

    @on(Button.Pressed, "#run-evaluation")
    def _run(self) -> None:
        self.post_message(CommandRequested("evaluate"))

    def on_evaluate_panel_progress(self, message: Progress) -> None:
        self.query_one("#eval-progress", ProgressBar).update(total=message.total, progress=message.done)
        self.query_one("#eval-status", Label).update(f"evaluating… {message.done:,}/{message.total:,}")

    def started(self, model_name: str) -> None:
        self.query_one("#eval-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#eval-status", Label).update(f"evaluating {model_name}…")

    def failed(self, message: str) -> None:
        self.query_one("#eval-status", Label).update(Text(message, style="bold red"))

    def show_report(self, report: Any) -> None:
        with self.app.batch_update():
            self.query_one("#eval-progress", ProgressBar).update(total=report.n or 1, progress=report.n or 1)
            self.query_one("#eval-status", Label).update(f"evaluated {report.model_path}")
            self.query_one("#eval-summary", Static).update(summary_text(report))
            table = self.query_one("#per-class", DataTable)
            table.clear()
            for row in report.per_class:
                table.add_row(
                    str(row["digit"]),
                    f"{row['precision']:.3f}",
                    f"{row['recall']:.3f}",
                    f"{row['f1']:.3f}",
                    f"{row['support']:,}",
                )
            self.query_one("#confusion", ConfusionMatrix).show_matrix(report.confusion)
            self.query_one("#mistakes", MistakeBrowser).show_mistakes(report.mistakes)


def summary_text(report: Any) -> Text:
    wrong = report.n - round(report.accuracy * report.n)
    return Text.assemble(
        ("accuracy ", "bold"),
        (f"{report.accuracy:.2%}", "bold green"),
        f"  ·  loss {report.loss:.4f}  ·  {report.n:,} test images, {wrong:,} wrong",
    )

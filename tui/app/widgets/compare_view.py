"""Runs side by side: validation accuracy and loss per epoch overlaid (a colour and a numbered
marker per run), a legend with each run's id and preset, and a table of the settings that differ
and the results."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tui.core.compare import ComparedRun, Comparison, comparison_rows

# Okabe-Ito: colours that stay distinct with the common colour-vision deficiencies; the numbered
# markers tell the runs apart even without colour.
PALETTE = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (204, 121, 167), (240, 228, 66), (213, 94, 0))


def run_style(index: int) -> str:
    r, g, b = PALETTE[index % len(PALETTE)]
    return f"bold rgb({r},{g},{b})"


class ComparePlot(PlotextPlot):
    """One metric per epoch for every run in a comparison."""

    def __init__(self, comparison: Comparison, metric: str, title: str, *, percent: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.comparison, self.metric, self.title, self.percent = comparison, metric, title, percent

    def series(self, run: ComparedRun) -> tuple[list[int], list[float]]:
        """The run's points for this metric (epochs without a value are left out)."""
        points = [(e, v * 100 if self.percent else v)
                  for e, v in zip(run.epochs, getattr(run, self.metric)) if v is not None]
        return [e for e, _ in points], [v for _, v in points]

    def render(self):
        plt = self.plt
        plt.clear_figure()  # data, labels and limits: each render draws the whole figure afresh
        plt.title(self.title)
        plt.xlabel("epoch")
        last = 1
        for i, run in enumerate(self.comparison.runs):
            xs, ys = self.series(run)
            if not xs:
                continue
            last = max(last, xs[-1])
            color = PALETTE[i % len(PALETTE)]
            plt.plot(xs, ys, color=color, marker="braille")
            plt.scatter(xs, ys, color=color, marker=str(i + 1))
        plt.xlim(0.5, last + 0.5)
        if last <= 12:  # whole epochs only; longer runs keep plotext's own ticks
            plt.xticks(list(range(1, last + 1)))
        return super().render()


def legend(comparison: Comparison) -> Text:
    text = Text()
    for i, run in enumerate(comparison.runs):
        if i:
            text.append("\n")
        text.append(f"━{i + 1}━ ", style=run_style(i))
        text.append(f"{run.label} {run.run_id}", style="bold")
        text.append(f"  {run.preset} · {run.summary.status}", style="dim")
    return text


def comparison_table(comparison: Comparison) -> Table:
    """Settings that differ, then the results, one column per run in its colour."""
    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
    table.add_column("")
    for i, run in enumerate(comparison.runs):
        table.add_column(Text(run.label, style=run_style(i)), justify="right")
    settings, results = comparison_rows(comparison)
    if settings:
        table.add_row(Text("settings that differ", style="bold"))
        for label, cells in settings:
            table.add_row(label, *cells)
    else:
        table.add_row(Text("same settings in every run", style="dim"))
    table.add_row(Text("results", style="bold"))
    for label, cells in results:
        table.add_row(label, *cells)
    return table


class CompareView(Vertical):
    """The legend, the two plots and the table for one comparison."""

    def __init__(self, comparison: Comparison, **kwargs) -> None:
        super().__init__(**kwargs)
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        yield Static(legend(self.comparison), id="compare-legend")
        with Horizontal(id="compare-plots"):
            yield ComparePlot(self.comparison, "val_accuracy", "val accuracy %", percent=True, id="compare-accuracy")
            yield ComparePlot(self.comparison, "val_loss", "val loss", id="compare-loss")
        yield Static(comparison_table(self.comparison), id="compare-table")

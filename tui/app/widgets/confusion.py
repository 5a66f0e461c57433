"""A confusion matrix as a heatmap of Rich-styled cells: rows are true digits, columns predicted."""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

CELL = 5


def _shade(fraction: float, hue: tuple[int, int, int]) -> Style:
    """Background from near-black to ``hue`` by ``fraction``; dark text on bright cells."""
    fraction = max(0.0, min(1.0, fraction))
    base = 30
    r, g, b = (int(base + (c - base) * fraction) for c in hue)
    fg = "black" if fraction > 0.55 else "white"
    return Style(bgcolor=Color.from_rgb(r, g, b), color=fg)


def confusion_text(matrix: Sequence[Sequence[int]]) -> Text:
    """The heatmap. Correct answers (the diagonal) shade green by their row's share; mistakes
    shade red relative to the largest mistake, so a few confusions stand out against thousands
    of correct answers."""
    n = len(matrix)
    worst = max((matrix[i][j] for i in range(n) for j in range(n) if i != j), default=0) or 1
    text = Text(no_wrap=True)
    text.append("true\\pred".ljust(CELL + 4), style="bold")
    for j in range(n):
        text.append(str(j).rjust(CELL), style="bold")
    for i, row in enumerate(matrix):
        text.append("\n")
        text.append(str(i).rjust(CELL + 2) + " ", style="bold")
        total = sum(row) or 1
        for j, count in enumerate(row):
            if i == j:
                style = _shade(count / total, (40, 200, 80))
            elif count:
                style = _shade(0.25 + 0.75 * count / worst, (220, 60, 60))
            else:
                style = Style(dim=True)
            text.append(str(count).rjust(CELL), style=style)
    return text


class ConfusionMatrix(Static):
    """Shows a 10x10 confusion matrix as a heatmap."""

    DEFAULT_CSS = """
    ConfusionMatrix {
        height: auto;
        width: auto;
    }
    """

    def show_matrix(self, matrix: Sequence[Sequence[int]] | None) -> None:
        self.update(confusion_text(matrix) if matrix else Text("no evaluation yet", style="dim"))

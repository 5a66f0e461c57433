"""Live training curves: per-batch training values, downsampled to the plot's width, and
per-epoch validation values, drawn with textual-plotext."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.text import Text
from textual.geometry import Region
from textual_plotext import PlotextPlot

from tui.app.bandwidth import NORMAL, Throttle

Point = tuple[float, float]
Cell = tuple[str, str]  # a character and the escape codes that style it
_SGR = re.compile(r"(\x1b\[[0-9;]*m)")


def downsample(points: Sequence[Point], columns: int) -> list[Point]:
    """At most ``columns`` points: the x range is cut into equal buckets and each bucket's points
    are averaged, so a long run stays readable and cheap to draw."""
    if columns <= 0 or not points:
        return []
    if len(points) <= columns:
        return list(points)
    lo, hi = points[0][0], points[-1][0]
    span = hi - lo
    if span <= 0:
        return [(lo, sum(y for _, y in points) / len(points))]
    sums: dict[int, list[float]] = {}
    for x, y in points:
        bucket = min(columns - 1, int((x - lo) / span * columns))
        acc = sums.setdefault(bucket, [0.0, 0.0, 0])
        acc[0] += x
        acc[1] += y
        acc[2] += 1
    return [(sx / n, sy / n) for _, (sx, sy, n) in sorted(sums.items())]


def figure_cells(figure: str) -> list[list[Cell]]:
    """Plotext's ANSI output as rows of (character, style) cells, so two figures can be compared."""
    rows = []
    for line in figure.removesuffix("\n").split("\n"):
        row: list[Cell] = []
        style = ""
        for piece in _SGR.split(line):
            if _SGR.fullmatch(piece):
                style = "" if piece == "\x1b[0m" else style + piece
            else:
                row.extend((ch, style) for ch in piece)
        rows.append(row)
    return rows


def changed_regions(old: list[list[Cell]] | None, new: list[list[Cell]], width: int) -> list[Region]:
    """One region per row that differs, spanning only its changed cells; everything when no ``old``."""
    if old is None or len(old) != len(new):
        return [Region(0, 0, width, len(new))]
    regions = []
    for y, (before, after) in enumerate(zip(old, new)):
        if before == after:
            continue
        length = max(len(before), len(after))
        changed = [x for x in range(length) if x >= len(before) or x >= len(after) or before[x] != after[x]]
        regions.append(Region(changed[0], y, changed[-1] - changed[0] + 1, 1))
    return regions


class MetricPlot(PlotextPlot):
    """One metric over fractional epochs: a training line and validation markers.

    Adding points only marks the plot dirty; :meth:`redraw_if_dirty` (called from a timer) draws at
    most once per ``pace_seconds``, and sends only the cells whose character or colour changed, so
    a fast event stream costs a few bytes per redraw rather than the whole plot.
    """

    def __init__(self, title: str, *, percent: bool = False, pace_seconds: float = NORMAL.plot_seconds,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.percent = percent
        self.train: list[Point] = []
        self.val: list[Point] = []
        self.epochs = 0
        self.redraws = 0  # refreshes asked for; a check that finds nothing new on screen asks for none
        self._dirty = False
        self._throttle = Throttle(pace_seconds)
        self._shown: list[list[Cell]] | None = None  # the cells of the last figure rendered
        self._next: tuple[object, str] | None = None  # (size, figure) built by the last check, for render

    def reset(self, epochs: int = 0) -> None:
        self.train.clear()
        self.val.clear()
        self.epochs = epochs
        self._dirty = True

    def add_train(self, x: float, y: float) -> None:
        self.train.append((x, y * 100 if self.percent else y))
        self._dirty = True

    def add_val(self, x: float, y: float) -> None:
        self.val.append((x, y * 100 if self.percent else y))
        self._dirty = True

    def redraw_if_dirty(self, force: bool = False) -> None:
        """Redraw the cells that new points changed; ``force`` skips the pace (a run's last points)."""
        if not self._dirty or not self.is_on_screen or not (self._throttle.ready() or force):
            return
        self._dirty = False
        figure = self._figure()
        regions = changed_regions(self._shown, figure_cells(figure), self.size.width)
        if regions:
            self._next = (self.size, figure)
            self.redraws += 1
            self.refresh(*regions)

    def render(self):
        built, self._next = self._next, None
        figure = built[1] if built is not None and built[0] == self.size else self._figure()
        self._shown = figure_cells(figure)
        return Text.from_ansi(figure)

    def _figure(self) -> str:
        """The plot as plotext draws it at the widget's size, with its ANSI colours."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("epoch")
        columns = max(10, self.size.width - 10)
        train = downsample(self.train, columns)
        if train:
            plt.plot([x for x, _ in train], [y for _, y in train], label="train", marker="braille")
        if self.val:
            plt.plot([x for x, _ in self.val], [y for _, y in self.val], label="val", marker="dot")
        if self.epochs:
            plt.xlim(0, self.epochs)
        # What PlotextPlot.render does before building (its comment explains the repeated size).
        plt.plotsize(self.size.width, self.size.height)
        plt._set_size(self.size.width, self.size.height)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        return plt.build()

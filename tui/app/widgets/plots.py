"""Live training curves: per-batch training values, downsampled to the plot's width, and
per-epoch validation values, drawn with textual-plotext."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

Point = tuple[float, float]


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


class MetricPlot(PlotextPlot):
    """One metric over fractional epochs: a training line and validation markers.

    Adding points only marks the plot dirty; :meth:`redraw_if_dirty` (called from a timer a few
    times a second) does the drawing, so a fast event stream cannot flood the screen.
    """

    def __init__(self, title: str, *, percent: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.percent = percent
        self.train: list[Point] = []
        self.val: list[Point] = []
        self.epochs = 0
        self._dirty = False

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

    def redraw_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.refresh()

    def render(self):
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
        return super().render()

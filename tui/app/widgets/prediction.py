"""The digit the model saw, drawn as text, beside ten labelled probability bars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from tui.app.widgets.fitted import FittedView

BAR_WIDTH = 20


def digit_with_bars(
    image28: Any,
    probabilities: Sequence[float] | None,
    mode: str = "ascii",
    highlight: int | None = None,
    bar_width: int = BAR_WIDTH,
) -> Text:
    """Rich text: the 28x28 image as text (14 rows) and the probability bars, top class bold."""
    from tui.core.render import ascii_digit, probability_bars  # noqa: PLC0415 - numpy only, kept lazy

    left = ascii_digit(image28, mode=mode) if image28 is not None else []
    right = probability_bars(list(probabilities), width=bar_width) if probabilities is not None else []
    if highlight is None and probabilities is not None and len(probabilities):
        highlight = max(range(len(probabilities)), key=lambda i: probabilities[i])
    width = max((len(line) for line in left), default=0)
    rows = max(len(left), len(right))
    pad_top = max(0, (rows - len(right)) // 2)
    text = Text(no_wrap=True, overflow="crop")
    for row in range(rows):
        if row:
            text.append("\n")
        art = left[row] if row < len(left) else ""
        text.append(art.ljust(width))
        bar_row = row - pad_top
        if 0 <= bar_row < len(right):
            style = "bold reverse" if bar_row == highlight else ""
            text.append("   ")
            text.append(right[bar_row], style=style)
    return text


class PredictionView(FittedView):
    """Shows one prediction: the input as the model saw it, the bars, and a one-line verdict.

    Give it anything with ``digit``, ``confidence``, ``probabilities``, ``input28`` and optionally
    ``path``, ``uncertain``, ``reason`` and ``error`` (``tui.core.inference.Prediction`` fits).
    """

    DEFAULT_CSS = """
    PredictionView {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, prediction: Any = None, mode: str = "ascii", **kwargs: Any) -> None:
        super().__init__(mode, **kwargs)
        self.prediction = prediction

    def show(self, prediction: Any) -> None:
        self.prediction = prediction
        self._draw()

    def fitted(self, width: int | None) -> Any:
        return prediction_renderable(self.prediction, self.mode, width=width)


def verdict(prediction: Any) -> Text:
    """One line: "name: 7 (98.8%)", flagged when uncertain, or the error in plain words."""
    name = str(getattr(prediction, "path", "") or "")
    line = Text(no_wrap=False)
    error = getattr(prediction, "error", None)
    if error:
        if name and name not in str(error):  # engine messages usually name the file (or folder) already
            line.append(f"{name}: ", style="bold")
        line.append(str(error), style="bold red")
        return line
    if name:
        line.append(f"{name}: ", style="bold")
    line.append(f"{prediction.digit}", style="bold green")
    line.append(f" ({prediction.confidence:.1%})")
    if getattr(prediction, "uncertain", False):
        reason = getattr(prediction, "reason", None) or "low confidence"
        line.append(f"  uncertain: {reason}", style="yellow")
    return line


ART_WIDTH = 28
GAP = 3
BAR_FRAME = 11  # "> 7 " before a bar and " 99.9%" after it


def bar_width_for(width: int | None) -> tuple[int, bool]:
    """Bar width that fits ``width`` columns, and whether the bars go below the digit instead."""
    if width is None:
        return BAR_WIDTH, False
    beside = width - ART_WIDTH - GAP - BAR_FRAME
    if beside >= 8:
        return min(BAR_WIDTH, beside), False
    return max(4, min(BAR_WIDTH, width - BAR_FRAME)), True


def prediction_renderable(prediction: Any, mode: str = "ascii", width: int | None = None) -> Text:
    if prediction is None:
        return Text("no prediction yet", style="dim")
    head = verdict(prediction)
    if getattr(prediction, "error", None) or getattr(prediction, "probabilities", None) is None:
        return head
    bar_width, below = bar_width_for(width)
    if below:
        art = digit_with_bars(prediction.input28, None, mode=mode)
        bars = digit_with_bars(None, prediction.probabilities, highlight=prediction.digit, bar_width=bar_width)
        return Text("\n").join([head, art, bars])
    body = digit_with_bars(prediction.input28, prediction.probabilities, mode=mode, highlight=prediction.digit,
                           bar_width=bar_width)
    return Text("\n").join([head, body])

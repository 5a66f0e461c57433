"""Why a digit was read as it was: the digit as the model saw it beside its occlusion map, tinted."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.app.widgets.fitted import FittedView

STYLES = {"S": "bold red", "A": "bold cyan"}
SIDE_BY_SIDE = 28 + 3 + 28  # below this width only the map is shown (it carries the digit's ink too)


def explanation_text(expl: Any, mode: str = "ascii", width: int | None = None) -> Text:
    """The summary lines, then the digit beside the map (evidence for the answer red, for the runner-up cyan)."""
    from tui.core.explain import LEGEND, map_lines, rows_in_use, summary  # noqa: PLC0415 - numpy, kept off start-up
    from tui.core.render import ascii_digit  # noqa: PLC0415

    first, *rest = summary(expl)
    text = Text(no_wrap=True, overflow="crop")
    if expl.path:
        text.append(f"{expl.path}: ", style="bold")
    text.append(first)
    for line in rest:
        text.append("\n" + line, style="dim" if line.startswith(("nothing", "no single")) else "")
    overlay, tags = map_lines(expl, mode)
    beside = width is None or width >= SIDE_BY_SIDE
    digit = ascii_digit(expl.input28, mode) if beside else [""] * len(overlay)
    rows = rows_in_use(digit, overlay)
    digit, overlay, tags = digit[rows], overlay[rows], tags[rows]
    if beside:
        text.append("\n" + "as the model saw it".ljust(28) + "   what the answer rests on", style="dim")
    for art, line, tag_line in zip(digit, overlay, tags):
        text.append("\n" + (art.ljust(28) + "   " if beside else ""))
        for char, tag in zip(line, tag_line):
            text.append(char, style=STYLES.get(tag, "dim"))
    legend = LEGEND[mode].format(d=expl.digit, u=expl.runner_up)
    text.append("\n" + legend, style="dim")
    return text


class ExplanationView(FittedView):
    """One explanation in the log; redrawn when the rendering mode or the width changes."""

    DEFAULT_CSS = """
    ExplanationView {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, explanation: Any, mode: str = "ascii", **kwargs: Any) -> None:
        super().__init__(mode, **kwargs)
        self.explanation = explanation

    def fitted(self, width: int | None) -> Any:
        return explanation_text(self.explanation, self.mode, width=width)

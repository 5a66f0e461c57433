"""A number read from one image: the digits it found, each drawn beside its probability bars."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.app.widgets.fitted import FittedView

BLOCK_GAP = 2
FULL_ART, COMPACT_ART = 20, 14  # columns of a digit's drawing (half as many lines)
FULL_BARS, COMPACT_BARS = 10, 3  # bars shown per digit: every class, or the likeliest three
BAR_WIDTH = 6
BAR_TEXT = 4 + BAR_WIDTH + 7  # "> 7 " + bar + " 98.0%"


def digit_art(input28: Any, width: int, mode: str = "ascii") -> list[str]:
    """A prepared 28x28 digit cropped to its ink, squared and drawn ``width`` columns wide."""
    import numpy as np  # noqa: PLC0415 - numpy only when something is drawn

    from tui.core.render import ascii_image  # noqa: PLC0415

    x = np.clip(np.nan_to_num(np.asarray(input28, dtype=np.float32)), 0.0, 1.0)
    rows, cols = np.flatnonzero(x.max(axis=1) > 0.05), np.flatnonzero(x.max(axis=0) > 0.05)
    if rows.size:
        x = x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    side = max(x.shape) + 2
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - x.shape[0]) // 2, (side - x.shape[1]) // 2
    square[top:top + x.shape[0], left:left + x.shape[1]] = x
    return ascii_image(square, width=width, mode=mode, invert=False, max_lines=None)


def _block(position: int, p: Any, compact: bool, mode: str) -> list[Text]:
    """One digit: a title line, then its drawing beside its bars, every line the same width."""
    from tui.core.render import probability_bars  # noqa: PLC0415

    art_width = COMPACT_ART if compact else FULL_ART
    art = digit_art(p.input28, art_width, mode)
    bars = probability_bars(p.probabilities, width=BAR_WIDTH, top=COMPACT_BARS if compact else None)
    width = art_width + 1 + BAR_TEXT
    title = Text(f"#{position} ", style="dim")
    title.append(str(p.digit), style="bold yellow" if p.uncertain else "bold green")
    title.append(f"{'?' if p.uncertain else ''} {p.confidence:.1%}", style="yellow" if p.uncertain else "")
    lines = [title]
    for row in range(max(len(art), len(bars))):
        line = Text((art[row] if row < len(art) else "").ljust(art_width) + " ")
        if row < len(bars):
            line.append(bars[row].ljust(BAR_TEXT), style="bold reverse" if bars[row].startswith(">") else "")
        lines.append(line)
    for line in lines:
        line.truncate(width, pad=True)
    return lines


def number_renderable(reading: Any, mode: str = "ascii", width: int | None = None, verb: str = "read") -> Text:
    """The number read ("read 2026", or ``verb`` for a live drawing's "reads 2026"), the uncertain
    digits named, then one block per digit in rows."""
    digits = list(reading.digits)
    head = Text.assemble((f"{verb} ", "bold"))
    for p in digits:
        head.append(str(p.digit), style="bold yellow underline" if p.uncertain else "bold green")
    confidence = getattr(reading, "confidence", None)
    if confidence is not None:
        head.append(f"  {confidence:.1%} sure of the whole number", style="yellow" if reading.uncertain else "green")
    unsure = [(i, p) for i, p in enumerate(digits, 1) if p.uncertain]
    if unsure:
        which = ", ".join(f"#{i} ({p.reason or 'low confidence'})" for i, p in unsure)
        head.append(f"  uncertain: {which}", style="yellow")
    elif reading.uncertain and getattr(reading, "reason", None):
        head.append(f"  uncertain: {reading.reason}", style="yellow")
    if not digits:
        return head
    width = width or 80
    full_per_row = max(1, (width + BLOCK_GAP) // (FULL_ART + 1 + BAR_TEXT + BLOCK_GAP))
    compact_per_row = max(1, (width + BLOCK_GAP) // (COMPACT_ART + 1 + BAR_TEXT + BLOCK_GAP))
    compact = full_per_row < min(len(digits), compact_per_row)
    per_row = compact_per_row if compact else full_per_row
    blocks = [_block(i, p, compact, mode) for i, p in enumerate(digits, 1)]
    out = [head]
    for start in range(0, len(blocks), per_row):
        row_blocks = blocks[start:start + per_row]
        for line_no in range(max(len(b) for b in row_blocks)):
            line = Text()
            for k, block in enumerate(row_blocks):
                if k:
                    line.append(" " * BLOCK_GAP)
                if line_no < len(block):
                    line.append_text(block[line_no])
            line.rstrip()
            out.append(line)
    return Text("\n").join(out)


class NumberView(FittedView):
    """A :class:`tui.core.inference.NumberReading` drawn to fit its width; redrawn on resize."""

    DEFAULT_CSS = """
    NumberView {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(self, reading: Any, mode: str = "ascii", **kwargs: Any) -> None:
        super().__init__(mode, **kwargs)
        self.reading = reading

    def fitted(self, width: int | None) -> Any:
        return number_renderable(self.reading, self.mode, width=width)

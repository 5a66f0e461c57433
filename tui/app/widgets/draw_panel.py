"""The Draw panel: draw a digit, or a whole number, and watch the model read it live.

The drawing is a :class:`Sketch` painted with a soft round brush, 28x28 for a digit or a wide
NUMBER_WIDTH x NUMBER_HEIGHT strip for a number (key ``n`` switches), shown as half blocks (one
terminal cell holds two pixels) so it fits an 80x24 terminal. The panel only draws: it asks the
app for a prediction (:class:`DrawPanel.PredictWanted`, at most a few a second) and the app
answers from a worker with :meth:`DrawPanel.show_prediction`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Button, Static

from tui.app.messages import CommandRequested
from tui.app.widgets.number import number_renderable
from tui.app.widgets.prediction import ART_WIDTH, BAR_FRAME, BAR_WIDTH, GAP, digit_with_bars, verdict

SIDE = 28
# The number canvas: 72 columns fit an 80-column terminal beside the panel's padding, and 24 pixels
# (12 rows) leave one row for the answer and one for the status and buttons below it at 80x24; a
# digit drawn to fill the height is about MNIST's 20 px box with a margin.
NUMBER_WIDTH, NUMBER_HEIGHT = 72, 24
# The brush inks fully within BRUSH_CORE pixels of its centre and fades out by BRUSH_EDGE: strokes
# about 3 px wide, which preprocessing scales to MNIST's 2-3 px when a digit fills the canvas.
BRUSH_CORE, BRUSH_EDGE = 0.9, 1.9
ERASER_CORE, ERASER_EDGE = 1.5, 2.5
TALL_ENOUGH = 19  # panel rows needed to show the model's view of the digit too (verdict, 14 rows, status, buttons)
PREDICT_EVERY_S = 0.2  # live predictions while drawing: at most five a second
INK_THRESHOLD = 0.05
START_TEXT = "draw a digit: drag with the mouse (right button or ctrl erases), or arrows + space; c clears, s saves"
NUMBER_START_TEXT = ("draw a number, its digits side by side with a small gap: drag with the mouse, or arrows + space; "
                     "n: one digit")


class Sketch:
    """A ``width`` x ``height`` drawing (square by default: 28x28), ink in [0, 1] (1 = ink, as
    MNIST), row by row; no Textual, no numpy."""

    def __init__(self, width: int = SIDE, height: int | None = None) -> None:
        self.width = width
        self.height = width if height is None else height
        self.pixels = [0.0] * (self.width * self.height)

    @property
    def side(self) -> int:
        """The side of a square sketch (a digit's); for a wide one, its height."""
        return self.height

    def clear(self) -> None:
        self.pixels = [0.0] * (self.width * self.height)

    @property
    def blank(self) -> bool:
        return max(self.pixels) < INK_THRESHOLD

    def at(self, x: int, y: int) -> float:
        return self.pixels[y * self.width + x]

    def rows(self) -> list[list[float]]:
        w = self.width
        return [self.pixels[r * w:(r + 1) * w] for r in range(self.height)]

    def stamp(self, x: float, y: float, erase: bool = False) -> bool:
        """Press the brush (or the eraser) at pixel coordinates (x, y); True if anything changed."""
        core, edge = (ERASER_CORE, ERASER_EDGE) if erase else (BRUSH_CORE, BRUSH_EDGE)
        changed = False
        for py in range(max(0, math.floor(y - edge)), min(self.height, math.ceil(y + edge))):
            for px in range(max(0, math.floor(x - edge)), min(self.width, math.ceil(x + edge))):
                d = math.hypot(px + 0.5 - x, py + 0.5 - y)
                amount = min(1.0, max(0.0, (edge - d) / (edge - core)))
                if amount <= 0:
                    continue
                i = py * self.width + px
                old = self.pixels[i]
                new = min(old, 1.0 - amount) if erase else max(old, amount)
                if new != old:
                    self.pixels[i] = new
                    changed = True
        return changed

    def line(self, x0: float, y0: float, x1: float, y1: float, erase: bool = False) -> bool:
        """Stamp along a straight stroke, closely enough that fast mouse moves leave no gaps."""
        steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / 0.5))
        changed = False
        for k in range(steps + 1):
            t = k / steps
            changed |= self.stamp(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, erase)
        return changed


def _grey(level: float) -> Color:
    v = round(18 + 237 * level)
    return Color.from_rgb(v, v, v)


CURSOR_COLOURS = {"up": Color.parse("#e5c07b"), "down": Color.parse("#ff5f5f"), "erase": Color.parse("#56b6c2")}


class DrawCanvas(Widget, can_focus=True):
    """The drawing surface: one column and half a row per pixel of its sketch (28 by 14 for a
    digit), white ink on black."""

    DEFAULT_CSS = """
    DrawCanvas {
        width: 28;
        height: 14;
    }
    """

    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("shift+up", "move(0, -3)", "Up 3", show=False),
        Binding("shift+down", "move(0, 3)", "Down 3", show=False),
        Binding("shift+left", "move(-3, 0)", "Left 3", show=False),
        Binding("shift+right", "move(3, 0)", "Right 3", show=False),
        Binding("space", "toggle_pen", "Pen", id="draw-pen", tooltip="pen down (moving paints) or up"),
        Binding("e", "toggle_eraser", "Eraser", id="draw-eraser", tooltip="switch between brush and eraser"),
        Binding("c", "clear", "Clear", id="draw-clear", tooltip="clear the drawing"),
        Binding("s", "save", "Save", id="draw-save", tooltip="save the drawing into the samples folder"),
        Binding("w", "explain", "Why?", id="draw-explain", tooltip="show what the model's answer rests on"),
    ]

    pen_down: reactive[bool] = reactive(False)
    eraser: reactive[bool] = reactive(False)
    cursor: reactive[tuple[int, int]] = reactive((SIDE // 2, SIDE // 2))

    @dataclass
    class Changed(Message):
        """The drawing changed; only the newest one matters."""

        canvas: DrawCanvas

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DrawCanvas.Changed)

    @dataclass
    class ToolChanged(Message):
        """Pen, eraser or cursor changed (the status line shows them)."""

        canvas: DrawCanvas

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sketch = Sketch()
        self._stroke: tuple[float, float] | None = None  # last mouse point of a stroke in progress
        self._stroke_erases = False
        self._styles: dict[tuple[int, int, str | None, str | None], Style] = {}

    # -- drawing ------------------------------------------------------------------------------

    def use_sketch(self, sketch: Sketch) -> None:
        """Draw on ``sketch`` from now on (the panel keeps one per mode), sized to fit it."""
        self.sketch = sketch
        self.styles.width = sketch.width
        self.styles.height = (sketch.height + 1) // 2
        self.cursor = (sketch.width // 2, sketch.height // 2)
        self.refresh(layout=True)

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed(self))

    def clear(self) -> None:
        self.sketch.clear()
        self._changed()

    def action_clear(self) -> None:
        self.clear()

    def action_save(self) -> None:
        self.post_message(CommandRequested("draw save"))

    def action_explain(self) -> None:
        self.post_message(CommandRequested("explain drawing"))

    def action_toggle_pen(self) -> None:
        self.pen_down = not self.pen_down
        if self.pen_down and self.sketch.stamp(self.cursor[0] + 0.5, self.cursor[1] + 0.5, self.eraser):
            self._changed()

    def action_toggle_eraser(self) -> None:
        self.eraser = not self.eraser

    def action_move(self, dx: int, dy: int) -> None:
        x0, y0 = self.cursor
        x1, y1 = self._inside(x0 + dx, y0 + dy)
        self.cursor = (x1, y1)
        if self.pen_down and self.sketch.line(x0 + 0.5, y0 + 0.5, x1 + 0.5, y1 + 0.5, self.eraser):
            self._changed()

    def watch_pen_down(self) -> None:
        self._tool_changed()

    def watch_eraser(self) -> None:
        self._tool_changed()

    def watch_cursor(self) -> None:
        self._tool_changed()

    def _tool_changed(self) -> None:
        self.refresh()
        if self.is_mounted:
            self.post_message(self.ToolChanged(self))

    # -- the mouse ----------------------------------------------------------------------------

    def _point(self, event: events.MouseEvent) -> tuple[float, float]:
        """Pixel coordinates of the pointer; without pixel-precise mouse reports, the cell's centre."""
        x, y = event.pointer_x, event.pointer_y
        x = x if x != int(x) else x + 0.5
        y = y * 2 if y != int(y) else y * 2 + 1.0
        return x, y

    def on_mouse_down(self, event: events.MouseDown) -> None:
        event.stop()
        self.focus()
        self.capture_mouse()
        self._stroke_erases = event.button == 3 or event.ctrl or self.eraser
        self._stroke = self._point(event)
        self._cursor_to(self._stroke)
        if self.sketch.stamp(*self._stroke, erase=self._stroke_erases):
            self._changed()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._stroke is None:
            return
        point = self._point(event)
        if self.sketch.line(*self._stroke, *point, erase=self._stroke_erases):
            self._changed()
        self._stroke = point
        self._cursor_to(point)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._stroke is not None:
            self._stroke = None
            self.release_mouse()

    def _cursor_to(self, point: tuple[float, float]) -> None:
        self.cursor = self._inside(int(point[0]), int(point[1]))

    def _inside(self, x: int, y: int) -> tuple[int, int]:
        """The nearest pixel of the sketch to (x, y)."""
        return min(self.sketch.width - 1, max(0, x)), min(self.sketch.height - 1, max(0, y))

    # -- rendering ----------------------------------------------------------------------------

    def _style(self, top: float, bottom: float, top_mark: str | None, bottom_mark: str | None) -> Style:
        key = (round(top * 32), round(bottom * 32), top_mark, bottom_mark)
        style = self._styles.get(key)
        if style is None:
            fg = CURSOR_COLOURS[top_mark] if top_mark else _grey(key[0] / 32)
            bg = CURSOR_COLOURS[bottom_mark] if bottom_mark else _grey(key[1] / 32)
            style = self._styles[key] = Style(color=fg, bgcolor=bg)
        return style

    def render_line(self, y: int) -> Strip:
        width, side = self.size.width, self.sketch.width
        if 2 * y >= self.sketch.height:
            return Strip.blank(width)
        mark = "erase" if self.eraser else ("down" if self.pen_down else "up")
        cx, cy = self.cursor if self.has_focus else (-1, -1)
        top, bottom = 2 * y, 2 * y + 1
        segments = []
        for x in range(side):
            top_mark = mark if (x, top) == (cx, cy) else None
            bottom_mark = mark if (x, bottom) == (cx, cy) else None
            below = self.sketch.at(x, bottom) if bottom < self.sketch.height else 0.0
            style = self._style(self.sketch.at(x, top), below, top_mark, bottom_mark)
            segments.append(Segment("▀", style))
        strip = Strip(Segment.simplify(segments), side)
        return strip.extend_cell_length(width) if width > side else strip.crop(0, width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class DrawPanel(Horizontal):
    """The canvas beside the live prediction, its status line and the Clear and Save buttons; in
    number mode (``n``) a wide canvas with the number read below it."""

    BINDINGS = [
        Binding("n", "toggle_number", "Number", id="draw-number",
                tooltip="switch between drawing one digit and a whole number of several digits"),
    ]

    @dataclass
    class PredictWanted(Message):
        """The drawing changed: predict ``pixels`` (ink, row by row, ``width`` to a row), as a whole
        number when ``number``, and call back with ``version``."""

        pixels: list[float]
        version: int
        width: int = SIDE
        number: bool = False

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, DrawPanel.PredictWanted)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = 0  # bumped on every change, so a late answer for an older drawing is ignored
        self.prediction: Any = None  # a Prediction in digit mode, a NumberReading in number mode
        self.mode = "ascii"
        self.number_mode = False
        self._other_sketch = Sketch(NUMBER_WIDTH, NUMBER_HEIGHT)  # the other mode's drawing, kept for its return
        self._shown_version = -1
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield DrawCanvas(id="canvas")  # no tooltip: it would pop up over the buttons whenever the pen rests
        with Vertical(id="draw-side"):
            yield Static(self._start_text(), id="draw-prediction")
            with Vertical(id="draw-bar"):  # status over buttons; one row in number mode
                yield Static("", id="draw-status")
                with Horizontal(id="draw-buttons"):
                    yield Button("Clear (c)", id="draw-clear", compact=True, tooltip="clear the drawing")
                    yield Button("Save (s)", id="draw-save", variant="primary", compact=True,
                                 tooltip="save the drawing into the samples folder, named by what it reads")

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one("#canvas", DrawCanvas)

    @property
    def answer(self) -> Static:
        return self.query_one("#draw-prediction", Static)

    def on_mount(self) -> None:
        self._show_status(self.canvas)

    @on(Button.Pressed, "#draw-clear")
    def _clear_pressed(self) -> None:
        self.canvas.clear()

    @on(Button.Pressed, "#draw-save")
    def _save_pressed(self) -> None:
        self.post_message(CommandRequested("draw save"))

    def action_toggle_number(self) -> None:
        self.set_number_mode(not self.number_mode)

    def set_number_mode(self, number: bool) -> None:
        """Draw a whole number on the wide canvas, or one digit on the square one; each keeps its drawing."""
        if number == self.number_mode:
            return
        self.number_mode = number
        self.set_class(number, "-number")
        canvas = self.canvas
        sketch, self._other_sketch = self._other_sketch, canvas.sketch
        canvas.use_sketch(sketch)
        self.version += 1
        # What is shown, and any answer still coming, is for the other mode's drawing.
        reading = Text("reading the number…" if number else "reading the digit…", style="dim")
        self.show_message(reading, self.version)
        self._ask_for_prediction(sketch)
        self._show_status(canvas)

    def _start_text(self) -> Text:
        return Text(NUMBER_START_TEXT if self.number_mode else START_TEXT, style="dim")

    @on(DrawCanvas.ToolChanged)
    def _tool_changed(self, message: DrawCanvas.ToolChanged) -> None:
        self._show_status(message.canvas)

    def _show_status(self, canvas: DrawCanvas) -> None:
        tool = "eraser" if canvas.eraser else "brush"
        pen = "down" if canvas.pen_down else "up"
        # One line (app.tcss), the mode and the position first: in number mode it shares its row with the buttons.
        self.query_one("#draw-status", Static).update(Text.assemble(
            ("number" if self.number_mode else "digit", "bold cyan"), " · ",
            (f"{tool}, pen {pen}", "bold"), f" at {canvas.cursor[0]},{canvas.cursor[1]}",
            ("  n: digit/number · space: pen · e: eraser", "dim"),
        ))

    @on(DrawCanvas.Changed)
    def _drawing_changed(self, message: DrawCanvas.Changed) -> None:
        message.stop()
        self.version += 1
        self._ask_for_prediction(message.canvas.sketch)

    def _ask_for_prediction(self, sketch: Sketch) -> None:
        if sketch.blank:
            self.prediction = None
            self._shown_version = self.version
            self.answer.update(self._start_text())
            return
        if self._timer is None:  # coalesce a burst of strokes into one request per period
            self._timer = self.set_timer(PREDICT_EVERY_S, self._request_prediction)

    def _request_prediction(self) -> None:
        self._timer = None
        sketch = self.canvas.sketch
        if not sketch.blank:
            self.post_message(self.PredictWanted(list(sketch.pixels), self.version, sketch.width, self.number_mode))

    def show_prediction(self, prediction: Any, version: int) -> None:
        """Show the model's answer for drawing ``version`` (a Prediction, or a NumberReading in number
        mode) unless a newer one was shown already."""
        if version < self._shown_version:
            return
        self._shown_version = version
        self.prediction = prediction
        self._draw_prediction()

    def show_message(self, text: Text | str, version: int) -> None:
        """A line in place of the prediction (no digit found yet, no model, loading)."""
        if version < self._shown_version:
            return
        self._shown_version = version
        self.prediction = None
        self.answer.update(text)

    def on_resize(self) -> None:
        self._draw_prediction()

    def _draw_prediction(self) -> None:
        if self.prediction is None:
            return
        if self.number_mode:
            answer = self.answer
            self.answer.update(drawn_number_text(self.prediction, self.mode, answer.content_size.width or None,
                                                 answer.content_size.height))
            return
        width = self.query_one("#draw-side").content_size.width or None
        # The model's view takes 14 more rows: only where the panel is tall enough to keep the buttons in sight.
        tall = self.size.height >= TALL_ENOUGH
        self.answer.update(drawn_prediction_text(self.prediction, self.mode, width, with_input=tall))


def drawn_number_text(reading: Any, mode: str = "ascii", width: int | None = None, rows: int = 0) -> Text:
    """The number read ("reads 2026 …"), with each digit beside its bars where ``rows`` leave room
    for them, else that line alone."""
    full = number_renderable(reading, mode, width, verb="reads")
    lines = full.split("\n")
    if len(lines) <= rows:
        return full
    head = lines[0]
    head.no_wrap, head.overflow = True, "ellipsis"
    return head


def drawn_prediction_text(prediction: Any, mode: str = "ascii", width: int | None = None,
                          with_input: bool = True) -> Text:
    """The verdict over the probability bars; with room, the digit as the model saw it beside them."""
    # One line whatever the width, so the status and the buttons below never move out of sight.
    head = Text("looks like ", style="bold", no_wrap=True, overflow="ellipsis")
    head.append_text(verdict(prediction))
    probabilities = getattr(prediction, "probabilities", None)
    if getattr(prediction, "error", None) or probabilities is None:
        return head
    width = width or ART_WIDTH + GAP + BAR_FRAME + BAR_WIDTH
    if with_input and width >= ART_WIDTH + GAP + BAR_FRAME + 10:
        bar_width = min(BAR_WIDTH, width - ART_WIDTH - GAP - BAR_FRAME)
        body = digit_with_bars(prediction.input28, probabilities, mode=mode, highlight=prediction.digit,
                               bar_width=bar_width)
    else:
        body = digit_with_bars(None, probabilities, highlight=prediction.digit,
                               bar_width=max(4, min(BAR_WIDTH, width - BAR_FRAME)))
    return Text("\n", no_wrap=True, overflow="ellipsis").join([head, body])


def drawing_path(folder: Path, label: int | str | None, now: float | None = None) -> Path:
    """A new file name for a saved drawing, the digit or number read first: ``7_drawn_20261124-101500.png``,
    ``2026_drawn_20261124-101500.png``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    stem = f"{label}_drawn_{stamp}" if label not in (None, "") else f"drawn_{stamp}"
    path = folder / f"{stem}.png"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.png"
        n += 1
    return path


def ink_array(pixels: list[float], width: int = SIDE) -> Any:
    """A drawing's pixels (ink, row by row, ``width`` to a row) as an (H, W) float32 array in [0, 1]."""
    import numpy as np  # noqa: PLC0415 - numpy is kept off the app's start-up

    return np.clip(np.asarray(pixels, dtype=np.float32).reshape(-1, width), 0.0, 1.0)


def save_drawing(pixels: list[float], folder: Path, label: int | str | None, width: int = SIDE, scale: int = 10,
                 now: float | None = None) -> Path:
    """Write the drawing (``width`` pixels to a row) as a dark-on-white PNG, ``scale`` times its size,
    named by ``label`` (the digit or number read), never over an existing file."""
    import numpy as np  # noqa: PLC0415 - numpy and Pillow are kept off the app's start-up
    from PIL import Image  # noqa: PLC0415

    ink = ink_array(pixels, width)
    image = Image.fromarray(np.rint(255 * (1.0 - ink)).astype(np.uint8))
    image = image.resize((ink.shape[1] * scale, ink.shape[0] * scale), Image.Resampling.BILINEAR)
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = drawing_path(folder, label, now)
        try:
            fh = open(path, "xb")  # exclusive: a file that appeared meanwhile is never replaced
        except FileExistsError:
            continue
        try:
            with fh:
                image.save(fh, format="PNG")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

"""Drawing in the Draw panel: a digit or a whole number, with the keyboard and the mouse, live
predictions, clear, save."""

from __future__ import annotations

import shutil
import time

import pytest
from PIL import Image
from textual.widgets import Button, Static

from test_app import last_text, make_app, settle, type_command, workdir  # noqa: F401 - workdir is a fixture
from tui.app.widgets.draw_panel import (
    NUMBER_HEIGHT,
    NUMBER_WIDTH,
    PREDICT_EVERY_S,
    DrawCanvas,
    DrawPanel,
    Sketch,
    drawing_path,
    save_drawing,
)


def canvas_lines(canvas: DrawCanvas) -> list[str]:
    """What the canvas shows, as text with its colours (so a change in ink changes it)."""
    return ["".join(f"{seg.text}{seg.style}" for seg in canvas.render_line(y)) for y in range(14)]


def column_ink(sketch: Sketch, x: int) -> list[int]:
    """The rows where column ``x`` (or its neighbours) holds ink."""
    return [y for y in range(sketch.height) if max(sketch.at(c, y) for c in (x - 1, x, x + 1)) > 0.5]


def number_pixels(images, gap: int = 4) -> list[float]:
    """MNIST digits cropped to their ink and set side by side, ``gap`` pixels apart, as the number
    canvas' pixels (ink in [0, 1], row by row)."""
    import numpy as np

    canvas = np.zeros((NUMBER_HEIGHT, NUMBER_WIDTH), dtype=np.float32)
    x = gap
    for image in images:
        ink = image.astype(np.float32) / 255
        rows, cols = np.flatnonzero(ink.max(axis=1) > 0.05), np.flatnonzero(ink.max(axis=0) > 0.05)
        glyph = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        top = (NUMBER_HEIGHT - glyph.shape[0]) // 2
        canvas[top:top + glyph.shape[0], x:x + glyph.shape[1]] = glyph
        x += glyph.shape[1] + gap
    assert x <= NUMBER_WIDTH + gap, "the digits do not fit the canvas"
    return canvas.ravel().tolist()


def buttons_in_sight(app) -> bool:
    """Both buttons are within the Draw panel and the screen, not cut off below them."""
    panel = app.draw_panel.region
    return all(panel.contains_region(b.region) and app.screen.region.contains_region(b.region)
               for b in app.draw_panel.query(Button))


# -- the sketch (pure) ----------------------------------------------------------------------------


def test_the_brush_paints_soft_round_strokes_and_the_eraser_removes_them():
    sketch = Sketch()
    assert sketch.blank
    assert sketch.line(14.5, 4.5, 14.5, 23.5)
    assert not sketch.blank
    assert sketch.at(14, 4) == sketch.at(14, 23) == 1.0
    assert 0 < sketch.at(15, 14) < 1  # a soft edge, as MNIST's anti-aliased strokes
    assert sketch.at(17, 14) == 0.0 and sketch.at(14, 0) == 0.0
    assert sketch.stamp(14.5, 14.5, erase=True)
    assert sketch.at(14, 14) == 0.0 and sketch.at(14, 4) == 1.0
    sketch.stamp(-5, 40)  # off the canvas: nothing happens, nothing breaks
    sketch.clear()
    assert sketch.blank


def test_saved_drawings_never_overwrite_and_are_dark_on_white(tmp_path):
    sketch = Sketch()
    sketch.line(14.5, 4.5, 14.5, 23.5)
    now = 1795500000.0  # both saves in the same second, so the names collide
    first = save_drawing(sketch.pixels, tmp_path / "new", 1, now=now)
    second = save_drawing(sketch.pixels, tmp_path / "new", 1, now=now)
    assert first != second and first.name.startswith("1_drawn_") and second.name.endswith("-2.png")
    image = Image.open(first)
    assert image.size == (280, 280)
    assert image.getpixel((5, 5)) == 255 and image.getpixel((145, 140)) < 40
    assert drawing_path(tmp_path, None).name.startswith("drawn_")


def test_a_wide_sketch_paints_and_saves_at_its_own_size(tmp_path):
    sketch = Sketch(NUMBER_WIDTH, NUMBER_HEIGHT)
    assert sketch.line(60.5, 2.5, 60.5, 21.5)  # a stroke far right of a digit canvas' 28 columns
    assert sketch.at(60, 2) == 1.0 and sketch.at(14, 2) == 0.0
    sketch.stamp(NUMBER_WIDTH + 5, 5)  # off the canvas: nothing breaks
    path = save_drawing(sketch.pixels, tmp_path, "2026", width=NUMBER_WIDTH, now=1795500000.0)
    assert path.name.startswith("2026_drawn_")
    image = Image.open(path)
    assert image.size == (NUMBER_WIDTH * 10, NUMBER_HEIGHT * 10)
    assert image.getpixel((5, 5)) == 255 and image.getpixel((605, 120)) < 40


# -- the panel, without a model -----------------------------------------------------------------


async def test_n_switches_to_a_wide_number_canvas_that_fits_80x24_and_back(workdir):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        panel, canvas = app.draw_panel, app.query_one(DrawCanvas)
        await settle(pilot, lambda: app.focused is canvas)
        await pilot.press("space", "down", "space")  # a digit drawing, kept while drawing a number
        digit_drawing = list(canvas.sketch.pixels)
        await pilot.press("n")
        await pilot.pause()
        assert panel.number_mode and panel.has_class("-number")
        assert (canvas.sketch.width, canvas.sketch.height) == (NUMBER_WIDTH, NUMBER_HEIGHT) and canvas.sketch.blank
        assert canvas.region.width == NUMBER_WIDTH and canvas.region.height == NUMBER_HEIGHT // 2
        assert buttons_in_sight(app)  # the answer, status and buttons below the canvas, all in an 80x24 screen
        assert "draw a number" in str(panel.answer.render())
        status = str(app.query_one("#draw-status", Static).render())
        assert status.startswith("number · brush, pen up at 36,12") and "n: digit/number" in status
        await pilot.press("right", "space", *["right"] * 50, "space")
        assert column_ink(canvas.sketch, 60) and not canvas.sketch.blank  # drawn beyond a digit canvas' width
        # Without a model the panel says why in the answer line; no traceback, the log not flooded.
        await settle(pilot, lambda: "no model at" in str(panel.answer.render()))
        assert "Welcome" in last_text(app)
        await type_command(pilot, "explain drawing")
        assert "explain works on single digits" in last_text(app) and app.conversation.last_turn.has_class("-error")

        await type_command(pilot, "draw digit")
        assert not panel.number_mode and canvas.sketch.width == 28 and canvas.sketch.pixels == digit_drawing
        assert canvas.region.height == 14 and buttons_in_sight(app)
        assert str(app.query_one("#draw-status", Static).render()).startswith("digit · ")
        await type_command(pilot, "draw number")
        assert panel.number_mode and not canvas.sketch.blank  # the number drawn before, kept too


async def test_draw_with_the_keyboard_then_clear(workdir):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f6")
        canvas = app.query_one(DrawCanvas)
        await settle(pilot, lambda: app.focused is canvas)
        assert canvas.region.height == 14  # the whole canvas fits an 80x24 terminal
        before = canvas_lines(canvas)
        await pilot.press(*["up"] * 10, "space", *["down"] * 18, "space", "down")
        assert canvas.cursor == (14, 23) and not canvas.pen_down
        assert column_ink(canvas.sketch, 14) == list(range(3, 24))  # rows 4 to 22, and the brush reaches one further
        assert canvas_lines(canvas) != before
        assert "brush, pen up at 14,23" in str(app.query_one("#draw-status", Static).render())
        # Without a model the panel says why there is no prediction; the log is not flooded.
        await settle(pilot, lambda: "no model at" in str(app.query_one("#draw-prediction", Static).render()))
        assert "Welcome" in last_text(app)

        await pilot.press("e", "space", "up", "space")
        assert canvas.eraser and column_ink(canvas.sketch, 14)[-1] <= 20
        await pilot.press("c")
        assert canvas.sketch.blank
        assert "draw a digit" in str(app.query_one("#draw-prediction", Static).render())
        await pilot.press("s")
        await settle(pilot, lambda: "nothing to save" in last_text(app))
        assert app.conversation.last_turn.has_class("-error")


async def test_draw_with_the_mouse_and_erase_with_the_right_button(workdir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_command(pilot, "draw")
        assert "Draw panel" in last_text(app)
        canvas = app.query_one(DrawCanvas)
        await settle(pilot, lambda: app.focused is canvas)
        await pilot.mouse_down(canvas, offset=(14, 2))
        for row in (4, 6, 8, 10):
            await pilot.hover(canvas, offset=(14, row))
        await pilot.mouse_up(canvas, offset=(14, 12))
        ink = column_ink(canvas.sketch, 14)
        assert ink[0] <= 5 and ink[-1] >= 24 and ink == list(range(ink[0], ink[-1] + 1))  # no gaps between moves
        assert canvas.cursor == (14, 25)
        await pilot.hover(canvas, offset=(20, 12))  # moving without a button down draws nothing
        assert column_ink(canvas.sketch, 20) == []

        await pilot.mouse_down(canvas, offset=(14, 7), button=3)
        await pilot.mouse_up(canvas, offset=(14, 7))
        assert canvas.sketch.at(14, 15) == 0.0 and canvas.sketch.at(14, 5) == 1.0
        await type_command(pilot, "draw clear")
        assert canvas.sketch.blank and "cleared" in last_text(app)


async def test_live_predictions_are_debounced(workdir):
    """A quick stroke asks for a handful of predictions, not one per move."""
    wanted: list[DrawPanel.PredictWanted] = []
    app = make_app()
    async with app.run_test(size=(100, 30), message_hook=lambda m: wanted.append(m)
                            if isinstance(m, DrawPanel.PredictWanted) else None) as pilot:
        await pilot.press("f6")
        started = time.monotonic()
        await pilot.press("space", *["down"] * 12, "space")
        await pilot.pause(0.5)
        elapsed = time.monotonic() - started
        asked = {id(m): m for m in wanted}  # a message is seen again at each widget it bubbles through
        assert 1 <= len(asked) <= elapsed / PREDICT_EVERY_S + 1
        assert len(asked) < app.draw_panel.version  # fewer requests than changes
        assert wanted[-1].version == app.draw_panel.version  # and the last one is for the finished drawing


# -- with a real model ---------------------------------------------------------------------------


@pytest.fixture
def drawing_project(tmp_path, monkeypatch, trained_model):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DIGITREC_MODEL", raising=False)
    (tmp_path / "models").mkdir()
    shutil.copy(trained_model, tmp_path / "models" / "digit_recognizer.h5")
    return tmp_path


@pytest.mark.slow
async def test_a_drawn_one_is_read_live_and_saved_under_its_digit(drawing_project):
    samples = drawing_project / "drawings"
    app = make_app(samples_dir=samples)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        canvas = app.query_one(DrawCanvas)
        await pilot.mouse_down(canvas, offset=(14, 2))
        await pilot.hover(canvas, offset=(14, 7))
        await pilot.mouse_up(canvas, offset=(14, 12))
        panel = app.draw_panel
        await settle(pilot, lambda: panel.prediction is not None, timeout=90)
        assert panel.prediction.digit == 1
        shown = str(app.query_one("#draw-prediction", Static).render())
        assert "looks like 1 (" in shown and "> 1 " in shown and "%" in shown  # the verdict over the bars

        await pilot.press("s")
        await settle(pilot, lambda: "saved" in last_text(app), timeout=30)
        saved = list(samples.glob("1_drawn_*.png"))
        assert len(saved) == 1 and Image.open(saved[0]).size == (280, 280)
        assert "the model reads it as 1" in last_text(app)
        tree = app.query_one("#sample-tree")  # the Samples panel shows the new folder and its drawing
        await settle(pilot, lambda: len(tree.root.children) == 1)


@pytest.mark.slow
async def test_a_drawn_number_is_read_live_then_n_goes_back_to_one_digit(drawing_project, mnist):
    samples = drawing_project / "drawings"
    app = make_app(samples_dir=samples)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        panel, canvas = app.draw_panel, app.query_one(DrawCanvas)
        await settle(pilot, lambda: app.focused is canvas)
        await pilot.press("n")
        firsts = [int((mnist.y_train == d).argmax()) for d in (2, 0, 7)]  # the first 2, 0 and 7 of the training set
        canvas.sketch.pixels = number_pixels(mnist.x_train[firsts])
        canvas._changed()
        await settle(pilot, lambda: panel.prediction is not None, timeout=90)
        reading = panel.prediction
        assert len(reading.text) == 3  # what it reads may change with the model; how many digits should not
        shown = str(panel.answer.render())
        assert shown.startswith(f"reads {reading.text}")
        assert buttons_in_sight(app)

        await pilot.press("s")
        await settle(pilot, lambda: "saved" in last_text(app), timeout=30)
        saved = list(samples.glob(f"{reading.text}_drawn_*.png"))
        assert len(saved) == 1 and Image.open(saved[0]).size == (NUMBER_WIDTH * 10, NUMBER_HEIGHT * 10)
        assert f"the model reads it as {reading.text}" in last_text(app)

        await pilot.press("n")
        assert not panel.number_mode and canvas.sketch.blank
        canvas.sketch.line(14.5, 4.5, 14.5, 23.5)  # a 1
        canvas._changed()
        await settle(pilot, lambda: panel.prediction is not None, timeout=30)
        assert panel.prediction.digit == 1
        assert "looks like 1 (" in str(panel.answer.render())  # the usual single-digit answer

"""Bad input never crashes the app: floods of commands, a second training, quitting mid-work,
tiny terminals, and broken files each end in a readable one-line turn, and the app keeps working."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from PIL import Image
from textual.widgets import Static

from test_app import ScriptedRun, last_text, make_app, settle, type_command, workdir  # noqa: F401 - fixture
from test_app_engine import project  # noqa: F401 - fixture
from tui.app.widgets.draw_panel import DrawCanvas
from tui.app.widgets.prediction import PredictionView
from tui.core.evaluate import EvalReport
from tui.core.inference import Prediction

PLACEHOLDER = "…"  # "predicting 1 path…", "checking the model file…": an answer still to come


def answers(turn) -> list[str]:
    """The lines of a turn under its command line."""
    return turn.text.splitlines()[1:]


def settled(turn) -> bool:
    return turn._ready and bool(answers(turn)) and PLACEHOLDER not in turn.text


RAPID = [
    "predict nothing.png", "help", "models", "runs", "evaluate limit=5", "predict", "bogus", "help train",
    "read missing.png", "use", "render", "render", "samples", "attach nope", "train epochs=x", "draw clear",
    "stop", "predict a.png b.png", "evaluate limit=0", "help",
]


async def test_twenty_commands_typed_quickly_each_get_their_turn(workdir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.prompt.focus()
        for line in RAPID:
            app.prompt.value = line
            await pilot.press("enter")  # no waiting for the answers
        await settle(pilot, lambda: len(app.conversation.turns) == 1 + len(RAPID)
                     and all(settled(t) for t in app.conversation.turns), timeout=20)
        turns = app.conversation.turns[1:]
        assert [t.command for t in turns] == RAPID  # in the order typed
        assert "no model at" in turns[0].text and "unknown command 'bogus'" in turns[6].text
        assert all("Traceback" not in t.text and "unexpected error" not in t.text for t in turns)
        await type_command(pilot, "help draw")  # still answering, after all of them
        assert app.conversation.last_turn.command == "help draw" and "draw [clear|save|number|digit]" in last_text(app)


async def test_a_second_training_is_refused_while_one_runs(workdir):
    run = ScriptedRun(workdir / "runs")  # its pid is this test's: alive, so the launcher counts it as training
    run.start()
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_command(pilot, "train fast epochs=1")
        await settle(pilot, lambda: "already training" in last_text(app))
        assert run.path.name in last_text(app) and "stop it first" in last_text(app)
        assert app.conversation.last_turn.has_class("-error") and len(answers(app.conversation.last_turn)) == 1
        assert [p.name for p in (workdir / "runs").iterdir()] == [run.path.name]  # nothing new was started

        await type_command(pilot, f"attach {run.path}")
        await settle(pilot, lambda: app.train_panel.is_running)
        await pilot.press("ctrl+t")  # the form's Start while following it is refused before reaching the launcher
        await settle(pilot, lambda: "is still training" in last_text(app))


class SlowPredictor:
    """Stands in for the model: a call that is still working when the app quits (as a first
    prediction loading TensorFlow can be), and answers once ``release`` is set."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def predict_paths(self, paths):
        assert self.release.wait(timeout=60)
        probabilities = [0.01] * 10
        probabilities[7] = 0.91
        return [Prediction(path=str(p), digit=7, confidence=0.91, probabilities=probabilities,
                           input28=np.zeros((28, 28), dtype=np.float32)) for p in paths]

    def predict_prepared(self, items):  # what `predict` calls for a few images, each read first
        return self.predict_paths([path for path, _ in items])


class HandBacks:
    """Spies on ``app.call_from_thread``: what each worker hands back to the app, and how that ended."""

    def __init__(self, app, after: threading.Event) -> None:
        self.calls: list[dict] = []
        self._real, self._after = app.call_from_thread, after
        app.call_from_thread = self

    def __call__(self, fn, *args, **kwargs):
        target = args[0] if fn.__name__ == "_unless_closing" and args else fn
        call = {"name": getattr(target, "__name__", repr(target)), "late": self._after.is_set(), "outcome": None}
        self.calls.append(call)
        try:
            result = self._real(fn, *args, **kwargs)
        except BaseException as exc:
            call["outcome"] = exc
            raise
        call["outcome"] = "returned"
        return result

    def late(self) -> list[dict]:
        return [c for c in self.calls if c["late"]]


@pytest.mark.parametrize("command, answer", [("predict x.png", "_show_predictions"),
                                             ("evaluate limit=10", "_show_report")])
async def test_quitting_while_a_worker_runs_exits_cleanly(workdir, monkeypatch, command, answer):
    release = threading.Event()  # the work finishes only once the app has gone

    def slow_evaluate(model_path, data_path=None, progress=None, limit=None, predictor=None, cancelled=None):
        progress(1, 5)
        assert release.wait(timeout=60)
        rows = [{"digit": d, "precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1} for d in range(10)]
        return EvalReport(str(model_path), 10, 1.0, 0.01, rows, np.eye(10, dtype=int).tolist())

    monkeypatch.setattr("tui.core.evaluate.evaluate", slow_evaluate)
    app = make_app()
    app.predictor = lambda: SlowPredictor(release)
    handed_back = HandBacks(app, after=release)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_command(pilot, command)
        assert any(w.is_running for w in app.workers)
        await pilot.press("ctrl+q")
    assert app.return_value == 0
    release.set()
    # The thread finishes after the app has gone; its answer is handed back and goes nowhere, quietly.
    deadline = time.monotonic() + 30
    while not (handed_back.late() and all(c["outcome"] for c in handed_back.late())):
        assert time.monotonic() < deadline, f"the worker never handed its answer back: {handed_back.calls}"
        await asyncio.sleep(0.05)
    assert [(c["name"], c["outcome"]) for c in handed_back.late()] == [(answer, "returned")]


async def test_tiny_terminals_show_a_notice_and_the_app_comes_back(workdir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(6):
            app.execute("help")
        await pilot.press("f6", "space", "down", "down")
        notice = app.query_one("#too-small", Static)
        for size in ((20, 5), (40, 10), (1, 1), (59, 19), (60, 20), (20, 5), (100, 30)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            small = size[0] < 60 or size[1] < 20
            assert notice.display is small and app.query_one("#main").display is not small
            if small:
                assert f"too small ({size[0]}x{size[1]})" in str(notice.render())
        canvas = app.query_one(DrawCanvas)
        await settle(pilot, lambda: canvas.region.height == 14)
        log = app.conversation
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y  # still showing the newest turn
        await pilot.press("down")  # drawing goes on where it was
        assert canvas.cursor == (14, 17) and not canvas.sketch.blank
        await type_command(pilot, "help")
        assert "draw" in last_text(app)


# -- broken files, with the real model ------------------------------------------------------------


@pytest.mark.slow
async def test_broken_files_each_get_a_one_line_answer(project, mnist):
    bad = project / "bad"
    bad.mkdir()
    (bad / "empty.png").write_bytes(b"")
    (bad / "text.png").write_text("this is not a picture\n")
    (bad / "no_images").mkdir()
    (bad / "no_images" / "notes.txt").write_text("nothing to see")
    (bad / "model.h5").write_text("not a model")
    Image.fromarray(255 - np.asarray(mnist.x_test[0])).resize((84, 84)).save(bad / "ziffer_ß_7.png")
    cases = {
        "predict bad/empty.png": "empty.png",
        "predict bad/text.png": "text.png",
        "predict bad/no_images": "no images",
        "predict bad/missing.png": "does not exist",
        "read bad/text.png": "text.png",
        "read bad/empty.png": "empty.png",
        "samples bad/no_images": "no images",
        "use bad/model.h5": "model.h5",
        "use bad/missing.h5": "missing.h5",
    }
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        for command, named in cases.items():
            await type_command(pilot, command)
            turn = app.conversation.last_turn
            await settle(pilot, lambda: settled(turn), timeout=90)
            lines = answers(turn)
            assert turn.has_class("-error"), (command, lines)
            assert len(lines) == 1 and named in lines[0], (command, lines)
            assert "Traceback" not in lines[0] and "unexpected error" not in lines[0], (command, lines)

        await type_command(pilot, "predict bad/ziffer_ß_7.png")  # a real image with a non-ASCII name works
        turn = app.conversation.last_turn
        await settle(pilot, lambda: bool(turn.query(PredictionView)), timeout=30)
        assert turn.query_one(PredictionView).prediction.digit == int(mnist.y_test[0])
        assert "ziffer_ß_7.png" in turn.text and not turn.has_class("-error")


async def test_opening_and_closing_a_panel_keeps_the_newest_turn_in_sight(workdir):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(6):
            app.execute("help")
        log = app.conversation
        await settle(pilot, lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
        for key in ("f4", "f7", "f2", "f7"):  # the log shrinks and grows under the panels
            height = log.region.height
            await pilot.press(key)
            await settle(pilot, lambda: log.region.height != height)
            await pilot.pause()
            assert log.scroll_y == log.max_scroll_y, f"after {key} the log stopped short of its end"
        log.scroll_home(animate=False)  # a reader who scrolled up stays where they are
        await pilot.pause()
        await pilot.press("f4")
        await pilot.pause()
        await pilot.pause()
        assert log.scroll_y == 0 < log.max_scroll_y

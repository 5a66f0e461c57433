"""The app on the real engine: a small trained model, real images, real evaluation and real
training runs in their own processes (MNIST subsets, so each takes seconds)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from textual.widgets import DataTable, Static

from test_app import last_text, make_app, settle, type_command, workdir  # noqa: F401 - workdir is a fixture
from test_render import shows_drawing
from tui.app.screens.confirm import QuitScreen
from tui.app.widgets.evaluate_panel import MistakeBrowser
from tui.app.widgets.number import COMPACT_ART, FULL_ART, NumberView, digit_art
from tui.app.widgets.plots import MetricPlot
from tui.app.widgets.prediction import PredictionView
from tui.core import launch, runs
from tui.core.render import ascii_digit

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path, monkeypatch, mnist, trained_model):
    """A project folder: the trained model in models/, two MNIST test digits and a bad file in
    sample_images/, runs kept in the folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DIGITREC_MODEL", raising=False)
    (tmp_path / "models").mkdir()
    shutil.copy(trained_model, tmp_path / "models" / "digit_recognizer.h5")
    samples = tmp_path / "sample_images"
    samples.mkdir()
    for i in range(2):
        # MNIST is white on black; a photo of paper is the other way round, as preprocessing expects either.
        Image.fromarray(255 - mnist.x_test[i]).resize((112, 112)).save(samples / f"digit_{int(mnist.y_test[i])}.png")
    (samples / "broken.png").write_bytes(b"not an image at all")
    return tmp_path


async def test_predict_shows_the_digit_beside_probability_bars(project, mnist):
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        name = f"sample_images/digit_{int(mnist.y_test[0])}.png"
        await type_command(pilot, f"predict {name}")
        await settle(pilot, lambda: bool(app.conversation.last_turn.query(PredictionView)), timeout=90)
        view = app.conversation.last_turn.query_one(PredictionView)
        assert view.prediction.digit == int(mnist.y_test[0])
        assert len(view.prediction.probabilities) == 10
        text = view.render().plain if hasattr(view.render(), "plain") else str(view.render())
        assert f"{name}: {mnist.y_test[0]}" in text and "%" in text  # bars with percentages
        assert shows_drawing(text, ascii_digit(view.prediction.input28))  # the digit as the model saw it
        assert "model: digit_recognizer.h5" in app.status_bar.model

        await type_command(pilot, "predict sample_images/broken.png")
        await settle(pilot, lambda: "broken.png" in last_text(app) and "predicting" not in last_text(app), timeout=30)
        assert app.conversation.last_turn.has_class("-error")


async def test_samples_panel_previews_predicts_on_enter_and_predicts_all(project, mnist):
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f4")
        tree = app.query_one("#sample-tree")
        await settle(pilot, lambda: app.focused is tree and len(tree.root.children) == 3)
        await pilot.press("down")  # broken.png, digit_7.png, digit_2.png sorted: highlight the second
        await settle(pilot, lambda: "as the model sees it" in str(app.query_one("#sample-preview", Static).render())
                     or "broken" in str(app.query_one("#sample-preview", Static).render()))
        await pilot.press("down")
        await settle(pilot, lambda: "as the model sees it" in str(app.query_one("#sample-preview", Static).render()))
        await pilot.press("enter")
        await settle(pilot, lambda: app.samples_panel.query_one(PredictionView).prediction is not None, timeout=90)
        assert app.samples_panel.query_one(PredictionView).prediction.digit in (int(mnist.y_test[0]), int(mnist.y_test[1]))
        assert last_text(app).startswith("› predict sample_images/digit_")

        await pilot.press("a")
        table = app.query_one("#sample-results", DataTable)
        await settle(pilot, lambda: table.row_count == 3, timeout=30)
        assert "2 of 3 images recognised" in last_text(app)


def number_image(mnist, trained_model, path, count: int = 4, labels: str | None = None) -> str:
    """MNIST test digits the model gets right on their own (the given ``labels``, else the first
    ``count``), side by side, dark on light; returns the number they write."""
    from tui.core.inference import Predictor

    predicted = np.argmax(Predictor(trained_model).predict_arrays(mnist.x_test[:300]), axis=1)
    right = [i for i in range(300) if predicted[i] == mnist.y_test[i]]
    chosen = [next(i for i in right if mnist.y_test[i] == int(d)) for d in labels] if labels else right[:count]
    strip = np.pad(np.concatenate([mnist.x_test[i] for i in chosen], axis=1), 8)
    Image.fromarray((255 - strip).astype(np.uint8)).resize((strip.shape[1] * 3, strip.shape[0] * 3)).save(path)
    return "".join(str(int(mnist.y_test[i])) for i in chosen)


async def test_read_shows_the_number_and_each_digit_beside_its_bars(project, mnist, trained_model):
    expected = number_image(mnist, trained_model, project / "sample_images" / "number.png")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await type_command(pilot, "read sample_images/number.png")
        await settle(pilot, lambda: bool(app.conversation.last_turn.query(NumberView)), timeout=90)
        view = app.conversation.last_turn.query_one(NumberView)
        assert view.reading.text == expected
        text = last_text(app)
        assert f"read {expected}" in text
        for position, digit in enumerate(expected, 1):
            assert f"#{position} {digit}" in text and f"> {digit} " in text  # each digit with its bars
        for p in view.reading.digits:  # each digit drawn, compact or full size as the width allows
            assert any(shows_drawing(text, digit_art(p.input28, width)) for width in (COMPACT_ART, FULL_ART))

        await type_command(pilot, "read sample_images/broken.png")
        await settle(pilot, lambda: app.conversation.last_turn.has_class("-error"), timeout=30)
        assert "broken.png" in last_text(app)

        await pilot.press("f4")  # r in the Samples panel reads the highlighted image
        tree = app.query_one("#sample-tree")
        await settle(pilot, lambda: app.focused is tree and len(tree.root.children) == 4)
        for _ in range(4):
            if "number.png" in str(tree.cursor_node.label):
                break
            await pilot.press("down")
        await pilot.press("r")
        await settle(pilot, lambda: bool(app.conversation.last_turn.query(NumberView)), timeout=30)
        assert last_text(app).startswith("› read sample_images/number.png")


async def test_evaluate_fills_summary_table_heatmap_and_mistakes(project):
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await type_command(pilot, "evaluate limit=2000")
        await settle(pilot, lambda: "accuracy" in last_text(app) and "evaluating" not in last_text(app), timeout=120)
        assert "2,000 test images" in last_text(app)
        assert app.query_one("#per-class", DataTable).row_count == 10
        heatmap = str(app.query_one("#confusion", Static).render())
        assert "true\\pred" in heatmap
        wrong = int(re.search(r"2,000 test images, ([\d,]+) wrong", last_text(app)).group(1).replace(",", ""))
        assert wrong > 1, "a small model gets some of 2,000 digits wrong"
        browser = app.query_one("#mistakes", MistakeBrowser)
        assert len(browser.mistakes) == min(wrong, 100)  # every mistake, up to the 100 kept
        assert all(m.true != m.predicted for m in browser.mistakes)
        browser.focus()
        await pilot.press("right")
        second = browser.mistakes[1]
        assert browser.index == 1
        shown = str(browser.render())
        assert f"mistake 2/{len(browser.mistakes)}" in shown and f"test image #{second.index}" in shown
        assert shows_drawing(shown, ascii_digit(second.image28))


async def test_models_panel_lists_models_and_use_switches(project, trained_model):
    shutil.copy(trained_model, project / "models" / "other.h5")
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await type_command(pilot, "models")
        await settle(pilot, lambda: "other.h5" in last_text(app), timeout=30)
        table = app.query_one("#models-table", DataTable)
        assert table.row_count == 2
        await type_command(pilot, "use models/other.h5")
        await settle(pilot, lambda: "active model: other.h5" in last_text(app), timeout=30)
        await settle(pilot, lambda: app.status_bar.model.startswith("model: other.h5"), timeout=90)
        await type_command(pilot, "use sample_images/broken.png")
        await settle(pilot, lambda: app.conversation.last_turn.has_class("-error"), timeout=30)
        assert app.model_path.name == "other.h5"


async def test_training_from_the_app_shows_progress_and_finishes(project):
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await type_command(pilot, "train preset=fast subset=500 epochs=1")
        await settle(pilot, lambda: "started run" in last_text(app), timeout=30)
        panel = app.train_panel
        await settle(pilot, lambda: panel.state.status != "starting", timeout=120)
        await settle(pilot, lambda: not panel.is_running, timeout=180)
        assert panel.state.status == "done", panel.state.reason
        await settle(pilot, lambda: "finished" in last_text(app))
        assert app.query_one("#accuracy-plot", MetricPlot).val  # the epoch's validation point
        assert len(runs.list_runs()) == 1


def _wait(until, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := until()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


async def test_a_run_started_from_the_app_outlives_the_app(workdir):
    """README: quitting while a run trains asks whether to stop it or leave it running; a dropped
    SSH connection leaves it running. Left running, the run goes on training once the app is gone."""
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await type_command(pilot, "train preset=classic subset=12000 epochs=20 output=models/outlives.h5")
        await settle(pilot, lambda: "started run" in last_text(app), timeout=30)
        panel = app.train_panel
        await settle(pilot, lambda: panel.state.status == "running" and panel.state.step > 0, timeout=120)
        run_dir = panel.state.path
        await pilot.press("ctrl+q")
        await settle(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("l")  # leave it running
    pid = int((run_dir / runs.PID_FILE).read_text())
    try:
        assert runs.pid_alive(pid), "the training process ended with the app"
        # Its own session: the hang-up a closing terminal or a dropped SSH connection sends its session
        # (the app's) never reaches it.
        assert os.getsid(pid) != os.getsid(0)
        after_exit = runs.read_events(run_dir)[-1]["time"]
        _wait(lambda: [e for e in runs.read_events(run_dir)
                       if e["time"] > after_exit and e["type"] in ("batch", "epoch")],
              60, "the run to record progress after the app exited")
        assert runs.summarise(run_dir).status == "running"
        launch.stop_run(run_dir)
        last = _wait(lambda: [e for e in runs.read_events(run_dir) if e["type"] in runs.TERMINAL], 60,
                     "the run to stop")[-1]
        assert last["type"] == "cancelled"
    finally:
        if runs.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)  # our own child, started by the app in this test
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


async def test_attach_to_a_run_started_outside_the_app(project):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "train", "--preset", "fast", "--epochs", "1", "--subset", "500",
         "--output", "models/outside.h5", "--no-test"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        app = make_app()
        async with app.run_test(size=(140, 45)) as pilot:
            await settle(pilot, lambda: runs.list_runs() != [], timeout=60)
            await type_command(pilot, "attach")
            await settle(pilot, lambda: "following run" in last_text(app), timeout=30)
            assert app.query_one("#panels").active == "train"
            await settle(pilot, lambda: app.train_panel.state is not None and not app.train_panel.is_running,
                         timeout=180)
            assert app.train_panel.state.status == "done", app.train_panel.state.reason
            await settle(pilot, lambda: "finished" in last_text(app))
            assert "models/outside.h5" in last_text(app)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

"""The app driven like a user would, with scripted training runs (events written by the test), so
no TensorFlow is needed here. Engine-backed flows are in test_app_engine.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.widgets import DataTable, ProgressBar, Static, TabbedContent

from tui.app.app import DigitrecApp
from tui.app.screens.confirm import AttachScreen, ConfirmScreen, QuitScreen
from tui.app.screens.help import HelpScreen
from tui.app.widgets.plots import MetricPlot, downsample
from tui.core import runs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty project folder with runs kept in it; the app starts without TensorFlow."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DIGITREC_MODEL", raising=False)
    return tmp_path


class _TestApp(DigitrecApp):
    """The app, whose ``run_test`` hands over the pilot once the panels are mounted.

    The panels mount just after the first frame (``on_ready``), which can come after Textual's
    run_test hands over; a person cannot type that fast, a test can. Tests of the start-up itself
    use DigitrecApp directly.
    """

    @asynccontextmanager
    async def run_test(self, *args, **kwargs):
        async with super().run_test(*args, **kwargs) as pilot:
            await settle(pilot, lambda: self.panels_ready)
            yield pilot


def make_app(**kwargs) -> DigitrecApp:
    kwargs.setdefault("preload", False)
    kwargs.setdefault("offer_attach", False)
    return _TestApp(**kwargs)


class ScriptedRun:
    """A run folder whose events the test writes, as the training process would."""

    def __init__(self, base: Path, name: str = "20250101-000000-fast-abcd", pid: int | None = None):
        self.path = base / name
        self.path.mkdir(parents=True)
        (self.path / runs.CONFIG).write_text(json.dumps({"train": {"preset": "fast"}}))
        self.pid = os.getpid() if pid is None else pid

    def emit(self, type_: str, **data) -> None:
        with open(self.path / runs.EVENTS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"type": type_, "time": time.time(), **data}) + "\n")

    def start(self, epochs: int = 2, steps: int = 10) -> None:
        self.emit("start", run_id=self.path.name, pid=self.pid, config={}, output="models/x.h5", epochs=epochs,
                  steps_per_epoch=steps, train_size=steps * 32, val_size=100, initial_epoch=0)

    def batches(self, epoch: int, steps: range, total: int = 10) -> None:
        for step in steps:
            self.emit("batch", epoch=epoch, step=step, steps=total, loss=1.0 / (step + epoch * total),
                      accuracy=min(0.99, 0.5 + step / 40 + epoch / 10), images_per_sec=1234.0, eta_s=42.0)

    def epoch(self, epoch: int, epochs: int = 2, val_accuracy: float = 0.9) -> None:
        self.emit("epoch", epoch=epoch, epochs=epochs, loss=0.3, accuracy=0.9, val_loss=0.25,
                  val_accuracy=val_accuracy, learning_rate=1e-3, seconds=3.0)


async def type_command(pilot, text: str) -> None:
    app = pilot.app
    app.prompt.focus()
    before = app.conversation.last_turn
    app.prompt.value = text
    await pilot.press("enter")
    if text.strip() in ("clear", "quit"):
        await pilot.pause()
        return
    # The turn is mounted, and any answer given at once is shown, within a frame or two.
    await settle(pilot, lambda: app.conversation.last_turn is not before and app.conversation.last_turn._ready)
    await pilot.pause()


async def settle(pilot, until, timeout: float = 5.0) -> None:
    """Let the app run until ``until()`` holds (worker threads answer asynchronously)."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not reach the expected state in time")
        await pilot.pause(0.05)


def last_text(app: DigitrecApp) -> str:
    return app.conversation.last_turn.text


def static_text(app: DigitrecApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


# -- first screen -----------------------------------------------------------------------------


async def test_first_screen_welcomes_and_focuses_the_prompt(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.focused is app.prompt
        assert "Welcome to digitrec" in last_text(app)
        assert "digits_recognizer" not in app.status_bar.model
        assert "digit_recognizer.h5" in app.status_bar.model


async def test_the_first_frame_has_the_welcome_and_the_panels_follow(workdir):
    """The first frame (Textual's Ready) shows the welcome without waiting for the hidden panels;
    they mount right after, before any key or command is handled, and then show the project."""
    from tui.app.widgets.models_panel import ModelsPanel  # noqa: PLC0415

    seen: dict[str, object] = {}

    class Watched(DigitrecApp):
        def on_ready(self) -> None:  # Textual calls this before DigitrecApp's own on_ready
            seen["panels"] = len(self.query("#panels TabPane > *"))
            seen["welcome"] = last_text(self)

    (workdir / "models").mkdir()
    app = Watched(preload=False, offer_attach=False, models_dir=workdir / "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")  # a key pressed at once is handled after the panels exist
        await settle(pilot, lambda: app.panels_ready)
        assert seen == {"panels": 0, "welcome": last_text(app)} and "Welcome to digitrec" in last_text(app)
        assert len(app.query("#panels TabPane > *")) == 5
        assert app.query_one("#panels", TabbedContent).active == "models"
        assert app.query_one(ModelsPanel).is_attached
        app.render_mode = "blocks"
        assert app.samples_panel.mode == app.draw_panel.mode == "blocks"

async def test_without_a_model_the_status_says_how_to_get_one(workdir):
    app = make_app(preload=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: "no model" in app.status_bar.model, timeout=60)
        await type_command(pilot, "predict x.png")
        await settle(pilot, lambda: "no model at" in last_text(app))
        assert app.conversation.last_turn.has_class("-error")


# -- typing commands --------------------------------------------------------------------------


async def test_help_command_lists_commands_and_opens_the_help_screen_with_f1(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "help")
        text = last_text(app)
        for name in ("train", "evaluate", "predict PATH", "use PATH", "attach [RUN]", "quit"):
            assert name in text
        await pilot.press("f1")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_mistyped_commands_answer_in_plain_words(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "trian fast")
        assert "did you mean `train`" in last_text(app)
        await type_command(pilot, "train epochs=0")
        assert "epochs must be at least 1" in last_text(app)
        assert app.conversation.last_turn.has_class("-error")
        await type_command(pilot, "use missing.h5")
        await settle(pilot, lambda: "checking" not in last_text(app))
        assert "no model at missing.h5; train one with `train`" in last_text(app)
        assert app.conversation.last_turn.has_class("-error")


async def test_history_and_tab_completion(workdir):
    (workdir / "sample_images").mkdir()
    (workdir / "sample_images" / "seven.png").write_bytes(b"")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "help train")
        await type_command(pilot, "runs")
        await pilot.press("up")
        assert app.prompt.value == "runs"
        await pilot.press("up")
        assert app.prompt.value == "help train"
        await pilot.press("down", "down")
        assert app.prompt.value == ""
        await pilot.press(*"pre")
        await settle(pilot, lambda: app.prompt._suggestion == "predict")
        await pilot.press("tab")
        assert app.prompt.value == "predict"
        await pilot.press("space", *"sam")
        await settle(pilot, lambda: app.prompt._suggestion == "predict sample_images/")
        await pilot.press("tab")
        await settle(pilot, lambda: app.prompt._suggestion == "predict sample_images/seven.png")
        await pilot.press("tab")
        assert app.prompt.value == "predict sample_images/seven.png"
        assert app.focused is app.prompt


async def test_clear_empties_the_log(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "help")
        await type_command(pilot, "clear")
        await pilot.pause()
        assert app.conversation.turns == []


async def test_render_toggles_between_ascii_and_blocks(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+g")
        assert app.render_mode == "blocks"
        assert "half blocks" in last_text(app)
        await type_command(pilot, "render ascii")
        assert app.render_mode == "ascii"


# -- panels and keys -----------------------------------------------------------------------------


async def test_function_keys_switch_panels_and_escape_returns_to_the_prompt(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        tabs = app.query_one("#panels", TabbedContent)
        for key, panel in (("f3", "evaluate"), ("f4", "samples"), ("f5", "models"), ("f6", "draw"), ("f2", "train")):
            await pilot.press(key)
            assert tabs.active == panel
        await pilot.press("escape")
        assert app.focused is app.prompt
        await pilot.press("f7")
        assert app.screen.has_class("-panel-hidden")
        await pilot.press("f3")
        assert not app.screen.has_class("-panel-hidden")


async def test_every_action_is_in_the_command_palette(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)):
        titles = " | ".join(c.title for c in app.get_system_commands(app.screen))
        for needed in ("Start training", "Stop training", "Evaluate", "Predict all sample images", "List models",
                       "Attach", "Help", "Show the Samples panel", "Toggle ASCII"):
            assert needed in titles


async def test_train_form_builds_the_train_command(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.train_panel
        panel.query_one("#epochs").value = "2"
        panel.query_one("#lr").value = "0.01"
        assert panel.command_text() == "train preset=default epochs=2 lr=0.01"
        panel.query_one("#epochs").value = "0"
        await pilot.press("ctrl+t")  # the form goes through the same parser as typed text
        assert "epochs must be at least 1" in last_text(app)


async def test_plain_words_that_would_replace_the_model_wait_for_enter(workdir, monkeypatch):
    started = []

    def start_training(preset, overrides, output=None, data=None):  # never trains: records the call
        started.append((preset, overrides, output))
        return ScriptedRun(workdir / "runs", name=f"run-{len(started)}").path

    monkeypatch.setattr("tui.core.launch.start_training", start_training)
    (workdir / "models").mkdir()
    model = workdir / "models" / "digit_recognizer.h5"
    model.write_bytes(b"the model in use")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "train classic for 1 epoch on 3000 images")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        dialog = str(app.screen.query_one(".dialog-text", Static).render())
        assert "Run `train classic epochs=1 subset=3000`?" in dialog and "models/digit_recognizer.h5" in dialog
        assert "Enter runs it, esc cancels" in last_text(app)
        await pilot.pause(0.2)
        assert started == [] and not app.train_panel.is_running
        await pilot.press("escape")
        await settle(pilot, lambda: "cancelled: nothing was run" in last_text(app))
        await pilot.pause(0.2)
        assert started == [] and model.read_bytes() == b"the model in use"

        await type_command(pilot, "train classic for 1 epoch on 3000 images")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await settle(pilot, lambda: "started run run-1" in last_text(app))
        assert started == [("classic", {"epochs": 1, "train_subset": 3000}, None)]
        app.train_panel.state.status = "done"  # let the next one start

        await type_command(pilot, "train classic epochs=1")  # an exact command runs as typed, as before
        await settle(pilot, lambda: len(started) == 2)
        assert not isinstance(app.screen, ConfirmScreen)
        app.train_panel.state.status = "done"

        await type_command(pilot, "train classic for 1 epoch on 3000 images without replacing the model")
        assert "I can't act on 'without'" in last_text(app) and "`train classic epochs=1 subset=3000`" in last_text(app)
        await pilot.pause(0.2)
        assert len(started) == 2 and not isinstance(app.screen, ConfirmScreen)


async def test_train_output_goes_to_the_launcher_and_must_be_an_h5_file(workdir, monkeypatch):
    started = []

    def start_training(preset, overrides, output=None, data=None):
        started.append((preset, overrides, output))
        return ScriptedRun(workdir / "runs", name=f"run-{len(started)}").path

    monkeypatch.setattr("tui.core.launch.start_training", start_training)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "train fast epochs=1 output=models/mine.h5")
        await settle(pilot, lambda: "started run run-1" in last_text(app))
        assert started == [("fast", {"epochs": 1}, "models/mine.h5")]
        app.train_panel.state.status = "done"  # let the next one start

        await type_command(pilot, "train output=models/mine.txt")
        assert "output must be a .h5 file path" in last_text(app) and len(started) == 1
        assert app.conversation.last_turn.has_class("-error")

        panel = app.train_panel
        assert panel.query_one("#output").placeholder == "models/digit_recognizer.h5"
        panel.query_one("#output").value = "models/my model.h5"
        assert panel.command_text() == "train preset=default 'output=models/my model.h5'"
        await pilot.press("ctrl+t")
        await settle(pilot, lambda: len(started) == 2)
        assert started[1] == ("default", {}, "models/my model.h5")
        await type_command(pilot, "help train")
        assert "output=PATH.h5" in last_text(app)


def test_draw_read_and_output_parse_and_complete(tmp_path):
    from tui.app.commands import CommandError, parse_command
    from tui.app.completion import complete

    assert parse_command("draw").args == () and parse_command("DRAW Save").args == ("save",)
    assert parse_command("read 'my number.png'").args == ("my number.png",)
    assert parse_command("draw Number").args == ("number",) and parse_command("draw digit").args == ("digit",)
    for bad, message in (("draw erase", "`draw` takes `clear`, `save`, `number` or `digit`"),
                         ("read", "exactly one argument"),
                         ("read a.png b.png", "exactly one argument"), ("train output=.h5", "must be a .h5 file"),
                         ("train output=", "needs a value")):
        with pytest.raises(CommandError, match=message):
            parse_command(bad)
    (tmp_path / "models").mkdir()
    (tmp_path / "numbers.png").write_bytes(b"")
    assert complete("train out", tmp_path) == "train output="
    assert complete("train output=mo", tmp_path) == "train output=models/"
    assert complete("read num", tmp_path) == "read numbers.png"
    assert complete("draw s", tmp_path) == "draw save"
    assert complete("draw n", tmp_path) == "draw number"


async def test_stop_without_a_run_says_so(workdir):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+s")
        assert "no run is training" in last_text(app)


# -- following a run (scripted events) ---------------------------------------------------------


async def test_attach_follows_progress_plots_and_the_finish(workdir):
    run = ScriptedRun(workdir / "runs")
    run.start(epochs=2, steps=10)
    run.batches(1, range(1, 6))
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await type_command(pilot, "attach")
        await settle(pilot, lambda: app.train_panel.state is not None and app.train_panel.state.step == 5)
        assert f"following run {run.path.name}: epoch 1/2" in last_text(app)
        assert app.query_one("#panels", TabbedContent).active == "train"
        text = static_text(app, "#train-progress-text")
        assert "epoch 1/2" in text and "step 5/10" in text and "ETA 0:42" in text and "1,234 img/s" in text
        bar = app.query_one("#train-progress", ProgressBar)
        assert (bar.total, bar.progress) == (20, 5)
        loss = app.query_one("#loss-plot", MetricPlot)
        assert len(loss.train) == 5

        run.batches(1, range(6, 11))
        run.epoch(1, val_accuracy=0.91)
        await settle(pilot, lambda: len(app.query_one("#accuracy-plot", MetricPlot).val) == 1)
        assert "val acc 91.00%" in static_text(app, "#train-progress-text")
        await settle(pilot, lambda: "epoch 1/2" in app.status_bar.run)  # refreshed once a second (bandwidth.NORMAL)

        run.batches(2, range(1, 11))
        run.epoch(2, val_accuracy=0.95)
        run.emit("done", model="models/x.h5", best_val_accuracy=0.95, seconds=65.0, test_accuracy=0.948)
        await settle(pilot, lambda: "finished" in last_text(app))
        text = last_text(app)
        assert "best val accuracy 95.00%" in text and "test accuracy 94.80%" in text and "1:05" in text
        assert not app.train_panel.is_running
        assert bar.progress == bar.total
        await settle(pilot, lambda: app.query_one("#runs-table", DataTable).row_count == 1)


async def test_a_run_that_vanishes_is_reported_as_lost(workdir):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = ScriptedRun(workdir / "runs", pid=int(dead.stdout))
    run.start()
    run.batches(1, range(1, 3))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.train_panel.follow(run.path)
        await settle(pilot, lambda: "was lost" in last_text(app))
        assert app.conversation.last_turn.has_class("-error")


async def test_runs_lists_runs_and_enter_attaches(workdir):
    run = ScriptedRun(workdir / "runs")
    run.start()
    run.emit("cancelled", reason="stopped", checkpoint=None)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "runs")
        await settle(pilot, lambda: run.path.name in last_text(app))
        assert "cancelled" in last_text(app)
        table = app.query_one("#runs-table", DataTable)
        await settle(pilot, lambda: table.row_count == 1)
        table.focus()
        await pilot.press("enter")
        await settle(pilot, lambda: app.train_panel.state is not None and app.train_panel.state.status == "cancelled")


STOPPABLE = textwrap.dedent(
    """
    import json, os, signal, sys, time
    path = sys.argv[1]
    def emit(type_, **data):
        with open(path, "a") as fh:
            fh.write(json.dumps({"type": type_, "time": time.time(), **data}) + "\\n")
    def stop(*_):
        emit("cancelled", reason="stopped by request", checkpoint=None)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    emit("start", pid=os.getpid(), epochs=1, steps_per_epoch=1000)
    for step in range(1, 1000):
        emit("batch", epoch=1, step=step, steps=1000, loss=1.0, accuracy=0.5, images_per_sec=100.0, eta_s=100.0)
        time.sleep(0.05)
    """
)


async def test_stop_key_stops_the_followed_run(workdir):
    run = ScriptedRun(workdir / "runs")
    proc = subprocess.Popen([sys.executable, "-c", STOPPABLE, str(run.path / runs.EVENTS)])
    try:
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await type_command(pilot, f"attach {run.path}")
            await settle(pilot, lambda: app.train_panel.state is not None and app.train_panel.state.step > 1)
            await pilot.press("ctrl+s")
            await settle(pilot, lambda: "stopped at epoch" in last_text(app), timeout=10)
            assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_quitting_during_a_run_asks_and_can_leave_it_running(workdir):
    run = ScriptedRun(workdir / "runs")
    run.start()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.train_panel.follow(run.path)
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, QuitScreen)
        await type_command(pilot, "quit")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("l")
        await pilot.pause()
    assert app.return_value == 0
    assert runs.summarise(run.path).status == "running"  # left alone


async def test_start_offers_to_attach_to_a_run_in_progress(workdir):
    run = ScriptedRun(workdir / "runs")
    run.start(epochs=3, steps=10)
    run.batches(1, range(1, 4))
    app = make_app(offer_attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, AttachScreen))
        await pilot.press("y")
        await settle(pilot, lambda: app.train_panel.state is not None and app.train_panel.state.step == 3)
        assert run.path.name in last_text(app)


def test_downsample_keeps_at_most_one_point_per_column():
    points = [(i / 1000, float(i)) for i in range(1000)]
    out = downsample(points, 50)
    assert len(out) <= 50
    assert out[0][1] < out[-1][1]
    assert downsample(points[:10], 50) == points[:10]
    assert downsample([], 10) == []
    assert downsample([(1.0, 2.0), (1.0, 4.0), (1.0, 6.0)], 2) == [(1.0, 4.0)]


# -- sizes --------------------------------------------------------------------------------------


async def test_at_80x24_the_panel_starts_collapsed_and_stacks_below_the_log(workdir):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        # Collapsed at first, so answers get the whole height...
        assert not app.query_one("#panels").display and app.conversation.region.height >= 15
        # ...and a panel key brings it back, stacked below the log.
        await pilot.press("f2")
        await pilot.pause()
        log, panels = app.conversation.region, app.query_one("#panels").region
        assert panels.y >= log.bottom and log.height >= 3 and panels.width == 80
        await type_command(pilot, "help")
        assert "train" in last_text(app)
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert app.screen.has_class("-wide")
        log, panels = app.conversation.region, app.query_one("#panels").region
        assert panels.x >= log.right


async def test_a_tiny_terminal_shows_a_notice(workdir):
    app = make_app()
    async with app.run_test(size=(50, 15)) as pilot:
        await pilot.pause()
        notice = app.query_one("#too-small", Static)
        assert notice.display and "too small" in str(notice.render())
        assert not app.query_one("#main").display
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.query_one("#main").display


STDERR_CHECK = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from tui.app.stderr import stderr_to_log
    log = Path(sys.argv[1])
    with stderr_to_log(log) as where:
        os.write(2, b"C++ noise\\n")            # what TensorFlow's native code does
        sys.__stderr__.write("screen\\n")       # what Textual does
        sys.__stderr__.flush()
    os.write(2, b"after\\n")
    assert where == log
    """
)


def test_stray_fd2_writes_go_to_the_log_while_textual_keeps_the_terminal(tmp_path):
    log = tmp_path / "app.log"
    out = subprocess.run([sys.executable, "-c", STDERR_CHECK, str(log)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "screen\nafter\n"
    assert log.read_text() == "C++ noise\n"


async def test_quitting_can_stop_the_run(workdir):
    run = ScriptedRun(workdir / "runs")
    proc = subprocess.Popen([sys.executable, "-c", STOPPABLE, str(run.path / runs.EVENTS)])
    try:
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            app.train_panel.follow(run.path)
            await settle(pilot, lambda: app.train_panel.state.step > 1)
            await pilot.press("ctrl+q")
            await settle(pilot, lambda: isinstance(app.screen, QuitScreen))
            await pilot.press("s")
        assert proc.wait(timeout=10) == 0
        assert runs.summarise(run.path).status == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()


# -- reusable views (pure rendering) ------------------------------------------------------------


class FakePrediction:
    def __init__(self, digit=3, path="three.png"):
        import numpy as np

        self.path, self.digit, self.error, self.uncertain, self.reason = path, digit, None, False, None
        self.probabilities = [0.01] * 10
        self.probabilities[digit] = 0.91
        self.confidence = 0.91
        self.input28 = np.zeros((28, 28), dtype="float32")
        self.input28[4:24, 12:16] = 1.0


def test_prediction_view_puts_bars_beside_the_digit_and_highlights_the_top_class():
    from tui.app.widgets.prediction import prediction_renderable

    text = prediction_renderable(FakePrediction(), "ascii", width=80)
    lines = text.plain.splitlines()
    assert lines[0] == "three.png: 3 (91.0%)"
    assert len(lines) == 15  # the verdict, then 14 rows of art with the bars beside them
    bar_rows = [line for line in lines if "%" in line][1:]
    assert len(bar_rows) == 10 and all("@" in line or line.startswith(" ") for line in bar_rows)
    top = next(line for line in bar_rows if "91.0%" in line)
    assert any(span.style == "bold reverse" and text.plain[span.start:span.end].strip() in top for span in text.spans)


def test_prediction_view_stacks_bars_when_narrow_and_draws_blocks_on_request():
    from tui.app.widgets.prediction import prediction_renderable

    narrow = prediction_renderable(FakePrediction(), "blocks", width=40).plain.splitlines()
    assert len(narrow) == 1 + 14 + 10
    assert any("█" in line for line in narrow[1:15])
    assert all(len(line) <= 40 for line in narrow)
    failed = FakePrediction()
    failed.error = "three.png: not an image; convert it to PNG or JPEG"
    assert prediction_renderable(failed).plain == "three.png: not an image; convert it to PNG or JPEG"
    failed.error = "not an image"
    assert prediction_renderable(failed).plain == "three.png: not an image"


def test_confusion_heatmap_shows_every_count_and_shades_cells():
    from tui.app.widgets.confusion import confusion_text

    matrix = [[90 if i == j else (7 if (i, j) == (4, 9) else 0) for j in range(10)] for i in range(10)]
    text = confusion_text(matrix)
    rows = text.plain.splitlines()
    assert len(rows) == 11 and rows[5].split()[1:] == ["0", "0", "0", "0", "90", "0", "0", "0", "0", "7"]
    styled = [span for span in text.spans if getattr(span.style, "bgcolor", None) is not None]
    assert len(styled) == 11  # ten correct cells and the one confusion

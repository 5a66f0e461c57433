"""What the app writes to a slow link: paced redraws, plots that redraw only what changed, a prompt
cursor that does not blink over SSH, and --low-bandwidth. Byte rates are measured by
bench/terminal_bytes.py; these tests guard the behaviour that produces them, without timing."""

from __future__ import annotations

from test_app import ScriptedRun, make_app, settle, workdir  # noqa: F401 - workdir is a fixture
from textual.app import App, ComposeResult
from textual.widgets import Static
from textual_plotext.plot import Plot

from tui.app.bandwidth import LOW_BANDWIDTH, NORMAL, Pace, Throttle, choose_pace
from tui.app.widgets import prompt as prompt_module
from tui.app.widgets.plots import MetricPlot, changed_regions, figure_cells
from tui.app.widgets.train_panel import TrainPanel
from tui.cli import build_parser, low_bandwidth_wanted

SSH = {"SSH_CONNECTION": "192.0.2.10 50000 192.0.2.20 22"}


class PanelApp(App):
    """The Train panel alone, at a given pace."""

    def __init__(self, pace: Pace) -> None:
        super().__init__()
        self.pace = pace

    def compose(self) -> ComposeResult:
        yield TrainPanel(pace=self.pace, id="train-panel")


class PlotApp(App):
    def compose(self) -> ComposeResult:
        yield MetricPlot("loss", pace_seconds=0, id="plot")


def progress_text(app: App) -> str:
    return str(app.query_one("#train-progress-text", Static).render())


# -- pace -------------------------------------------------------------------------------------


def test_throttle_lets_one_call_through_per_interval_and_reset_lets_the_next():
    now = [100.0]
    throttle = Throttle(0.5, clock=lambda: now[0])
    assert throttle.ready()
    now[0] += 0.3
    assert not throttle.ready()
    now[0] += 0.3
    assert throttle.ready()
    assert not throttle.ready()
    throttle.reset()
    assert throttle.ready()


def test_pace_is_slower_on_request_and_the_cursor_still_over_ssh():
    assert choose_pace(False, {}) == NORMAL and NORMAL.cursor_blink
    over_ssh = choose_pace(False, SSH)
    assert not over_ssh.cursor_blink and over_ssh.plot_seconds == NORMAL.plot_seconds
    low = choose_pace(True, {})
    assert low == LOW_BANDWIDTH and not low.cursor_blink
    assert low.plot_seconds > NORMAL.plot_seconds and low.progress_seconds > NORMAL.progress_seconds


def test_paces_are_the_ones_the_readme_promises():
    """README, "Over SSH": plots at most twice a second, progress once a second; with
    --low-bandwidth plots every 3 s and progress every 5 s (the measured KB/s rest on these)."""
    assert (NORMAL.plot_seconds, NORMAL.progress_seconds) == (0.5, 1.0)
    assert (LOW_BANDWIDTH.plot_seconds, LOW_BANDWIDTH.progress_seconds) == (3.0, 5.0)


def test_low_bandwidth_parses_before_or_after_app_and_from_the_environment():
    parser = build_parser()
    for argv in (["--low-bandwidth"], ["app", "--low-bandwidth"], ["--low-bandwidth", "app"]):
        assert low_bandwidth_wanted(parser.parse_args(argv), {}), argv
    for argv in ([], ["app"]):
        assert not low_bandwidth_wanted(parser.parse_args(argv), {}), argv
        assert low_bandwidth_wanted(parser.parse_args(argv), {"DIGITREC_LOW_BANDWIDTH": "1"}), argv
        assert not low_bandwidth_wanted(parser.parse_args(argv), {"DIGITREC_LOW_BANDWIDTH": "off"}), argv


async def test_low_bandwidth_app_paces_its_views_and_keeps_the_cursor_still(workdir, monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    app = make_app(low_bandwidth=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.pace == LOW_BANDWIDTH
        assert app.train_panel.pace == LOW_BANDWIDTH
        # The README's 3 s and 5 s, as the views use them (not merely whatever LOW_BANDWIDTH holds).
        assert app.query_one("#loss-plot", MetricPlot)._throttle.seconds == 3.0
        assert app.query_one("#accuracy-plot", MetricPlot)._throttle.seconds == 3.0
        assert app.train_panel._progress_pace.seconds == 5.0
        await pilot.press("h", "e")
        assert app.prompt.has_focus and not app.prompt.cursor_blink


# -- the prompt's cursor ----------------------------------------------------------------------


async def test_prompt_cursor_does_not_blink_over_ssh(workdir, monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", SSH["SSH_CONNECTION"])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.prompt.has_focus
        assert not app.prompt.cursor_blink
        await pilot.press("h", "e", "l")
        await pilot.click("#log")
        app.prompt.focus()
        await pilot.pause()
        assert app.prompt.value == "hel" and not app.prompt.cursor_blink


async def test_prompt_cursor_blinks_after_a_key_then_rests(workdir, monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.setattr(prompt_module, "BLINK_SECONDS", 0.3)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: not app.prompt.cursor_blink)  # left alone since it took focus
        await pilot.press("h")
        assert app.prompt.cursor_blink
        await settle(pilot, lambda: not app.prompt.cursor_blink)
        assert app.prompt._cursor_visible  # resting means lit, not hidden


async def test_prompt_cursor_rests_ten_seconds_after_the_last_key(workdir, monkeypatch):
    """README: elsewhere than over SSH the cursor stops blinking 10 s after the last key."""
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("h")
        timer = app.prompt._rest_timer
        assert app.prompt.cursor_blink and timer is not None and timer._interval == 10.0
        await pilot.press("e")  # each key starts the 10 s again
        assert app.prompt._rest_timer is not timer and app.prompt._rest_timer._interval == 10.0


# -- plots ------------------------------------------------------------------------------------


def figure(points: list[tuple[float, float]]) -> str:
    plt = Plot()
    plt.plot([x for x, _ in points], [y for _, y in points], marker="braille")
    plt.xlim(0, 1)
    plt.ylim(0, 1)
    plt.plotsize(40, 12)
    return plt.build()


def test_a_new_point_changes_a_few_cells_not_the_whole_plot():
    points = [(i / 20, 0.9 - i / 40) for i in range(10)]
    before, after = figure_cells(figure(points)), figure_cells(figure(points + [(0.5, 0.64)]))
    assert len(before) == 12 and all(len(row) == 40 for row in before)
    regions = changed_regions(before, after, 40)
    assert 0 < len(regions) <= 2
    assert all(region.height == 1 and region.width <= 3 for region in regions)
    assert changed_regions(before, before, 40) == []
    assert changed_regions(None, before, 40)[0].size == (40, 12)


def test_figure_cells_tell_colours_apart():
    red, blue = figure_cells("\x1b[31mx\x1b[0m"), figure_cells("\x1b[34mx\x1b[0m")
    assert red != blue and red[0][0][0] == blue[0][0][0] == "x"
    assert len(changed_regions(red, blue, 1)) == 1


async def test_plot_redraws_only_when_new_points_change_what_it_shows():
    app = PlotApp()
    async with app.run_test(size=(60, 16)) as pilot:
        plot = app.query_one(MetricPlot)
        plot.epochs = 1
        for i in range(20):
            plot.add_train(i / 40, 1 - i / 40)
        plot.redraw_if_dirty()
        await pilot.pause()
        drawn = plot.redraws
        assert drawn == 1

        plot.add_train(19 / 40, 1 - 19 / 40)  # the same point again: the picture does not change
        plot.redraw_if_dirty()
        await pilot.pause()
        assert plot.redraws == drawn and len(plot.train) == 21

        plot.add_train(0.9, 0.1)
        plot.redraw_if_dirty()
        await pilot.pause()
        assert plot.redraws == drawn + 1


# -- the Train panel --------------------------------------------------------------------------


async def test_train_panel_redraws_at_its_pace_but_shows_an_epoch_and_the_end_at_once(workdir):
    run = ScriptedRun(workdir / "runs")
    run.start(epochs=2, steps=10)
    run.batches(1, range(1, 6))
    app = PanelApp(Pace(plot_seconds=3600, progress_seconds=3600, cursor_blink=False))
    async with app.run_test(size=(140, 45)) as pilot:
        panel = app.query_one(TrainPanel)
        panel.follow(run.path)
        await pilot.pause()
        loss = app.query_one("#loss-plot", MetricPlot)
        assert "step 5/10" in progress_text(app)
        assert loss.redraws == 1

        run.batches(1, range(6, 10))
        panel.poll()
        await pilot.pause()
        assert len(loss.train) == 9 and panel.state.step == 9  # read at once...
        assert "step 5/10" in progress_text(app) and loss.redraws == 1  # ...drawn at the pace

        run.batches(1, range(10, 11))
        run.epoch(1, val_accuracy=0.91)
        panel.poll()
        await pilot.pause()
        assert "val acc 91.00%" in progress_text(app) and "step 10/10" in progress_text(app)

        run.emit("done", model="models/x.h5", best_val_accuracy=0.91, seconds=5.0, test_accuracy=0.9)
        panel.poll()
        await pilot.pause()
        assert "finished" in progress_text(app)
        assert loss.redraws == 2  # the run's last points are drawn without waiting


async def test_a_starting_run_counts_its_wait_without_an_animated_bar(workdir):
    run = ScriptedRun(workdir / "runs")
    app = PanelApp(NORMAL)
    async with app.run_test(size=(140, 45)) as pilot:
        panel = app.query_one(TrainPanel)
        panel.follow(run.path)
        await pilot.pause()
        assert "starting" in progress_text(app) and "0:00" in progress_text(app)
        assert app.query_one("#train-progress").total is not None  # an indeterminate bar redraws 15 times a second


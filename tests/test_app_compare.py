"""Marking runs in the Train panel, comparing them, and deleting a run, driven like a user would
at 80x24 and larger, on run folders written as training writes them."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Static

from test_app import ScriptedRun, last_text, make_app, settle, type_command, workdir  # noqa: F401 - fixture
from test_compare_prune import finished_run
from tui.app.screens.compare import CompareScreen
from tui.app.screens.confirm import ConfirmScreen
from tui.app.widgets.compare_view import ComparePlot
from tui.app.widgets.conversation import plain_text
from tui.app.widgets.runs_table import MARK, RunsTable


@pytest.fixture
def three_runs(workdir):
    base = workdir / "runs"
    return [
        finished_run(base, "20260101-000000-fast-aaaa", lr=0.001, val=(0.90, 0.95), started=1, speed=1000),
        finished_run(base, "20260102-000000-fast-bbbb", lr=0.002, val=(0.80, 0.85, 0.97), test=0.96, started=2),
        finished_run(base, "20260103-000000-fast-cccc", lr=0.004, val=(0.5,), started=3),
    ]


async def open_runs_table(pilot, rows: int) -> RunsTable:
    app = pilot.app
    await pilot.press("f2")
    table = app.query_one("#runs-table", RunsTable)
    await settle(pilot, lambda: table.row_count == rows)
    table.focus()
    await pilot.pause()
    return table


def notices(app) -> list[tuple[str, str]]:
    """The toasts on screen now, as (severity, message)."""
    return [(n.severity, n.message) for n in app._notifications]


def compare_screen_text(screen: CompareScreen) -> str:
    return "\n".join(plain_text(w.content) for w in screen.query(Static))


@pytest.mark.parametrize("size", [(80, 24), (140, 45)])
async def test_mark_two_runs_with_space_and_compare_them(three_runs, size):
    newest, middle = three_runs[2], three_runs[1]
    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = await open_runs_table(pilot, 3)
        await pilot.press("space", "down", "space")  # the two newest runs, newest first
        assert table.marked == [newest.name, middle.name]
        assert str(table.get_cell_at((0, 0))) == MARK and str(table.get_cell_at((2, 0))) == ""
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        await pilot.pause()
        text = compare_screen_text(screen)
        assert f"#1 {newest.name}  fast" in text and f"#2 {middle.name}  fast" in text  # the legend
        assert "0.004" in text and "0.002" in text and "97.00%" in text and "96.00%" in text  # lr differs; results
        acc, loss = screen.query_one("#compare-accuracy", ComparePlot), screen.query_one("#compare-loss", ComparePlot)
        runs = screen.comparison.runs
        assert acc.series(runs[0]) == ([1], [50.0]) and acc.series(runs[1]) == ([1, 2, 3], [80.0, 85.0, 97.0])
        assert loss.series(runs[1])[1] == pytest.approx([0.2, 0.15, 0.03])
        width, height = size
        for plot in (acc, loss):  # both plots on screen at once, beside each other, big enough to read
            region = plot.region
            assert region.bottom <= height - 1 and region.right <= width
            assert region.width >= width // 2 - 3 and region.height >= 10
        assert acc.region.y == loss.region.y and acc.region.right <= loss.region.x
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, CompareScreen))
        turn = app.conversation.last_turn
        assert turn.command == f"compare {newest.name} {middle.name}"
        assert "best val" in turn.text and "lr" in turn.text and newest.name in turn.text


async def test_compare_typed_with_prefixes_and_latest(three_runs):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_command(pilot, "compare 20260101 latest")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert [r.run_id for r in app.screen.comparison.runs] == [three_runs[0].name, three_runs[2].name]
        await pilot.press("q")
        await settle(pilot, lambda: not isinstance(app.screen, CompareScreen))
        await type_command(pilot, "compare latest")
        assert "takes 2 to 6 runs, not 1" in last_text(app) and app.conversation.last_turn.has_class("-error")
        await type_command(pilot, "compare")
        assert "mark them with space" in last_text(app)
        await type_command(pilot, "compare latest 20260103")
        await settle(pilot, lambda: "twice" in last_text(app))
        assert not isinstance(app.screen, CompareScreen)


async def test_compare_the_last_two_runs_in_plain_words(three_runs):
    # `compare` parses "the last two runs" as four run names; the sentence is what is meant.
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_command(pilot, "compare the last two runs")
        await settle(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert [r.run_id for r in app.screen.comparison.runs] == [three_runs[1].name, three_runs[2].name]
        assert app.conversation.last_turn.command == "compare the last two runs\n→ compare latest~1 latest"


async def test_at_most_six_runs_can_be_marked_and_marks_survive_a_refresh(workdir):
    base = workdir / "runs"
    for i in range(7):
        finished_run(base, f"2026010{i}-000000-fast-{i:04d}", started=i)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_runs_table(pilot, 7)
        await pilot.press("c")  # nothing marked yet: says how, compares nothing
        await pilot.pause()
        assert ("warning", "mark 2 to 6 runs with space, then press c") in notices(app)
        assert not isinstance(app.screen, CompareScreen)
        for _ in range(7):
            await pilot.press("space", "down")
        assert len(table.marked) == 6
        await pilot.pause()
        assert ("warning", "at most 6 runs can be compared; unmark one first (space)") in notices(app)
        await type_command(pilot, "runs")  # refreshes the table
        await settle(pilot, lambda: "compares runs" in last_text(app))
        await pilot.pause()
        assert len(table.marked) == 6 and sum(str(table.get_cell_at((r, 0))) == MARK for r in range(7)) == 6
        assert "size" in last_text(app) and re.search(r"\d+(\.\d)? (bytes|kB)", last_text(app))  # size on disk


async def test_delete_asks_first_and_never_touches_a_training_run(three_runs, workdir):
    live = ScriptedRun(workdir / "runs", name="20260104-000000-fast-live")  # this test's pid: alive, training
    live.start()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_command(pilot, f"delete {live.path.name}")
        await settle(pilot, lambda: "is training" in last_text(app))
        assert live.path.exists() and not isinstance(app.screen, ConfirmScreen)

        table = await open_runs_table(pilot, 4)
        await pilot.press("down", "d")  # the highlighted run: the newest finished one
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # enter answers the focused button, which is "Keep"
        await settle(pilot, lambda: "kept run" in last_text(app))
        assert three_runs[2].exists()

        await type_command(pilot, "delete 20260101")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Delete run 20260101-000000-fast-aaaa?" in plain_text(app.screen.query_one(".dialog-text", Static).content)
        await pilot.press("y")
        await settle(pilot, lambda: "deleted run" in last_text(app))
        assert not three_runs[0].exists() and three_runs[1].exists()
        await settle(pilot, lambda: table.row_count == 3)

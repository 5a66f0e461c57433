"""The comparison of 2-6 runs, full screen so that the curves are readable at 80x24."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.app.widgets.compare_view import CompareView
from tui.core.compare import Comparison


class CompareScreen(Screen[None]):
    """Escape or q goes back to the conversation, where the comparison's table stays."""

    BINDINGS = [Binding("escape,q", "close", "Back", id="compare-close", tooltip="back to the conversation")]
    # The plots sit side by side from 80 columns, stacked below; shorter screens get shorter plots.
    HORIZONTAL_BREAKPOINTS = [(0, "-stacked"), (80, "-side")]
    VERTICAL_BREAKPOINTS = [(0, "-low"), (30, "-high")]

    def __init__(self, comparison: Comparison) -> None:
        super().__init__(id="compare-screen")
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        yield Static(f"Comparing {len(self.comparison.runs)} runs: validation per epoch · esc goes back",
                     id="compare-title")
        with VerticalScroll(id="compare-body"):
            yield CompareView(self.comparison, id="compare-view")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)

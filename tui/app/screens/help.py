"""The help screen: every command with its usage, and every key."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.commands import COMMANDS


def help_table(keys: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    table.add_row(Text("Commands", style="bold underline"), "")
    for spec in COMMANDS.values():
        table.add_row(spec.name,
                      Text.assemble((spec.usage, "italic"), "\n", spec.summary))
    table.add_row("", "")
    table.add_row(Text("Keys", style="bold underline"), "")
    for key, description in keys:
        table.add_row(key, description)
    table.add_row("tab / →", "accept the suggested completion in the prompt")
    table.add_row("↑ / ↓", "walk the prompt's history")
    table.add_row("ctrl+p", "command palette: every action by name")
    return table


class HelpScreen(ModalScreen[None]):
    """Lists commands and keys; escape, F1 or q closes it."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help", id="close-help")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(id="help-screen")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(Text("digitrec: recognise handwritten digits", style="bold"), id="help-title")
            yield Static(help_table(self.keys), id="help-table")
            yield Static(Text("escape to close", style="dim"))

    def action_dismiss(self, result=None) -> None:  # type: ignore[override]
        self.dismiss(None)

"""Questions that need an answer before going on: quitting during a run, attaching at start."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitScreen(ModalScreen[str | None]):
    """A run is going: stop it and quit, leave it running and quit, or stay.

    Dismisses with ``"stop"``, ``"leave"`` or ``None``.
    """

    BINDINGS = [
        Binding("s", "choose('stop')", "Stop run and quit", id="quit-stop"),
        Binding("l", "choose('leave')", "Leave it running", id="quit-leave"),
        Binding("escape,c", "choose(None)", "Cancel", id="quit-cancel"),
    ]

    def __init__(self, run_text: str) -> None:
        super().__init__(id="quit-screen")
        self.run_text = run_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"A training run is going:\n{self.run_text}\n\n"
                         "Stop it, or leave it running in the background? "
                         "You can `attach` to it when you come back.", classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Stop run and quit (s)", id="stop", variant="error")
                yield Button("Leave it running (l)", id="leave", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)


class AttachScreen(ModalScreen[bool]):
    """At start: a run is still training; follow it? Dismisses with ``True`` or ``False``."""

    BINDINGS = [
        Binding("y,enter", "choose(True)", "Follow it", id="attach-yes"),
        Binding("n,escape", "choose(False)", "Not now", id="attach-no"),
    ]

    def __init__(self, run_text: str) -> None:
        super().__init__(id="attach-screen")
        self.run_text = run_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"A training run is still going:\n{self.run_text}\n\nFollow it in the Train panel?",
                         classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Follow it (y)", id="yes", variant="primary")
                yield Button("Not now (n)", id="no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_choose(self, choice: bool) -> None:
        self.dismiss(choice)

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


class ConfirmScreen(ModalScreen[bool]):
    """A yes-or-no question; dismisses with ``True`` or ``False``. ``n`` and escape say no."""

    BINDINGS = [
        Binding("y", "choose(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "choose(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str, yes: str = "Yes (y)", no: str = "No (n)", *, id: str | None = None,
                 yes_variant: str = "primary", focus_no: bool = False) -> None:
        super().__init__(id=id)
        self.question, self.yes, self.no = question, yes, no
        self.yes_variant, self.focus_no = yes_variant, focus_no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant=self.yes_variant)
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        if self.focus_no:  # enter on a destructive question keeps things as they are
            self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_choose(self, choice: bool) -> None:
        self.dismiss(choice)


class AttachScreen(ConfirmScreen):
    """At start: a run is still training; follow it? Dismisses with ``True`` or ``False``."""

    BINDINGS = [Binding("enter", "choose(True)", "Follow it", id="attach-yes")]

    def __init__(self, run_text: str) -> None:
        super().__init__(f"A training run is still going:\n{run_text}\n\nFollow it in the Train panel?",
                         "Follow it (y)", "Not now (n)", id="attach-screen")

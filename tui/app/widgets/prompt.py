"""The prompt: an Input that suggests completions, completes on Tab and remembers history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.binding import Binding
from textual.suggester import Suggester
from textual.timer import Timer
from textual.widgets import Input

from tui.app.bandwidth import BLINK_SECONDS
from tui.app.completion import complete


class CommandSuggester(Suggester):
    """Suggests the rest of a command, a train setting, a file path or a run id."""

    def __init__(self, run_ids: Callable[[], list[str]] = lambda: []) -> None:
        # Paths are case-sensitive and the folder may change, so no case folding and no cache.
        super().__init__(use_cache=False, case_sensitive=True)
        self._run_ids = run_ids

    async def get_suggestion(self, value: str) -> str | None:
        try:
            return complete(value, Path.cwd(), self._run_ids())
        except Exception:  # a completion must never break typing
            return None


class PromptInput(Input):
    """Where commands are typed. Up/down walk the history; Tab accepts the suggestion.

    The cursor blinks only for ``BLINK_SECONDS`` after a key or focus, then stays lit, so an idle
    prompt writes nothing to the terminal; with ``blink=False`` (over SSH) it never blinks.
    """

    BINDINGS = [
        Binding("up", "history(-1)", "Previous command", show=False),
        Binding("down", "history(1)", "Next command", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    def __init__(self, history_size: int = 500, blink: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._history_size = history_size
        self._index: int | None = None
        self._draft = ""
        self.blink = blink
        self.cursor_blink = blink
        self._rest_timer: Timer | None = None

    def _wake_cursor(self) -> None:
        """Blink again (when blinking is on) until the prompt has been left alone for a while."""
        if not self.blink:
            return
        self.cursor_blink = True
        if self._rest_timer is not None:
            self._rest_timer.stop()
        self._rest_timer = self.set_timer(BLINK_SECONDS, self._rest_cursor, name="cursor-rest")

    def _rest_cursor(self) -> None:
        self.cursor_blink = False  # Input keeps the cursor shown while it does not blink

    def on_focus(self, event: events.Focus) -> None:
        self._wake_cursor()

    def on_key(self, event: events.Key) -> None:
        self._wake_cursor()

    def remember(self, line: str) -> None:
        line = line.strip()
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[: -self._history_size]
        self._index = None
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._index is None:
            if step > 0:
                return
            self._draft = self.value
            self._index = len(self.history)
        self._index += step
        if self._index >= len(self.history):
            self._index = None
            self.value = self._draft
        else:
            self._index = max(0, self._index)
            self.value = self.history[self._index]
        self.cursor_position = len(self.value)

    def action_complete(self) -> None:
        if self._suggestion and self.cursor_at_end and len(self._suggestion) > len(self.value):
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()

"""One line at the top: the active model's state and the followed run's state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    model: reactive[str] = reactive("starting…")
    run: reactive[str] = reactive("")

    def render(self) -> Text:
        text = Text.assemble(("digitrec", "bold"), "  ·  ", self.model, no_wrap=True, overflow="ellipsis")
        if self.run:
            text.append("  ·  ")
            text.append(self.run)
        return text

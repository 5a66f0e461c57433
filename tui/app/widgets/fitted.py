"""A view drawn to fit its width in the chosen rendering mode (ASCII or half blocks)."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual.widgets import Static


class FittedView(Static):
    """Redrawn when it is mounted, resized, or its rendering mode changes; subclasses say what to draw."""

    mode: reactive[str] = reactive("ascii")

    def __init__(self, mode: str = "ascii", **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.set_reactive(FittedView.mode, mode)

    def on_mount(self) -> None:
        self._draw()

    def watch_mode(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        self.update(self.fitted(self.content_size.width or None))

    def fitted(self, width: int | None) -> Any:
        """The renderable for ``width`` columns (None: not laid out yet) in ``self.mode``."""
        raise NotImplementedError

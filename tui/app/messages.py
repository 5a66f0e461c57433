"""Messages shared by several widgets; widget-specific ones live next to their widget."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class CommandRequested(Message):
    """A panel, key or palette entry asks the app to run a command, exactly as if it were typed.

    Going through the prompt's language means every action leaves the same turn in the log.
    """

    text: str


@dataclass
class ModelStatus(Message):
    """The active model's state changed (loading, ready, missing); ``text`` is for the status bar."""

    text: str
    ready: bool = False

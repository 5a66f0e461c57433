"""The conversation log: one :class:`Turn` per command (what was asked, then the answer)."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

Answer = Widget | RenderableType


class Turn(Vertical):
    """A command line followed by its answers; answers can be added or replaced later."""

    def __init__(self, command: str | None, *answers: Answer, error: bool = False) -> None:
        super().__init__(classes="turn")
        self.command = command
        self._initial = answers
        self._ready = False
        self._pending: list[tuple[tuple[Answer, ...], bool, bool]] = []
        self.set_class(error, "-error")

    def compose(self):
        if self.command is not None:
            yield Static(f"› {self.command}", classes="turn-command", markup=False)
        for answer in self._initial:
            yield _as_widget(answer)

    def on_mount(self) -> None:
        self._ready = True
        pending, self._pending = self._pending, []
        for answers, error, replace in pending:
            self.answer(*answers, error=error, replace=replace)

    def answer(self, *answers: Answer, error: bool = False, replace: bool = True) -> None:
        """Show ``answers`` under the command, replacing what was there (e.g. "working…")."""
        if not self._ready:  # just added to the log: answer, in order, once its command line is in place
            self._pending.append((answers, error, replace))
            return
        if replace:
            for child in list(self.children):
                if "turn-command" not in child.classes:
                    child.remove()
        self.set_class(error, "-error")
        self.mount_all([_as_widget(a) for a in answers])
        log = self.parent
        if isinstance(log, ConversationLog):
            log.follow_end()

    @property
    def text(self) -> str:
        """Everything the turn shows, as plain text (for tests and copying)."""
        return "\n".join(plain_text(child.content) for child in self.query(Static))


def plain_text(content: object, width: int = 120) -> str:
    """A Static's content as plain text: strings as they are, Rich renderables rendered."""
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()


def _as_widget(answer: Answer) -> Widget:
    if isinstance(answer, Widget):
        return answer
    if isinstance(answer, str):
        return Static(answer, classes="turn-answer", markup=False)
    return Static(answer, classes="turn-answer")


class ConversationLog(VerticalScroll):
    """A scrolling list of turns, oldest first; keeps the newest ``max_turns``."""

    def __init__(self, max_turns: int = 200, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_turns = max_turns
        self._following = False  # whether the newest turn should stay in sight as content changes

    def add_turn(self, command: str | None, *answers: Answer, error: bool = False) -> Turn:
        turn = Turn(command, *answers, error=error)
        self.mount(turn)
        extra = len(self.query_children(Turn)) - self.max_turns
        for old in list(self.query_children(Turn))[: max(0, extra)]:
            old.remove()
        self.follow_end()
        return turn

    def follow_end(self) -> None:
        self._following = True
        self.call_after_refresh(self.scroll_end, animate=False)

    def watch_virtual_size(self, old, new) -> None:
        # Turns re-wrap a refresh or two after a resize: a scroll to the end asked for before that
        # would stop short of the new end, so keep following until the content settles.
        if self._following and new.height != old.height:
            self.call_after_refresh(self.scroll_end, animate=False)

    def on_resize(self) -> None:
        # A panel opening under the log shrinks it without changing its content: keep the newest
        # turn in sight, unless the reader had scrolled up.
        if self._following:
            self.call_after_refresh(self.scroll_end, animate=False)

    def watch_scroll_y(self, old, new) -> None:
        super().watch_scroll_y(old, new)
        if new < old:  # the reader scrolled up: stop pulling them back to the end
            self._following = new >= self.max_scroll_y

    def clear_turns(self) -> None:
        self.remove_children()

    @property
    def turns(self) -> list[Turn]:
        return list(self.query_children(Turn))

    @property
    def last_turn(self) -> Turn | None:
        turns = self.turns
        return turns[-1] if turns else None

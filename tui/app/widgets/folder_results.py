"""A folder's predictions as they stream in: a progress line, the answers as they come, a tally at the end.

For a folder of thousands of images a reader wants the first answers at once, then what needs a
look (images that failed or came out uncertain), then the count of each digit; not thousands of
rows. So every answer is listed up to ``FIRST_ROWS``, after that only the failed and uncertain ones,
and nothing is kept of the others but their count: memory does not grow with the folder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

FIRST_ROWS = 100  # every answer is listed up to here
MAX_ROWS = 500  # failed and uncertain ones are listed up to here; the rest are only counted


def result_rows(predictions: list[Any], header: bool) -> Table:
    """One table of answers: file, digit, confidence, note (the error, or why it is uncertain)."""
    from tui.core.names import for_text  # noqa: PLC0415

    table = Table(box=None, show_header=header, header_style="bold", pad_edge=False)
    table.add_column("file", width=28, no_wrap=True, overflow="ellipsis")
    table.add_column("digit", width=5)
    table.add_column("confidence", width=10)
    table.add_column("note")
    for p in predictions:
        name = for_text(Path(p.path or "?").name)
        if p.error:
            table.add_row(name, "–", "–", Text(for_text(p.error), style="red"))
        else:
            note = Text(p.reason or "uncertain", style="yellow") if p.uncertain else ""
            table.add_row(name, Text(str(p.digit), style="bold green"), f"{p.confidence:.1%}", note)
    return table


def skipped_text(lines: Iterable[str]) -> Text:
    """What was passed over, one line each, any control characters or undecodable bytes in a name escaped."""
    from tui.core.names import for_text  # noqa: PLC0415

    return Text("\n".join(for_text(line) for line in lines), style="yellow")


@dataclass
class Tally:
    """What a folder's answers came to so far."""

    total: int  # images to predict (entries already known to fail count too)
    done: int = 0
    failed: int = 0
    uncertain: int = 0
    digits: Counter = field(default_factory=Counter)
    listed: int = 0
    unlisted: int = 0  # failed or uncertain answers beyond MAX_ROWS

    def add(self, predictions: list[Any]) -> list[Any]:
        """Count ``predictions``; returns those to list."""
        shown = []
        for p in predictions:
            self.done += 1
            self.failed += bool(p.error)
            self.uncertain += bool(not p.error and p.uncertain)
            if not p.error:
                self.digits[p.digit] += 1
            wanted = self.listed < FIRST_ROWS or ((p.error or p.uncertain) and self.listed < MAX_ROWS)
            if wanted:
                shown.append(p)
                self.listed += 1
            elif p.error or p.uncertain:
                self.unlisted += 1
        return shown

    def progress(self) -> str:
        failed = f", {self.failed:,} failed" if self.failed else ""
        return f"predicting… {self.done:,} of {self.total:,} images{failed}"

    def summary(self) -> str:
        recognised = self.done - self.failed
        counts = ", ".join(f"{d}: {self.digits[d]:,}" for d in sorted(self.digits))
        lines = [f"{recognised:,} of {self.done:,} images recognised, {self.failed:,} failed, "
                 f"{self.uncertain:,} uncertain" + (f"; digits {counts}" if counts else "")]
        if self.done > FIRST_ROWS:
            more = f" ({self.unlisted:,} more not listed)" if self.unlisted else ""
            lines.append(f"listed: the first {FIRST_ROWS} answers, then only failed or uncertain ones{more}; "
                         "`digitrec predict FOLDER --json` gives every answer")
        return "\n".join(lines)


class FolderResults(Vertical):
    """The answer to ``predict`` on many images, filled in by :class:`FolderResults.Batch` messages from a worker."""

    DEFAULT_CSS = """
    FolderResults { height: auto; }
    FolderResults > Static { height: auto; }
    """

    @dataclass
    class Batch(Message):
        """Answers that came since the last batch; ``finished`` on the last one."""

        predictions: list[Any]
        finished: bool = False

    def __init__(self, total: int, skipped: list[str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tally = Tally(total)
        self.skipped = skipped or []
        self.finished = False

    def compose(self):
        if self.skipped:
            yield Static(skipped_text(self.skipped), classes="folder-skipped")
        yield Static(Text(self.tally.progress(), style="dim"), classes="folder-progress")

    def on_folder_results_batch(self, message: FolderResults.Batch) -> None:
        message.stop()
        shown = self.tally.add(message.predictions)
        with self.app.batch_update():
            if shown:
                self.mount(Static(result_rows(shown, header=self.tally.listed == len(shown)), classes="folder-rows"),
                           before=self.query_one(".folder-progress"))
            progress = self.query_one(".folder-progress", Static)
            if message.finished:
                self.finished = True
                progress.update(self.tally.summary())
            else:
                progress.update(Text(self.tally.progress(), style="dim"))

"""The Models panel: the ``.h5`` models in ``models/`` with their metadata; enter makes one active."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label

from tui.app.messages import CommandRequested


def model_row(info: Any, active: Path | None) -> tuple[Any, ...]:
    meta = info.metadata or {}
    is_active = active is not None and _same(info.path, active)
    acc = meta.get("test_accuracy")
    accuracy = f"{acc:.2%}" if isinstance(acc, (int, float)) else "–"
    date = meta.get("date") or "–"
    if isinstance(date, (int, float)):
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(date))
    size = f"{info.size_bytes / 1e6:.1f} MB" if info.size_bytes else "–"
    name = Text(("● " if is_active else "  ") + info.path.name, style="bold" if is_active else "")
    if info.error:
        return name, Text(info.error, style="red"), "", "", "", size
    return name, accuracy, str(meta.get("preset", "–")), str(meta.get("epochs_run", meta.get("epochs", "–"))), str(date)[:16], size


def _same(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return Path(a) == Path(b)


class ModelsPanel(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(classes="panel-buttons"):
            yield Button("Refresh", id="refresh-models", tooltip="read models/ again", compact=True)
            yield Label("enter: use the highlighted model", id="models-title")
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#models-table", DataTable).add_columns("model", "test acc", "preset", "epochs", "date", "size")

    @on(Button.Pressed, "#refresh-models")
    def _refresh(self) -> None:
        self.post_message(CommandRequested("models"))

    @on(DataTable.RowSelected, "#models-table")
    def _use(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(CommandRequested(f"use {shlex.quote(event.row_key.value)}"))

    def show_models(self, infos: list[Any], active: Path | None) -> None:
        table = self.query_one("#models-table", DataTable)
        table.clear()
        for info in infos:
            table.add_row(*model_row(info, active), key=str(info.path))
        if not infos:
            self.query_one("#models-title", Label).update("no .h5 models in models/; train one with `train`")
        else:
            self.query_one("#models-title", Label).update("enter: use the highlighted model")

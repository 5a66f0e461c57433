"""The Samples panel: browse an image folder, preview an image as it is and as the model will
see it, predict the selected one (enter), read it as a number of several digits (r), or predict
all of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, DirectoryTree, Label, Static

from tui.app.messages import CommandRequested
from tui.app.widgets.prediction import PredictionView, verdict
from tui.core.formats import IMAGE_SUFFIXES

SAMPLES_DIR = Path("sample_images")



class ImageTree(DirectoryTree):
    """A directory tree that shows only folders and image files."""

    BINDINGS = [
        Binding("a", "predict_all", "Predict all", id="samples-predict-all", tooltip="predict every image"),
        Binding("r", "read_number", "Read number", id="samples-read",
                tooltip="read the highlighted image as a number of several digits"),
    ]

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES)]

    def action_predict_all(self) -> None:
        self.post_message(CommandRequested("samples"))

    def action_read_number(self) -> None:
        from shlex import quote  # noqa: PLC0415

        node = self.cursor_node
        path = getattr(node.data, "path", None) if node is not None else None
        if path is not None and Path(path).is_file():
            self.post_message(CommandRequested(f"read {quote(str(short_path(Path(path))))}"))
        else:
            self.notify("highlight an image file first", severity="warning", title="read a number")


class SamplesPanel(Vertical):
    """Browses ``folder``; selection previews, enter predicts, "predict all" fills the table."""

    @dataclass
    class PreviewReady(Message):
        path: Path
        renderable: Any

    def __init__(self, folder: Path = SAMPLES_DIR, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.mode = "ascii"

    def compose(self) -> ComposeResult:
        with Horizontal(classes="panel-buttons"):
            yield Button("Predict all (a)", id="predict-all", variant="primary",
                         tooltip="predict every image in the folder", compact=True)
            yield Label(f"{self.folder}/ · enter: predict · r: read a number", id="samples-title")
        with Horizontal(id="samples-top"):
            if self.folder.is_dir():
                yield ImageTree(self.folder, id="sample-tree")
            else:
                yield Static(f"no {self.folder}/ folder here; `predict PATH` works on any image",
                             id="sample-tree-missing")
            yield Static(Text("select an image to preview it", style="dim"), id="sample-preview")
        yield PredictionView(id="sample-prediction")
        yield DataTable(id="sample-results", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#sample-results", DataTable).add_columns("file", "digit", "confidence", "note")

    def folder_changed(self) -> None:
        """Show files added to the folder (a saved drawing); the folder may have just been created."""
        trees = self.query(ImageTree)
        if trees:
            trees.first().reload()
        elif self.folder.is_dir():
            self.query("#sample-tree-missing").remove()
            self.query_one("#samples-top").mount(ImageTree(self.folder, id="sample-tree"), before="#sample-preview")

    @on(Button.Pressed, "#predict-all")
    def _predict_all(self) -> None:
        self.post_message(CommandRequested("samples"))

    @on(DirectoryTree.FileSelected)
    def _predict_selected(self, event: DirectoryTree.FileSelected) -> None:
        from shlex import quote  # noqa: PLC0415

        self.post_message(CommandRequested(f"predict {quote(str(short_path(event.path)))}"))

    @on(DirectoryTree.NodeHighlighted)
    def _preview_highlighted(self, event: DirectoryTree.NodeHighlighted) -> None:
        data = event.node.data
        path = getattr(data, "path", None)
        if path is not None and Path(path).is_file():
            self.preview(Path(path))

    @work(thread=True, group="preview", exclusive=True, description="previewing a sample image")
    def preview(self, path: Path) -> None:
        self.post_message(self.PreviewReady(path, preview_text(path, self.mode)))

    def on_samples_panel_preview_ready(self, message: PreviewReady) -> None:
        self.query_one("#sample-preview", Static).update(message.renderable)

    def show_prediction(self, prediction: Any) -> None:
        view = self.query_one("#sample-prediction", PredictionView)
        view.mode = self.mode
        view.show(prediction)

    def show_results(self, predictions: list[Any]) -> None:
        table = self.query_one("#sample-results", DataTable)
        table.clear()
        for p in predictions:
            name = Path(p.path).name if p.path else "?"
            if p.error:
                table.add_row(name, "–", "–", Text(p.error, style="red"))
            else:
                note = Text(p.reason or "uncertain", style="yellow") if p.uncertain else ""
                table.add_row(name, str(p.digit), f"{p.confidence:.1%}", note)


def short_path(path: Path) -> Path:
    """``path`` relative to the working folder when it lies inside it (shorter in the log)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return Path(path)


def preview_text(path: Path, mode: str = "ascii") -> Text:
    """The image as it is and after preprocessing, side by side, or why it cannot be read."""
    try:
        from tui.core.preprocess import preprocess_path  # noqa: PLC0415 - numpy and Pillow, kept off start-up
        from tui.core.render import ascii_digit, ascii_image, side_by_side  # noqa: PLC0415

        pre = preprocess_path(path)
        left = ascii_image(pre.gray, width=28, mode=mode) if pre.gray is not None else []
        right = ascii_digit(pre.input28, mode=mode)
        # A tall image is drawn narrower than its heading: pad it so the right column starts where its heading does.
        width = max([len(PREVIEW_LEFT), *(len(line) for line in left)])
        left = [line.ljust(width) for line in left] or [" " * width]
        head = f"{PREVIEW_LEFT.ljust(width)}   as the model sees it"
        return Text("\n".join([head, *side_by_side(left, right, gap=3)]), no_wrap=True)
    except Exception as exc:  # a bad image is a message here, never a crash
        return verdict(_Failed(str(path), _message(exc)))


PREVIEW_LEFT = "as it is"


@dataclass
class _Failed:
    path: str
    error: str


def _message(exc: Exception) -> str:
    from tui.core.errors import DigitrecError  # noqa: PLC0415

    if isinstance(exc, DigitrecError):
        return str(exc)
    return f"could not preview it ({type(exc).__name__}: {exc})"

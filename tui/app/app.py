"""The digitrec app: a conversation log and a prompt, beside panels for training, evaluation,
sample images, models and drawing a digit.

Every action, typed, clicked, bound to a key or picked in the command palette, goes through
:meth:`DigitrecApp.execute`, so each leaves the same turn in the log. Nothing here imports
TensorFlow at module import: the model loads in a thread worker after the first screen is up, and
training runs in a separate process that the Train panel follows through its events file.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from tui.app.bandwidth import choose_pace
from tui.app.commands import COMMANDS, TEACH_DIR, Command, CommandError, parse_command
from tui.app.messages import CommandRequested, ModelStatus
from tui.app.screens.confirm import AttachScreen, QuitScreen
from tui.app.screens.help import HelpScreen
from tui.app.widgets.conversation import ConversationLog, Turn
from tui.app.widgets.explanation import ExplanationView
from tui.app.widgets.folder_results import FolderResults, skipped_text
from tui.app.widgets.fitted import FittedView
from tui.app.widgets.number import NumberView
from tui.app.widgets.prediction import PredictionView, verdict
from tui.app.widgets.prompt import CommandSuggester, PromptInput
from tui.app.widgets.samples_panel import SAMPLES_DIR, SamplesPanel, short_path
from tui.app.widgets.status_bar import StatusBar
from tui.core.errors import DigitrecError, ImageError, RunError
from tui.core.lean import defer_numpy_dev_modules
from tui.core.modelfile import DEFAULT_MODEL, MODELS_DIR, default_model_path

if TYPE_CHECKING:
    from tui.app.widgets.draw_panel import DrawPanel
    from tui.app.widgets.evaluate_panel import EvaluatePanel
    from tui.app.widgets.models_panel import ModelsPanel
    from tui.app.widgets.train_panel import TrainPanel

# The Train, Evaluate, Models and Draw panels' modules (plotext among them) are imported where they
# are used, after the first frame: the panels mount then (see on_ready), and the first screen does
# not wait for their imports either.

MIN_WIDTH, MIN_HEIGHT = 60, 20
# Below this height a panel stacked under the log leaves the log too few lines to read an answer.
STACKED_PANEL_MIN_HEIGHT = 36
MAX_VIEWS_PER_TURN = 6  # more predictions than this are summarised in a table
FOLDER_REFRESH_SECONDS = 0.25  # a folder's answers and progress reach the log at most this often
FIRST_BATCH = 8  # a folder's first answers come after this many images, the rest in the engine's batches
PANELS = ("train", "evaluate", "samples", "models", "draw")

WELCOME = Text.assemble(
    ("Welcome to digitrec. ", "bold"),
    "Type a command and press enter: ",
    ("help", "bold cyan"), ", ", ("train", "bold cyan"), ", ", ("predict PATH", "bold cyan"), ", ",
    ("read PATH", "bold cyan"), ", ", ("draw", "bold cyan"), ", ", ("evaluate", "bold cyan"), ", ",
    ("samples", "bold cyan"), ", ", ("models", "bold cyan"), ".\n",
    "Tab completes, ↑/↓ recall earlier commands, F2–F6 open panels (F7 hides them), F1 shows every key, ctrl+p finds any action.",
)


def error_text(message: str) -> Text:
    return Text(message, style="bold red")


def one_line(exc: BaseException) -> str:
    """A user-facing line: a DigitrecError as it is, anything else named and trimmed."""
    if isinstance(exc, DigitrecError):
        return " ".join(str(exc).split())
    text = " ".join(str(exc).split()) or "no details"
    return f"unexpected error ({type(exc).__name__}): {text[:200]}"


class DigitrecApp(App[int]):
    """Recognise handwritten digits: train, watch, evaluate and use a Keras CNN."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (tests, probes) live elsewhere
    TITLE = "digitrec"
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (MIN_WIDTH, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_HEIGHT, "-tall")]

    BINDINGS = [
        Binding("f1", "help", "Help", id="help", tooltip="commands and keys"),
        Binding("f2", "show_panel('train')", "Train", id="panel-train", tooltip="the Train panel"),
        Binding("f3", "show_panel('evaluate')", "Evaluate", id="panel-evaluate", tooltip="the Evaluate panel"),
        Binding("f4", "show_panel('samples')", "Samples", id="panel-samples", tooltip="the Samples panel"),
        Binding("f5", "show_panel('models')", "Models", id="panel-models", tooltip="the Models panel"),
        Binding("f6", "show_panel('draw')", "Draw", id="panel-draw", tooltip="the Draw panel: draw a digit"),
        Binding("f7", "toggle_panel", "Panel", id="toggle-panel", tooltip="show or hide the side panel"),
        Binding("ctrl+t", "start_training", "Start", id="start-training", tooltip="train with the form's settings"),
        Binding("ctrl+s", "stop_training", "Stop", id="stop-training", tooltip="stop the followed run"),
        Binding("ctrl+r", "evaluate", "Eval", id="evaluate", show=False, tooltip="evaluate the active model"),
        Binding("ctrl+g", "toggle_render", "ASCII/blocks", id="toggle-render", show=False,
                tooltip="draw digits with ASCII or half blocks"),
        Binding("ctrl+l", "clear_log", "Clear", id="clear-log", show=False, tooltip="clear the conversation"),
        Binding("escape", "focus_prompt", "Prompt", id="focus-prompt", show=False, tooltip="back to the prompt"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, tooltip="quit (asks if a run is going)"),
    ]

    render_mode: reactive[str] = reactive("ascii")
    panel_shown: reactive[bool] = reactive(True)

    def __init__(self, model: str | Path | None = None, data: str | None = None, *, preload: bool = True,
                 samples_dir: Path = SAMPLES_DIR, models_dir: Path = MODELS_DIR, offer_attach: bool = True,
                 low_bandwidth: bool = False, teach_dir: Path = Path(TEACH_DIR)) -> None:
        super().__init__()
        self.pace = choose_pace(low_bandwidth)  # how often live views redraw; see tui/app/bandwidth.py
        self.model_path = Path(model) if model else default_model_path()
        self.data = data
        self.preload = preload
        self.samples_dir = Path(samples_dir)
        self.models_dir = Path(models_dir)
        self.offer_attach = offer_attach
        self._predictor: Any = None
        self._predictor_lock = threading.Lock()
        self._run_ids: list[str] = []
        self._widgets: dict[str, Any] = {}
        self.panels_ready = False  # True once on_ready has mounted the panels
        self._draw_busy = False
        self._focus_before_small: Any = None
        self._draw_pending: DrawPanel.PredictWanted | None = None
        self.teach_dir = Path(teach_dir)
        self._models_seen: list[tuple[str, float | None]] = []
        self._last_image: tuple[str, Any] | None = None  # what `explain` and `correct` act on by default

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if self.size.height < STACKED_PANEL_MIN_HEIGHT and self.size.width < 110:
            # A stacked panel would leave the log a few lines: start collapsed; F2-F7 bring it up. Set
            # before anything mounts, so the first screen is styled once, not twice.
            self.set_reactive(DigitrecApp.panel_shown, False)
            self.screen.add_class("-panel-hidden")
        yield StatusBar(id="status")
        yield Static("", id="too-small")
        with Horizontal(id="main"):
            with ConversationLog(id="log"):
                yield Turn(None, WELCOME)  # composed, not added later, so that the first frame shows it
            # The panes start empty: their panels mount just after the first screen (see on_ready).
            with TabbedContent(id="panels", initial="train"):
                for key, pane in enumerate(PANELS, start=2):
                    yield TabPane(f"{pane.title()} F{key}", id=pane)
        yield PromptInput(
            id="prompt",
            placeholder="type a command: help, train, predict PATH, read PATH, draw, evaluate, samples, models…",
            suggester=CommandSuggester(lambda: self._run_ids),
            blink=self.pace.cursor_blink,
        )
        yield Footer()

    def _widget(self, selector: str, kind: type) -> Any:
        """Typed, cached lookup of one of the app's fixed widgets (they live as long as the app)."""
        widget = self._widgets.get(selector)
        if widget is None:
            widget = self._widgets[selector] = self.query_one(selector, kind)
        return widget

    @property
    def conversation(self) -> ConversationLog:
        return self._widget("#log", ConversationLog)

    @property
    def prompt(self) -> PromptInput:
        return self._widget("#prompt", PromptInput)

    @property
    def status_bar(self) -> StatusBar:
        return self._widget("#status", StatusBar)

    @property
    def train_panel(self) -> TrainPanel:
        from tui.app.widgets.train_panel import TrainPanel  # noqa: PLC0415

        return self._widget("#train-panel", TrainPanel)

    @property
    def evaluate_panel(self) -> EvaluatePanel:
        from tui.app.widgets.evaluate_panel import EvaluatePanel  # noqa: PLC0415

        return self._widget("#evaluate-panel", EvaluatePanel)

    @property
    def samples_panel(self) -> SamplesPanel:
        return self._widget("#samples-panel", SamplesPanel)

    @property
    def models_panel(self) -> ModelsPanel:
        from tui.app.widgets.models_panel import ModelsPanel  # noqa: PLC0415

        return self._widget("#models-panel", ModelsPanel)

    @property
    def draw_panel(self) -> DrawPanel:
        from tui.app.widgets.draw_panel import DrawPanel  # noqa: PLC0415

        return self._widget("#draw-panel", DrawPanel)

    def on_mount(self) -> None:
        self.prompt.focus()
        self.status_bar.model = f"model: {self.model_path.name} (not loaded yet)"
        self.set_interval(self.pace.progress_seconds, self._show_run_status, name="run-status")
        if self.preload:
            self.run_worker(self._warm_up, thread=True, group="model", exit_on_error=False,
                            description="loading the model")
        if self.offer_attach:
            self.run_worker(self._check_active_runs, thread=True, group="runs", exit_on_error=False,
                            description="looking for runs still training")

    async def on_ready(self) -> None:
        """Mount the five panels into their panes once the first frame is on screen.

        The first screen (log, welcome, prompt) does not wait for some sixty widgets that are hidden
        at first. The app handles nothing else from its queue (keys, commands, answers from worker
        threads) until this returns, so nothing finds a pane empty.
        """
        if self._exit or self._closing:  # quit before the first frame: nothing to mount into
            return
        from tui.app.widgets.draw_panel import DrawPanel  # noqa: PLC0415
        from tui.app.widgets.evaluate_panel import EvaluatePanel  # noqa: PLC0415
        from tui.app.widgets.models_panel import ModelsPanel  # noqa: PLC0415
        from tui.app.widgets.train_panel import TrainPanel  # noqa: PLC0415

        panels = {
            "train": TrainPanel(id="train-panel", pace=self.pace),
            "evaluate": EvaluatePanel(id="evaluate-panel"),
            "samples": SamplesPanel(self.samples_dir, id="samples-panel"),
            "models": ModelsPanel(id="models-panel"),
            "draw": DrawPanel(id="draw-panel"),
        }
        await asyncio.gather(*(self.query_one(f"#{pane}", TabPane).mount(panel) for pane, panel in panels.items()))
        self.panels_ready = True
        self.samples_panel.mode = self.draw_panel.mode = self.render_mode
        self._refresh_run_list(log=False)
        self._refresh_models(log=False)

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size  # self.size still holds the old size while this runs
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.query_one("#too-small", Static).update(
            f"The terminal is too small ({width}x{height}).\nPlease make it at least {MIN_WIDTH}x{MIN_HEIGHT}." if too_small else ""
        )
        # Hidden widgets lose focus and the log its place: restore both when the terminal grows again.
        if too_small and self._focus_before_small is None:
            self._focus_before_small = self.focused or self.prompt
        elif not too_small and self._focus_before_small is not None:
            widget, self._focus_before_small = self._focus_before_small, None
            self.call_after_refresh(self._refocus, widget)
            self.conversation.follow_end()

    def _refocus(self, widget: Any) -> None:
        if self.focused is None or not self.focused.display:
            (widget if widget.is_attached else self.prompt).focus()

    def watch_panel_shown(self, shown: bool) -> None:
        self.screen.set_class(not shown, "-panel-hidden")

    @on(TabbedContent.TabActivated, "#panels")
    def _panel_switched(self, event: TabbedContent.TabActivated) -> None:
        # The canvas needs its 14 rows: in a narrow terminal the stacked panel grows to fit it.
        self.screen.set_class(event.pane.id == "draw", "-drawing")

    # -- running commands ---------------------------------------------------------------------

    @on(PromptInput.Submitted, "#prompt")
    def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.value
        self.prompt.remember(text)
        self.prompt.value = ""
        self.execute(text)

    @on(CommandRequested)
    def _requested(self, message: CommandRequested) -> None:
        message.stop()
        self.execute(message.text)

    def execute(self, text: str) -> Turn | None:
        """Parse and run one command line, or a plain request; errors become a turn, never an exception."""
        echo = " ".join(text.split())
        try:
            command = parse_command(text)
        except CommandError as exc:
            return self._execute_plain(text, echo, exc)
        if command is None:
            return None
        from tui.core.intent import interpret, sentence_like  # noqa: PLC0415

        if sentence_like(text):
            intent = interpret(text, self._intent_context())
            if intent.command and " ".join(intent.command.split()) != echo:
                try:
                    return self._run_mapped(parse_command(intent.command), f"{echo}\n→ {intent.command}")
                except CommandError:
                    pass  # what it asks cannot be run as a command: the exact reading stands
        return self._run_command(command, echo)

    def _execute_plain(self, text: str, echo: str, error: CommandError) -> Turn | None:
        """A line that is not an exact command: run what it plainly asks for, showing the command, or ask."""
        from tui.app.commands import resolve_name  # noqa: PLC0415
        from tui.core.intent import interpret, sentence_like  # noqa: PLC0415

        words = text.split()
        exact = bool(words) and words[0].isalpha() and resolve_name(words[0]) is not None
        if exact and not sentence_like(text):  # an exact command with a wrong argument: its own error says it
            return self.conversation.add_turn(echo, error_text(str(error)), error=True)
        intent = interpret(text, self._intent_context())
        if intent.command is None or " ".join(intent.command.split()) == echo:
            if intent.question is None or not intent.firm and (
                    exact or len(words) < 2 or "did you mean" in str(error)):
                return self.conversation.add_turn(echo, error_text(str(error)), error=True)
            return self.conversation.add_turn(echo, Text(intent.question, style="yellow"))
        mapped = f"{echo}\n→ {intent.command}"  # the turn shows the command it ran
        try:
            command = parse_command(intent.command)
        except CommandError as exc:
            if exact:
                return self.conversation.add_turn(echo, error_text(str(error)), error=True)
            return self.conversation.add_turn(mapped, error_text(str(exc)), error=True)
        return self._run_mapped(command, mapped)

    def _run_mapped(self, command: Command, mapped: str) -> Turn:
        """Run what plain words asked for; one that would replace a model waits for Enter (esc cancels)."""
        replaced = self._model_replaced_by(command)
        if replaced is None:
            return self._run_command(command, mapped)
        from tui.app.screens.confirm import ConfirmScreen  # noqa: PLC0415

        shown = mapped.rsplit("→ ", 1)[-1]
        turn = self.conversation.add_turn(mapped, Text(f"this replaces {replaced}; Enter runs it, esc cancels",
                                                       style="dim"))

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_in_turn(command, turn)
            else:
                turn.answer(f"cancelled: nothing was run, {replaced} stays as it is")

        self.push_screen(ConfirmScreen(f"Run `{shown}`?\n\nIt replaces {replaced}.", "Run it (enter)", "Cancel (esc)",
                                       id="replace-screen"), answered)
        return turn

    def _model_replaced_by(self, command: Command) -> Path | None:
        """The model file ``command`` would write over, if it is the active model or already exists."""
        if command.name == "train":
            target = Path(command.options.get("output") or DEFAULT_MODEL)
        elif command.name == "teach":
            target = Path(command.options.get("output") or self.model_path)
        else:
            return None
        return target if target.exists() or _same_file(target, self.model_path) else None

    def _intent_context(self) -> Any:
        from tui.core.intent import Context  # noqa: PLC0415

        return Context(models=tuple(self._models_seen))

    def _run_command(self, command: Command, echo: str) -> Turn:
        turn = self.conversation.add_turn(echo)
        self._run_in_turn(command, turn)
        return turn

    def _run_in_turn(self, command: Command, turn: Turn) -> None:
        handler: Callable[[Command, Turn], None] = getattr(self, f"_cmd_{command.name}")
        try:
            handler(command, turn)
        except Exception as exc:  # noqa: BLE001 - any failure is shown as a line, never a crash
            turn.answer(error_text(one_line(exc)), error=True)

    def _in_thread(self, turn: Turn | None, group: str, description: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a thread worker; any exception it raises is answered in ``turn``."""

        def body() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001
                message = one_line(exc)
                if turn is not None:
                    self._from_thread(turn.answer, error_text(message), error=True)
                else:
                    self._from_thread(self.notify, message, severity="error", title=description)

        self.run_worker(body, thread=True, group=group, description=description, exit_on_error=False)

    def _from_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            self.call_from_thread(self._unless_closing, fn, *args, **kwargs)
        except RuntimeError:  # the app closed while the worker ran
            pass

    def _unless_closing(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; while the app shuts down its widgets may be gone already, and that is fine."""
        try:
            return fn(*args, **kwargs)
        except NoMatches:
            if not (self._exit or self._closing):
                raise
            return None

    def _cmd_help(self, command: Command, turn: Turn) -> None:
        if command.args:
            from tui.app.commands import resolve_name  # noqa: PLC0415

            spec = COMMANDS[resolve_name(command.args[0]) or "help"]
            turn.answer(Text.assemble((spec.usage, "bold cyan"), "\n", spec.summary))
            return
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for spec in COMMANDS.values():
            table.add_row(spec.usage, spec.summary)
        turn.answer(table, Text("F1 shows the keys too; ctrl+p finds any action by name.", style="dim"))

    def _cmd_clear(self, command: Command, turn: Turn) -> None:
        self.conversation.clear_turns()

    def _cmd_quit(self, command: Command, turn: Turn) -> None:
        self.call_later(self.action_quit)

    def _cmd_render(self, command: Command, turn: Turn) -> None:
        mode = command.args[0] if command.args else ("blocks" if self.render_mode == "ascii" else "ascii")
        self.render_mode = mode
        turn.answer(f"digits are now drawn with {'ASCII characters' if mode == 'ascii' else 'half blocks'}")

    # -- model ----------------------------------------------------------------------------------

    def _warm_up(self) -> None:
        """Load the active model on its runtime (LiteRT: no TensorFlow), reporting progress in the status bar."""
        try:
            if not self.model_path.exists():
                self.post_message(ModelStatus(_no_model_text(self.model_path)))
                return
            self.predictor()
            from tui.core.preprocess import import_lazy_parts  # noqa: PLC0415

            import_lazy_parts()  # SciPy's image parts: the first image predicted does not wait for them
        except Exception as exc:  # noqa: BLE001
            self.post_message(ModelStatus(f"model not loaded: {one_line(exc)}"))

    def predictor(self) -> Any:
        """The loaded predictor for the active model, loading it first if needed (worker threads only)."""
        with self._predictor_lock:
            path = self.model_path
            if self._predictor is not None and Path(self._predictor.model_path) == path:
                return self._predictor
            if not path.exists():
                self.post_message(ModelStatus(_no_model_text(path)))
                raise_no_model(path)
            self.post_message(ModelStatus(f"loading model {path.name}…"))
            defer_numpy_dev_modules()  # before SciPy's first import: about 0.06 s sooner ready
            from tui.core.inference import Predictor  # noqa: PLC0415

            try:
                predictor = Predictor(path, notify=self._runtime_notice)
            except Exception as exc:
                self.post_message(ModelStatus(f"model {path.name} could not be loaded: {one_line(exc)}"))
                raise
            self._predictor = predictor
            self.post_message(ModelStatus(_model_text(path, predictor.metadata, predictor.runtime), ready=True))
            return predictor

    def _runtime_notice(self, line: str) -> None:
        """A runtime file was rebuilt (or could not be): say so in the log, once (worker threads only)."""
        self._from_thread(self._show_runtime_notice, line)

    def _show_runtime_notice(self, line: str) -> None:
        """The note goes above the command that needed the model, so that command's answer stays last."""
        log, note = self.conversation, Text(line, style="dim")
        last = log.last_turn
        if last is not None and last.command is not None:
            log.mount(Turn(None, note), before=last)
        else:
            log.add_turn(None, note)

    def on_model_status(self, message: ModelStatus) -> None:
        self._unless_closing(self._set_model_status, message.text)

    def _set_model_status(self, text: str) -> None:
        self.status_bar.model = text

    def _cmd_use(self, command: Command, turn: Turn) -> None:
        path = Path(command.args[0]).expanduser()

        def check() -> None:
            from tui.core.modelfile import check_architecture  # noqa: PLC0415 - h5py only

            if not path.exists():
                raise_no_model(path)
            check_architecture(path)  # refuses a FIFO, a non-model, Lambda layers, before any loading
            self._from_thread(turn.answer, Text(f"loading {path.name}…", style="dim"))
            from tui.core.inference import Predictor  # noqa: PLC0415

            # The working model stays active until the new one has loaded: a refusal costs nothing.
            predictor = Predictor(path, notify=self._runtime_notice)
            self._from_thread(self._use_model, path, predictor, turn)

        turn.answer(Text("checking the model file…", style="dim"))
        self._in_thread(turn, "models", f"checking {path}", check)

    def _use_model(self, path: Path, predictor: Any, turn: Turn) -> None:
        with self._predictor_lock:
            self.model_path = path
            self._predictor = predictor
        text = _model_text(path, predictor.metadata, predictor.runtime)
        turn.answer(f"active model: {text.removeprefix('model: ')}")
        self.status_bar.model = text
        self._refresh_models(log=False)

    def _cmd_models(self, command: Command, turn: Turn) -> None:
        self.action_show_panel("models", focus=False)
        self._refresh_models(log=True, turn=turn)

    def _refresh_models(self, log: bool, turn: Turn | None = None) -> None:
        def work() -> None:
            from tui.core.modelfile import list_models  # noqa: PLC0415

            infos = list_models(self.models_dir)
            self._from_thread(self._show_models, infos, turn if log else None)

        self._in_thread(turn, "models", "listing models", work)

    def _show_models(self, infos: list[Any], turn: Turn | None) -> None:
        self.models_panel.show_models(infos, self.model_path)
        self._models_seen = [(str(info.path), (info.metadata or {}).get("test_accuracy")) for info in infos
                             if not info.error]
        if turn is None:
            return
        if not infos:
            turn.answer(f"no .h5 models in {self.models_dir}/; train one with `train`")
            return
        from tui.app.widgets.models_panel import model_row  # noqa: PLC0415

        table = Table(box=None, header_style="bold")
        for column in ("model", "test acc", "preset", "epochs", "date", "size"):
            table.add_column(column)
        for info in infos:
            table.add_row(*model_row(info, self.model_path))
        turn.answer(table, Text("`use PATH` or enter in the Models panel (F5) makes one active", style="dim"))

    # -- predicting -------------------------------------------------------------------------------

    def _cmd_predict(self, command: Command, turn: Turn) -> None:
        paths = [str(Path(p).expanduser()) for p in command.args]
        turn.answer(Text(f"predicting {len(paths)} path{'s' if len(paths) > 1 else ''}…", style="dim"))

        def work() -> None:
            from textual.worker import get_current_worker  # noqa: PLC0415

            from tui.core.images import collect_images, split_skipped  # noqa: PLC0415

            worker = get_current_worker()
            predictor = self.predictor()
            collected, skipped = split_skipped(collect_images(paths))
            lines = [str(skip) for skip in skipped]
            if len(collected) <= MAX_VIEWS_PER_TURN:  # a few images: each drawn beside its bars
                from tui.core.inference import prepare  # noqa: PLC0415

                predictions = predictor.predict_prepared([(path, str(problem) if problem else prepare(path))
                                                          for path, problem in collected])
                self._from_thread(self._show_predictions, predictions, turn, False, lines)
                return
            self._stream_folder(predictor, collected, lines, turn, worker)

        self._in_thread(turn, "predict", "predicting images", work)

    def _stream_folder(self, predictor: Any, collected: list[Any], skipped: list[str], turn: Turn, worker: Any) -> None:
        """Predict many images a batch at a time, their answers streaming into ``turn`` (worker threads only).

        The worker stops at the next batch once it is cancelled (the app quitting), so quitting never
        waits for the rest of a folder.
        """
        import itertools  # noqa: PLC0415
        import time  # noqa: PLC0415

        from tui.core.batch import stream_predictions  # noqa: PLC0415

        try:
            view = self.call_from_thread(self._folder_view, turn, len(collected), skipped)
        except RuntimeError:  # the app closed meanwhile
            return
        pending: list[Any] = []
        flushed, last_good = 0.0, None
        # A small first batch: the first answers show after a few images, not after 64.
        first = FIRST_BATCH
        answers = itertools.chain(stream_predictions(predictor, collected[:first], batch_size=first),
                                  stream_predictions(predictor, collected[first:]))
        for p in answers:
            if worker.is_cancelled:
                return
            pending.append(p)
            last_good = p if not p.error else last_good
            if time.monotonic() - flushed >= FOLDER_REFRESH_SECONDS:
                view.post_message(FolderResults.Batch(pending))
                pending, flushed = [], time.monotonic()
        view.post_message(FolderResults.Batch(pending, finished=True))
        if last_good is not None:
            self._last_image = ("path", last_good.path)

    def _cmd_samples(self, command: Command, turn: Turn) -> None:
        folder = Path(command.args[0]).expanduser() if command.args else self.samples_dir
        if not folder.is_dir():
            turn.answer(error_text(f"no folder {folder}/; give one with `samples FOLDER`"), error=True)
            return
        self.action_show_panel("samples", focus=False)
        turn.answer(Text(f"predicting every image in {folder}/…", style="dim"))

        def work() -> None:
            predictions = self.predictor().predict_paths([str(folder)])
            self._from_thread(self._show_predictions, predictions, turn, True)

        self._in_thread(turn, "predict", f"predicting the images in {folder}", work)

    def _folder_view(self, turn: Turn, total: int, skipped: list[str]) -> FolderResults:
        """The widget a folder's answers stream into, made here: its messages must come to the app's thread."""
        view = FolderResults(total, skipped, classes="turn-answer")
        turn.answer(view)
        return view

    def _show_predictions(self, predictions: list[Any], turn: Turn, as_table: bool, skipped: list[str] = ()) -> None:
        if skipped:
            turn.answer(skipped_text(skipped))
        if not predictions:
            turn.answer(error_text("no images found there"), error=True, replace=not skipped)
            return
        if len(predictions) == 1 and predictions[0].error:  # e.g. a folder without images: one line, not a table
            turn.answer(verdict(predictions[0]), error=True, replace=not skipped)
            return
        if as_table or len(predictions) > MAX_VIEWS_PER_TURN:
            table = Table(box=None, header_style="bold")
            for column in ("file", "digit", "confidence", "note"):
                table.add_column(column)
            for p in predictions:
                if p.error:
                    table.add_row(Path(p.path or "?").name, "–", "–", Text(p.error, style="red"))
                else:
                    note = Text(p.reason or "uncertain", style="yellow") if p.uncertain else ""
                    table.add_row(Path(p.path).name, Text(str(p.digit), style="bold green"), f"{p.confidence:.1%}", note)
            good = [p for p in predictions if not p.error]
            turn.answer(table, f"{len(good)} of {len(predictions)} images recognised", replace=not skipped)
            self.samples_panel.show_results(predictions)
        else:
            views = [PredictionView(p, mode=self.render_mode, classes="turn-answer") for p in predictions]
            turn.answer(*views, error=all(p.error for p in predictions), replace=not skipped)
        shown = [p for p in predictions if not p.error]
        if shown:
            self.samples_panel.show_prediction(shown[-1])
            self._last_image = ("path", shown[-1].path)

    def _cmd_read(self, command: Command, turn: Turn) -> None:
        path = str(Path(command.args[0]).expanduser())
        turn.answer(Text(f"reading the digits in {command.args[0]}…", style="dim"))

        def work() -> None:
            reading = self.predictor().read_number(path)
            self._from_thread(turn.answer, NumberView(reading, mode=self.render_mode, classes="turn-answer"))

        self._in_thread(turn, "predict", "reading a number", work)

    # -- explaining and correcting ------------------------------------------------------------------

    def _cmd_explain(self, command: Command, turn: Turn) -> None:
        source = self._explain_source(command)
        turn.answer(Text("hiding each part of the digit in turn to see what the answer rests on…", style="dim"))

        def work() -> None:
            from tui.core.explain import explain_input  # noqa: PLC0415

            kind, value, name = source
            if kind == "path":
                from tui.core.preprocess import preprocess_path  # noqa: PLC0415

                input28 = preprocess_path(value).input28
            elif kind == "pixels":
                input28 = self._drawing_input(value)
            else:
                input28 = value
            explanation = explain_input(self.predictor(), input28, path=name)
            self._from_thread(turn.answer, ExplanationView(explanation, mode=self.render_mode, classes="turn-answer"))

        self._in_thread(turn, "predict", "explaining a prediction", work)

    def _explain_source(self, command: Command) -> tuple[str, Any, str]:
        """What to explain, as (kind, value, name): a path, the drawing's pixels or a 28x28 input."""
        target = command.options.get("target")
        if command.args:
            path = str(Path(command.args[0]).expanduser())
            self._last_image = ("path", path)
            return "path", path, path
        if target == "drawing":
            if self.draw_panel.number_mode:
                raise ImageError("explain works on single digits: press n in the Draw panel (or `draw digit`) "
                                 "to draw one, then w")
            if self.draw_panel.canvas.sketch.blank:
                raise ImageError("nothing to explain: the canvas is empty; draw a digit first (`draw`)")
            return "pixels", list(self.draw_panel.canvas.sketch.pixels), "the drawing"
        if target == "mistake":
            from tui.app.widgets.evaluate_panel import MistakeBrowser  # noqa: PLC0415

            browser = self.evaluate_panel.query_one(MistakeBrowser)
            if not browser.mistakes:
                raise ImageError("no mistakes to explain yet; run `evaluate` first")
            index = command.options.get("number", browser.index + 1) - 1
            if index >= len(browser.mistakes):
                raise ImageError(f"there are {len(browser.mistakes)} mistakes; give a number from 1 to {len(browser.mistakes)}")
            m = browser.mistakes[index]
            self._last_image = ("input", m.image28)
            return "input", m.image28, f"test image #{m.index} (true {m.true})"
        if self._last_image is None:
            raise ImageError("nothing predicted yet to explain; give an image: `explain PATH`")
        kind, value = self._last_image
        return kind, value, value if kind == "path" else ("the drawing" if kind == "pixels" else "the last digit")

    def _cmd_correct(self, command: Command, turn: Turn) -> None:
        if self._last_image is None:
            turn.answer(error_text("nothing predicted yet to correct; predict an image or draw one first"), error=True)
            return
        digit = int(command.args[0])
        kind, value = self._last_image
        folder = self.teach_dir

        def work() -> None:
            from tui.app.widgets.draw_panel import save_drawing  # noqa: PLC0415
            from tui.core.finetune import save_labelled  # noqa: PLC0415 - numpy and Pillow only

            path = save_drawing(value, folder, digit) if kind == "pixels" else save_labelled(kind, value, digit, folder)
            self._from_thread(turn.answer, f"saved {short_path(path)} as a {digit}; `teach {short_path(folder)}` "
                                           "fine-tunes the model on the digits there")

        self._in_thread(turn, "draw-save", "saving the corrected image", work)

    # -- drawing ----------------------------------------------------------------------------------

    def _cmd_draw(self, command: Command, turn: Turn) -> None:
        action = command.args[0] if command.args else None
        panel = self.draw_panel
        canvas = panel.canvas
        if action is None:
            self.action_show_panel("draw")
            turn.answer("draw in the Draw panel (F6): drag with the mouse (the right button or ctrl erases), or move "
                        "with the arrows and press space to put the pen down; e eraser, c clear, s save, w why, "
                        "n a whole number. The prediction follows as you draw.")
        elif action in ("number", "digit"):
            self.action_show_panel("draw")
            panel.set_number_mode(action == "number")
            turn.answer("draw a number on the wide canvas, its digits side by side with a small gap; the number read "
                        "follows as you draw. n (or `draw digit`) goes back to one digit." if action == "number" else
                        "draw one digit; n (or `draw number`) draws a whole number")
        elif action == "clear":
            canvas.clear()
            turn.answer("the drawing is cleared")
        elif canvas.sketch.blank:
            what = "a number" if panel.number_mode else "a digit"
            turn.answer(error_text(f"nothing to save: the canvas is empty; draw {what} first (`draw`)"), error=True)
        else:
            self._save_drawing(list(canvas.sketch.pixels), turn, canvas.sketch.width, panel.number_mode)

    def _save_drawing(self, pixels: list[float], turn: Turn, width: int, number: bool) -> None:
        folder = self.samples_dir
        turn.answer(Text("saving the drawing…", style="dim"))

        def work() -> None:
            from tui.app.widgets.draw_panel import save_drawing  # noqa: PLC0415

            try:
                label, note = self._name_drawing(pixels, width, number)
            except Exception as exc:  # noqa: BLE001 - the drawing is saved anyway, just not named by what it reads
                label, note = None, f"; not named by {'a number' if number else 'a digit'}: {one_line(exc)}"
            try:
                path = save_drawing(pixels, folder, label, width)
            except OSError as exc:
                raise ImageError(f"could not save the drawing in {folder}/ ({exc.strerror or exc})") from None
            self._from_thread(self._drawing_saved, path, note, turn)

        self._in_thread(turn, "draw-save", "saving the drawing", work)

    def _drawing_saved(self, path: Path, note: str, turn: Turn) -> None:
        turn.answer(f"saved {short_path(path)}{note}")
        self.samples_panel.folder_changed()

    def _name_drawing(self, pixels: list[float], width: int, number: bool) -> tuple[str, str]:
        """What a drawing reads, to name its file by, and a note on it for the log (worker threads only)."""
        if number:
            reading = self._read_drawing(pixels, width)
            if not reading.digits:
                raise ImageError("no digits read")
            about = [f"{reading.confidence:.1%}"] if reading.confidence is not None else []
            about += ["uncertain"] if reading.uncertain else []
            detail = f" ({', '.join(about)})" if about else ""
            return reading.text, f"; the model reads it as {reading.text}{detail}"
        prediction = self._predict_drawing(pixels)
        doubt = ", uncertain" if prediction.uncertain else ""
        return str(prediction.digit), f"; the model reads it as {prediction.digit} ({prediction.confidence:.1%}{doubt})"

    def _predict_drawing(self, pixels: list[float]) -> Any:
        """The model's answer for a digit's drawing, centred like MNIST first (worker threads only)."""
        return self.predictor().predict_input(self._drawing_input(pixels))

    def _read_drawing(self, pixels: list[float], width: int) -> Any:
        """The number read from a wide drawing, ``width`` pixels to a row (worker threads only)."""
        from tui.app.widgets.draw_panel import ink_array  # noqa: PLC0415

        return self.predictor().read_number_gray(1.0 - ink_array(pixels, width), "the drawing")

    @staticmethod
    def _drawing_input(pixels: list[float]) -> Any:
        """A digit's drawing (28x28 ink, row by row) prepared like every other image: cropped, scaled and
        centred like MNIST."""
        from tui.app.widgets.draw_panel import ink_array  # noqa: PLC0415
        from tui.core.preprocess import preprocess_gray  # noqa: PLC0415

        return preprocess_gray(ink_array(pixels))

    # Handlers of the panels' messages go by Textual's naming convention, not @on(Panel.Message):
    # the decorator would import the panel's module with this one.
    def on_draw_panel_predict_wanted(self, message: DrawPanel.PredictWanted) -> None:
        """Predict the drawing in a worker, one at a time: requests that come meanwhile keep only the newest."""
        message.stop()
        if self._draw_busy:
            self._draw_pending = message
            return
        self._draw_busy = True
        panel, pixels, version, number = self.draw_panel, message.pixels, message.version, message.number
        if self._predictor is None:
            panel.show_message(Text("loading the model…", style="dim"), version)
        not_yet = Text(f"no {'number' if number else 'digit'} yet: keep drawing", style="dim")

        def work() -> None:
            try:
                answer = self._read_drawing(pixels, message.width) if number else self._predict_drawing(pixels)
            except ImageError:
                self._from_thread(panel.show_message, not_yet, version)
            except Exception as exc:  # noqa: BLE001 - shown in the panel; the log is not flooded while drawing
                self._from_thread(panel.show_message, error_text(one_line(exc)), version)
            else:
                if number and not answer.digits:
                    self._from_thread(panel.show_message, not_yet, version)
                    return
                self._from_thread(panel.show_prediction, answer, version)
                if not number:  # `explain` and `correct` act on a digit, never on a whole number
                    self._last_image = ("pixels", list(pixels))
            finally:
                self._from_thread(self._drawing_predicted)

        self.run_worker(work, thread=True, group="draw", description="predicting the drawing", exit_on_error=False)

    def _drawing_predicted(self) -> None:
        self._draw_busy = False
        pending, self._draw_pending = self._draw_pending, None
        if pending is not None:
            self.on_draw_panel_predict_wanted(pending)

    # -- evaluating -------------------------------------------------------------------------------

    def _cmd_evaluate(self, command: Command, turn: Turn) -> None:
        if any(w.group == "evaluate" and w.is_running for w in self.workers):
            turn.answer(error_text("an evaluation is already running; wait for it to finish"), error=True)
            return
        self.action_show_panel("evaluate", focus=False)
        panel = self.evaluate_panel
        panel.started(self.model_path.name)
        turn.answer(Text(f"evaluating {self.model_path.name} on the MNIST test set…", style="dim"))
        limit = command.options.get("limit")

        def work() -> None:
            from textual.worker import get_current_worker  # noqa: PLC0415

            from tui.app.widgets.evaluate_panel import EvaluatePanel  # noqa: PLC0415
            from tui.core.evaluate import EvaluationCancelled, evaluate  # noqa: PLC0415

            worker = get_current_worker()

            def progress(done: int, total: int) -> None:
                panel.post_message(EvaluatePanel.Progress(done, total))

            try:
                # Stops between chunks once the worker is cancelled (the app quitting): quitting never waits for it.
                report = evaluate(self.model_path, data_path=self.data, progress=progress, limit=limit,
                                  predictor=self.predictor(), cancelled=lambda: worker.is_cancelled)
            except EvaluationCancelled:
                return
            except Exception as exc:
                self._from_thread(panel.failed, one_line(exc))
                raise
            self._from_thread(self._show_report, report, turn)

        self._in_thread(turn, "evaluate", "evaluating on the test set", work)

    def _show_report(self, report: Any, turn: Turn) -> None:
        from tui.app.widgets.evaluate_panel import summary_text  # noqa: PLC0415

        self.evaluate_panel.show_report(report)
        worst = sorted(report.per_class, key=lambda row: row["f1"])[:3]
        hardest = ", ".join(f"{row['digit']} (f1 {row['f1']:.3f})" for row in worst)
        turn.answer(summary_text(report), Text(f"hardest digits: {hardest}; the Evaluate panel (F3) has the "
                                               "per-class table, the confusion matrix and the mistakes", style="dim"))

    # -- training ---------------------------------------------------------------------------------

    def _cmd_train(self, command: Command, turn: Turn) -> None:
        if self.train_panel.is_running:
            state = self.train_panel.state
            turn.answer(error_text(f"run {state.run_id} is still training; `stop` it first or wait"), error=True)
            return
        options = dict(command.options)
        preset = options.pop("preset")
        output = options.pop("output", None)
        self.action_show_panel("train", focus=False)
        turn.answer(Text("starting a training run…", style="dim"))

        def work() -> None:
            from tui.core.launch import start_training  # noqa: PLC0415

            run_dir = start_training(preset, options, output=output, data=self.data)
            self._from_thread(self._follow, run_dir, turn, "started")

        self._in_thread(turn, "train", "starting a training run", work)

    def _cmd_teach(self, command: Command, turn: Turn) -> None:
        if self.train_panel.is_running:
            state = self.train_panel.state
            turn.answer(error_text(f"run {state.run_id} is still training; `stop` it first or wait"), error=True)
            return
        folder = Path(command.args[0]).expanduser()
        output = command.options.get("output") or str(self.model_path)
        epochs = command.options.get("epochs")
        turn.answer(Text(f"reading your digits in {folder}/…", style="dim"))

        def work() -> None:
            from tui.core.finetune import FinetuneSettings, collect_labelled, create_finetune_run  # noqa: PLC0415
            from tui.core.launch import active_runs, spawn_run  # noqa: PLC0415
            from tui.core.modelfile import check_output_writable  # noqa: PLC0415

            if not self.model_path.is_file():
                raise_no_model(self.model_path)
            mine = collect_labelled(folder)  # refuses at once, with the reason, a folder that cannot teach
            check_output_writable(output)
            active = active_runs()
            if active:
                raise RunError(f"run {active[0].run_id} is already training; stop it first (`stop`) or wait")
            settings = FinetuneSettings(folder=str(folder), base_model=str(self.model_path),
                                        **({"epochs": epochs} if epochs else {}))
            data = self.data or os.environ.get("DIGITREC_MNIST")
            run_dir = spawn_run(create_finetune_run(settings, output, data))
            skipped = f" ({len(mine.skipped)} skipped, named below)" if mine.skipped else ""
            self._from_thread(self._follow, run_dir, turn, f"teaching with {len(mine.labels)} of your digits{skipped}")
            if mine.skipped:
                self._from_thread(turn.answer, skipped_text(f"skipped {line}" for line in mine.skipped), replace=False)

        self.action_show_panel("train", focus=False)
        self._in_thread(turn, "train", "starting a fine-tune", work)

    def _follow(self, run_dir: Path, turn: Turn, verb: str) -> None:
        state = self.train_panel.follow(run_dir)
        self.action_show_panel("train", focus=False)
        if verb == "started":
            text = f"started run {state.run_id}; it trains in its own process, follow it in the Train panel (F2); `stop` ends it"
        elif verb.startswith("teaching"):
            text = (f"{verb}: run {state.run_id} fine-tunes the model in its own process (Train panel, F2); it "
                    "replaces the model only if MNIST test accuracy holds")
        else:
            from tui.app.widgets.train_panel import describe_run  # noqa: PLC0415

            text = f"following {describe_run(state)}"
        turn.answer(text)
        self._refresh_run_list(log=False)

    def _cmd_stop(self, command: Command, turn: Turn) -> None:
        state = self.train_panel.state
        if state is None or not state.active:
            turn.answer(error_text("no run is training here; `runs` lists runs, `attach RUN` follows one"), error=True)
            return

        def work() -> None:
            from tui.core.launch import stop_run  # noqa: PLC0415

            stop_run(state.path)  # refuses, with the reason, a run whose own process is gone
            self._from_thread(turn.answer, f"asked run {state.run_id} to stop; it keeps its best checkpoint and "
                                           "says so when done")

        self._in_thread(turn, "train", "stopping the run", work)

    def _cmd_attach(self, command: Command, turn: Turn) -> None:
        ref = command.args[0] if command.args else None

        def work() -> None:
            from tui.core import runs  # noqa: PLC0415
            from tui.core.launch import active_runs  # noqa: PLC0415

            if ref is None:
                active = active_runs()
                path = active[0].path if active else runs.find_run("latest")
            else:
                path = runs.find_run(ref)
            self._from_thread(self._follow, path, turn, "following")

        self._in_thread(turn, "runs", "finding the run", work)

    def _cmd_runs(self, command: Command, turn: Turn) -> None:
        self.action_show_panel("train", focus=False)
        self._refresh_run_list(log=True, turn=turn)

    def _refresh_run_list(self, log: bool, turn: Turn | None = None) -> None:
        def work() -> None:
            from tui.core.runs import list_runs  # noqa: PLC0415

            summaries = list_runs()
            self._from_thread(self._show_runs, summaries, turn if log else None)

        self._in_thread(turn, "runs", "listing runs", work)

    def _show_runs(self, summaries: list[Any], turn: Turn | None) -> None:
        from tui.app.widgets.runs_table import COLUMNS, run_cells  # noqa: PLC0415

        self._run_ids = [s.run_id for s in summaries]
        self.train_panel.show_runs(summaries)
        if turn is None:
            return
        if not summaries:
            turn.answer("no runs yet; `train` starts one")
            return
        table = Table(box=None, header_style="bold")
        for column in COLUMNS:
            table.add_column(column)
        for s in summaries[:20]:
            table.add_row(*run_cells(s))
        turn.answer(table, Text("`attach RUN` follows one (a prefix of its id is enough); `compare RUN RUN` "
                                "compares runs, `delete RUN` deletes one", style="dim"))

    def _cmd_compare(self, command: Command, turn: Turn) -> None:
        refs = list(command.args) or list(self.train_panel.marked_runs)
        if not refs:
            turn.answer(error_text("nothing to compare: give 2 to 6 runs (`compare RUN RUN`, ids, prefixes or "
                                   "latest) or mark them with space in the Train panel's runs table (F2)"), error=True)
            return

        def work() -> None:
            from tui.core.compare import compare_runs, resolve_runs  # noqa: PLC0415

            comparison = compare_runs(resolve_runs(refs))
            self._from_thread(self._show_comparison, comparison, turn)

        turn.answer(Text("reading the runs…", style="dim"))
        self._in_thread(turn, "runs", "comparing runs", work)

    def _show_comparison(self, comparison: Any, turn: Turn) -> None:
        from tui.app.screens.compare import CompareScreen  # noqa: PLC0415
        from tui.app.widgets.compare_view import comparison_table, legend  # noqa: PLC0415

        turn.answer(legend(comparison), comparison_table(comparison),
                    Text("the curves are on the comparison screen; esc comes back here", style="dim"))
        if isinstance(self.screen, CompareScreen):
            self.pop_screen()
        self.push_screen(CompareScreen(comparison))

    def _cmd_delete(self, command: Command, turn: Turn) -> None:
        ref = command.args[0]

        def work() -> None:
            from tui.core import runs  # noqa: PLC0415
            from tui.core.errors import RunError  # noqa: PLC0415
            from tui.core.prune import why_kept  # noqa: PLC0415

            summary = runs.summarise(runs.find_run(ref))
            summary.size_bytes = runs.disk_usage(summary.path)
            reason = why_kept(summary, [self.model_path])
            if reason:
                raise RunError(reason)
            self._from_thread(self._confirm_delete, summary, turn)

        self._in_thread(turn, "runs", "finding the run", work)

    def _confirm_delete(self, summary: Any, turn: Turn) -> None:
        from rich.filesize import decimal  # noqa: PLC0415

        from tui.app.screens.confirm import ConfirmScreen  # noqa: PLC0415

        size = decimal(summary.size_bytes or 0)
        turn.answer(Text(f"delete run {summary.run_id} ({summary.status}, {size})? answer in the dialog", style="dim"))
        question = (f"Delete run {summary.run_id}?\n{summary.status}, preset {summary.preset}, {size} in {summary.path}\n\n"
                    "Its checkpoints and records go; models in models/ stay.")

        def answered(yes: bool | None) -> None:
            if not yes:
                turn.answer(f"kept run {summary.run_id}")
                return

            def work() -> None:
                from tui.core.prune import delete_run  # noqa: PLC0415

                freed = delete_run(summary, [self.model_path])  # checks again: it may have started meanwhile
                self._from_thread(turn.answer, f"deleted run {summary.run_id} (freed {decimal(freed)})")
                self._from_thread(self._refresh_run_list, False)

            self._in_thread(turn, "runs", "deleting the run", work)

        self.push_screen(ConfirmScreen(question, "Delete (y)", "Keep (n)", id="delete-screen", yes_variant="error",
                                       focus_no=True), answered)

    def on_train_panel_run_ended(self, message: TrainPanel.RunEnded) -> None:  # named, not @on: see above
        state = message.state
        failed = state.status in ("error", "lost")
        if state.status == "done" and state.previous_model:
            done = {"test_accuracy": state.test_accuracy, "model": state.model, "previous_model": state.previous_model}

            def compare() -> None:
                from tui.core.runs import worse_than_replaced  # noqa: PLC0415 - reads the kept model's metadata

                self._from_thread(self._add_run_turn, state, False, worse_than_replaced(done))

            self._in_thread(None, "runs", "comparing with the replaced model", compare)
        else:
            self._add_run_turn(state, failed, None)
        self._refresh_run_list(log=False)
        self._refresh_models(log=False)
        if state.status == "done" and state.model and _same_file(Path(state.model), self.model_path):
            self._predictor = None  # the active model was replaced: load the new one
            self.run_worker(self._warm_up, thread=True, group="model", exit_on_error=False,
                            description="loading the newly trained model")

    def _add_run_turn(self, state: Any, failed: bool, warning: str | None) -> None:
        """The turn that says how a followed run ended; a model worse than the one it replaced says so."""
        from tui.app.widgets.train_panel import describe_run  # noqa: PLC0415

        text = Text(describe_run(state), style="bold red" if failed else "")
        if warning:
            text.append(f"\nnote: {warning}", style="bold yellow")
        self.conversation.add_turn(None, text, error=failed)

    def _show_run_status(self) -> None:
        self._unless_closing(self._set_run_status)

    def _set_run_status(self) -> None:
        from tui.app.widgets.train_panel import describe_run  # noqa: PLC0415

        state = self.train_panel.state
        self.status_bar.run = describe_run(state) if state is not None and state.active else ""

    def _check_active_runs(self) -> None:
        from tui.core.launch import active_runs  # noqa: PLC0415

        active = active_runs()
        if active:
            self._from_thread(self._offer_attach, active[0])

    def _offer_attach(self, summary: Any) -> None:
        if self.train_panel.state is not None:
            return
        text = f"{summary.run_id} (epoch {summary.epoch}/{summary.epochs}, {summary.progress:.0%})"

        def answered(follow: bool | None) -> None:
            if follow:
                self.execute(f"attach {shlex.quote(str(summary.path))}")

        self.push_screen(AttachScreen(text), answered)

    # -- actions (keys and palette) -------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self._key_help()))

    def _key_help(self) -> list[tuple[str, str]]:
        keys = []
        for binding in self.BINDINGS:
            if isinstance(binding, Binding):
                keys.append((binding.key.replace(",", " / "), binding.tooltip or binding.description))
        keys.append(("← / → (mistakes)", "previous / next misclassified digit in the Evaluate panel"))
        keys.append(("a (sample tree)", "predict every sample image"))
        keys.append(("r (sample tree)", "read the highlighted image as a number of several digits"))
        keys.append(("mouse (canvas)", "drag to draw; the right button (or ctrl) erases"))
        keys.append(("arrows / space (canvas)", "move the cursor / pen down or up: with the pen down, moving draws"))
        keys.append(("e / c / s (canvas)", "eraser on or off / clear / save into the samples folder"))
        keys.append(("n (Draw panel)", "draw a whole number on a wide canvas, or back to one digit"))
        keys.append(("w (canvas), x (mistakes)", "explain: what the model's answer rests on"))
        keys.append(("enter", "run the command; predict the selected image; use the selected model"))
        return keys

    def action_show_panel(self, panel: str, focus: bool = True) -> None:
        self.panel_shown = True
        # Move focus out of the old pane first: a focused widget in a pane re-activates that pane.
        self.prompt.focus()
        self.query_one("#panels", TabbedContent).active = panel
        if focus:
            targets = {
                "train": ("#preset",),
                "evaluate": ("#mistakes",),
                "samples": ("#sample-tree", "#predict-all"),
                "models": ("#models-table",),
                "draw": ("#canvas",),
            }[panel]
            for target in targets:
                widgets = self.query(target)
                if widgets:
                    self.call_after_refresh(widgets.first().focus)
                    break

    def action_toggle_panel(self) -> None:
        self.panel_shown = not self.panel_shown
        if not self.panel_shown:
            self.prompt.focus()

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_start_training(self) -> None:
        self.execute(self.train_panel.command_text())

    def action_stop_training(self) -> None:
        self.execute("stop")

    def action_evaluate(self) -> None:
        self.execute("evaluate")

    def action_toggle_render(self) -> None:
        self.execute("render")

    def action_clear_log(self) -> None:
        self.execute("clear")

    def watch_render_mode(self, mode: str) -> None:
        for view in self.query(FittedView):  # predictions, numbers and explanations alike
            view.mode = mode
        if self.panels_ready:  # before, there are no panels and no mistakes to browse
            from tui.app.widgets.evaluate_panel import MistakeBrowser  # noqa: PLC0415

            for browser in self.query(MistakeBrowser):
                browser.mode = mode
            self.samples_panel.mode = mode
            self.draw_panel.mode = mode

    async def action_quit(self) -> None:
        state = self.train_panel.state
        if state is None or not state.active:
            self.exit(0)
            return

        def answered(choice: str | None) -> None:
            if choice is None:
                return
            if choice == "stop":
                from tui.core.launch import stop_run  # noqa: PLC0415

                try:
                    stop_run(state.path)
                except Exception:  # noqa: BLE001 - quitting must not fail
                    pass
            self.exit(0)

        if not isinstance(self.screen, QuitScreen):
            from tui.app.widgets.train_panel import describe_run  # noqa: PLC0415

            self.push_screen(QuitScreen(describe_run(state)), answered)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: commands and keys", "Show every command and key (F1)", self.action_help)
        for panel in PANELS:
            yield SystemCommand(f"Show the {panel.title()} panel", f"Switch the side panel to {panel.title()}",
                                lambda p=panel: self.action_show_panel(p))
        yield SystemCommand("Toggle the side panel", "Show or hide the side panel (F7)", self.action_toggle_panel)
        yield SystemCommand("Draw a digit", "Draw in the Draw panel and watch the model read it live (F6)",
                            lambda: self.execute("draw digit"))
        yield SystemCommand("Draw a number", "Draw a number of several digits on the Draw panel's wide canvas and "
                            "watch it read live (n)", lambda: self.execute("draw number"))
        yield SystemCommand("Save the drawing", f"Save the drawn digit into {self.samples_dir}/",
                            lambda: self.execute("draw save"))
        yield SystemCommand("Explain the last prediction", "Which parts of the image the answer rests on",
                            lambda: self.execute("explain"))
        yield SystemCommand("Teach it your handwriting", f"Fine-tune the model on your digits in {self.teach_dir}/",
                            lambda: self.execute(f"teach {shlex.quote(str(self.teach_dir))}"))
        yield SystemCommand("Start training", "Train with the Train panel's settings (ctrl+t)", self.action_start_training)
        yield SystemCommand("Stop training", "Stop the followed run; its best checkpoint is kept (ctrl+s)",
                            self.action_stop_training)
        yield SystemCommand("Attach to a run", "Follow the run that is training, or the newest one",
                            lambda: self.execute("attach"))
        yield SystemCommand("List runs", "Training runs, newest first", lambda: self.execute("runs"))
        yield SystemCommand("Compare the marked runs", "Validation curves, settings that differ and results of the "
                            "runs marked with space in the runs table", lambda: self.execute("compare"))
        yield SystemCommand("Evaluate the model", "Test-set accuracy, per-class table, confusion matrix (ctrl+r)",
                            self.action_evaluate)
        yield SystemCommand("Predict all sample images", f"Predict every image in {self.samples_dir}/",
                            lambda: self.execute("samples"))
        yield SystemCommand("List models", "The models in models/ with their accuracy", lambda: self.execute("models"))
        yield SystemCommand("Toggle ASCII / half blocks", "How digits are drawn (ctrl+g)", self.action_toggle_render)
        yield SystemCommand("Clear the conversation", "Remove every turn from the log (ctrl+l)", self.action_clear_log)




def _no_model_text(path: Path) -> str:
    return f"no model at {path}: train one with `train`, or `use PATH`"


def raise_no_model(path: Path) -> None:
    from tui.core.errors import ModelFileError  # noqa: PLC0415

    raise ModelFileError(f"no model at {path}; train one with `train` or choose one with `use PATH` (`models` lists them)")


def _model_text(path: Path, metadata: dict[str, Any], runtime: str = "") -> str:
    acc = metadata.get("test_accuracy") if metadata else None
    detail = f" ({acc:.1%})" if isinstance(acc, (int, float)) else ""
    return f"model: {path.name}{detail}" + (f" · {runtime}" if runtime else "")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def run_app(model: str | None = None, data: str | None = None, low_bandwidth: bool = False) -> int:
    """Run the app in this terminal; returns the exit status for the CLI."""
    from tui.app.stderr import stderr_to_log  # noqa: PLC0415

    with stderr_to_log():
        result = DigitrecApp(model=model, data=data, low_bandwidth=low_bandwidth).run()
    return int(result or 0)

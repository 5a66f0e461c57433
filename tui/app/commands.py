"""The prompt's little language: parse a typed line into a :class:`Command` or a one-line error.

Pure: no Textual, no TensorFlow. The app, its key bindings and its command palette all go through
:func:`parse_command`, so a panel button and a typed command do exactly the same thing.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.config import ConfigError, parse_override, preset_config
from tui.core.errors import DigitrecError
from tui.core.presets import DEFAULT_PRESET, PRESETS

TEACH_DIR = "my_digits"  # where `correct` saves and `teach` reads by default


class CommandError(DigitrecError):
    """A typed line is not a valid command; ``str`` is one line saying why and what to do."""


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    summary: str
    aliases: tuple[str, ...] = ()


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("help", "help [COMMAND]", "list the commands and keys, or explain one command", ("?", "h")),
        CommandSpec(
            "train",
            "train [PRESET] [preset=NAME] [epochs=N] [batch_size=N] [lr=X] [subset=N] [output=PATH.h5] ...",
            "start a training run in the background and follow it in the Train panel; the model is saved to "
            "output (default models/digit_recognizer.h5)",
        ),
        CommandSpec("stop", "stop", "stop the training run being followed (the best checkpoint is kept)"),
        CommandSpec("evaluate", "evaluate [limit=N]", "evaluate the active model on the MNIST test set", ("eval",)),
        CommandSpec("predict", "predict PATH...", "recognise the digit in one or more images (files or folders)"),
        CommandSpec("read", "read PATH", "read a number of several digits (e.g. 2026) written in one image"),
        CommandSpec("draw", "draw [clear|save|number|digit]",
                    "draw a digit in the Draw panel (F6) and watch it read live; `draw number`: a whole number on a "
                    "wide canvas (`draw digit` goes back); `draw save` keeps it in sample_images/"),
        CommandSpec("explain", "explain [PATH|drawing|mistake [N]]",
                    "show which parts of an image the answer rests on (occlusion map); no argument: the last "
                    "prediction; `drawing`: the Draw panel's digit; `mistake`: the Evaluate panel's mistake",
                    ("why",)),
        CommandSpec("correct", "correct DIGIT",
                    f"after a wrong prediction: save that image with its true DIGIT into the teaching folder "
                    f"({TEACH_DIR}/) for `teach`"),
        CommandSpec("teach", "teach [FOLDER] [epochs=N] [output=PATH.h5]",
                    f"fine-tune the active model on your labelled digits (default {TEACH_DIR}/: files named 7_... "
                    "or folders 0/..9/), mixed with MNIST; it is kept only if MNIST accuracy holds"),
        CommandSpec("samples", "samples [FOLDER]", "predict every image in sample_images/ (or FOLDER)"),
        CommandSpec("models", "models", "list the models in models/ with their accuracy"),
        CommandSpec("use", "use PATH", "make PATH the active model"),
        CommandSpec("runs", "runs", "list training runs, newest first"),
        CommandSpec("attach", "attach [RUN]", "follow a training run (default: the newest one)"),
        CommandSpec("compare", "compare [RUN RUN ...]",
                    "compare 2 to 6 runs (ids, prefixes, latest; default: those marked with space in the runs "
                    "table): validation curves, the settings that differ and the results"),
        CommandSpec("delete", "delete RUN", "delete a run's folder (asks first; never a run that is training "
                    "or a model in models/)"),
        CommandSpec("render", "render [ascii|blocks]", "draw digits with ASCII characters or finer half blocks"),
        CommandSpec("clear", "clear", "clear the conversation log", ("cls",)),
        CommandSpec("quit", "quit", "leave the app (asks first if a run is going)", ("exit", "q")),
    )
}

ALIASES: dict[str, str] = {alias: spec.name for spec in COMMANDS.values() for alias in spec.aliases}

RENDER_MODES = ("ascii", "blocks")
EXPLAIN_TARGETS = ("drawing", "mistake")
DRAW_ACTIONS = ("clear", "save", "number", "digit")
MAX_ECHO = 40  # how much of a bad token to quote back in an error message


@dataclass(frozen=True)
class Command:
    """A parsed command: its canonical ``name``, positional ``args`` and typed ``options``."""

    name: str
    args: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The command written back in canonical form (what the log shows)."""
        parts = [self.name, *(_quote(a) for a in self.args)]
        parts += [f"{k}={v}" for k, v in self.options.items()]
        return " ".join(parts)


def _quote(arg: str) -> str:
    return shlex.quote(arg) if arg else "''"


def _show(token: str) -> str:
    """Quote user text for an error message: repr escapes newlines, and long text is cut."""
    if len(token) > MAX_ECHO:
        token = token[: MAX_ECHO - 1] + "…"
    return repr(token)


def resolve_name(word: str) -> str | None:
    word = word.lower()
    if word in COMMANDS:
        return word
    return ALIASES.get(word)


def parse_command(text: str) -> Command | None:
    """Parse one typed line. Returns ``None`` for a blank line; raises :class:`CommandError`."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise CommandError(f"cannot read that line ({exc}); close the quote or remove it") from None
    if not tokens:
        return None
    word, rest = tokens[0], tokens[1:]
    name = resolve_name(word)
    if name is None:
        close = difflib.get_close_matches(word.lower(), [*COMMANDS, *ALIASES], n=1)
        hint = f"did you mean `{resolve_name(close[0])}`? " if close else ""
        raise CommandError(f"unknown command {_show(word)}; {hint}type `help` to list the commands")
    return _PARSERS.get(name, _no_args)(name, rest)


def _no_args(name: str, rest: list[str]) -> Command:
    if rest:
        raise CommandError(f"`{name}` takes no arguments (got {_show(' '.join(rest))}); usage: {COMMANDS[name].usage}")
    return Command(name)


def _at_most_one(name: str, rest: list[str]) -> Command:
    if len(rest) > 1:
        raise CommandError(f"`{name}` takes at most one argument; usage: {COMMANDS[name].usage}")
    return Command(name, tuple(rest))


def _exactly_one(name: str, rest: list[str]) -> Command:
    if len(rest) != 1:
        raise CommandError(f"`{name}` needs exactly one argument; usage: {COMMANDS[name].usage}")
    return Command(name, tuple(rest))


def _help(name: str, rest: list[str]) -> Command:
    cmd = _at_most_one(name, rest)
    if cmd.args and resolve_name(cmd.args[0]) is None:
        raise CommandError(f"no command {_show(cmd.args[0])} to explain; type `help` to list the commands")
    return cmd


def _predict(name: str, rest: list[str]) -> Command:
    if not rest:
        raise CommandError(f"`{name}` needs at least one image path; usage: {COMMANDS[name].usage}")
    return Command(name, tuple(rest))


def _render(name: str, rest: list[str]) -> Command:
    cmd = _at_most_one(name, rest)
    if cmd.args and cmd.args[0].lower() not in RENDER_MODES:
        raise CommandError(f"render mode must be `ascii` or `blocks`, not {_show(cmd.args[0])}")
    return Command(name, tuple(a.lower() for a in cmd.args))


def _draw(name: str, rest: list[str]) -> Command:
    cmd = _at_most_one(name, rest)
    if cmd.args and cmd.args[0].lower() not in DRAW_ACTIONS:
        raise CommandError(f"`draw` takes `clear`, `save`, `number` or `digit`, not {_show(cmd.args[0])}; "
                           f"usage: {COMMANDS[name].usage}")
    return Command(name, tuple(a.lower() for a in cmd.args))


def _split_option(token: str, name: str) -> tuple[str, str]:
    key, sep, value = token.partition("=")
    if not sep or not key:
        raise CommandError(f"expected KEY=VALUE, got {_show(token)}; usage: {COMMANDS[name].usage}")
    if not value:
        raise CommandError(f"{_show(key)} needs a value after '='; e.g. {key}=3")
    return key.lower().replace("-", "_"), value


def _train(name: str, rest: list[str]) -> Command:
    preset: str | None = None
    output: str | None = None
    overrides: dict[str, Any] = {}
    for token in rest:
        if "=" not in token:
            if preset is not None:
                raise CommandError(f"give one preset only (got {_show(preset)} and {_show(token)})")
            preset = token
            continue
        key, value = _split_option(token, name)
        if key == "output":
            output = _model_output(value)
            continue
        if key == "preset":
            if preset is not None:
                raise CommandError(f"give one preset only (got {_show(preset)} and {_show(value)})")
            preset = value
            continue
        try:
            key, typed = parse_override(key, value)
        except ConfigError as exc:
            raise CommandError(_one_line(str(exc))) from None
        overrides[key] = typed
    preset = preset or DEFAULT_PRESET
    if preset not in PRESETS:
        raise CommandError(f"unknown preset {_show(preset)}; choose one of: {', '.join(PRESETS)}")
    try:
        preset_config(preset).with_overrides(**overrides)
    except ConfigError as exc:
        raise CommandError(_one_line(str(exc))) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise CommandError(f"bad training setting: {_one_line(str(exc))}") from None
    return Command(name, (), {"preset": preset, **overrides, **({"output": output} if output else {})})


def _model_output(value: str) -> str:
    """Where a run saves its model: any path, as long as it names an HDF5 file."""
    if Path(value).suffix.lower() != ".h5":
        raise CommandError(f"output must be a .h5 file path, e.g. output=models/mine.h5 (got {_show(value)})")
    return value


def _evaluate(name: str, rest: list[str]) -> Command:
    options: dict[str, Any] = {}
    for token in rest:
        key, value = _split_option(token, name)
        if key != "limit":
            raise CommandError(f"`evaluate` knows only limit=N, not {_show(key)}")
        options["limit"] = _whole(value, "limit", 1)
    return Command(name, (), options)


def _compare(name: str, rest: list[str]) -> Command:
    # No runs: the ones marked in the runs table (the app knows them); otherwise 2 to 6 runs.
    from tui.core.compare import MAX_RUNS as MAX_COMPARED  # noqa: PLC0415 - not at start-up: it imports the run store

    if len(rest) == 1 or len(rest) > MAX_COMPARED:
        raise CommandError(f"`compare` takes 2 to {MAX_COMPARED} runs, not {len(rest)}; usage: {COMMANDS[name].usage}")
    return Command(name, tuple(rest))


def _explain(name: str, rest: list[str]) -> Command:
    """``explain``, ``explain PATH``, ``explain drawing``, ``explain mistake [N]`` (``./drawing`` is a file)."""
    if len(rest) > 2 or (len(rest) == 2 and rest[0].lower() != "mistake"):
        raise CommandError(f"`explain` takes one image path, `drawing` or `mistake [N]`; usage: {COMMANDS[name].usage}")
    if rest and rest[0].lower() in EXPLAIN_TARGETS:
        options: dict[str, Any] = {"target": rest[0].lower()}
        if len(rest) == 2:
            options["number"] = _whole(rest[1], "the mistake number", 1)
        return Command(name, (), options)
    return Command(name, tuple(rest))


def _correct(name: str, rest: list[str]) -> Command:
    if len(rest) != 1 or rest[0] not in tuple("0123456789"):
        got = f" (got {_show(' '.join(rest))})" if rest else ""
        raise CommandError(f"`correct` needs the true digit, 0 to 9{got}; e.g. `correct 4`")
    return Command(name, (rest[0],))


def _teach(name: str, rest: list[str]) -> Command:
    folder: str | None = None
    options: dict[str, Any] = {}
    for token in rest:
        if "=" not in token:
            if folder is not None:
                raise CommandError(f"give one folder only (got {_show(folder)} and {_show(token)})")
            folder = token
            continue
        key, value = _split_option(token, name)
        if key == "epochs":
            options["epochs"] = _whole(value, "epochs", 1)
        elif key == "output":
            options["output"] = _model_output(value)
        else:
            raise CommandError(f"`teach` knows epochs=N and output=PATH.h5, not {_show(key)}")
    return Command(name, (folder or TEACH_DIR,), options)


def _whole(value: str, what: str, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"{what} must be a whole number, not {_show(value)}") from None
    if number < least:
        raise CommandError(f"{what} must be at least {least}")
    return number


def _one_line(message: str) -> str:
    return " ".join(message.split())


_PARSERS = {
    "help": _help,
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "samples": _at_most_one,
    "read": _exactly_one,
    "draw": _draw,
    "use": _exactly_one,
    "attach": _at_most_one,
    "compare": _compare,
    "delete": _exactly_one,
    "render": _render,
    "explain": _explain,
    "correct": _correct,
    "teach": _teach,
}

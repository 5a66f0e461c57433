"""Completions for the prompt: command names, train settings and presets, file paths, run ids.

Pure functions over the text typed so far; :class:`tui.app.widgets.prompt.CommandSuggester`
wraps them for Textual's ``Input(suggester=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tui.app.commands import ALIASES, COMMANDS, DRAW_ACTIONS
from tui.core.config import OVERRIDABLE
from tui.core.presets import PRESETS

PATH_COMMANDS = ("predict", "use", "samples", "read")
TRAIN_KEYS = ("preset", "epochs", "batch_size", "lr", "subset", "output", *(k for k in OVERRIDABLE if k not in ("epochs", "batch_size", "learning_rate", "train_subset")))


def complete(value: str, cwd: Path | None = None, run_ids: Iterable[str] = ()) -> str | None:
    """The whole line completed (it starts with ``value``), or ``None`` when nothing fits."""
    if not value or value != value.lstrip():
        return None
    head, sep, _ = value.partition(" ")
    if not sep:
        return _first(value, [*COMMANDS, *ALIASES])
    name = ALIASES.get(head.lower(), head.lower())
    prefix, _, last = value.rpartition(" ")
    prefix += " "
    if name in PATH_COMMANDS:
        done = complete_path(last, cwd or Path.cwd())
    elif name == "train":
        done = _complete_train(last, cwd or Path.cwd())
    elif name in ("attach", "compare", "delete"):
        done = _first(last, list(run_ids))
    elif name == "help":
        done = _first(last, list(COMMANDS))
    elif name == "render":
        done = _first(last, ["ascii", "blocks"])
    elif name == "draw":
        done = _first(last, list(DRAW_ACTIONS))
    else:
        done = None
    return prefix + done if done else None


def _first(prefix: str, options: list[str]) -> str | None:
    """The first option that extends ``prefix`` (case-insensitive), keeping the typed case."""
    low = prefix.lower()
    for option in options:
        if option.lower().startswith(low) and len(option) > len(prefix):
            return prefix + option[len(prefix):]
    return None


def _complete_train(token: str, cwd: Path) -> str | None:
    key, sep, value = token.partition("=")
    if not sep:
        keys = _first(token, [f"{k}=" for k in TRAIN_KEYS])
        return keys or _first(token, list(PRESETS))
    if key == "preset":
        done = _first(value, list(PRESETS))
        return f"{key}={done}" if done else None
    if key == "output":
        done = complete_path(value, cwd)
        return f"{key}={done}" if done else None
    if key == "lr_schedule":
        done = _first(value, ["constant", "cosine", "onecycle"])
        return f"{key}={done}" if done else None
    return None


def complete_path(token: str, cwd: Path) -> str | None:
    """Complete a file path: the first entry of its folder that extends it; folders end in ``/``."""
    expanded = os.path.expanduser(token)
    folder, _, stem = expanded.rpartition("/")
    base = Path(folder or ".") if folder or not token.startswith("/") else Path("/")
    if not base.is_absolute():
        base = cwd / base
    try:
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(base))
    except OSError:
        return None
    if not stem.startswith("."):
        names = [n for n in names if not n.startswith(".")]
    done = _first(stem, [n for n in names if n.startswith(stem)])
    if done is None:
        return None
    return token[: len(token) - len(stem)] + done

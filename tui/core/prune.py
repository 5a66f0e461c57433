"""Deleting runs: one at a time (the app's ``delete``) or the old and failed ones (``runs --prune``).

A run is never deleted while it trains, nor when its folder holds a model that is in use (the
models folder, the default or active model, e.g. after ``--output runs/<id>/mine.h5``, or a file
that a symbolic link in ``models/`` points to). A folder
is renamed to a hidden name before it is removed, so a deletion cut short never leaves a
half-deleted run in the listings.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.errors import RunError
from tui.core.modelfile import MODELS_DIR, default_model_path

if TYPE_CHECKING:  # the command line's parser reads DEFAULT_KEEP; only deleting needs the runs module
    from tui.core import runs

DEFAULT_KEEP = 5  # what `runs --prune` keeps unless told otherwise
UNFINISHED = ("error", "cancelled", "interrupted", "new")  # what `--failed` selects
# A run folder that has its config but no process yet is being started by the app's launcher.
NEW_RUN_GRACE_S = 120


def why_kept(summary: runs.RunSummary, protected: Iterable[Path] = ()) -> str | None:
    """Why ``summary``'s run must not be deleted, or None when it may be."""
    path = summary.path
    if path.is_symlink() or not path.is_dir():
        return f"{path} is not a run folder"
    if summary.status in ("running", "starting"):
        pid = f" (process {summary.pid})" if summary.pid else ""
        return f"run {summary.run_id} is training{pid}; stop it first (`stop`) or wait for it to finish"
    if summary.status == "new" and _age(path) < NEW_RUN_GRACE_S:
        return f"run {summary.run_id} is starting; stop it first or wait for it to finish"
    try:
        folder = path.resolve()
        for model in [MODELS_DIR, default_model_path(), *protected]:
            target = Path(model).resolve()
            if target == folder or folder in target.parents:
                return f"run {summary.run_id} holds {model}, a model in use; move it out of the run folder first"
        for link in _links_in(MODELS_DIR):  # e.g. `ln -s ../runs/<id>/model.h5 models/mine.h5`
            if folder in link.resolve().parents:
                return f"{link} points to its model"
    except (OSError, RuntimeError) as exc:
        return f"cannot check run {summary.run_id} ({exc})"
    return None


def _links_in(folder: Path) -> list[Path]:
    """The symbolic links directly in ``folder`` (none if it is not there)."""
    try:
        return [entry for entry in folder.iterdir() if entry.is_symlink()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def delete_run(summary: runs.RunSummary, protected: Iterable[Path] = ()) -> int:
    """Delete a run's folder after checking it may go; returns the bytes freed.

    Raises :class:`RunError`, deleting nothing, for a run that is training or holds a model in use.
    """
    from tui.core import runs  # noqa: PLC0415

    fresh = runs.summarise(summary.path)  # read again: a run may have started (or resumed) since the listing
    reason = why_kept(fresh, protected)
    if reason:
        raise RunError(reason)
    size = runs.disk_usage(summary.path)
    hidden = summary.path.with_name(f".deleting-{summary.run_id}-{os.getpid()}")
    try:
        os.rename(summary.path, hidden)  # atomic: the run vanishes from listings at once, whole
    except OSError as exc:
        raise RunError(f"cannot delete run {summary.run_id}: {exc.strerror or exc}") from None
    shutil.rmtree(hidden, ignore_errors=True)
    return size


@dataclass
class PrunePlan:
    """What ``runs --prune`` removes, and what it spares with the reason."""

    remove: list[runs.RunSummary] = field(default_factory=list)
    spared: list[tuple[runs.RunSummary, str]] = field(default_factory=list)


def plan_prune(summaries: list[runs.RunSummary], keep: int, failed_only: bool = False,
               protected: Iterable[Path] = ()) -> PrunePlan:
    """Of ``summaries`` (newest first), the runs to remove: all but the ``keep`` newest, or with
    ``failed_only`` all but the ``keep`` newest of those that did not finish."""
    protected = list(protected)
    chosen = [s for s in summaries if s.status in UNFINISHED] if failed_only else list(summaries)
    plan = PrunePlan()
    for s in chosen[max(0, keep):]:
        reason = why_kept(s, protected)
        if reason:
            plan.spared.append((s, reason))
        else:
            plan.remove.append(s)
    return plan


"""Starting and stopping training runs in their own process, for the app or any other caller.

A launched run lives in its own session (``start_new_session``), so closing the app or losing an
SSH connection does not stop it; the caller follows it through the run's ``events.jsonl``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tui.core import runs
from tui.core.config import preset_config
from tui.core.errors import RunError
from tui.core.modelfile import check_output_writable, default_output

PROCESS_LOG = runs.PROCESS_LOG


def prepare_run(preset: str = "default", overrides: dict[str, Any] | None = None, output: str | None = None,
                data: str | None = None, base: Path | None = None) -> Path:
    """Validate the settings and create the run folder with its ``config.json``."""
    cfg = preset_config(preset).with_overrides(**(overrides or {}))
    output = output or str(default_output(cfg.arch))
    check_output_writable(output)  # refuse now, not after the whole training
    if data is None and os.environ.get("DIGITREC_MNIST"):
        data = os.environ["DIGITREC_MNIST"]
    return runs.create_run(base, cfg.preset, {"train": cfg.to_dict(), "output": output, "data": data})


def start_training(preset: str = "default", overrides: dict[str, Any] | None = None, output: str | None = None,
                   data: str | None = None, base: Path | None = None) -> Path:
    """Start a run in a detached process and return its folder at once."""
    active = active_runs(base)
    if active:
        raise RunError(f"run {active[0].run_id} is already training; stop it first (`stop`) or wait for it to finish")
    return spawn_run(prepare_run(preset, overrides, output, data, base))


def spawn_run(run_dir: Path) -> Path:
    """Train the prepared run ``run_dir`` (its ``config.json`` says how) in a detached process."""
    with open(run_dir / PROCESS_LOG, "ab") as out:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tui", "train", "--run-dir", str(run_dir)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except OSError as exc:
            raise RunError(f"could not start the training process: {exc.strerror or exc}") from None
    (run_dir / runs.PID_FILE).write_text(str(proc.pid), encoding="ascii")
    return run_dir


def stop_run(run_dir: Path) -> bool:
    """Ask a run's own training process to stop (SIGTERM); it records ``cancelled`` within about one batch.

    Raises :class:`RunError`, signalling nothing, when the run has finished or its process is gone,
    including when its pid now belongs to another program.
    """
    summary = runs.summarise(Path(run_dir))
    if summary.status in runs.TERMINAL:
        raise RunError(f"run {summary.run_id} already ended ({summary.status}); there is nothing to stop")
    if summary.pid is None:
        raise RunError(f"run {summary.run_id} has no recorded training process; there is nothing to stop")
    if not summary.process_alive:
        raise RunError(f"run {summary.run_id} is not running: its training process {summary.pid} is gone"
                       + (" (that pid now belongs to another program, which was left alone)" if runs.pid_alive(summary.pid) else ""))
    try:
        os.kill(summary.pid, signal.SIGTERM)
    except ProcessLookupError:
        raise RunError(f"run {summary.run_id} is not running: its training process {summary.pid} is gone") from None
    except OSError as exc:
        raise RunError(f"could not stop run {summary.run_id} (pid {summary.pid}): {exc.strerror or exc}") from None
    return True


def active_runs(base: Path | None = None) -> list[runs.RunSummary]:
    """Runs whose process is alive: training, or still loading TensorFlow."""
    return [r for r in runs.list_runs(base) if r.status in ("running", "starting")]

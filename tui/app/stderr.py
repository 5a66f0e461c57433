"""Keep stray writes to file descriptor 2 (TensorFlow's C++ logs) off the screen while the app runs.

Textual draws on ``sys.__stderr__``, which is fd 2. So the terminal is first duplicated to a new
fd, Textual is pointed at that, and only then fd 2 is sent to a log file; all of it is undone on
exit, so a traceback after the app closes still reaches the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


def default_log_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "digitrec"
    return base / "app.log"


@contextlib.contextmanager
def stderr_to_log(log_path: Path | None = None) -> Iterator[Path | None]:
    """Within the block fd 2 writes to ``log_path`` and ``sys.__stderr__`` still reaches the terminal.

    Does nothing (yields ``None``) when there is no usable fd 2 or the log cannot be opened.
    """
    log_path = log_path or default_log_path()
    try:
        sys.__stderr__.flush()
        terminal_fd = os.dup(2)
    except (AttributeError, OSError, ValueError):
        yield None
        return
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        os.close(terminal_fd)
        yield None
        return
    original = sys.__stderr__
    encoding = getattr(original, "encoding", None) or "utf-8"
    terminal = os.fdopen(terminal_fd, "w", encoding=encoding, errors="replace", closefd=False)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.__stderr__ = terminal
    try:
        yield log_path
    finally:
        try:
            terminal.flush()
        except (OSError, ValueError):
            pass
        sys.__stderr__ = original
        os.dup2(terminal_fd, 2)
        os.close(terminal_fd)

"""How often the live views may redraw: a normal pace, and a lower one for very slow links.

Every byte the app writes goes over the link when it runs over SSH, so redraws are paced by what
a user can take in (a plot twice a second, progress once a second) rather than by how fast events
arrive. ``--low-bandwidth`` slows both further; over SSH the prompt's cursor does not blink.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Pace:
    """Minimum seconds between redraws of each kind of live view."""

    plot_seconds: float  # the training curves
    progress_seconds: float  # the progress bar, its text line and the run in the status line
    cursor_blink: bool  # whether the prompt's cursor blinks (for a few seconds after each key)


NORMAL = Pace(plot_seconds=0.5, progress_seconds=1.0, cursor_blink=True)
LOW_BANDWIDTH = Pace(plot_seconds=3.0, progress_seconds=5.0, cursor_blink=False)
BLINK_SECONDS = 10.0  # the cursor stops blinking this long after the last key (GTK's default timeout)


def over_ssh(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the app runs in an SSH session (sshd sets SSH_CONNECTION)."""
    return bool(environ.get("SSH_CONNECTION"))


def choose_pace(low_bandwidth: bool, environ: Mapping[str, str] = os.environ) -> Pace:
    """The pace for this session: low-bandwidth when asked, no blinking cursor over SSH."""
    if low_bandwidth:
        return LOW_BANDWIDTH
    if over_ssh(environ):
        return replace(NORMAL, cursor_blink=False)
    return NORMAL


class Throttle:
    """Says yes at most once per ``seconds``; the first call always passes."""

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True

    def reset(self) -> None:
        """Let the next call through, whenever it comes."""
        self._last = None

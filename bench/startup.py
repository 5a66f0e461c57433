"""How long the command line and the app take to start, without TensorFlow (the tests only check
that TensorFlow is not imported; they never time anything).

    .venv/bin/python bench/startup.py [--runs 5]

Each measurement is a fresh interpreter: ``digitrec --help`` and importing the app module. Prints
the median and the slowest of the runs, in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "digitrec --help": [sys.executable, "-m", "tui", "--help"],
    "import tui.app.app": [sys.executable, "-c", "import tui.app.app"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for name, cmd in COMMANDS.items():
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        print(f"{name:<20} median {statistics.median(times):.2f} s   slowest {max(times):.2f} s   ({args.runs} runs)")


if __name__ == "__main__":
    main()

"""The app under a big folder: time to the first answer, peak memory and time to quit, 300 vs 3,000 images.

    DIGITREC_MNIST=/path/to/mnist.npz python bench/app_big_folder.py [--sizes 300 3000] [--root CHECKOUT]

Writes MNIST test digits as small PNGs (56x56, dark on light, by Pillow) into a temporary folder per
size, then, for each size in a fresh process, runs the real app headless (``App.run(headless=True)``
with an auto-pilot, so quitting goes through the same shutdown as in a terminal, waiting for worker
threads) with the shipped model, and:

1. waits for the model to load, types ``predict FOLDER`` and times the first answer (the first
   file's row in the log) and the last (the folder's summary); peak RSS is ``ru_maxrss`` then;
2. types ``predict FOLDER`` again, waits for its first answer (at most 2 s), presses ctrl+q and
   times until ``App.run`` returns.

``--root`` runs another checkout's app on the same images (e.g. the commit before a change) as the
reference in the same run. Targets: first answer within 1 s; peak RSS for 3,000 within 1.2x of 300;
ctrl+q exits within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_images(folder: Path, n: int) -> None:
    """``n`` MNIST test digits as 56x56 PNGs, dark ink on light paper, named ``NNNNN_DIGIT.png``."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    with np.load(os.environ["DIGITREC_MNIST"]) as data:
        x, y = data["x_test"], data["y_test"]
    folder.mkdir()
    for i in range(n):
        Image.fromarray(255 - x[i % len(x)]).resize((56, 56)).save(folder / f"{i:05d}_{int(y[i % len(y)])}.png")


async def _until(condition, timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def measure(folder: Path, root: Path) -> dict:
    """One size, in this (fresh) process: the app's own code from ``root``."""
    sys.path.insert(0, str(root))
    from tui.app.app import DigitrecApp  # noqa: PLC0415

    app = DigitrecApp(model=root / "models" / "digit_recognizer.h5", offer_attach=False)
    result: dict = {}
    first_file = min(p.name for p in folder.iterdir())

    def turn_text() -> str:
        """The newest turn's last line of text: cheap to poll, unlike rendering the whole turn."""
        from textual.widgets import Static  # noqa: PLC0415

        from tui.app.widgets.conversation import plain_text  # noqa: PLC0415

        turn = app.conversation.last_turn
        statics = list(turn.query(Static)) if turn is not None else []
        return plain_text(statics[-1].content) if statics else ""

    def first_answer() -> bool:
        """The first file's row is in the turn (the app's rows, or its table once the whole folder is done)."""
        from textual.widgets import Static  # noqa: PLC0415

        from tui.app.widgets.conversation import plain_text  # noqa: PLC0415

        turn = app.conversation.last_turn
        return turn is not None and any(first_file in plain_text(s.content) for s in list(turn.query(Static))[1:3])

    async def predict(pilot) -> float:
        app.prompt.value = f"predict {folder}"
        started = time.monotonic()
        await pilot.press("enter")
        return started

    async def drive(pilot) -> None:
        # Ready as a user sees it: the model loaded and the warm-up worker done.
        await _until(lambda: app._predictor is not None and not any(w.group == "model" and w.is_running
                                                                     for w in app.workers), 120)
        started = await predict(pilot)
        await _until(first_answer, 300)
        result["first_answer_s"] = round(time.monotonic() - started, 2)
        await _until(lambda: "images recognised" in turn_text(), 600, 0.1)
        result["all_answers_s"] = round(time.monotonic() - started, 2)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        await pilot.press("ctrl+l")
        await pilot.pause()
        await predict(pilot)
        await _until(first_answer, 2)
        result["quit_pressed"] = time.monotonic()
        await pilot.press("ctrl+q")

    app.run(headless=True, size=(120, 40), auto_pilot=drive)
    result["quit_s"] = round(time.monotonic() - result.pop("quit_pressed"), 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--root", type=Path, action="append", default=[],
                        help="also run this checkout's app on the same images, as a reference (repeatable)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one run in a fresh process
    parser.add_argument("--code", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.code.resolve())))
        return 0
    if not os.environ.get("DIGITREC_MNIST"):
        parser.error("set DIGITREC_MNIST to an mnist.npz: the images are MNIST test digits")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitrec-app-folder-") as tmp:
        for n in args.sizes:
            make_images(Path(tmp) / str(n), n)
        for code in [ROOT, *args.root]:
            for n in args.sizes:
                cmd = [sys.executable, __file__, "--measure", str(Path(tmp) / str(n)), "--code", str(code)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, cwd=tmp).stdout
                row = {"code": str(code), "images": n, **json.loads(out.strip().splitlines()[-1])}
                rows.append(row)
                print(f"{code.name:>12} {n:>6} images: first answer {row['first_answer_s']:5.2f} s, all "
                      f"{row['all_answers_s']:6.2f} s, peak RSS {row['peak_rss_mb']:6.1f} MB, ctrl+q -> exit "
                      f"{row['quit_s']:5.2f} s", flush=True)
    for code in [ROOT, *args.root]:
        mine = [r for r in rows if r["code"] == str(code)]
        if len(mine) >= 2:
            small, large = mine[0], mine[-1]
            print(f"{code.name}: {large['images']} vs {small['images']} images: peak RSS x"
                  f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}, first answer x"
                  f"{large['first_answer_s'] / max(small['first_answer_s'], 0.01):.2f}, quit x"
                  f"{large['quit_s'] / max(small['quit_s'], 0.01):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cold-process timings of prediction on LiteRT against the TensorFlow path, in the same run.

    DIGITREC_MNIST=/path/to/mnist.npz python bench/runtime.py [--runs 5] [--images 1000] [--json OUT]

Every measurement is a fresh process of the real command line (or the real app, headless), run once
with ``DIGITREC_RUNTIME=litert`` and once with ``DIGITREC_RUNTIME=tensorflow``, the two interleaved so
that load from other work on the machine falls on both alike. For each it reports the median wall
time, the median CPU time (user + system, steadier than wall time on a shared machine) and the peak
resident memory (``ru_maxrss`` of that process). Targets (issue 11): predict one image <= 0.4 s and
<= 150 MB; a folder of 1,000 images <= 3 s; evaluate (10,000 test images) <= 2 s; the app's model
ready <= 1 s after launch and its first screen <= 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from predict_memory import make_images  # noqa: E402 - the same varied sample images as that benchmark

RUNTIMES = ("litert", "tensorflow")

# The app, headless at 80x24: prints when its first screen has been drawn and when the model is ready.
# Textual calls a handler in every class of the app's MRO, the probe's first, so these handlers only
# take the time; DigitrecApp's own on_mount, on_ready and on_model_status run after them as usual.
# The first screen is Textual's Ready event: "the DOM is ready and the first frame has been displayed".
APP_PROBE = """
import sys, time
from pathlib import Path
from tui.cli import one_blas_thread
one_blas_thread()  # as `digitrec app` does before the app's modules load
from tui.app.app import DigitrecApp
from tui.app.messages import ModelStatus

class Probe(DigitrecApp):
    CSS_PATH = str(Path(sys.modules[DigitrecApp.__module__].__file__).with_name("app.tcss"))  # not beside this probe
    marks = {}
    def on_ready(self):
        self.marks.setdefault("first_screen", time.time())
        self.marks["first_screen_text"] = self.conversation.last_turn.text[:40]
    def on_model_status(self, message: ModelStatus):
        if message.ready or "not loaded" in message.text or "could not" in message.text:
            self.marks["model_ready" if message.ready else "model_failed"] = time.time()
            self.marks["status"] = message.text
            self.call_later(self.exit)

app = Probe(offer_attach=False)
app.run(headless=True, size=(80, 24))
print(repr(app.marks))
"""


def run_once(cmd: list[str], runtime: str) -> dict:
    """Run ``cmd`` in a fresh process; wall seconds, CPU seconds, peak RSS and its stdout."""
    env = {**os.environ, "DIGITREC_RUNTIME": runtime, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "rc": proc.returncode, "out": out.decode(errors="replace"), "started": started}


def app_once(runtime: str) -> dict:
    result = run_once([sys.executable, "-c", APP_PROBE], runtime)
    marks = eval(result["out"].strip().splitlines()[-1])  # noqa: S307 - our own probe's repr of a dict
    result["first_screen_s"] = marks["first_screen"] - result["started"]
    result["model_ready_s"] = marks.get("model_ready", float("nan")) - result["started"]
    result["status"] = marks.get("status")
    result["first_screen_text"] = marks.get("first_screen_text")
    return result


def summarise(rows: list[dict], keys=("wall_s", "cpu_s")) -> dict:
    out = {key: round(statistics.median(r[key] for r in rows), 3) for key in keys}
    out["rss_mb"] = round(max(r["rss_mb"] for r in rows), 1)
    out["runs"] = len(rows)
    out["rc"] = sorted({r["rc"] for r in rows})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each measurement per runtime")
    parser.add_argument("--images", type=int, default=1000, help="images in the folder measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not os.environ.get("DIGITREC_MNIST"):
        parser.error("set DIGITREC_MNIST to an offline mnist.npz (evaluate needs it)")
    cli = [sys.executable, "-m", "tui"]
    one = str(ROOT / "sample_images" / "7_mnist_01.png")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="digitrec-bench-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        make_images(folder, args.images)
        tasks = {
            "predict one image": lambda rt: run_once([*cli, "predict", one], rt),
            f"predict a folder of {args.images}": lambda rt: run_once([*cli, "predict", "--json", str(folder)], rt),
            "evaluate (10,000 images)": lambda rt: run_once([*cli, "evaluate", "--json", "--worst", "0"], rt),
            "app at 80x24": app_once,
        }
        for name, task in tasks.items():
            rows = {rt: [] for rt in RUNTIMES}
            for _ in range(args.runs):
                for rt in RUNTIMES:  # interleaved: both runtimes see the same load
                    rows[rt].append(task(rt))
            keys = ("wall_s", "cpu_s", "first_screen_s", "model_ready_s") if name.startswith("app") else ("wall_s", "cpu_s")
            results[name] = {rt: summarise(rows[rt], keys) for rt in RUNTIMES}
            if name.startswith("app"):
                for rt in RUNTIMES:
                    results[name][rt]["status"] = rows[rt][-1]["status"]
            for rt in RUNTIMES:
                s = results[name][rt]
                extra = (f", first screen {s['first_screen_s']:.2f} s, model ready {s['model_ready_s']:.2f} s"
                         if "model_ready_s" in s else "")
                print(f"{name:28} {rt:10} wall {s['wall_s']:6.2f} s  cpu {s['cpu_s']:6.2f} s  peak RSS {s['rss_mb']:6.1f} MB"
                      f"{extra}  (median of {s['runs']}, rc {s['rc']})", flush=True)
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    results["_machine"] = {"load_average": load, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    print(f"load average at the end: {' '.join(load)} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Bytes per second the app writes to its terminal: idle, answering `predict`, and following a
real training run with the Train panel open and hidden.

    DIGITREC_MNIST=/path/to/mnist.npz .venv/bin/python bench/terminal_bytes.py          # ~4 min
    .venv/bin/python bench/terminal_bytes.py --sizes 120x40 --window 10 --app-args=--low-bandwidth

The real app (``python -m tui app``) runs in a real pseudo-terminal of the given size; every byte it
writes to the terminal is counted, exactly what an SSH link would carry (before compression). The
script types into the terminal as a user would: it waits for the model to load, measures the idle
prompt, asks `predict`, starts `train fast` (full MNIST, so it trains long enough), measures with the
Train panel open, hides it with F7, measures again, then stops the run and quits. Phases are timed
from the run's own ``events.jsonl``: measuring starts at its first batch event, after TensorFlow has
loaded in the training process. Runs and the trained model go to a temporary folder.

By default the app's environment looks like an SSH session (``SSH_CONNECTION`` set, ``TERM``
xterm-256color, no ``COLORTERM``, so 256 colours as over most SSH links); ``--local`` drops
``SSH_CONNECTION``. Results are printed as a table and saved as JSON (``--json PATH``).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = "sample_images/7_mnist_01.png"
F7, CTRL_Q = "\x1b[18~", "\x11"
CSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
MODEL_LOADED = re.compile(rb"model: \S+\.h5 \(\d")


class Terminal:
    """The app in a pseudo-terminal; a thread drains its output and keeps (time, bytes) chunks."""

    def __init__(self, cols: int, rows: int, env: dict[str, str], app_args: list[str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "app", *app_args], cwd=cwd, env=env,
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True,
        )
        os.close(slave)
        self.chunks: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the app closed the terminal
                return
            if not data:
                return
            with self._lock:
                self.chunks.append((time.monotonic(), data))

    def type(self, text: str, pause: float = 0.03) -> None:
        for ch in text:
            os.write(self.master, ch.encode())
            time.sleep(pause)

    def bytes_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(len(data) for t, data in self.chunks if start <= t < end)

    def per_second(self, start: float, end: float) -> list[int]:
        """Bytes written in each second from ``start``: where in a phase the bytes went."""
        seconds = [0] * max(1, int(end - start + 0.999))
        with self._lock:
            for t, data in self.chunks:
                if start <= t < end:
                    seconds[int(t - start)] += len(data)
        return seconds

    def text_since(self, start: float) -> bytes:
        with self._lock:
            raw = b"".join(data for t, data in self.chunks if t >= start)
        return CSI.sub(b"", raw)

    def wait_for(self, pattern: re.Pattern[bytes], since: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern.search(self.text_since(since)):
                return True
            time.sleep(0.25)
        return False

    def wait_quiet(self, since: float, timeout: float, window: float = 1.5, at_most: int = 6000) -> bool:
        """Wait until no more than ``at_most`` bytes came in the last ``window`` seconds (a full redraw
        is 20-50 KB; a steady trickle such as a blinking cursor is a few KB)."""
        deadline = since + timeout
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = time.monotonic()
            if now - since >= window + 0.5 and self.bytes_between(now - window, now + 1) <= at_most:
                return True
        return False

    def cpu_seconds(self) -> float:
        """CPU time the app's process has used so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def phase(term: Terminal, start: float, end: float) -> dict[str, float]:
    total = term.bytes_between(start, end)
    return {"bytes": total, "seconds": round(end - start, 2), "kb_per_s": round(total / (end - start) / 1000, 3),
            "per_second": term.per_second(start, end)}


def measure(term: Terminal, seconds: float, runs_dir: Path | None = None) -> dict[str, float]:
    """Bytes over the next ``seconds``, with the app's CPU time and, given a run, the steps it trained."""
    start, cpu, step = time.monotonic(), term.cpu_seconds(), global_step(runs_dir)
    time.sleep(seconds)
    result = phase(term, start, time.monotonic())
    result["app_cpu_s"] = round(term.cpu_seconds() - cpu, 2)
    if runs_dir is not None:
        result["steps_trained"] = global_step(runs_dir) - step  # redraws follow new points: compare like with like
    return result


def events(runs_dir: Path) -> list[dict]:
    found = []
    for path in runs_dir.glob("*/events.jsonl"):
        for line in path.read_text().splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                pass
    return found


def global_step(runs_dir: Path | None) -> int:
    batches = [e for e in events(runs_dir) if e.get("type") == "batch"] if runs_dir is not None else []
    if not batches:
        return 0
    last = batches[-1]
    return (last["epoch"] - 1) * last["steps"] + last["step"]


def wait_event(runs_dir: Path, kinds: set[str], timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in events(runs_dir):
            if event.get("type") in kinds:
                return event
        time.sleep(0.25)
    return None


def session(cols: int, rows: int, args: argparse.Namespace) -> dict:
    """One app session at one size; returns each phase's bytes and bytes per second."""
    tmp = Path(tempfile.mkdtemp(prefix="digitrec-bytes-"))
    runs_dir = tmp / "runs"
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY",
                                                            "TMUX", "NO_COLOR", "TEXTUAL")}
    env.update(TERM="xterm-256color", LANG="C.UTF-8", DIGITREC_RUNS=str(runs_dir), TF_CPP_MIN_LOG_LEVEL="3",
               COLUMNS=str(cols), LINES=str(rows))
    if not args.local:
        env["SSH_CONNECTION"] = "192.0.2.10 50000 192.0.2.20 22"
    result: dict = {"size": f"{cols}x{rows}", "ssh": not args.local, "app_args": args.app_args}
    term = Terminal(cols, rows, env, args.app_args, ROOT)
    t0 = time.monotonic()
    try:
        if not term.wait_for(MODEL_LOADED, t0, timeout=180):
            raise SystemExit("the model did not load within 180 s; see the app's screen")
        result["startup_s"] = round(time.monotonic() - t0, 1)
        result["startup_bytes"] = term.bytes_between(t0, time.monotonic())
        time.sleep(2)  # let the last start-up frames go out
        result["idle"] = measure(term, args.idle)

        term.type(f"predict {SAMPLE}")
        time.sleep(1)
        start = time.monotonic()
        term.type("\r")
        answer = measure(term, args.answer)
        answer["since_enter_s"] = round(time.monotonic() - start, 2)
        result["predict"] = answer
        time.sleep(1)

        term.type(f"train fast epochs=20 output={tmp / 'bench.h5'}")
        time.sleep(1)
        start = time.monotonic()  # from enter: typing costs the same in every phase and is not measured
        term.type("\r")
        first = wait_event(runs_dir, {"batch"}, timeout=240)
        if first is None:
            raise SystemExit("the training run never reported a batch; see the run's train.log in " + str(runs_dir))
        result["train_starting"] = phase(term, start, time.monotonic())
        time.sleep(2)  # the panel has caught up with the first points
        result["train_panel"] = measure(term, args.window, runs_dir)
        hidden_at = time.monotonic()
        term.type(F7)
        # Hiding the panel redraws the screen (the log widens, answers in it re-flow), sometimes in two
        # goes a second or two apart on a loaded machine: wait for that to be over before measuring.
        term.wait_quiet(hidden_at, timeout=20)
        result["train_hidden"] = measure(term, args.window, runs_dir)
        term.type(F7)
        time.sleep(1)
        done = [e for e in events(runs_dir) if e.get("type") in ("done", "cancelled", "error")]
        batches = [e for e in events(runs_dir) if e.get("type") == "batch"]
        result["run"] = {"batch_events": len(batches), "last_step": batches[-1].get("step") if batches else None,
                         "ended_early": bool(done)}
        term.type("stop\r")
        wait_event(runs_dir, {"cancelled", "done", "error"}, timeout=60)
        time.sleep(1)
        term.type(CTRL_Q)
    finally:
        term.close()
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            (args.dump / f"{cols}x{rows}.bin").write_bytes(b"".join(data for _, data in term.chunks))
    return result


def row(name: str, phase: dict) -> str:
    extra = f", {phase['steps_trained']} steps trained" if "steps_trained" in phase else ""
    cpu = f"; app CPU {phase['app_cpu_s']:.1f} s" if "app_cpu_s" in phase else ""
    return (f"  {name:<22} {phase['kb_per_s']:>8.2f} KB/s  {phase['bytes']:>9,} bytes in {phase['seconds']:.1f} s"
            f"{extra}{cpu}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="80x24,120x40", help="comma-separated COLSxROWS (default 80x24,120x40)")
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idle prompt to measure")
    parser.add_argument("--answer", type=float, default=4.0, help="seconds after enter counted for `predict`")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured in each training phase")
    parser.add_argument("--local", action="store_true", help="no SSH_CONNECTION in the app's environment")
    parser.add_argument("--app-args", default="", help="extra arguments for `digitrec app`, e.g. --low-bandwidth")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--dump", type=Path, help="save everything each session wrote to the terminal in this folder")
    args = parser.parse_args()
    if not os.environ.get("DIGITREC_MNIST"):
        raise SystemExit("set DIGITREC_MNIST to an MNIST .npz file: the benchmark trains on it")
    args.app_args = args.app_args.split()
    results = {"python": platform.python_version(), "cpus": os.cpu_count(), "load_before": os.getloadavg(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "sessions": []}
    for size in args.sizes.split(","):
        cols, rows = (int(n) for n in size.lower().split("x"))
        r = session(cols, rows, args)
        results["sessions"].append(r)
        print(f"{r['size']} ({'SSH' if r['ssh'] else 'local'}{' ' + ' '.join(r['app_args']) if r['app_args'] else ''}); "
              f"start-up {r['startup_bytes']:,} bytes in {r['startup_s']} s; "
              f"run: {r['run']['batch_events']} batch events{' (ENDED EARLY)' if r['run']['ended_early'] else ''}")
        print(row("idle, prompt focused", r["idle"]))
        print(row("predict answer", r["predict"]))
        print(row("training starting", r["train_starting"]))
        print(row("training, panel open", r["train_panel"]))
        print(row("training, panel hidden", r["train_hidden"]))
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f} "
          f"({results['cpus']} CPUs)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

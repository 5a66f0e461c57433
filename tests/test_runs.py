"""Run records: summarising events, tailing a file being written, finding runs."""

import json
import os

import pytest

from tui.core import runs
from tui.core.errors import RunError


def _run(tmp_path, name, events, pid=None):
    run_dir = tmp_path / name
    run_dir.mkdir(parents=True)
    (run_dir / runs.CONFIG).write_text(json.dumps({"train": {"preset": "fast"}}))
    if pid is not None:
        (run_dir / runs.PID_FILE).write_text(str(pid))
    with open(run_dir / runs.EVENTS, "w") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
    return run_dir


START = {"type": "start", "time": 1.0, "pid": os.getpid(), "epochs": 3, "steps_per_epoch": 10}


def test_summary_of_a_live_run(tmp_path):
    run_dir = _run(tmp_path, "a", [
        START,
        {"type": "batch", "time": 2, "epoch": 1, "step": 5, "steps": 10, "eta_s": 9.5, "images_per_sec": 800},
        {"type": "epoch", "time": 3, "epoch": 1, "epochs": 3, "val_accuracy": 0.9, "val_loss": 0.3},
        {"type": "epoch", "time": 4, "epoch": 2, "epochs": 3, "val_accuracy": 0.85, "val_loss": 0.4},
    ])
    s = runs.summarise(run_dir)
    assert s.status == "running" and s.active and s.preset == "fast"
    assert (s.epoch, s.step, s.best_val_accuracy, s.last_val_accuracy) == (2, 10, 0.9, 0.85)
    assert s.eta_s == 9.5 and s.images_per_sec == 800
    assert s.progress == pytest.approx(2 / 3)


def test_a_run_whose_process_is_gone_is_interrupted(tmp_path):
    dead = {**START, "pid": 2**22 + 12345}  # above the default pid_max: no such process
    s = runs.summarise(_run(tmp_path, "b", [dead]))
    assert s.status == "interrupted" and "without a final record" in s.reason and not s.active


def test_terminal_events(tmp_path):
    s = runs.summarise(_run(tmp_path, "c", [START, {"type": "cancelled", "time": 5, "reason": "stopped by SIGTERM",
                                                     "checkpoint": "x/best.h5"}]))
    assert (s.status, s.reason, s.model) == ("cancelled", "stopped by SIGTERM", "x/best.h5")
    s = runs.summarise(_run(tmp_path, "d", [START, {"type": "done", "time": 9, "model": "m.h5", "seconds": 8,
                                                     "test_accuracy": 0.99, "best_val_accuracy": 0.98}]))
    assert (s.status, s.test_accuracy, s.seconds, s.progress) == ("done", 0.99, 8, 1.0)


def test_starting_run_has_only_a_pid_file(tmp_path):
    assert runs.summarise(_run(tmp_path, "e", [], pid=os.getpid())).status == "starting"


def test_tail_skips_half_written_lines_until_complete(tmp_path):
    run_dir = _run(tmp_path, "f", [START])
    tail = runs.EventTail(run_dir)
    assert [e["type"] for e in tail.poll()] == ["start"]
    with open(run_dir / runs.EVENTS, "a") as fh:
        fh.write('{"type": "batch", "ep')
        fh.flush()
        assert tail.poll() == []
        fh.write('och": 1, "step": 2}\nnot json\n')
    assert [e["step"] for e in tail.poll()] == [2]


def test_follow_reports_a_lost_run(tmp_path):
    dead = {**START, "pid": 2**22 + 12345}
    events = list(runs.follow(_run(tmp_path, "g", [dead]), interval=0.01))
    assert [e["type"] for e in events] == ["start", "lost"]


def test_find_run(tmp_path):
    _run(tmp_path, "20260101-000000-fast-aaaa", [START])
    _run(tmp_path, "20260102-000000-fast-bbbb", [{**START, "time": 2.0}])
    assert runs.find_run("20260101", tmp_path).name.endswith("aaaa")
    assert runs.find_run("latest", tmp_path).name.endswith("bbbb")
    with pytest.raises(RunError, match="matches 2 runs"):
        runs.find_run("2026", tmp_path)
    with pytest.raises(RunError, match="no run 'zzz'"):
        runs.find_run("zzz", tmp_path)

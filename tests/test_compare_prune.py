"""Comparing runs and deleting them, on run folders written the way training writes them; the
CLI's `runs --compare/--prune` on real trained runs is in test_cli.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from test_app import ScriptedRun, workdir  # noqa: F401 - fixture
from tui import cli
from tui.core import compare, prune, runs
from tui.core.errors import RunError


def finished_run(base, name, *, lr=0.001, val=(0.9, 0.95), test=0.94, started=1.0, speed=1000.0):
    run = ScriptedRun(base, name=name, pid=2**22 + 7)  # above the default pid_max: no such process
    (run.path / runs.CONFIG).write_text(json.dumps({"train": {"preset": "fast", "epochs": len(val), "learning_rate": lr,
                                                              "batch_size": 128, "extra": {"width": 32}}}))
    run.emit("start", run_id=name, pid=run.pid, epochs=len(val), steps_per_epoch=10, initial_epoch=0)
    for epoch, acc in enumerate(val, 1):
        run.emit("batch", epoch=epoch, step=10, steps=10, loss=0.5, accuracy=0.8, images_per_sec=speed, eta_s=1.0)
        run.emit("epoch", epoch=epoch, epochs=len(val), val_accuracy=acc, val_loss=1 - acc, seconds=30.0)
    run.emit("done", model="models/x.h5", best_val_accuracy=max(val), test_accuracy=test, seconds=70.0)
    # Listings sort by the start record's time: make the order explicit.
    lines = (run.path / runs.EVENTS).read_text().splitlines()
    first = json.loads(lines[0])
    first["time"] = started
    (run.path / runs.EVENTS).write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    return run.path


def test_compare_reads_curves_settings_that_differ_and_results(tmp_path):
    a = finished_run(tmp_path, "20260101-000000-fast-aaaa", lr=0.001, val=(0.9, 0.95), started=1, speed=1000)
    b = finished_run(tmp_path, "20260102-000000-fast-bbbb", lr=0.002, val=(0.8, 0.85, 0.97), test=None, started=2,
                     speed=2000)
    c = compare.compare_runs(compare.resolve_runs(["20260101", "latest"], tmp_path))
    assert [r.run_id for r in c.runs] == [a.name, b.name]
    assert c.differing == ["epochs", "learning_rate"]  # batch size and extra.width are the same
    first, second = c.runs
    assert (first.epochs, first.val_accuracy, first.val_loss) == ([1, 2], [0.9, 0.95], [pytest.approx(0.1), pytest.approx(0.05)])
    assert second.val_accuracy == [0.8, 0.85, 0.97]
    assert (first.train_seconds, first.images_per_sec, second.images_per_sec) == (60.0, 1000.0, 2000.0)
    text = compare.format_comparison(c)
    assert all(len(line) <= 80 for line in text.splitlines())
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert rows["lr"] == ["0.001", "0.002"] and rows["best"] == ["val", "95.00%", "97.00%"]
    assert rows["test"] == ["acc", "94.00%", "–"] and rows["images/s"] == ["1,000", "2,000"]
    data = json.loads(json.dumps(c.to_json()))
    assert data["differing_settings"] == ["epochs", "learning_rate"]
    assert [h["val_accuracy"] for h in data["runs"][1]["history"]] == [0.8, 0.85, 0.97]


def test_the_last_two_runs_are_latest_1_and_latest(tmp_path):
    # What "compare the last two runs" in plain words becomes: `compare latest~1 latest`.
    a = finished_run(tmp_path, "20260101-000000-fast-aaaa", started=1)
    b = finished_run(tmp_path, "20260102-000000-fast-bbbb", started=2)
    c = compare.compare_runs(compare.resolve_runs(["latest~1", "latest"], tmp_path))
    assert [r.run_id for r in c.runs] == [a.name, b.name]
    with pytest.raises(RunError, match="only 2 runs"):
        runs.find_run("latest~2", tmp_path)


def test_compare_wants_two_to_six_different_runs(tmp_path):
    finished_run(tmp_path, "20260101-000000-fast-aaaa")
    with pytest.raises(RunError, match="2 to 6 runs, not 1"):
        compare.resolve_runs(["latest"], tmp_path)
    with pytest.raises(RunError, match="twice"):
        compare.resolve_runs(["latest", "20260101-000000-fast-aaaa"], tmp_path)
    with pytest.raises(RunError, match="2 to 6 runs, not 7"):
        compare.resolve_runs(["a"] * 7, tmp_path)


def test_six_runs_fit_80_columns(tmp_path):
    for i in range(6):
        finished_run(tmp_path, f"2026010{i}-000000-fast-{i:04d}", lr=0.001 * (i + 1), started=i)
    c = compare.compare_runs([p.path for p in runs.list_runs(tmp_path)])
    assert len(c.runs) == 6 and all(len(line) <= 80 for line in compare.format_comparison(c).splitlines())


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def test_prune_keeps_the_newest(workdir, capsys):
    base = workdir / "runs"
    old = [finished_run(base, f"2026010{i}-000000-fast-{i:04d}", started=i) for i in range(1, 4)]
    assert cli.main(["runs", "--prune", "--keep", "2", "--dry-run"]) == 0
    assert f"would delete {old[0].name}" in capsys.readouterr().out and all(p.exists() for p in old)
    assert cli.main(["runs", "--prune", "--keep", "2"]) == 0
    assert "deleted 1 run, freed" in capsys.readouterr().out
    assert [p.exists() for p in old] == [False, True, True]


def test_prune_never_deletes_a_training_run_or_a_model_in_use(workdir, monkeypatch, live_process, capsys):
    base = workdir / "runs"
    old = [finished_run(base, f"2026010{i}-000000-fast-{i:04d}", started=i) for i in range(1, 4)]
    training = ScriptedRun(base, name="20260100-000000-fast-live", pid=live_process.pid)
    training.start()  # its process is alive: it is training
    holder = old[0]
    (workdir / "models").mkdir()
    (workdir / "models" / "mine.h5").write_bytes(b"model")
    monkeypatch.setenv("DIGITREC_MODEL", str(holder / "mine.h5"))  # the default model lives in a run
    (holder / "mine.h5").write_bytes(b"model")
    assert cli.main(["runs", "--prune", "--keep", "0"]) == 0
    out = capsys.readouterr().out
    assert f"kept {training.path.name}: run {training.path.name} is training (process {live_process.pid})" in out
    assert f"kept {holder.name}: run {holder.name} holds {holder / 'mine.h5'}, a model in use" in out
    assert not old[1].exists() and not old[2].exists() and "deleted 2 runs" in out
    assert training.path.exists() and holder.exists() and (holder / "mine.h5").exists()
    assert (workdir / "models" / "mine.h5").read_bytes() == b"model"
    assert not list(base.glob(".deleting-*"))


def test_prune_failed_deletes_only_runs_that_did_not_finish(workdir, capsys):
    base = workdir / "runs"
    done = finished_run(base, "20260101-000000-fast-done", started=1)
    broken = ScriptedRun(base, name="20260102-000000-fast-bad", pid=2**22 + 9)
    broken.start()
    broken.emit("error", reason="out of memory")
    assert cli.main(["runs", "--prune", "--failed"]) == 0
    assert not broken.path.exists() and done.exists()
    assert cli.main(["runs", "--prune", "--failed"]) == 0
    assert "nothing to delete" in capsys.readouterr().out


def test_prune_options_only_go_with_prune(workdir, capsys):
    assert cli.main(["runs", "--keep", "2"]) == cli.EXIT_USAGE
    assert "--keep only goes with --prune" in capsys.readouterr().err


def test_delete_refuses_a_training_run_and_removes_a_finished_one_whole(workdir, live_process):
    base = workdir / "runs"
    training = ScriptedRun(base, name="20260100-000000-fast-live", pid=live_process.pid)
    training.start()
    with pytest.raises(RunError, match="is training"):
        prune.delete_run(runs.summarise(training.path))
    assert training.path.exists()
    resumed = finished_run(base, "20260101-000000-fast-more")
    listed = runs.summarise(resumed)  # listed while it was cancelled or done...
    with open(resumed / runs.EVENTS, "a") as fh:  # ...then resumed by `train --resume` in another terminal
        fh.write(json.dumps({"type": "start", "time": time.time(), "pid": live_process.pid, "epochs": 3}) + "\n")
    with pytest.raises(RunError, match="is training"):
        prune.delete_run(listed)
    assert resumed.exists()
    done = finished_run(base, "20260101-000000-fast-done")
    (done / "best.h5").write_bytes(b"x" * 1000)
    summary = next(s for s in runs.list_runs(base) if s.path == done)
    assert summary.size_bytes >= 1000
    assert prune.delete_run(summary) == summary.size_bytes
    assert not done.exists() and done.name not in [s.run_id for s in runs.list_runs(base)]


def test_a_run_folder_just_created_by_the_launcher_is_not_deleted(workdir):
    base = workdir / "runs"
    fresh = runs.create_run(base, "fast", {"train": {"preset": "fast"}})  # no pid file yet: about to start
    summary = runs.summarise(fresh)
    assert summary.status == "new"
    assert "is starting" in prune.why_kept(summary)
    old = time.time() - 3600
    os.utime(fresh, (old, old))
    assert prune.why_kept(summary) is None  # an hour later it is a leftover


def test_long_setting_values_are_cut_to_fit_80_columns(tmp_path):
    paths = []
    for i in range(6):
        path = finished_run(tmp_path, f"2026010{i}-000000-fast-{i:04d}", started=i)
        stored = json.loads((path / runs.CONFIG).read_text())
        stored["train"]["extra"] = {"a_rather_long_knob_name": f"value-{i}-" + "x" * 30}
        (path / runs.CONFIG).write_text(json.dumps(stored))
        paths.append(path)
    text = compare.format_comparison(compare.compare_runs(paths))
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert "extra.a rather …" in text and "value-0-…" in text


def test_prune_keeps_a_run_whose_model_a_link_in_models_points_to(workdir):
    from conftest import ROOT, run_cli

    base = workdir / "runs"
    linked, other = (finished_run(base, f"2026010{i}-000000-fast-{i:04d}", started=i) for i in (1, 2))
    (linked / runs.FINAL_MODEL).write_bytes(b"model")
    (workdir / "models").mkdir()
    (workdir / "models" / "mine.h5").symlink_to(os.path.join("..", "runs", linked.name, runs.FINAL_MODEL))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = run_cli("runs", "--prune", "--keep", "0", env=env, cwd=workdir, check_rc=0)
    assert f"kept {linked.name}: models/mine.h5 points to its model" in proc.stdout
    assert linked.exists() and (workdir / "models" / "mine.h5").read_bytes() == b"model"
    assert not other.exists() and "deleted 1 run" in proc.stdout

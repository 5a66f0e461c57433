"""Issue 12, reliability: commands never act on the wrong thing (a run, a process, a model), bad
paths never hang, event readers tolerate missing fields, and predicting a folder streams.

Each test builds the situation a user met (an unset variable, a reused pid, a FIFO, a cancelled
run) and checks the one-line answer. Most run the CLI in-process with training replaced by a
recorder, so no TensorFlow is needed; the few that need a model use the shipped one.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, without_root_file_access
from test_app import workdir  # noqa: F401 - fixture
from tui import cli
from tui.core import runs
from tui.core.config import preset_config
from tui.core.errors import ImageError, ModelFileError
from tui.core.inference import Prediction
from tui.core.train import TrainResult

SHIPPED_MODEL = ROOT / "models" / "digit_recognizer.h5"
SAMPLE = ROOT / "sample_images" / "7_mnist_01.png"


@pytest.fixture
def project(workdir):
    """An empty project folder with its own runs folder, as the current directory."""
    return workdir


@pytest.fixture
def trainings(monkeypatch):
    """Replaces run_training with a recorder: the list of calls it got (none means nothing trained)."""
    calls: list[dict] = []

    def fake(cfg, **kwargs):
        calls.append({"cfg": cfg, **kwargs})
        return TrainResult(status="done", run_dir=Path(kwargs.get("resume") or "runs/x"))

    monkeypatch.setattr("tui.core.train.run_training", fake)
    return calls


def make_run(base: Path, name: str, events: list[dict], pid: int | None = None, checkpoint: bool = False,
             config: bool = True) -> Path:
    run_dir = base / name
    run_dir.mkdir(parents=True)
    if config:
        stored = {"train": preset_config("fast").to_dict(), "output": "models/digit_recognizer.h5", "data": None}
        (run_dir / runs.CONFIG).write_text(json.dumps(stored))
    if pid is not None:
        (run_dir / runs.PID_FILE).write_text(str(pid))
    with open(run_dir / runs.EVENTS, "w") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
    if checkpoint:
        (run_dir / runs.LAST_CHECKPOINT).write_bytes(b"checkpoint")
    return run_dir


def start_event(pid: int, when: float, epochs: int = 3) -> dict:
    return {"type": "start", "time": when, "pid": pid, "epochs": epochs, "steps_per_epoch": 10, "initial_epoch": 0}


def backdate(run_dir: Path, seconds: float) -> None:
    """Make the run's pid file look written ``seconds`` ago."""
    when = time.time() - seconds
    os.utime(run_dir / runs.PID_FILE, (when, when))


def still_running(proc: subprocess.Popen, wait: float = 0.5) -> bool:
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        return True
    return False


@pytest.fixture
def sleeper():
    procs: list[subprocess.Popen] = []

    def start(*argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv) or ["sleep", "120"])
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- 1, 2: --resume never starts a different training --------------------------------------------------


def test_resume_with_an_empty_name_refuses_and_trains_nothing(project, trainings, capsys):
    make_run(project / "runs", "20260101-000000-fast-aaaa", [start_event(1, 1.0), {"type": "cancelled", "time": 2}],
             checkpoint=True)
    assert cli.main(["train", "--resume", ""]) == cli.EXIT_FAIL
    assert trainings == []
    err = capsys.readouterr().err
    assert err.startswith("digitrec: no run given") and len(err.splitlines()) == 1


def test_resume_refuses_settings_it_would_ignore(project, trainings, capsys):
    run = make_run(project / "runs", "20260101-000000-fast-aaaa",
                   [start_event(1, 1.0), {"type": "epoch", "time": 2, "epoch": 1, "epochs": 3}, {"type": "cancelled", "time": 3}],
                   checkpoint=True)
    assert cli.main(["train", "--resume", run.name, "--epochs", "2", "--subset", "100"]) == cli.EXIT_USAGE
    assert trainings == []
    err = capsys.readouterr().err
    assert "--epochs, --subset cannot change" in err and len(err.splitlines()) == 1


def test_resume_honours_output(project, monkeypatch):
    """`--resume RUN --output other.h5` finishes the run into other.h5, not its original output."""
    run = make_run(project / "runs", "20260101-000000-fast-aaaa",
                   [start_event(1, 1.0), {"type": "epoch", "time": 2, "epoch": 1, "epochs": 3}, {"type": "cancelled", "time": 3}],
                   checkpoint=True)
    seen = {}

    def fake_train(cfg, data_path, data, output, run_dir, initial_epoch, *rest):
        seen.update(output=Path(output), initial_epoch=initial_epoch)
        return TrainResult(status="done", run_dir=run_dir)

    monkeypatch.setattr("tui.core.train._train", fake_train)
    assert cli.main(["train", "--resume", run.name, "--output", "other.h5"]) == cli.EXIT_OK
    assert seen == {"output": Path("other.h5"), "initial_epoch": 1}
    assert json.loads((run / runs.CONFIG).read_text())["output"] == "other.h5"


# -- 3, 4: stop signals only the run's own, running process ------------------------------------------


def test_stop_leaves_alone_a_process_that_took_a_finished_runs_pid(project, sleeper, capsys):
    other = sleeper()
    run = make_run(project / "runs", "20260101-000000-fast-aaaa",
                   [start_event(other.pid, time.time() - 3600), {"type": "done", "time": time.time() - 3000}], pid=other.pid)
    assert cli.main(["stop", run.name]) == cli.EXIT_FAIL
    assert still_running(other)
    assert "already ended (done)" in capsys.readouterr().err


def test_stop_leaves_alone_a_process_that_took_a_killed_runs_pid(project, sleeper, capsys):
    """No final record (the trainer was killed), and its pid now names a program started later."""
    other = sleeper()
    run = make_run(project / "runs", "20260101-000000-fast-aaaa", [start_event(other.pid, time.time() - 3600)], pid=other.pid)
    backdate(run, 3600)
    assert runs.summarise(run).status == "interrupted"
    assert cli.main(["stop", run.name]) == cli.EXIT_FAIL
    assert still_running(other)
    assert "belongs to another program" in capsys.readouterr().err


def test_stop_without_a_name_stops_the_latest_running_run(project, sleeper, capsys):
    trainer = sleeper(sys.executable, "-c", "import time; time.sleep(120)")
    make_run(project / "runs", "20260101-000000-fast-aaaa", [start_event(trainer.pid, time.time())], pid=trainer.pid)
    make_run(project / "runs", "20260101-000100-fast-bbbb",
             [start_event(999_999_999, time.time() + 1), {"type": "done", "time": time.time() + 2}])
    assert cli.main(["stop"]) == cli.EXIT_OK
    assert trainer.wait(timeout=10) == -signal.SIGTERM
    assert "asked run 20260101-000000-fast-aaaa to stop" in capsys.readouterr().out


def test_stop_without_a_name_and_nothing_training_says_so(project, capsys):
    make_run(project / "runs", "20260101-000100-fast-bbbb", [start_event(1, 1.0), {"type": "done", "time": 2}])
    assert cli.main(["stop"]) == cli.EXIT_FAIL
    assert capsys.readouterr().err.startswith("digitrec: no run is training")


# -- 5: predict FOLDER streams, in batches ----------------------------------------------------------------


class RecordingPredictor:
    """Stands in for the model: counts the images it has predicted and the batch sizes it got."""

    def __init__(self, model=None):
        self.predicted = 0
        self.batches: list[int] = []

    def predict_paths(self, paths):
        self.batches.append(len(paths))
        self.predicted += len(paths)
        probs = [0.9] + [0.1 / 9] * 9
        return [Prediction(path=str(p), digit=0, confidence=0.9, probabilities=probs, input28=np.zeros((28, 28)))
                for p in paths]

    def predict_prepared(self, items):
        # The files here are not images: what preprocessing made of them is ignored.
        return self.predict_paths([path for path, _ in items])


class ProgressStream(io.StringIO):
    """stdout that notes, for each line written, how many images had been predicted by then."""

    def __init__(self, predictor):
        super().__init__()
        self.predictor = predictor
        self.predicted_at_line: list[int] = []

    def write(self, text):
        self.predicted_at_line += [self.predictor.predicted] * text.count("\n")
        return super().write(text)


@pytest.mark.parametrize("as_json", [True, False])
def test_predict_folder_streams_results_in_batches(project, monkeypatch, as_json):
    folder = project / "many"
    folder.mkdir()
    for i in range(300):
        (folder / f"{i:04d}.png").write_bytes(b"x")
    predictor = RecordingPredictor()
    monkeypatch.setattr("tui.core.inference.Predictor", lambda model=None, **_: predictor)
    out = ProgressStream(predictor)
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["predict", str(folder), *(["--json"] if as_json else [])]) == cli.EXIT_OK
    assert predictor.predicted == 300
    assert out.predicted_at_line[0] < 300, "the first result waited for the whole folder"
    from tui.core.batch import BATCH_SIZE

    assert max(predictor.batches) <= BATCH_SIZE
    if as_json:
        assert len(out.getvalue().splitlines()) == 300


def test_predict_keeps_order_and_reports_bad_paths_between_batches(project, monkeypatch, capsys):
    predictor = RecordingPredictor()
    monkeypatch.setattr("tui.core.inference.Predictor", lambda model=None, **_: predictor)
    (project / "a.png").write_bytes(b"x")
    (project / "b.png").write_bytes(b"x")
    assert cli.main(["predict", "a.png", "missing.png", "b.png", "--json"]) == cli.EXIT_FAIL
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["a.png", "missing.png", "b.png"]
    assert "does not exist" in rows[1]["error"]


def _images(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        shutil.copyfile(SAMPLE, folder / f"{i:03d}.png")
    return folder


def test_predict_shows_a_progress_bar_on_a_terminal_and_plain_lines_otherwise(tmp_path):
    import pty

    n = 60  # a large folder: the bar shows from 50 images
    folder = _images(tmp_path / "imgs", n)
    cmd = [sys.executable, "-m", "tui", "predict", str(folder), "--json", "--model", str(SHIPPED_MODEL)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    out = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    os.close(master)
    assert len(out.decode().splitlines()) == n  # results stay on stdout
    assert b"predicting" in terminal and f"/{n}".encode() in terminal

    piped = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""  # no bar, no control codes when not a terminal


# -- 6: non-regular files are refused before they are opened --------------------------------------------


def release(fifo: Path) -> None:
    """Free a reader left blocked in open() on ``fifo`` (by a failing test), so the session can end."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.h5"
    os.mkfifo(path)
    yield path
    release(path)


def _cli(*args: str, env_extra: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout)


def test_a_fifo_as_model_is_refused_not_waited_on(fifo):
    proc = _cli("predict", str(SAMPLE), "--model", str(fifo), timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"digitrec: {fifo} is not a regular file (a pipe or a device?); pass the .h5 model file itself"
    with pytest.raises(ModelFileError, match="not a regular file"):
        from tui.core.modelfile import read_metadata

        read_metadata(fifo)


def test_a_fifo_as_image_or_mnist_is_refused_not_waited_on(fifo, tmp_path):
    image = tmp_path / "pipe.png"
    os.mkfifo(image)
    proc = _cli("predict", str(image), "--model", str(SHIPPED_MODEL), "--json", timeout=60)
    assert proc.returncode == 1 and "not a regular file" in json.loads(proc.stdout)["error"]
    proc = _cli("evaluate", "--data", str(fifo), "--model", str(SHIPPED_MODEL), timeout=30)
    assert proc.returncode == 1 and "not a regular file" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = _cli("evaluate", "--model", str(SHIPPED_MODEL), env_extra={"DIGITREC_MNIST": str(fifo)}, timeout=30)
    assert proc.returncode == 1 and "not a regular file" in proc.stderr


async def test_app_use_with_a_fifo_answers_and_keeps_the_model(project, fifo):
    from test_app import make_app, settle, type_command

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        before = app.model_path
        await type_command(pilot, f"use {fifo}")
        turn = app.conversation.last_turn
        try:
            await settle(pilot, lambda: "not a regular file" in turn.text, timeout=15)
        finally:
            release(fifo)  # else a worker blocked in open() keeps the app from closing
        assert turn.has_class("-error") and app.model_path == before


# -- 7: `use` refuses a model it would not load, and keeps the working one ---------------------------------


@pytest.mark.slow
async def test_app_use_with_a_lambda_model_refuses_and_keeps_the_model(project):
    import warnings

    from test_app import make_app, settle, type_command
    from tui.app.widgets.prediction import PredictionView
    from tui.core.tf import import_tf

    _, keras = import_tf()
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(project / "lambda.h5")
    app = make_app(model=SHIPPED_MODEL)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, "use lambda.h5")
        turn = app.conversation.last_turn
        await settle(pilot, lambda: "Lambda" in turn.text or "active model" in turn.text, timeout=30)
        assert turn.has_class("-error") and "refusing to load an untrusted model" in turn.text
        assert app.model_path == SHIPPED_MODEL
        await type_command(pilot, f"predict {SAMPLE}")
        turn = app.conversation.last_turn
        await settle(pilot, lambda: bool(turn.query(PredictionView)) or turn.has_class("-error"), timeout=60)
        assert not turn.has_class("-error") and turn.query_one(PredictionView).prediction.digit == 7, turn.text


# -- 8: every reader of events tolerates missing fields ---------------------------------------------------


SPARSE = [{"type": "start", "time": 1}, {"type": "batch", "time": 1}, {"type": "epoch", "time": 1},
          {"type": "batch", "time": 2, "step": "x"}, {"type": "done", "time": 2}]


def test_watch_shows_events_with_missing_fields(project, capsys):
    run = make_run(project / "runs", "20260101-000000-fast-aaaa", SPARSE)
    assert cli.main(["watch", run.name]) == cli.EXIT_OK
    captured = capsys.readouterr()
    assert "unexpected error" not in captured.err
    assert "epoch ?/?" in captured.out and "done in ?s" in captured.out


def test_event_readers_tolerate_missing_fields(project):
    from tui.core.train import describe_event

    for event in [*SPARSE, {"type": "cancelled"}, {"type": "error"}, {"type": "epoch", "epoch": "one", "loss": "x"}]:
        assert describe_event(event)
    tty = io.StringIO()
    tty.isatty = lambda: True
    printer = cli.TrainPrinter(tty)
    for event in SPARSE:
        printer(event)
    run = make_run(project / "runs", "20260101-000000-fast-aaaa", SPARSE)
    assert runs.summarise(run).status == "done"
    assert cli.main(["runs"]) == cli.EXIT_OK and cli.main(["runs", "--json"]) == cli.EXIT_OK


async def test_app_follows_a_run_with_missing_fields(project):
    from test_app import make_app, settle, type_command

    run = make_run(project / "runs", "20260101-000000-fast-aaaa", SPARSE)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, f"attach {run}")
        await settle(pilot, lambda: "finished" in app.conversation.last_turn.text)
        await type_command(pilot, "runs")
        assert "20260101-000000-fast-aaaa" in app.conversation.last_turn.text


# -- 9: a locale that cannot show half blocks ---------------------------------------------------------------


def test_blocks_under_a_latin1_locale_fall_back_to_ascii(tmp_path):
    proc = _cli("predict", str(SAMPLE), "--blocks", "--model", str(SHIPPED_MODEL),
                env_extra={"PYTHONIOENCODING": "iso-8859-1"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cannot show half blocks" in proc.stderr and "Error" not in proc.stderr
    assert "predicted 7" in proc.stdout


# -- 10: smaller things ---------------------------------------------------------------------------------------


def test_a_run_that_died_before_training_points_at_the_log_it_has(project):
    run = make_run(project / "runs", "20260101-000000-fast-aaaa", [], pid=2**22 + 12345)
    (run / runs.LOG).write_text("boom\n")
    reason = runs.summarise(run).reason
    assert "see train.log" in reason and "output.log" not in reason


def test_a_cancelled_run_shows_its_last_finished_epoch(project, capsys):
    make_run(project / "runs", "20260101-000000-fast-aaaa", [
        start_event(1, 1.0),
        {"type": "epoch", "time": 2, "epoch": 1, "epochs": 3, "val_accuracy": 0.9},
        {"type": "batch", "time": 3, "epoch": 2, "step": 5, "steps": 10},
        {"type": "cancelled", "time": 4, "reason": "stopped"},
    ], checkpoint=True)
    s = runs.list_runs()[0]
    assert (s.status, s.epoch) == ("cancelled", 1)
    cli.main(["runs"])
    assert " 1/3 " in capsys.readouterr().out


def test_a_run_cancelled_before_its_first_checkpoint_gets_no_resume_hint(project, monkeypatch, capsys):
    run = make_run(project / "runs", "20260101-000000-fast-aaaa",
                   [start_event(1, 1.0), {"type": "cancelled", "time": 2, "reason": "stopped"}])
    monkeypatch.setattr("tui.core.train.run_training",
                        lambda cfg, **kw: TrainResult(status="cancelled", run_dir=run, reason="stopped"))
    assert cli.main(["train", "--subset", "100"]) == cli.EXIT_CANCELLED
    err = capsys.readouterr().err
    assert "--resume" not in err and "nothing to resume" in err


def test_a_run_without_its_config_is_listed_with_a_note(project, capsys):
    make_run(project / "runs", "20260101-000000-fast-aaaa", [start_event(1, 1.0), {"type": "done", "time": 2}],
             config=False)
    cli.main(["runs"])
    out = capsys.readouterr().out
    assert "20260101-000000-fast-aaaa" in out and "config.json is missing" in out


def test_a_symlink_loop_is_named_as_such(project):
    from tui.core.images import collect_images, open_image

    os.symlink("b.png", "a.png")
    os.symlink("a.png", "b.png")
    [(path, problem)] = collect_images(["a.png"])
    assert "symbolic link" in str(problem) and "does not exist" not in str(problem)
    with pytest.raises(ImageError, match="symbolic link"):
        open_image("a.png")
    os.symlink("nowhere.png", "dangling.png")
    [(path, problem)] = collect_images(["dangling.png"])
    assert "nowhere.png" in str(problem)


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that claims ``width`` x ``height`` pixels and holds one row of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
                     + chunk(b"IEND", b""))
    return path


def test_the_size_refusal_does_not_round_down_to_the_limit(project):
    from tui.core.images import open_image

    with pytest.raises(ImageError) as caught:
        open_image(_png_header(project / "big.png", 9000, 4500))  # 40.5 megapixels
    assert "40.5 megapixels" in str(caught.value)


def test_a_read_only_output_is_refused_before_training(tmp_path, mnist_path):
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o555)
    cmd = [sys.executable, "-m", "tui", "train", "--preset", "classic", "--subset", "200", "--epochs", "1", "--no-test",
           "--output", str(models / "m.h5")]
    cmd = without_root_file_access(cmd)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "DIGITREC_RUNS": str(tmp_path / "runs"),
           "DIGITREC_MNIST": mnist_path}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    models.chmod(0o755)
    assert proc.returncode == 1
    assert "epoch 1/1" not in proc.stdout  # refused before any training
    assert proc.stderr.startswith(f"digitrec: cannot write the output model {models / 'm.h5'} (Permission denied)")


def test_the_app_launcher_refuses_an_unwritable_output(project):
    from tui.core.launch import start_training

    (project / "models").write_text("a file where the folder should be")
    with pytest.raises(ModelFileError, match="cannot write the output model"):
        start_training("fast", output="models/m.h5")
    assert not (project / "runs").exists() or not any((project / "runs").iterdir())


# -- 11: one training at a time, from the CLI as from the app --------------------------------------------------


HOLDER = textwrap.dedent(
    """
    import fcntl, json, os, sys, time
    runs_dir = sys.argv[1]
    lock = open(os.path.join(runs_dir, ".training.lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    run = os.path.join(runs_dir, "20260101-000000-fast-aaaa")
    with open(os.path.join(run, "events.jsonl"), "a") as fh:
        fh.write(json.dumps({"type": "start", "time": time.time(), "pid": os.getpid(), "epochs": 3}) + "\\n")
    print("ready", flush=True)
    time.sleep(120)
    """
)


def test_a_second_cli_training_is_refused_while_one_trains(project, trainings, capsys):
    run = make_run(project / "runs", "20260101-000000-fast-aaaa", [])
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(project / "runs")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert cli.main(["train", "--subset", "100"]) == cli.EXIT_FAIL
        assert trainings == []
        err = capsys.readouterr().err
        assert err.startswith(f"digitrec: run {run.name} is already training; one training at a time")
    finally:
        holder.kill()
        holder.wait()
    assert cli.main(["train", "--subset", "100"]) == cli.EXIT_OK  # the lock went with the process
    assert len(trainings) == 1


def test_a_launched_run_that_finds_another_training_records_why(project, capsys):
    prepared = make_run(project / "runs", "20260101-000200-fast-cccc", [])
    with open(project / "runs" / ".training.lock", "a") as lock:  # as a training process holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        holder = subprocess.run([sys.executable, "-m", "tui", "train", "--run-dir", str(prepared)], capture_output=True,
                                text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert holder.returncode == 1 and "already training" in holder.stderr
    s = runs.summarise(prepared)
    assert s.status == "error" and "already training" in s.reason


# -- 12: a run whose model is worse than the one it replaced says so -------------------------------------------


def _model_with_accuracy(path: Path, accuracy: float) -> Path:
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["digitrec_metadata"] = json.dumps({"test_accuracy": accuracy})
    return path


def test_the_final_line_says_when_the_new_model_is_worse(project):
    kept = _model_with_accuracy(project / "models" / "digit_recognizer.previous.h5", 0.996)
    done = {"type": "done", "time": 1, "seconds": 3.0, "test_accuracy": 0.995, "model": "models/digit_recognizer.h5",
            "previous_model": str(kept)}
    out = io.StringIO()
    cli.TrainPrinter(out)(done)
    last = out.getvalue().splitlines()[-1]
    assert last == (f"note: its test accuracy 99.50% is lower than the 99.60% of the model it replaced; "
                    f"to go back: mv {kept} models/digit_recognizer.h5")
    out = io.StringIO()
    cli.TrainPrinter(out)({**done, "test_accuracy": 0.997})
    assert "note:" not in out.getvalue()


async def test_the_app_says_when_the_new_model_is_worse(project):
    from test_app import make_app, settle, type_command

    kept = _model_with_accuracy(project / "models" / "digit_recognizer.previous.h5", 0.996)
    run = make_run(project / "runs", "20260101-000000-fast-aaaa", [
        start_event(os.getpid(), time.time()),
        {"type": "done", "time": time.time(), "seconds": 3.0, "test_accuracy": 0.995,
         "model": "models/digit_recognizer.h5", "previous_model": str(kept)}])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, f"attach {run}")
        await settle(pilot, lambda: "lower than the 99.60%" in app.conversation.last_turn.text)
        assert f"mv {kept} models/digit_recognizer.h5" in app.conversation.last_turn.text


def test_a_large_folder_is_preprocessed_by_a_pool_with_the_same_answers_in_order(monkeypatch, tmp_path):
    # Preprocessing costs a few ms of CPU an image on one core; a pool of forked workers shares it
    # out, and must hand back exactly what one process would, in the same order.
    import tui.core.batch as batch
    from tui.core.images import collect_images
    from tui.core.inference import Predictor

    if (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) < 2:
        pytest.skip("one core: there is no pool to test")
    samples = sorted((ROOT / "sample_images").glob("*.png"))[:12]
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(36):
        shutil.copyfile(samples[i % len(samples)], folder / f"{i:03d}_{samples[i % len(samples)].name}")
    (folder / "999_broken.png").write_bytes(b"not a png")
    predictor = Predictor(ROOT / "models" / "digit_recognizer.h5")
    serial = list(batch.stream_predictions(predictor, collect_images([folder]), batch_size=8))
    assert batch.preprocessing_pool(batch.POOL_MIN_IMAGES - 1) is None
    monkeypatch.setattr(batch, "POOL_MIN_IMAGES", 1)
    with batch.preprocessing_pool(37) as pool:
        pooled = list(batch.stream_predictions(predictor, collect_images([folder]), batch_size=8, pool=pool))
    assert [p.path for p in pooled] == [p.path for p in serial]
    assert [p.error for p in pooled] == [p.error for p in serial] and pooled[-1].error
    assert [p.digit for p in pooled] == [p.digit for p in serial]
    assert np.array_equal(np.array([p.probabilities for p in pooled[:-1]]), np.array([p.probabilities for p in serial[:-1]]))

"""Every CLI command end to end in a subprocess, on real data, real models and real image files."""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from conftest import ROOT, run_cli, without_root_file_access
from test_app_engine import number_image
from test_render import shows_drawing
from tui.core.preprocess import preprocess_path
from tui.core.render import ascii_digit


def _save_digits(mnist, folder, indices):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in indices:
        label = int(mnist.y_test[i])
        # Dark ink on light paper, as users draw: the preprocessing must invert it.
        img = Image.fromarray(255 - mnist.x_test[i]).resize((84, 84), Image.Resampling.BICUBIC)
        path = folder / f"{label}_test_{i}.png"
        img.save(path)
        paths.append((path, label))
    return paths


def test_train_command_records_a_run_and_writes_the_model(cli_env, tmp_path):
    out = tmp_path / "m.h5"
    proc = run_cli("train", "--preset", "classic", "--epochs", "1", "--subset", "3000", "--output", str(out),
                   env=cli_env, check_rc=0)
    assert "epoch 1/1" in proc.stdout and "done in" in proc.stdout and "test accuracy" in proc.stdout
    assert "\r" not in proc.stdout, "plain lines when stdout is not a terminal"
    assert out.exists()
    listing = run_cli("runs", env=cli_env, check_rc=0).stdout
    assert "done" in listing and "classic" in listing and "1/1" in listing
    rows = [json.loads(line) for line in run_cli("runs", "--json", env=cli_env, check_rc=0).stdout.splitlines()]
    assert rows[0]["status"] == "done" and rows[0]["progress"] == 1.0 and rows[0]["best_val_accuracy"] > 0.65  # 74-75 % measured over seeds 0-2
    watched = run_cli("watch", "latest", env=cli_env, check_rc=0, timeout=60).stdout
    assert "epoch 1/1" in watched and "done in" in watched


def test_train_flags_reach_the_run(cli_env, tmp_path):
    """Each `train` setting given on the command line is the one the run records and trains with."""
    out = tmp_path / "flags.h5"
    run_cli("train", "--preset", "classic", "--epochs", "1", "--subset", "600", "--no-test", "--output", str(out),
            "--batch-size", "64", "--seed", "7", "--augment-shift", "2", "--label-smoothing", "0.05",
            "--lr-schedule", "cosine", "--validation-split", "0.2", "--precision", "bfloat16",
            env=cli_env, check_rc=0)
    (config,) = (tmp_path / "runs").glob("*/config.json")
    run_dir = config.parent
    train = json.loads(config.read_text())["train"]
    assert {k: train[k] for k in ("preset", "epochs", "train_subset", "batch_size", "seed", "augment_shift",
                                  "label_smoothing", "lr_schedule", "validation_split", "precision")} == {
        "preset": "classic", "epochs": 1, "train_subset": 600, "batch_size": 64, "seed": 7, "augment_shift": 2,
        "label_smoothing": 0.05, "lr_schedule": "cosine", "validation_split": 0.2, "precision": "bfloat16"}
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    # 600 images less a fifth for validation, in batches of 64: the split and batch size were used, not stored only.
    assert (events[0]["train_size"], events[0]["val_size"], events[0]["steps_per_epoch"]) == (480, 120, 8)
    (epoch,) = [e for e in events if e["type"] == "epoch"]
    assert epoch["learning_rate"] < 1e-4  # cosine has decayed from 1e-3 by the end; constant would still be at 1e-3
    assert out.exists()


def test_watch_follows_a_live_run_from_another_process(cli_env, tmp_path):
    train = subprocess.Popen([sys.executable, "-m", "tui", "train", "--preset", "classic", "--epochs", "2",
                              "--subset", "6000", "--output", str(tmp_path / "w.h5"), "--no-test"],
                             env=cli_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs_dir = tmp_path / "runs"
    deadline = time.monotonic() + 60
    while not list(runs_dir.glob("*/events.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.1)
    watched = run_cli("watch", env=cli_env, timeout=120)
    assert train.wait(timeout=120) == 0, "the training that was watched must itself succeed"
    assert watched.returncode == 0, watched.stderr
    assert "epoch 1/2" in watched.stdout and "epoch 2/2" in watched.stdout and "done in" in watched.stdout


def test_tty_progress_bar(cli_env, tmp_path):
    """In a terminal, training shows a live bar with epoch, step, loss, accuracy and ETA."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI with a 120x24 terminal as stdout
        import fcntl
        import struct
        import termios

        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "tui", "train", "--preset", "classic", "--epochs", "1",
                                   "--subset", "6000", "--output", str(tmp_path / "t.h5"), "--no-test"], cli_env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\r" in text and "\x1b[" in text  # redrawn in place (Rich's live display)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # without colours and cursor moves
    bars = [line for line in re.split(r"[\r\n]", plain) if "━" in line]  # Rich's bar
    assert bars, text
    bar = bars[-1]
    assert "epoch 1/1" in bar and re.search(r"\b\d+/\d+\b", bar.split("━")[-1]), bar  # step/steps
    assert re.search(r"loss \d\.\d{4}", bar) and re.search(r"acc \d\.\d{4}", bar), bar
    assert re.search(r"ETA \d+:\d\d", bar) and re.search(r"[\d,]+ img/s", bar), bar
    assert re.search(r"epoch 1/1  loss \d\.\d{4}  acc", plain)  # the epoch's line stays above the bar


def test_evaluate_json_and_text(cli_env, trained_model):
    proc = run_cli("evaluate", "--model", str(trained_model), "--json", env=cli_env, check_rc=0)
    report = json.loads(proc.stdout)
    assert {"accuracy", "loss", "per_class", "confusion"} <= set(report)
    assert report["accuracy"] > 0.9 and report["n"] == 10000
    assert np.array(report["confusion"]).sum() == 10000 and len(report["per_class"]) == 10
    text = run_cli("evaluate", "--model", str(trained_model), "--worst", "2", env=cli_env, check_rc=0).stdout
    assert "accuracy" in text and "confusion matrix" in text and "most confident mistakes" in text
    assert "precision" in text and "recall" in text


def test_predict_files_and_folders(cli_env, trained_model, mnist, tmp_path):
    digits = _save_digits(mnist, tmp_path / "imgs", [0, 1, 2, 3, 4])
    proc = run_cli("predict", str(tmp_path / "imgs"), "--model", str(trained_model), "--json", env=cli_env, check_rc=0)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 5
    for row in rows:
        assert {"path", "digit", "confidence", "probabilities"} <= set(row)
        assert len(row["probabilities"]) == 10 and abs(sum(row["probabilities"]) - 1) < 1e-3
    truth = {str(p): label for p, label in digits}
    assert sum(truth[r["path"]] == r["digit"] for r in rows) >= 4
    text = run_cli("predict", str(digits[0][0]), "--model", str(trained_model), env=cli_env, check_rc=0).stdout
    assert f"predicted {digits[0][1]}" in text
    seen = preprocess_path(digits[0][0]).input28
    assert shows_drawing(text, ascii_digit(seen))  # the digit as the model saw it, drawn in ASCII


def test_predict_reports_bad_files_and_goes_on(cli_env, trained_model, mnist, tmp_path):
    (good,) = _save_digits(mnist, tmp_path, [7])
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    proc = run_cli("predict", str(bad), str(good[0]), str(tmp_path / "missing.png"), "--model", str(trained_model),
                   "--json", env=cli_env)
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [True, False, True]
    assert rows[1]["digit"] is not None
    assert "Traceback" not in proc.stderr


def test_models_lists_metadata(cli_env, trained_model, tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mine.h5").write_bytes(trained_model.read_bytes())
    proc = run_cli("models", env=cli_env, cwd=tmp_path, check_rc=0)
    assert "mine.h5" in proc.stdout and "classic" in proc.stdout


def test_bad_inputs_get_one_line_errors(cli_env, tmp_path):
    bad_model = tmp_path / "bad.h5"
    bad_model.write_text("x")
    output = str(tmp_path / "out.h5")  # never the shipped model, should a refusal stop refusing
    cases = [
        ("predict", "x.png", "--model", str(bad_model)),
        ("evaluate", "--model", str(tmp_path / "none.h5")),
        ("train", "--data", str(tmp_path / "none.npz"), "--epochs", "1", "--output", output),
        ("watch", "no-such-run"),
        ("train", "--preset", "turbo", "--output", output),
    ]
    for args in cases:
        proc = run_cli(*args, env=cli_env)
        assert proc.returncode == 1, (args, proc.returncode, proc.stderr)
        assert not os.path.exists(output), args
        assert "Traceback" not in proc.stderr, args
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("digitrec"), (args, proc.stderr)


def test_python_dash_m_and_version():
    proc = subprocess.run([sys.executable, "-m", "tui", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("digitrec ")


def test_predict_number_reads_digits_left_to_right(cli_env, trained_model, mnist, tmp_path):
    # "4 1 7 2": four real MNIST test digits the model reads right on their own, written side by
    # side on light paper; reading the number must then get every one of them, in order.
    path = tmp_path / "4172.png"
    assert number_image(mnist, trained_model, path, labels="4172") == "4172"
    proc = run_cli("predict", "--number", str(path), "--model", str(trained_model), "--json", env=cli_env, check_rc=0)
    row = json.loads(proc.stdout)
    assert len(row["digits"]) == 4 and all(len(d["probabilities"]) == 10 for d in row["digits"])
    assert row["number"] == "4172"
    text = run_cli("predict", "--number", str(path), "--model", str(trained_model), env=cli_env, check_rc=0).stdout
    assert f"read {row['number']}" in text and "digit 4:" in text


def test_unreadable_file_is_reported_and_the_batch_goes_on(cli_env, trained_model, mnist, tmp_path):
    import shutil

    (good,) = _save_digits(mnist, tmp_path, [3])
    locked = tmp_path / "locked.png"
    shutil.copyfile(good[0], locked)
    locked.chmod(0)
    cmd = [sys.executable, "-m", "tui", "predict", str(locked), str(good[0]), "--model", str(trained_model), "--json"]
    cmd = without_root_file_access(cmd)
    proc = subprocess.run(cmd, env=cli_env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "permission denied" in rows[0]["error"] and rows[1]["digit"] is not None
    assert "Traceback" not in proc.stderr


def test_runs_compare_and_prune_on_two_real_runs(cli_env, tmp_path):
    """Two real tiny trainings with different settings: compared as a table and as JSON, then pruned."""
    models = tmp_path / "models"
    for lr, name in (("0.001", "a.h5"), ("0.003", "b.h5")):
        run_cli("train", "--preset", "classic", "--epochs", "1", "--subset", "3000", "--lr", lr, "--no-test",
                "--output", str(models / name), env=cli_env, check_rc=0)
    rows = [json.loads(line) for line in run_cli("runs", "--json", env=cli_env, check_rc=0).stdout.splitlines()]
    newer, older = rows
    assert all(r["size_bytes"] > 0 for r in rows)
    text = run_cli("runs", "--compare", older["run_id"][:20], "latest", env=cli_env, check_rc=0).stdout
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["#1", older["run_id"], "classic"] and lines[1].split()[1] == newer["run_id"]
    assert all(len(line) <= 80 for line in lines)
    cells = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip()}
    differ = lines[lines.index("settings that differ") + 1:lines.index("results")]
    assert [line.split() for line in differ] == [["lr", "0.001", "0.003"]]  # the same settings are left out
    assert cells["best"] == ["val", f"{older['best_val_accuracy']:.2%}", f"{newer['best_val_accuracy']:.2%}"]
    assert cells["images/s"][0][0].isdigit() and cells["train"][0] == "time"
    data = json.loads(run_cli("runs", "--compare", older["run_id"], newer["run_id"], "--json", env=cli_env,
                              check_rc=0).stdout)
    assert data["differing_settings"] == ["learning_rate"]
    first = data["runs"][0]
    events = [json.loads(line) for line in (tmp_path / "runs" / older["run_id"] / "events.jsonl").read_text().splitlines()]
    epoch = next(e for e in events if e["type"] == "epoch")
    assert first["history"] == [{"epoch": 1, "val_accuracy": epoch["val_accuracy"], "val_loss": epoch["val_loss"]}]
    assert first["settings"]["learning_rate"] == 0.001 and first["images_per_sec"] > 0 and first["train_seconds"] > 0
    assert list((tmp_path / "runs" / older["run_id"] / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    bad = run_cli("runs", "--compare", "latest", env=cli_env)
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "digitrec: compare takes 2 to 6 runs, not 1; give run ids, unique prefixes or 'latest'")

    pruned = run_cli("runs", "--prune", "--keep", "1", env=cli_env, check_rc=0).stdout
    assert f"deleted {older['run_id']}" in pruned and "deleted 1 run, freed" in pruned
    assert [r.name for r in (tmp_path / "runs").iterdir() if not r.name.startswith(".")] == [newer["run_id"]]
    assert (models / "a.h5").exists() and (models / "b.h5").exists()  # models are never touched


def test_light_commands_keep_numpys_blas_to_one_thread(tmp_path):
    """predict (and evaluate and the app, through the same helper) set OPENBLAS_NUM_THREADS=1 before numpy loads.

    Setting it only helps if numpy is not imported yet, so importing the command line must not
    import numpy (or anything that does).
    """
    probe = (
        "import os, sys\n"
        "import tui.cli as cli\n"
        "assert 'numpy' not in sys.modules, 'importing the command line loaded numpy'\n"
        "cli.main(['predict', '--json', sys.argv[1]])\n"
        "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    )
    image = str(ROOT / "sample_images" / "7_mnist_01.png")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", probe, image], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "BLAS 1"
    out = subprocess.run([sys.executable, "-c", probe, image], env={**env, "OPENBLAS_NUM_THREADS": "2"}, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "BLAS 2"


def test_numpy_developer_tools_still_work_once_deferred():
    """`defer_numpy_dev_modules` only postpones them: the first use runs the real module."""
    code = """
import sys
from tui.core.lean import NUMPY_DEV_MODULES, defer_numpy_dev_modules
defer_numpy_dev_modules()
from scipy import ndimage
import numpy as np
assert all(name in sys.modules for name in NUMPY_DEV_MODULES)
assert "numpy.testing._private" not in sys.modules and "numpy.f2py.crackfortran" not in sys.modules
assert "numpy.ma.core" not in sys.modules
np.testing.assert_array_equal(ndimage.label(np.ones((2, 2)))[0], np.ones((2, 2)))
masked = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
assert masked.sum() == 4 and "numpy.ma.core" in sys.modules and sys.modules["numpy.ma"] is np.ma
from numpy.testing import assert_allclose
assert_allclose(1.0, 1.0)
import numpy.f2py
assert callable(numpy.f2py.run_main) and sys.modules["numpy.testing"] is np.testing
defer_numpy_dev_modules()  # once loaded, left alone
assert type(np.testing) is type(sys)
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("digitrec: "), stderr
    return lines[0]


def test_watch_follows_a_cancelled_and_resumed_run_to_its_real_end(cli_env, tmp_path):
    """A resumed run's record holds `cancelled` before its second `start`: watch goes on to the
    last record after the last start, while the resumed run trains and once it has finished."""
    from test_app import ScriptedRun

    run = ScriptedRun(tmp_path / "runs", pid=os.getpid())  # a live process: the resumed run trains
    run.start(epochs=2)
    run.epoch(1)
    run.emit("cancelled", reason="interrupted by Ctrl+C", checkpoint=str(run.path / "best.h5"))
    run.emit("start", run_id=run.path.name, pid=run.pid, config={}, output="models/x.h5", epochs=2,
             steps_per_epoch=10, train_size=320, val_size=100, initial_epoch=1)
    watch = subprocess.Popen([sys.executable, "-m", "tui", "watch", run.path.name], env=cli_env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    still_watching = watch.poll() is None
    run.epoch(2)
    run.emit("done", model="models/x.h5", seconds=9.0)
    out, err = watch.communicate(timeout=60)
    assert still_watching and watch.returncode == 0, (out, err)
    assert "cancelled: interrupted by Ctrl+C" in out and "epoch 2/2" in out and "done in 9.0s" in out
    replayed = run_cli("watch", run.path.name, env=cli_env, timeout=60)
    assert replayed.returncode == 0 and "done in 9.0s" in replayed.stdout, replayed.stdout + replayed.stderr


def test_an_output_not_ending_in_h5_is_refused_before_training(cli_env, tmp_path):
    """Training writes HDF5: under a .keras name nothing could load it (and x.h5 and x.keras would share x.tflite)."""
    output = tmp_path / "models" / "x.keras"
    proc = run_cli("train", "--preset", "classic", "--epochs", "1", "--subset", "300", "--no-test",
                   "--output", str(output), env=cli_env)
    assert proc.returncode == 1, proc.stdout
    assert ".h5" in _one_line(proc.stderr) and "export" in proc.stderr
    assert not output.exists() and not list(tmp_path.glob("runs/*/config.json")), "nothing trained, no run"


def test_finetune_options_without_finetune_are_refused(cli_env, tmp_path):
    model = tmp_path / "base.h5"
    model.write_bytes(b"x")
    quick = ("--preset", "classic", "--epochs", "1", "--subset", "300", "--no-test", "--output", str(tmp_path / "o.h5"))
    for args in ((*quick, "--model", str(model)), (*quick, "--max-mnist-drop", "0.5"),
                 ("--resume", "latest", "--model", str(model))):
        proc = run_cli("train", *args, env=cli_env)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        line = _one_line(proc.stderr)
        assert "only go with --finetune" in line and ("--model" in line or "--max-mnist-drop" in line), line
    assert not (tmp_path / "o.h5").exists() and not list(tmp_path.glob("runs/*/config.json"))


def test_a_refused_resume_does_not_say_it_is_resuming(cli_env, tmp_path):
    from test_app import ScriptedRun

    run = ScriptedRun(tmp_path / "runs", pid=2**22 + 7)  # above the default pid_max: no such process
    run.start(epochs=1)
    run.epoch(1, epochs=1)
    run.emit("done", model="models/x.h5", seconds=1.0)
    proc = run_cli("train", "--resume", run.path.name, env=cli_env, check_rc=1)
    assert "already finished" in _one_line(proc.stderr)
    assert "resuming" not in proc.stdout + proc.stderr

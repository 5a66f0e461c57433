"""Teaching the model your handwriting: a real fine-tune on constructed 7s the base model misreads."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from tui.core import runs
from tui.core.errors import ImageError
from tui.core.finetune import (
    FinetuneSettings,
    collect_labelled,
    label_of,
    run_finetune,
    save_labelled,
    split_held_out,
    training_mix,
)
from tui.core.modelfile import read_metadata
from tui.core.synth import looped_seven


def make_sevens(folder, n: int = 24, seed: int = 1):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        looped_seven(rng).save(folder / f"7_loop_{i:02d}.png")
    return folder


def test_labels_come_from_names_or_digit_folders(tmp_path):
    assert label_of(tmp_path / "7_mine.png", tmp_path) == 7
    assert label_of(tmp_path / "3-scan.jpg", tmp_path) == 3
    assert label_of(tmp_path / "4" / "anything.png", tmp_path) == 4
    assert label_of(tmp_path / "photo.png", tmp_path) is None
    assert label_of(tmp_path / "2026_paper.png", tmp_path) is None  # a number, not a label


def test_collecting_reads_both_layouts_and_says_what_it_skipped(tmp_path):
    rng = np.random.default_rng(0)
    make_sevens(tmp_path, n=3)
    (tmp_path / "1").mkdir()
    looped_seven(rng).save(tmp_path / "1" / "one.png")
    looped_seven(rng).save(tmp_path / "unlabelled.png")
    (tmp_path / "8_broken.png").write_bytes(b"not an image")
    mine = collect_labelled(tmp_path)
    assert sorted(mine.labels.tolist()) == [1, 7, 7, 7]
    assert mine.inputs.shape == (4, 28, 28)
    assert any("unlabelled.png: no label" in line for line in mine.skipped)
    assert any("8_broken.png" in line for line in mine.skipped)


def test_too_few_labelled_images_are_refused_in_one_line(tmp_path):
    make_sevens(tmp_path, n=2)
    with pytest.raises(ImageError, match="need at least 4 labelled digit images"):
        collect_labelled(tmp_path)
    with pytest.raises(ImageError, match="is not a folder"):
        collect_labelled(tmp_path / "missing")


def test_held_out_part_takes_some_of_each_digit():
    labels = np.array([7] * 8 + [1] * 4 + [3])
    teach, held = split_held_out(labels, 0.25, seed=0)
    assert sorted(labels[held].tolist()) == [1, 7, 7]  # a quarter of each; the lone 3 is only taught
    assert set(teach) | set(held) == set(range(len(labels))) and not set(teach) & set(held)


def test_the_mix_keeps_every_digit_at_its_usual_share(mnist):
    settings = FinetuneSettings(folder=".", base_model="m.h5", mnist_images=2000)
    x_teach = np.zeros((10, 28, 28), dtype=np.float32)
    x_teach[:, 8:20, 10:18] = 1.0
    x, y, copies = training_mix(mnist.x_train, mnist.y_train, x_teach, np.full(10, 7), settings)
    counts = np.bincount(y, minlength=10)
    assert counts.tolist() == [200] * 10  # 7s included: user copies replace MNIST 7s, they do not add to them
    assert copies == 10 and x.dtype == np.uint8 and len(x) == 2000


def test_a_correction_is_saved_with_its_label_and_never_overwrites(tmp_path):
    source = tmp_path / "9_photo.png"
    looped_seven(np.random.default_rng(0)).save(source)
    first = save_labelled("path", str(source), 7, tmp_path / "my_digits")
    second = save_labelled("path", str(source), 7, tmp_path / "my_digits")
    assert first.name == "7_photo.png" and second.name == "7_photo-2.png"
    assert first.read_bytes() == source.read_bytes()
    third = save_labelled("input", np.eye(28, dtype=np.float32), 1, tmp_path / "my_digits")
    assert third.name.startswith("1_corrected_") and Image.open(third).size == (112, 112)
    assert label_of(third, tmp_path / "my_digits") == 1


@pytest.mark.slow
def test_fine_tuning_teaches_the_sevens_and_keeps_mnist(tmp_path, mnist, trained_model, monkeypatch):
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    folder = make_sevens(tmp_path / "my_digits")
    base = tmp_path / "models" / "digit_recognizer.h5"
    base.parent.mkdir()
    shutil.copy(trained_model, base)
    with h5py.File(base, "r+") as f:  # a base judged unsure at its own threshold, as robust models are
        meta = json.loads(f.attrs["digitrec_metadata"])
        f.attrs["digitrec_metadata"] = json.dumps({**meta, "confidence_threshold": 0.77})
    settings = FinetuneSettings(folder=str(folder), base_model=str(base), epochs=1, mnist_images=3000)
    events = []
    result = run_finetune(settings, base, data=mnist, reporter=events.append)
    assert result.status == "done", result.reason
    done = events[-1]
    assert done["type"] == "done" and not done["refused"], done
    assert done["held_out"] == 6
    assert done["held_out_before"] <= 0.5 < done["held_out_after"], done  # it misread them, now it reads them
    assert done["test_accuracy_before"] - done["test_accuracy"] <= 0.001, done  # within 0.1 points on MNIST test
    assert done["model"] == str(base) and (base.parent / "digit_recognizer.previous.h5").exists()
    assert read_metadata(base)["confidence_threshold"] == 0.77  # the fine-tuned model keeps its base's
    summary = runs.summarise(result.run_dir)
    assert summary.status == "done" and summary.preset == "finetune" and summary.history  # a recorded run
    assert "held-out digits" in summary.note
    # Like any run: its runtime file follows the new .h5, and TensorBoard can read its curves.
    from tui.core.runtime import runtime_state

    assert runtime_state(base)[0] == "current"
    assert list((result.run_dir / "tensorboard").rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_a_fine_tune_that_costs_mnist_accuracy_is_refused(tmp_path, cli_env, trained_model):
    folder = make_sevens(tmp_path / "mine", n=8)
    base = tmp_path / "base.h5"
    shutil.copy(trained_model, base)
    before = base.read_bytes()
    # The guard's threshold is a setting: demanding a gain of 100 points makes any fine-tune fail it.
    proc = run_cli("train", "--finetune", str(folder), "--model", str(base), "--epochs", "1", "--mnist-images", "1000",
                   "--max-mnist-drop", "-100", env=cli_env, check_rc=1)
    assert "NOT saved to" in proc.stdout and "the active model is unchanged" in proc.stdout
    assert base.read_bytes() == before and not (tmp_path / "base.previous.h5").exists()
    (run,) = runs.list_runs(tmp_path / "runs")
    assert run.status == "done" and (run.path / runs.FINAL_MODEL).exists()
    done = [json.loads(line) for line in (run.path / runs.EVENTS).read_text().splitlines()][-1]
    assert done["refused"] is True and done["model"] is None


def test_a_stopped_fine_tune_is_started_again_not_resumed(tmp_path):
    import os

    run = tmp_path / "runs" / "20261125-000000-finetune-abcd"
    run.mkdir(parents=True)
    settings = FinetuneSettings(folder="my_digits", base_model="models/digit_recognizer.h5")
    (run / runs.CONFIG).write_text(json.dumps({"train": settings.train_config().to_dict(), "finetune": {}}))
    (run / runs.EVENTS).write_text(json.dumps({"type": "cancelled", "time": 1.0, "reason": "stopped"}) + "\n")
    (run / runs.LAST_CHECKPOINT).write_bytes(b"")
    env = {**os.environ, "DIGITREC_RUNS": str(tmp_path / "runs")}
    proc = run_cli("train", "--resume", run.name, env=env, check_rc=1)
    assert "is a fine-tune, which starts over rather than resumes" in proc.stderr
    assert [json.loads(line)["type"] for line in (run / runs.EVENTS).read_text().splitlines()] == ["cancelled"]


def test_a_refused_fine_tune_sorts_as_new_and_says_why_once(tmp_path, cli_env):
    from test_compare_prune import finished_run

    older = finished_run(tmp_path / "runs", "20260101-000000-fast-0001", started=1_000_000.0)
    base = tmp_path / "base.h5"
    base.write_bytes(b"x")  # refused before the model is read
    cases = ((make_sevens(tmp_path / "few", n=3), "need at least 4 labelled digit images"),
             (tmp_path / "missing", "is not a folder"))
    for folder, reason in cases:
        proc = run_cli("train", "--finetune", str(folder), "--model", str(base), env=cli_env, check_rc=1)
        assert (proc.stdout + proc.stderr).count(reason) == 1, proc.stdout + proc.stderr
        latest = runs.list_runs(tmp_path / "runs")[0]
        assert latest.status == "error" and latest.preset == "finetune" and reason in latest.reason
        assert latest.started is None and latest.created > 1_000_000.0  # it never started; it was made now
        assert runs.find_run("latest", tmp_path / "runs") == latest.path
    pruned = run_cli("runs", "--prune", "--keep", "2", "--dry-run", env=cli_env, check_rc=0)
    assert f"would delete {older.name}" in pruned.stdout and pruned.stdout.count("would delete") == 1


@pytest.mark.parametrize("given, recorded", [((), 0.001), (("--max-mnist-drop", "0.25"), 0.0025)],
                         ids=["default", "0.25-points"])
def test_max_mnist_drop_is_given_in_points_and_defaults_to_a_tenth_of_one(tmp_path, cli_env, given, recorded):
    """README: a fine-tune is refused when MNIST test accuracy falls by more than 0.1 points
    (`--max-mnist-drop`); the guard compares fractions, so points are divided by 100 on the way in."""
    base = tmp_path / "base.h5"
    base.write_bytes(b"x")  # too few images: refused, with its settings recorded, before the model is read
    run_cli("train", "--finetune", str(make_sevens(tmp_path / "few", n=3)), "--model", str(base), *given,
            env=cli_env, check_rc=1)
    (run,) = runs.list_runs(tmp_path / "runs")
    config = json.loads((run.path / runs.CONFIG).read_text())
    assert config["finetune"]["max_mnist_drop"] == pytest.approx(recorded, abs=1e-12)
    assert FinetuneSettings(folder="x", base_model="m.h5").max_mnist_drop == 0.001  # the app's fine-tunes too


def _strict(line: str) -> dict:
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.slow
def test_a_fine_tune_with_nothing_held_out_writes_strict_json(tmp_path, mnist, trained_model, monkeypatch):
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "one_of_each"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for digit in (1, 2, 3, 4):  # a single image of each digit: none can be held out
        looped_seven(rng).save(folder / f"{digit}_mine.png")
    output = tmp_path / "tuned.h5"
    settings = FinetuneSettings(folder=str(folder), base_model=str(trained_model), epochs=1, mnist_images=500,
                                test_limit=500)
    result = run_finetune(settings, output, data=mnist)
    assert result.status == "done", result.reason
    events = [_strict(line) for line in (result.run_dir / runs.EVENTS).read_text().splitlines()]
    done = events[-1]
    assert done["type"] == "done" and done["held_out"] == 0
    assert done["held_out_before"] is None and done["held_out_after"] is None
    assert "no held-out digits" in done["note"]


def test_events_are_strict_json(tmp_path):
    writer = runs.EventWriter(tmp_path)
    writer.emit("epoch", loss=float("nan"), nested={"a": [float("inf"), 1.5]})
    writer.close()
    (event,) = [_strict(line) for line in (tmp_path / runs.EVENTS).read_text().splitlines()]
    assert event["loss"] is None and event["nested"] == {"a": [None, 1.5]}

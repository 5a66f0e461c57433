"""What a folder holds that is no image file is named, once each with its reason, and names that are
not UTF-8 or hold control characters come out escaped (text) or as valid UTF-8 (JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT
from tui.core.finetune import collect_labelled
from tui.core.images import collect_images, split_skipped
from tui.core.names import for_json, for_text, json_safe
from tui.core.train import describe_event

MODEL = ROOT / "models" / "digit_recognizer.h5"
NOT_UTF8 = os.fsdecode(b"7_w\xff.png")
NEWLINE = "3_new\nline.png"
REASONS = {
    "loop.png": "a symbolic link loop",
    "dangling.png": "a symbolic link to missing.png, which does not exist",
    "fifo.png": "a FIFO (named pipe), not an image file",
    "folder.png": "a folder named like an image",
}


@pytest.fixture
def awkward(tmp_path, mnist) -> Path:
    """Four digits (one named with a byte that is not UTF-8, one with a newline) beside four entries
    named like images that are no file to read."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, name in enumerate((NOT_UTF8, NEWLINE, "1_plain.png", "2_more.png")):
        Image.fromarray(255 - mnist.x_test[i]).resize((56, 56)).save(os.path.join(os.fsencode(folder), os.fsencode(name)),
                                                                     format="PNG")
    os.symlink("loop.png", folder / "loop.png")
    os.symlink("missing.png", folder / "dangling.png")
    os.mkfifo(folder / "fifo.png")
    (folder / "folder.png").mkdir()
    return folder


def test_each_entry_that_is_no_file_is_skipped_with_its_reason(awkward):
    kept, skipped = split_skipped(collect_images([awkward]))
    assert {s.path.name: s.reason for s in skipped} == REASONS
    assert sorted(p.name for p, problem in kept if problem is None) == sorted(["1_plain.png", "2_more.png", NEWLINE, NOT_UTF8])
    assert str(skipped[0]) == f"skipped {skipped[0].path}: {skipped[0].reason}"


def test_names_are_escaped_for_a_line_of_text_and_valid_utf8_for_json():
    assert for_text(NEWLINE) == "3_new\\nline.png"
    assert for_text(NOT_UTF8) == "7_w\\xff.png"
    assert for_text("\x1b[31mred") == "\\x1b[31mred"
    assert for_text("Zahl ü 数字.png") == "Zahl ü 数字.png"
    assert for_json(NOT_UTF8) == "7_w\\xff.png"
    line = json.dumps(json_safe({"path": NOT_UTF8, "probabilities": [0.5]}))
    assert json.loads(line.encode("utf-8").decode("utf-8", "strict"))["path"] == "7_w\\xff.png"


def _predict(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "tui", "predict", str(folder), "--model", str(MODEL), *extra],
                          capture_output=True, env=env, timeout=300)


def test_predict_names_each_skip_once_and_predicts_the_rest(awkward):
    proc = _predict(awkward)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert proc.returncode == 0, err
    for name, reason in REASONS.items():
        assert err.count(f"digitrec: skipped {awkward / name}: {reason}\n") == 1
    assert "4 predicted, 0 failed, 4 skipped" in err
    assert f"{awkward}/7_w\\xff.png: " in out and f"{awkward}/3_new\\nline.png: " in out
    assert "1_plain.png: " in out and "2_more.png: " in out


def test_predict_json_is_valid_utf8_with_a_line_for_each_skip(awkward):
    proc = _predict(awkward, "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.decode("utf-8", "strict").splitlines()]
    assert {Path(o["path"]).name: o["skipped"] for o in lines if "skipped" in o} == REASONS
    predicted = {Path(o["path"]).name for o in lines if "digit" in o}
    assert predicted == {"7_w\\xff.png", NEWLINE, "1_plain.png", "2_more.png"}


def test_a_fine_tune_names_each_skip(awkward):
    mine = collect_labelled(awkward)
    assert len(mine.labels) == 4
    for name, reason in REASONS.items():
        assert [line for line in mine.skipped if name in line] == [f"{awkward / name}: {reason}"]
    # The console (and train.log) get one line each, a newline in a name escaped.
    assert describe_event({"type": "skipped", "line": f"{awkward / NEWLINE}: x"}) == f"skipped {awkward}/3_new\\nline.png: x"

"""The number reader: CTC decoding, the synthetic numbers it trains on, its conversion to LiteRT, a
recorded training run, and the shipped reader on the real development set."""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from tui.core.ctc import BLANK, greedy_decode, sequence_probability
from tui.core.lines import LINE_HEIGHT, LINE_WIDTH, normalise_line

ROOT = Path(__file__).resolve().parent.parent
REALNUMBERS = ROOT.parent / "shared" / "data" / "realnumbers"
SHIPPED_READER = ROOT / "models" / "number_reader.h5"


def _columns(symbols: list[int], sure: float = 0.96) -> np.ndarray:
    """Hand-made column probabilities: each column ``sure`` of its symbol, the rest spread evenly."""
    probs = np.full((len(symbols), 11), (1 - sure) / 10)
    probs[np.arange(len(symbols)), symbols] = sure
    return probs


# -- decoding ---------------------------------------------------------------------------------------


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    b = BLANK
    decoded = greedy_decode(_columns([b, 2, 2, b, 0, b, 0, 0, b, b, 7, b]))
    assert decoded.text == "2007"
    assert [d.columns for d in decoded.digits] == [(1, 3), (4, 5), (6, 8), (10, 11)]


def test_a_repeat_without_a_blank_between_is_one_digit():
    assert greedy_decode(_columns([BLANK, 3, 3, 3, BLANK])).text == "3"
    assert greedy_decode(_columns([BLANK] * 6)).text == ""


def test_a_doubtful_column_gives_a_doubtful_digit_and_a_less_likely_number():
    b = BLANK
    probs = _columns([b, 1, b, 4, b, 5, b])
    probs[3] = [0.02] * 11
    probs[3, 4], probs[3, 9] = 0.45, 0.37  # a 4 that might be a 9
    probs[3] /= probs[3].sum()
    decoded = greedy_decode(probs)
    assert decoded.text == "145"
    confidences = [d.confidence for d in decoded.digits]
    assert confidences[1] < 0.5 < min(confidences[0], confidences[2])
    assert np.argsort(decoded.digits[1].probabilities)[-2] == 9  # the runner-up is kept
    assert decoded.probability < 0.6 < greedy_decode(_columns([b, 1, b, 4, b, 5, b])).probability


def test_beam_search_finds_the_number_best_path_decoding_misses():
    from tui.core.ctc import beam_decode

    probs = np.zeros((3, 11))
    probs[0, [1, BLANK]] = [0.4, 0.6]  # a 1 spread over two columns, each one more likely blank
    probs[1, [1, BLANK]] = [0.4, 0.6]
    probs[2, BLANK] = 1.0
    assert greedy_decode(probs).text == ""
    beam = beam_decode(probs)
    assert beam.text == "1" and beam.probability == pytest.approx(0.64)
    assert beam.digits[0].columns == (0, 1)
    rng = np.random.default_rng(7)
    for _ in range(100):  # never less likely than the best path
        p = rng.dirichlet(np.ones(11) * 0.3, size=6)
        assert beam_decode(p, width=32).probability >= greedy_decode(p).probability - 1e-12


def test_sequence_probability_is_the_sum_over_every_alignment():
    rng = np.random.default_rng(3)
    for frames, label in [(4, [1]), (5, [1, 1]), (5, [2, 3]), (6, [3, 3, 4]), (4, [])]:
        probs = rng.dirichlet(np.ones(11), size=frames)
        brute = 0.0
        for path in itertools.product(range(11), repeat=frames):
            collapsed = [s for i, s in enumerate(path) if s != BLANK and (i == 0 or s != path[i - 1])]
            if collapsed == label:
                brute += float(np.prod(probs[np.arange(frames), list(path)]))
        assert sequence_probability(probs, label) == pytest.approx(brute, rel=1e-9, abs=1e-15)


def test_a_label_longer_than_the_columns_allow_has_no_probability():
    assert sequence_probability(_columns([1, BLANK, 1]), [1, 1, 1]) == 0.0


# -- the line every image becomes -------------------------------------------------------------------


def test_a_line_is_cropped_to_its_writing_and_keeps_its_aspect():
    gray = np.ones((120, 600), dtype=np.float32)
    gray[50:70, 200:300] = 0.1  # a dark bar 5 times wider than high, far from the edges
    line = normalise_line(gray)
    assert line.shape == (LINE_HEIGHT, LINE_WIDTH)
    cols = np.flatnonzero(line.max(axis=0) > 0.5)
    rows = np.flatnonzero(line.max(axis=1) > 0.5)
    assert 0.6 * LINE_HEIGHT < rows.size <= LINE_HEIGHT
    assert 3.5 < cols.size / rows.size < 6.5


def test_light_writing_on_dark_reads_like_dark_on_light():
    gray = np.ones((60, 200), dtype=np.float32)
    gray[20:40, 40:160] = 0.0
    assert np.allclose(normalise_line(gray), normalise_line(1.0 - gray), atol=0.02)


# -- synthetic numbers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank(mnist):
    from tui.core.numsynth import DigitBank

    return DigitBank(mnist.x_train, mnist.y_train)


def test_synthetic_numbers_have_their_label_one_mask_per_digit_and_marks_apart(bank):
    from tui.core.numsynth import render_number

    rng = np.random.default_rng(0)
    touching = marks = 0
    for _ in range(120):
        item = render_number(rng, bank)
        assert 2 <= len(item.label) <= 8 and item.label.isdigit()
        assert len(item.digit_masks) == len(item.label)
        assert item.gray.shape == item.digit_masks[0].shape == item.mark_mask.shape
        assert 0.0 <= item.gray.min() and item.gray.max() <= 1.0
        for mask in item.digit_masks:
            assert mask.any()
        # digits run left to right
        centres = [np.flatnonzero(m.any(axis=0)).mean() for m in item.digit_masks]
        assert centres == sorted(centres)
        for a, b in zip(item.digit_masks, item.digit_masks[1:]):
            if (ndimage.binary_dilation(a, iterations=1) & b).any():
                touching += 1
                break
        marks += bool(item.mark_mask.any())
    assert touching >= 30, touching  # neighbours touch or overlap in many numbers
    assert marks >= 40, marks  # separators, end marks, underlines, boxes


def test_a_given_label_is_drawn_with_its_separators_between_thousands(bank):
    from tui.core import numsynth

    rng = np.random.default_rng(5)
    seen_marks_between = 0
    for _ in range(60):
        item = numsynth.render_number(rng, bank, label="25000")
        assert item.label == "25000" and len(item.digit_masks) == 5
        second = np.flatnonzero(item.digit_masks[1].any(axis=0))
        third = np.flatnonzero(item.digit_masks[2].any(axis=0))
        between = item.mark_mask[:, second.mean().astype(int):third.mean().astype(int)]
        seen_marks_between += bool(between.any())
    assert seen_marks_between >= 10


# -- the model, its conversion, and a recorded run -----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory, bank):
    """A reader trained for a few steps on synthetic lines, saved as a digitrec model file."""
    from tui.core import reader_model
    from tui.core.modelfile import save_model
    from tui.core.numsynth import render_number
    from tui.core.reader_train import encode_labels
    from tui.core.tf import import_tf

    _, keras = import_tf()
    rng = np.random.default_rng(1)
    items = [render_number(rng, bank) for _ in range(64)]
    x = np.stack([normalise_line(i.gray) for i in items])[..., None]
    y = encode_labels([i.label for i in items], reader_model.MAX_DIGITS)
    model = reader_model.build_reader((8, 8, 16, 16, 16), rnn=8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=reader_model.ctc_loss)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("reader") / "number_reader.h5"
    save_model(model, path, {"preset": "reader", "kind": "number_reader"})
    return path, model, x


def test_the_reader_converts_loads_on_litert_and_agrees_with_keras(tiny_reader):
    from tui.core.reader import NumberReader
    from tui.core.runtime import runtime_path

    path, model, x = tiny_reader
    notes = []
    reader = NumberReader(path, notify=notes.append)
    assert reader.runtime == "LiteRT"
    assert runtime_path(path).is_file() and "rebuilt" in notes[0]
    lite = reader.columns(x[:5, ..., 0])
    keras_out = np.asarray(model(x[:5], training=False))
    assert lite.shape == (5, LINE_WIDTH // 4, 11)
    assert np.abs(lite - keras_out).max() < 1e-4
    again = NumberReader(path, notify=notes.append)  # the second time the runtime file is current
    assert len(notes) == 1 and again.runtime == "LiteRT"


def test_the_safe_loader_refuses_a_digit_model_as_a_reader(tiny_reader):
    from tui.core.errors import ModelFileError
    from tui.core.modelfile import READER, load_model

    with pytest.raises(ModelFileError, match="not a number reader"):
        load_model(ROOT / "models" / "digit_recognizer.h5", READER)


def test_a_reader_beside_the_digit_model_reads_numbers_whole(tiny_reader, tmp_path):
    import shutil

    from tui.core.inference import Predictor
    from tui.core.runtime import runtime_path

    path, _, _ = tiny_reader
    models = tmp_path / "models"
    models.mkdir()
    for src in (ROOT / "models" / "digit_recognizer.h5", ROOT / "models" / "digit_recognizer.tflite", path,
                runtime_path(path)):
        shutil.copy(src, models / src.name)
    image = ROOT / "sample_images" / "2026_paper.png"
    os.environ.pop("DIGITREC_READER", None)
    reading = Predictor(models / "digit_recognizer.h5").read_number(image)
    assert reading.method == "reader" and reading.confidence is not None and reading.line.shape == (32, 160)
    out = reading.to_json()
    assert set(out) >= {"number", "confidence", "uncertain", "uncertain_positions", "digits", "method"}
    assert all(d["probabilities"] and len(d["probabilities"]) == 10 for d in out["digits"])
    assert Predictor(models / "digit_recognizer.h5").read_number(image, segment=True).method == "segment"


def test_a_reader_run_is_recorded_like_any_other(tmp_path, mnist_path, monkeypatch):
    from tui.core.presets import PRESETS
    from tui.core.config import TrainConfig
    from tui.core.runtime import runtime_path
    from tui.core.train import run_training

    monkeypatch.delenv("DIGITREC_NUMBERS_TRAIN", raising=False)
    cfg = TrainConfig(**{**PRESETS["reader"], "preset": "reader"}).with_overrides(
        epochs=1, train_subset=300, batch_size=64, extra={"widths": [8, 8, 16, 16, 16], "rnn": 8, "workers": 1})
    out = tmp_path / "models" / "number_reader.h5"
    result = run_training(cfg, data_path=mnist_path, output=out, run_dir=tmp_path / "runs" / "r")
    assert result.status == "done", result.reason
    events = [json.loads(line) for line in (tmp_path / "runs" / "r" / "events.jsonl").read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and "epoch" in kinds and kinds[-1] == "done"
    epoch = next(e for e in events if e["type"] == "epoch")
    assert 0.0 <= epoch["val_accuracy"] <= 1.0
    assert out.is_file() and runtime_path(out).is_file()
    assert (tmp_path / "runs" / "r" / "tensorboard").is_dir()
    from tui.core.modelfile import read_metadata

    meta = read_metadata(out)
    assert meta["kind"] == "number_reader" and meta["real_lines"] == 0


def test_a_reader_run_can_end_on_real_lines_alone(tmp_path, mnist_path, monkeypatch):
    """extra.real_finish_epochs: the last epochs train on the real lines only, with as many steps as
    they fill, and are recorded like the others."""
    real = ROOT.parent / "shared" / "data" / "realnumbers-train"
    if not (real / "labels.csv").is_file():
        pytest.skip(f"{real} is not here (the real training lines live in ../shared)")
    from tui.core.config import TrainConfig
    from tui.core.presets import PRESETS
    from tui.core.train import run_training

    monkeypatch.setenv("DIGITREC_NUMBERS_TRAIN", str(real))
    extra = {**PRESETS["reader"]["extra"], "real_repeats": 1, "real_finish_epochs": 1,
             "widths": [8, 8, 16, 16, 16], "rnn": 8, "workers": 1}
    cfg = TrainConfig(**{**PRESETS["reader"], "preset": "reader"}).with_overrides(
        epochs=2, train_subset=300, batch_size=256, extra=extra)
    result = run_training(cfg, data_path=mnist_path, output=tmp_path / "r.h5", run_dir=tmp_path / "run")
    assert result.status == "done", result.reason
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    start = next(e for e in events if e["type"] == "start")
    last_batches = [e for e in events if e["type"] == "batch" and e["epoch"] == 2]
    real_lines = start["train_size"] - (300 - 30)  # all but the synthetic lines kept for training
    assert last_batches[-1]["steps"] == -(-real_lines // 256) != start["steps_per_epoch"]


# -- the shipped reader on real numbers ---------------------------------------------------------------


def _dev_set() -> list[tuple[Path, str]]:
    if not (REALNUMBERS / "labels.csv").is_file():
        pytest.skip(f"{REALNUMBERS} is not here (the real development set of numbers lives in ../shared)")
    with open(REALNUMBERS / "labels.csv", newline="", encoding="utf-8") as fh:
        return [(REALNUMBERS / "images" / r["file"], r["label"]) for r in csv.DictReader(fh)]


def test_read_command_reads_whole_numbers_and_refuses_a_missing_reader(tiny_reader, cli_env, tmp_path):
    from conftest import run_cli

    path, _, _ = tiny_reader
    image = str(ROOT / "sample_images" / "2026_paper.png")
    out = run_cli("read", image, "--reader", str(path), "--json", env=cli_env, check_rc=0)
    line = json.loads(out.stdout.strip().splitlines()[0])
    assert line["method"] == "reader" and line["number"].isdigit() or line["number"] == ""
    assert 0.0 <= line["confidence"] <= 1.0 and "tensorflow" not in out.stderr.lower()
    text = run_cli("read", image, "--reader", str(path), env=cli_env, check_rc=0).stdout
    assert text.startswith(f"{image}: read ") and "sure" in text.splitlines()[0]
    missing = run_cli("read", image, "--reader", str(tmp_path / "nope.h5"), env=cli_env)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines() == [f"digitrec: number reader {tmp_path / 'nope.h5'} does not exist; "
                                                   "check the path, or leave --reader out to use the one beside the digit model"]
    segmented = run_cli("predict", "--number", image, "--json", env={**cli_env, "DIGITREC_READER": str(tmp_path / "x.h5")},
                        check_rc=0)
    assert json.loads(segmented.stdout.splitlines()[0])["method"] == "segment"


def _shipped_reader():
    if not SHIPPED_READER.is_file():
        pytest.fail(f"{SHIPPED_READER} is missing: the number reader ships beside the digit model")
    from tui.core.reader import NumberReader

    return NumberReader(SHIPPED_READER)


# Whole-number accuracy of the shipped reader on the development set, measured with
# bench/read_numbers.py (BENCHMARKS.md, "Reading numbers"); the floor leaves room for LiteRT builds.
DEV_FLOOR = 0.85


def test_the_shipped_reader_reads_the_real_development_set_above_its_floor():
    items = _dev_set()
    reader = _shipped_reader()
    right = sum(reader.read_path(path).text == label for path, label in items)
    assert right / len(items) >= DEV_FLOOR, f"{right}/{len(items)} = {right / len(items):.1%}"


@pytest.mark.parametrize("name, number", [
    ("20000_orand_1.jpg", "20000"),  # 20.000: a thousands point
    ("2695_orand_1.jpg", "2695"),  # 2,695: a thousands comma
    ("10000_orand_1.jpg", "10000"),  # 10000= : an end mark
    ("127_orand_1.jpg", "127"),  # 127. : a full stop
])
def test_marks_that_are_not_digits_are_read_as_nothing(name, number):
    path = REALNUMBERS / "images" / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (the real development set lives in ../shared)")
    reading = _shipped_reader().read_path(path)
    assert reading.text == number


def test_marked_amounts_are_read_right_or_flagged():
    """The development set's round amounts (1000, 20000: most written 1.000, 20.000- and the like)
    are read right: floors set from the measured 57 of 64, with 2 wrong answers not flagged."""
    items = [(p, label) for p, label in _dev_set() if label.endswith("000") and len(label) >= 4]
    reader = _shipped_reader()
    readings = [(label, reader.read_path(p)) for p, label in items]
    right = sum(r.text == label for label, r in readings)
    confident_misses = sum(r.text != label and not r.uncertain for label, r in readings)
    assert len(items) == 64 and right >= 55 and confident_misses <= 3, (right, confident_misses)


def test_an_underlined_number_reads_as_the_number():
    from tui.core.images import open_image, to_grayscale

    path = REALNUMBERS / "images" / "127_orand_1.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is not here (the real development set lives in ../shared)")
    gray = to_grayscale(open_image(path))
    h, w = gray.shape
    underlined = np.vstack([gray, np.ones((h // 3, w), dtype=gray.dtype)])
    underlined[h + 2:h + 5, w // 20:w - w // 20] = 0.15  # a pen line under the whole amount
    assert _shipped_reader().read_gray(underlined).text == "127"

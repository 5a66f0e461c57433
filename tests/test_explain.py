"""Occlusion sensitivity: where the answer's evidence lies, drawn as text, from the CLI and the engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT, run_cli

from tui.core.explain import (
    AGAINST,
    SUPPORT,
    explain_input,
    format_explanation,
    map_lines,
    marks,
    occlusions,
    region,
    summary,
)


class RegionModel:
    """A transparent digit model: class 3 reads ink in the top-left quarter, class 5 in the bottom right.

    Its evidence is known by construction, so the occlusion map can be checked against it.
    """

    def __init__(self):
        self.calls = 0

    def predict_arrays(self, x):
        self.calls += 1
        x = np.asarray(x, dtype=np.float64)
        logits = np.zeros((len(x), 10))
        logits[:, 3] = x[:, :14, :14].sum(axis=(1, 2)) / 8
        logits[:, 5] = x[:, 14:, 14:].sum(axis=(1, 2)) / 10
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def two_blobs() -> np.ndarray:
    img = np.zeros((28, 28), dtype=np.float32)
    img[4:10, 4:10] = 1.0  # what class 3 reads
    img[18:22, 18:22] = 1.0  # what class 5 reads, less of it
    return img


def test_occlusions_hide_one_square_each_and_cover_the_border():
    batch, corners = occlusions(np.ones((28, 28), dtype=np.float32), patch=6, stride=2)
    assert batch.shape == (len(corners), 28, 28) and len(corners) == 15 * 15
    hidden = (batch == 0).sum(axis=(1, 2))
    assert hidden.max() == 36 and hidden.min() == 9  # a corner square is three quarters outside
    assert ((batch == 0).any(axis=0)).all()  # every pixel is hidden by some square


def test_the_map_finds_the_evidence_where_the_model_reads_it():
    model = RegionModel()
    expl = explain_input(model, two_blobs())
    assert model.calls == 1  # one batch of forward passes, nothing else
    assert (expl.digit, expl.runner_up) == (3, 5)
    m = marks(expl)
    assert (m[4:10, 4:10] == SUPPORT).all()  # hiding the top-left blob lowers 3 ...
    assert not (m[14:, :] == SUPPORT).any()  # ... hiding anything in the bottom half does not
    assert region(expl.support) == "the top left"
    assert expl.lowest < 0.5 < expl.confidence
    # The top-left blob is also what rules 5 out: hiding it raises 5.
    assert expl.highest > expl.probabilities[5]
    assert "evidence for 3: the top left" in "\n".join(summary(expl))


@pytest.mark.parametrize("mode", ["ascii", "blocks"])
def test_the_map_is_drawn_over_the_digit_in_both_styles(mode):
    expl = explain_input(RegionModel(), two_blobs())
    lines, tags = map_lines(expl, mode)
    assert len(lines) == len(tags) == 14 and all(len(line) == 28 for line in lines + tags)
    strong = "#" if mode == "ascii" else "█"
    other_ink = "." if mode == "ascii" else "·"
    assert strong in lines[3] and set(tags[3][4:10]) == {SUPPORT}  # rows 6-7: the top-left blob
    assert other_ink in lines[10][18:22] or AGAINST in tags[10]  # the bottom-right blob is still shown
    text = format_explanation(expl, mode)
    assert all(len(line) <= 80 for line in text.splitlines())  # readable in an 80-column terminal
    assert len(text.splitlines()) <= 15  # and, blank margins dropped, fits 24 rows with room to spare


@pytest.mark.slow
def test_a_real_model_rests_its_answer_on_the_digit(mnist, trained_model):
    from tui.core.inference import Predictor

    predictor = Predictor(trained_model)
    image = mnist.x_test[0].astype(np.float32) / 255  # a 7
    expl = explain_input(predictor, image)
    assert expl.digit == int(np.argmax(predictor.predict_arrays(image[None])[0]))
    assert expl.lowest < expl.confidence
    support = expl.support / expl.support.sum()
    near_ink = np.zeros_like(image, dtype=bool)
    ys, xs = np.nonzero(image > 0.3)
    for y, x in zip(ys, xs):
        near_ink[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4] = True
    assert support[near_ink].sum() > 0.8  # the evidence lies on and around the strokes, not in empty space


@pytest.mark.slow
def test_cli_predict_explain_draws_the_map_and_gives_json(cli_env, trained_model):
    image = ROOT / "sample_images" / "7_mnist_01.png"
    proc = run_cli("predict", "--explain", "--model", str(trained_model), str(image), env=cli_env, check_rc=0)
    assert "what the answer rests on" in proc.stdout and "evidence for" in proc.stdout
    # Everything but the image's own path (as long as the checkout's location) fits 80 columns.
    lines = proc.stdout.replace(f"{image}: ", "").splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    proc = run_cli("predict", "--explain", "--json", "--model", str(trained_model), str(image), "missing.png",
                   env=cli_env, check_rc=1)
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert np.asarray(first["support"]).shape == (28, 28) and first["runner_up"] != first["digit"]
    assert "does not exist" in second["error"]

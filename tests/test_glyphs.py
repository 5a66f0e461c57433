"""Continental glyph variants for training: flagged 1s and crossed 7s drawn onto MNIST digits."""

import numpy as np
import pytest

from tui.core import glyphs, pipeline
from tui.core.config import TrainConfig


def _stick() -> np.ndarray:
    """A bare MNIST-like 1: a vertical bar 3 px wide, rows 4-23, columns 13-15."""
    img = np.zeros((28, 28), "float32")
    img[4:24, 13:16] = 1.0
    return img


def _seven() -> np.ndarray:
    """A plain 7: a top bar (rows 4-6) and a stem from its right end down to the lower left."""
    img = np.zeros((28, 28), "float32")
    img[4:7, 7:21] = 1.0
    for row in range(7, 24):
        col = int(round(19 - (row - 7) * 0.45))
        img[row, col - 1:col + 2] = 1.0
    return img


@pytest.mark.parametrize("seed", range(5))
def test_a_flag_grows_down_and_left_from_the_top_of_the_stem(seed):
    img = _stick()
    out = glyphs.flag_one(img, np.random.default_rng(seed))
    added = (out - img) > 0.3
    assert (out >= img).all() and out.max() <= 1.0  # nothing of the digit is lost
    rows, cols = np.nonzero(added[:20, :13])  # left of the stem, above where a foot may go
    assert len(rows) >= 4, "no flag was drawn"
    assert rows.min() <= 6 and rows.max() <= 16  # from the top, down at most 55% of the height
    assert not added[:, 16:][:18].any()  # nothing to the right of the stem above its foot


def test_a_foot_comes_on_some_ones_only():
    feet = 0
    for seed in range(30):
        out = glyphs.flag_one(_stick(), np.random.default_rng(seed))
        feet += bool((out - _stick())[22:25, 17:].max() > 0.3)
    assert 3 <= feet <= 20


@pytest.mark.parametrize("seed", range(5))
def test_a_crossbar_crosses_the_stem_near_the_middle(seed):
    img = _seven()
    out = glyphs.cross_seven(img, np.random.default_rng(seed))
    added = (out - img) > 0.3
    rows, cols = np.nonzero(added)
    assert (out >= img).all() and len(rows) >= 6
    assert 11 <= rows.mean() <= 18  # 45-65% of the way down rows 4-23, give or take the tilt
    stem = np.nonzero(img[int(round(rows.mean()))])[0].mean()
    assert cols.min() < stem - 2 and cols.max() > stem + 2  # both sides of the stem
    assert not added[:8].any()  # the top bar is left alone


def test_an_empty_image_is_left_as_it_is():
    blank = np.zeros((28, 28), "float32")
    rng = np.random.default_rng(0)
    assert (glyphs.flag_one(blank, rng) == 0).all() and (glyphs.cross_seven(blank, rng) == 0).all()


def test_variants_change_every_one_and_seven_and_nothing_else(mnist):
    x, y = mnist.x_train[:300], mnist.y_train[:300]
    variants = glyphs.glyph_variants(x, y, seed=3)
    changed = (variants != x).any(axis=(1, 2))
    np.testing.assert_array_equal(changed, np.isin(y, glyphs.STYLED))
    assert variants.dtype == np.uint8 and (variants >= x).all()
    np.testing.assert_array_equal(variants, glyphs.glyph_variants(x, y, seed=3))  # one seed, one set


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_pipeline_trains_on_the_variants_for_the_chosen_share(mnist, share):
    ones = np.flatnonzero(mnist.y_train == 1)[:32]
    x, y = mnist.x_train[ones], mnist.y_train[ones]
    cfg = TrainConfig(batch_size=32, augment_shift=0, seed=5, extra={"augment_glyphs": share})
    images, _ = next(iter(pipeline.train_dataset(x, y, cfg)))
    batch = np.rint(images.numpy()[..., 0] * 255).astype(np.uint8)
    expected = glyphs.glyph_variants(x, y, seed=5) if share else x
    for image in batch:
        assert (expected == image).all(axis=(1, 2)).any()

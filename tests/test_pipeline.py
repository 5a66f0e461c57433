"""The training input pipeline's augmentations, on real MNIST digits through real TensorFlow ops."""

import numpy as np
import pytest

from tui.core import pipeline
from tui.core.config import TrainConfig


@pytest.fixture(scope="module")
def tf():
    from tui.core.tf import import_tf

    return import_tf()[0]


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.x_train[:64].astype("float32")[..., None] / 255.0


def test_stroke_width_thins_or_thickens_the_chosen_share(tf, digits):
    out = pipeline._stroke_width(tf, tf.constant(digits), 1.0).numpy()
    ink_before, ink_after = digits.sum(axis=(1, 2, 3)), out.sum(axis=(1, 2, 3))
    thicker, thinner = ink_after > ink_before * 1.2, ink_after < ink_before * 0.8
    # Every image is changed, about half each way, and stays a digit-sized blob in [0, 1].
    assert (thicker | thinner).all()
    assert 16 <= thicker.sum() <= 48
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert (out[thinner] <= digits[thinner] + 1e-6).all()  # erosion never adds ink
    assert (out[thicker] >= digits[thicker] - 1e-6).all()  # dilation never removes it


def test_stroke_width_is_a_2x2_grey_dilation_or_erosion_of_each_image(tf, digits):
    from scipy import ndimage

    out = pipeline._stroke_width(tf, tf.constant(digits), 1.0).numpy()[..., 0]
    # TensorFlow's 2x2 "SAME" window at (i, j) covers rows i..i+1 and columns j..j+1. scipy mirrors
    # the window for a dilation, not for an erosion, so the erosion's origin moves it there.
    for image, got in zip(digits[..., 0], out):
        thick = ndimage.grey_dilation(image, size=(2, 2), mode="constant", cval=0.0)
        thin = ndimage.grey_erosion(image, size=(2, 2), origin=(-1, -1), mode="constant", cval=np.inf)
        assert np.array_equal(got, thick) or np.array_equal(got, thin)


def test_shift_moves_each_image_whole_by_its_own_offset(tf, digits):
    shift = 2
    out = pipeline._shift(tf, tf.constant(digits), shift).numpy()[..., 0]
    padded = np.pad(digits[..., 0], ((0, 0), (shift, shift), (shift, shift)))
    offsets = []
    for k, got in enumerate(out):
        found = [(dy, dx) for dy in range(2 * shift + 1) for dx in range(2 * shift + 1)
                 if np.array_equal(got, padded[k, dy:dy + 28, dx:dx + 28])]
        assert found, f"image {k} is not its input moved by at most {shift} px"
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # each image draws its own offset


def test_no_share_leaves_images_alone(tf, digits):
    x = tf.constant(digits)
    np.testing.assert_array_equal(pipeline._stroke_width(tf, x, 0.0).numpy(), digits)
    np.testing.assert_array_equal(pipeline._low_resolution(tf, x, 0.0).numpy(), digits)


def test_low_resolution_blurs_but_keeps_the_digit(tf, digits):
    out = pipeline._low_resolution(tf, tf.constant(digits), 1.0).numpy()
    assert out.shape == digits.shape
    changed = np.abs(out - digits).max(axis=(1, 2, 3)) > 0.1
    assert changed.all()
    # Area down and bilinear up keep the ink where it was: the same amount, the same centre.
    np.testing.assert_allclose(out.sum(axis=(1, 2, 3)), digits.sum(axis=(1, 2, 3)), rtol=0.1)
    rows = np.arange(28)[None, :, None, None]
    centre = lambda a: (a * rows).sum(axis=(1, 2, 3)) / a.sum(axis=(1, 2, 3))  # noqa: E731
    np.testing.assert_allclose(centre(out), centre(digits), atol=0.75)


def test_the_default_preset_trains_on_augmented_batches(tf, mnist):
    from tui.core.presets import PRESETS

    extra = PRESETS["default"]["extra"]
    assert extra["augment_stroke"] > 0 and extra["augment_lowres"] > 0 and extra["augment_glyphs"] > 0
    cfg = TrainConfig(batch_size=32, augment_shift=2, extra=extra)
    x, y = mnist.x_train[:32], mnist.y_train[:32]
    images, labels = next(iter(pipeline.train_dataset(x, y, cfg)))
    images = images.numpy()
    assert images.shape == (32, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(np.sort(labels.numpy()), np.sort(y))


def test_each_epoch_is_a_fresh_permutation_of_the_training_set(tf, mnist):
    # Indices are shuffled and each batch gathered: every image, with its own label, exactly once
    # an epoch (the last batch partial), in a new order the next epoch.
    x, y = mnist.x_train[:300], mnist.y_train[:300]
    ds = pipeline.train_dataset(x, y, TrainConfig(batch_size=64, augment_shift=0, extra={}))
    epochs = []
    for _ in range(2):
        batches = list(ds)
        assert [len(b[1]) for b in batches] == [64, 64, 64, 64, 44]
        images = np.concatenate([b[0].numpy() for b in batches])[..., 0]
        labels = np.concatenate([b[1].numpy() for b in batches])
        found = {img.tobytes(): i for i, img in enumerate((x / 255.0).astype("float32"))}
        order = [found[img.tobytes()] for img in images]
        assert sorted(order) == list(range(300))
        np.testing.assert_array_equal(labels, y[order])
        epochs.append(order)
    assert epochs[0] != epochs[1]


def test_datasets_do_not_autotune(tf, mnist):
    # Dropping an autotuned iterator waits for its tuning thread (up to a minute); Keras drops one
    # at every epoch. Both datasets keep fixed parallelism instead.
    cfg = TrainConfig(batch_size=32, augment_shift=2, extra={"augment_glyphs": 0.3})
    x, y = mnist.x_train[:64], mnist.y_train[:64]
    assert pipeline.train_dataset(x, y, cfg).options().autotune.enabled is False
    assert pipeline.eval_dataset(x, y).options().autotune.enabled is False


@pytest.mark.parametrize("keep_shift", [False, True])
def test_clean_final_epochs_train_on_the_digits_as_they_are(tf, mnist, keep_shift):
    # extra.augment_clean_epochs: the callback closes the gate as each of the last N epochs begins,
    # and the batches made after it come unaugmented (shifted still, with augment_clean_shift).
    from tui.core.presets import PRESETS

    extra = {**PRESETS["default"]["extra"], "augment_clean_epochs": 2, "augment_clean_shift": keep_shift}
    cfg = TrainConfig(batch_size=64, epochs=5, augment_shift=2, extra=extra)
    x, y = mnist.x_train[:64], mnist.y_train[:64]
    gate, (callback,) = pipeline.augmentation_gate(cfg)
    ds = pipeline.train_dataset(x, y, cfg, gate=gate)
    originals = {img.tobytes() for img in (x / 255.0).astype("float32")}

    def share_as_they_are() -> float:
        images = next(iter(ds))[0].numpy()[..., 0]
        return float(np.mean([img.tobytes() in originals for img in images]))

    callback.on_epoch_begin(2)  # the third of five: still augmented
    assert share_as_they_are() < 0.2
    callback.on_epoch_begin(3)  # the last two: as they are, or only shifted
    assert share_as_they_are() == 1.0 if not keep_shift else share_as_they_are() < 0.2
    assert pipeline.augmentation_gate(TrainConfig(extra={})) == (None, [])


def test_cutout_sets_one_clipped_square_of_each_chosen_image_to_paper(tf, digits):
    side = 8
    out = pipeline._erase(tf, tf.constant(digits), 1.0, side).numpy()[..., 0]
    corners = set()
    for image, got in zip(digits[..., 0], out):
        changed = got != image
        assert (got[changed] == 0).all(), "erased pixels become paper"
        # The erased square: where the output is 0 and the input is not, inside one box of at most
        # side x side; everything outside that box is untouched.
        rows, cols = np.nonzero(changed)
        if len(rows):
            assert rows.max() - rows.min() < side and cols.max() - cols.min() < side
            corners.add((rows.min(), cols.min()))
    assert len(corners) > 20, "each image draws its own square"
    # Over the batch some squares fall wholly inside and cover side x side pixels of ink-or-paper.
    full = [(g == 0).sum() - (i == 0).sum() for g, i in zip(out, digits[..., 0])]
    assert max(full) <= side * side and max(full) > side * side // 2
    np.testing.assert_array_equal(pipeline._erase(tf, tf.constant(digits), 0.0, side).numpy(), digits)


def test_cutout_reaches_the_training_batches_only_when_asked(tf, mnist):
    x, y = mnist.x_train[:256], mnist.y_train[:256]
    originals = {img.tobytes() for img in (x / 255.0).astype("float32")}

    def share_as_they_are(extra) -> float:
        images = next(iter(pipeline.train_dataset(x, y, TrainConfig(batch_size=256, extra=extra))))[0].numpy()
        return float(np.mean([img[..., 0].tobytes() in originals for img in images]))

    assert share_as_they_are({}) == 1.0
    # A square over paper alone changes nothing, so somewhat more than half are left as they were.
    assert 0.35 < share_as_they_are({"augment_erase": 0.5}) < 0.8

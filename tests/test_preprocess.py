"""Any image of a digit becomes an MNIST-like input: framed, centred, white on black, like the original."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from tui.core.errors import ImageError
from tui.core.preprocess import (
    PREVIEW_SIDE,
    connected_components,
    digit_score,
    looks_like_digit,
    preprocess_gray,
    preprocess_image,
    preprocess_path,
)
from tui.core.segment import segment_digits


@pytest.fixture(scope="module")
def digits(mnist):
    """One test digit of each class (float, 1 = ink), the first of its kind in the test set."""
    return [mnist.x_test[np.flatnonzero(mnist.y_test == d)[0]].astype(np.float32) / 255.0 for d in range(10)]


def assert_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(x.max(axis=1) > 0), np.flatnonzero(x.max(axis=0) > 0)
    assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20
    ys, xs = np.indices(x.shape)
    cy, cx = (x * ys).sum() / x.sum(), (x * xs).sum() / x.sum()
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (cy, cx)
    # White on black: the outer ring is background (MNIST's own digits touch it now and then).
    ring = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    assert ring.mean() < 0.05 and x[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0
    assert 0.03 < (x > 0.5).mean() < 0.45


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def shape_match(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation allowing a one-pixel shift: centring by mass rounds to whole pixels, as MNIST did."""
    return max(correlation(np.roll(a, (dy, dx), axis=(0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def enlarge(ink: np.ndarray, size: int) -> np.ndarray:
    img = Image.fromarray(ink.astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def on_canvas(ink: np.ndarray, shape: tuple[int, int], top: int, left: int) -> np.ndarray:
    canvas = np.zeros(shape, dtype=np.float32)
    canvas[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return canvas


def test_plain_mnist_digit_is_nearly_unchanged(digits):
    for ink in digits:
        out = preprocess_gray(ink)
        assert_mnist_like(out)
        assert correlation(out, ink) > 0.95


def test_black_on_white(digits):
    for ink in digits:
        out = preprocess_gray(1.0 - enlarge(ink, 84))
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.85


def test_small_and_off_centre_on_a_large_canvas(digits):
    for ink in digits:
        gray = on_canvas(enlarge(ink, 56), (300, 400), top=220, left=20)
        out = preprocess_gray(gray)
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.85


def test_rgba_with_transparent_background(digits):
    for ink in digits:
        alpha = (enlarge(ink, 112) * 255).astype(np.uint8)
        img = Image.new("RGBA", (112, 112), (20, 60, 200, 0))
        img.putalpha(Image.fromarray(alpha))
        out = preprocess_image(img)
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.85


def test_lighting_gradient(digits):
    ys, xs = np.mgrid[0:160, 0:160] / 160.0
    light = 1.0 - 0.55 * (0.6 * xs + 0.4 * ys)
    for ink in digits:
        gray = (0.95 - 0.8 * on_canvas(enlarge(ink, 100), (160, 160), 30, 30)) * light
        out = preprocess_gray(gray)
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.85


def test_specks_of_noise(digits):
    rng = np.random.default_rng(0)
    for ink in digits:
        gray = 0.9 - 0.8 * on_canvas(enlarge(ink, 90), (200, 200), 55, 55)
        for _ in range(40):
            y, x = rng.integers(0, 196, 2)
            if not (45 < y < 155 and 45 < x < 155):
                gray[y:y + 3, x:x + 3] = 0.1
        gray += rng.normal(0, 0.03, gray.shape)
        out = preprocess_gray(np.clip(gray, 0, 1))
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.85


def test_hairline_strokes_are_thickened(digits):
    for ink in digits:
        big = enlarge(ink, 360)
        gray = 1.0 - 0.8 * (big > 0.8)
        out = preprocess_gray(gray)
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.8


@pytest.mark.parametrize("gray", [
    np.ones((50, 50)), np.zeros((50, 50)), np.full((30, 40), 0.5), np.zeros((1, 1)), np.ones((1, 30)),
    np.clip(0.9 + np.random.default_rng(0).normal(0, 0.04, (120, 120)), 0, 1),
    np.tile(np.linspace(0.3, 1.0, 200), (150, 1)),
    np.random.default_rng(1).random((200, 200)),
    np.random.default_rng(2).random((28, 28)),
    np.clip(0.8 + np.random.default_rng(3).normal(0, 0.06, (16, 16)), 0, 1),
], ids=["white", "black", "grey", "1x1", "1x30", "plain-paper-noise", "lighting-gradient", "uniform-noise",
        "tiny-uniform-noise", "tiny-paper-noise"])
def test_blank_images_have_no_digit(gray):
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_gray(gray)


def test_preprocess_path_keeps_a_small_preview(tmp_path, digits):
    path = tmp_path / "big.png"
    Image.fromarray(((1.0 - enlarge(digits[3], 500)) * 255).astype(np.uint8)).save(path)
    result = preprocess_path(path)
    assert result.path == path
    assert_mnist_like(result.input28)
    assert max(result.gray.shape) <= PREVIEW_SIDE and result.gray.shape[0] == result.gray.shape[1]


def test_looks_like_digit(digits):
    assert all(looks_like_digit(preprocess_gray(ink)) for ink in digits)
    ys, xs = np.mgrid[0:100, 0:100]
    spot = (np.hypot(ys - 40, xs - 60) < 4).astype(np.float32)  # a full stop, blown up to a disc
    assert not looks_like_digit(preprocess_gray(spot))
    dot = np.zeros((28, 28), dtype=np.float32)
    dot[14, 14] = 1.0
    assert digit_score(dot) < 0.5
    assert digit_score(np.zeros((28, 28))) == 0.0


def test_connected_components_8_connected():
    mask = np.array([
        [1, 0, 0, 1],
        [0, 1, 0, 1],
        [0, 0, 0, 0],
        [1, 1, 0, 1],
    ], dtype=bool)
    labels, boxes, areas = connected_components(mask)
    assert sorted(areas) == [1, 2, 2, 2]
    assert labels[0, 0] == labels[1, 1] != labels[0, 3]
    assert (0, 0, 2, 2) in boxes and (3, 0, 4, 2) in boxes


def test_segment_a_number_into_digits(mnist):
    sources = [mnist.x_test[np.flatnonzero(mnist.y_test == d)[i]].astype(np.float32) / 255.0
               for i, d in enumerate((2, 0, 2, 6))]
    number = np.hstack([np.pad(s, ((6, 6), (2, 2))) for s in sources])
    inputs = segment_digits(1.0 - number)
    assert len(inputs) == 4
    for out, src in zip(inputs, sources):
        assert_mnist_like(out)
        # Each piece matches its own source digit far better than its neighbours.
        scores = [shape_match(out, s) for s in sources]
        assert int(np.argmax(scores)) == [s is src for s in sources].index(True) and max(scores) > 0.9


def test_segment_merges_a_broken_digit(digits):
    five = digits[5].copy()
    rows = np.flatnonzero(five.max(axis=1) > 0)
    five[rows[0] + 5:rows[0] + 7] = 0.0  # lift the top bar off the body
    number = np.hstack([np.pad(d, ((4, 4), (3, 3))) for d in (digits[1], five, digits[7])])
    assert len(segment_digits(number)) == 3


def test_segment_one_digit(digits):
    inputs = segment_digits(1.0 - enlarge(digits[8], 120))
    assert len(inputs) == 1
    assert shape_match(inputs[0], digits[8]) > 0.85


def test_shortcuts_give_the_same_numbers_as_the_plain_operations():
    """Block shrinking and stroke thickening take shortcuts for speed; they must not change a value."""
    from scipy import ndimage

    from tui.core.preprocess import TARGET_STROKE, _bright_ink, _normalise_stroke, stroke_width

    rng = np.random.default_rng(0)
    gray = rng.random((101, 67), dtype=np.float32)
    for k in (1, 2, 3, 5):
        h, w = gray.shape
        for dark in (False, True):
            x = np.pad(1.0 - gray if dark else gray, ((0, -h % k), (0, -w % k)), mode="edge")
            plain = x.reshape(x.shape[0] // k, k, x.shape[1] // k, k).max(axis=(1, 3))
            shortcut = _bright_ink(gray, dark, k)
            assert shortcut.dtype == plain.dtype and np.array_equal(shortcut, plain)
    crop = (rng.random((40, 30)) > 0.97).astype(np.float32) * rng.random((40, 30), dtype=np.float32)
    cross = ndimage.generate_binary_structure(2, 1)
    for radius in range(1, 8):
        plain = np.pad(crop, radius)
        for step in range(radius):  # cross and square steps in turn
            plain = ndimage.grey_dilation(plain, size=(3, 3)) if step % 2 else ndimage.grey_dilation(plain, footprint=cross)
        # The scale at which these strokes are thin enough to be thickened by `radius` pixels.
        scale = TARGET_STROKE / 2 / (radius + stroke_width(crop > 0.5) / 2)
        assert np.array_equal(_normalise_stroke(crop, scale), plain)
    # The stroke width counts the boundary that a plus-shaped erosion removes, without eroding.
    for shape, density, grow in (((60, 45), 0.02, 2), ((7, 300), 0.1, 1), ((2, 9), 0.5, 0), ((120, 90), 0.005, 4)):
        mask = rng.random(shape) < density
        if grow:
            mask = ndimage.binary_dilation(mask, iterations=grow)
        boundary = int((mask & ~ndimage.binary_erosion(mask, border_value=0)).sum())
        assert stroke_width(mask) == 2.0 * float(mask.sum()) / max(boundary, 1)


def test_digit_ink_grows_only_around_the_chosen_pieces(digits):
    """`digit_ink` dilates the box around the chosen pieces alone: the same numbers as the whole image."""
    from scipy import ndimage

    from tui.core.preprocess import InkMap, digit_ink, find_ink

    rng = np.random.default_rng(3)
    for k in range(4):
        gray = np.ones((300, 420), dtype=np.float32)
        for _ in range(3):  # three digits, one touching the image's edge
            top, left = rng.integers(0, 272), rng.integers(0, 392)
            gray[top:top + 28, left:left + 28] -= digits[k] * 0.8
        gray[0:28, 100:128] -= digits[k] * 0.8
        found = find_ink(np.clip(gray, 0, 1))
        # Ink everywhere, so that every pixel the growth reaches shows in the result.
        inkmap = InkMap(np.full_like(found.ink, 0.9), found.labels, found.boxes, found.areas, found.threshold)
        for pieces in ([1], list(range(1, len(inkmap.boxes) + 1)), [len(inkmap.boxes)]):
            wanted = np.zeros(len(inkmap.boxes) + 1, dtype=bool)
            wanted[pieces] = True
            chosen = wanted[inkmap.labels]
            grow = max(1, round(max(inkmap.ink.shape) / 150))
            near = ndimage.binary_dilation(chosen, iterations=grow) & ((inkmap.labels == 0) | chosen)
            floor = min(0.5 * inkmap.threshold, 0.15)
            plain = np.clip((inkmap.ink - floor) / (1.0 - floor), 0.0, 1.0) * near
            assert np.array_equal(digit_ink(inkmap, pieces), plain)


def test_hough_peaks_are_scikit_images_peaks():
    """`hough_peaks` is a faster `skimage.transform.hough_line_peaks`: the same peaks, in the same order."""
    from skimage.draw import line
    from skimage.transform import hough_line, hough_line_peaks

    from tui.core.preprocess import hough_peaks

    rng = np.random.default_rng(1)
    angles = np.linspace(-np.pi / 2, np.pi / 2, 180, endpoint=False)
    found = 0
    for trial in range(30):
        h, w = rng.integers(40, 300, 2)
        mask = rng.random((h, w)) < 0.01  # specks
        for _ in range(trial % 5):  # and some lines, a few nearly vertical (the angle wraps there)
            rr, cc = line(*[int(v) for v in rng.integers(0, [h, w, h, w])])
            mask[rr, cc] = True
        if trial % 3 == 0:
            mask[:, rng.integers(0, w)] = True
        accumulator, thetas, dists = hough_line(mask, theta=angles)
        threshold = 0.25 * min(h, w)
        expected = hough_line_peaks(accumulator, thetas, dists, num_peaks=10, threshold=threshold)
        got = hough_peaks(accumulator, thetas, dists, num_peaks=10, threshold=threshold)
        for a, b in zip(expected, got):
            assert np.array_equal(a, b), (trial, expected, got)
        found += len(got[0])
    assert found >= 30  # lines were there to find

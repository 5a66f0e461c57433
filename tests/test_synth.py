"""User-style renderings of MNIST digits look like real inputs and preprocess back to their digit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tui.core.images import to_grayscale
from tui.core.preprocess import preprocess_image
from tui.core.segment import segment_digits
from tui.core.synth import STYLES, generate, render_number, render_user_style


def shape_match(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation allowing a one-pixel shift: centring by mass rounds to whole pixels, as MNIST did."""
    return max(float(np.corrcoef(np.roll(a, (dy, dx), axis=(0, 1)).ravel(), b.ravel())[0, 1])
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_styles_cover_the_contract():
    assert {"photo", "scan", "drawn", "inverted", "thick", "thin"} <= set(STYLES)


@pytest.mark.parametrize("style", STYLES)
def test_each_style_preprocesses_back_to_its_digit(mnist, style):
    rng = np.random.default_rng(7)
    scores = []
    for k in range(12):
        digit = mnist.x_test[k]
        img = render_user_style(digit, style, rng)
        assert isinstance(img, Image.Image) and min(img.size) >= 96
        scores.append(shape_match(preprocess_image(img), digit / 255.0))
    assert np.median(scores) > 0.8 and min(scores) > 0.6, scores


def test_style_specifics(mnist):
    rng = np.random.default_rng(1)
    digit = mnist.x_test[0]
    drawn = render_user_style(digit, "drawn", rng)
    alpha = np.asarray(drawn)[..., 3]
    assert drawn.mode == "RGBA" and alpha.min() == 0 and alpha.max() == 255
    assert (alpha == 0).mean() > 0.5  # mostly transparent background
    photo = render_user_style(digit, "photo", rng)
    assert photo.mode == "RGB" and 200 <= max(photo.size) <= 400
    rgb = np.asarray(photo, dtype=np.float32)
    assert np.ptp(rgb[..., 2] - rgb[..., 0]) > 10 or rgb.std() > 10  # colour or texture, not flat grey
    inverted = to_grayscale(render_user_style(digit, "inverted", rng))
    assert np.median(inverted) < 0.3
    scan = to_grayscale(render_user_style(digit, "scan", rng))
    assert np.median(scan) > 0.8


def test_stroke_styles_differ_in_ink(mnist):
    def ink_share(style: str) -> float:
        img = render_user_style(mnist.x_test[3], style, np.random.default_rng(3), size=160)
        return float((to_grayscale(img) < 0.5).mean())
    assert ink_share("thin") < ink_share("scan") < ink_share("thick")


def test_photo_survives_jpeg(mnist):
    img = render_user_style(mnist.x_test[1], "photo", np.random.default_rng(2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    again = Image.open(io.BytesIO(buf.getvalue()))
    assert shape_match(preprocess_image(again), mnist.x_test[1] / 255.0) > 0.75


def test_deterministic_for_a_seed(mnist):
    a = render_user_style(mnist.x_test[5], "photo", np.random.default_rng(11))
    b = render_user_style(mnist.x_test[5], "photo", np.random.default_rng(11))
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_generate_cycles_styles(mnist):
    items = list(generate(mnist.x_test, mnist.y_test, 12, np.random.default_rng(0)))
    assert [style for _, _, style in items] == list(STYLES) * 2
    assert all(0 <= label <= 9 for _, label, _ in items)


def test_unknown_style(mnist):
    with pytest.raises(ValueError, match="unknown style"):
        render_user_style(mnist.x_test[0], "watercolour", np.random.default_rng(0))


def test_rendered_number_segments_into_its_digits(mnist):
    rng = np.random.default_rng(2026)
    sources = [mnist.x_test[np.flatnonzero(mnist.y_test == d)[3]] for d in (2, 0, 2, 6)]
    img = render_number(sources, rng)
    inputs = segment_digits(to_grayscale(img))
    assert len(inputs) == 4
    labels = (2, 0, 2, 6)
    for i, out in enumerate(inputs):
        # In order: each piece matches its own digit better than the other digits of the number.
        own = shape_match(out, sources[i] / 255.0)
        others = [shape_match(out, s / 255.0) for s, label in zip(sources, labels) if label != labels[i]]
        assert own > max(others) and own > 0.6

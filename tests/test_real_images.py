"""Real-image failure classes: each built from an MNIST digit, found and framed MNIST-like; the real
development set (read from ../shared, skipped when absent) gets no false "no digit found"."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from tui.core.errors import ImageError
from tui.core.images import open_image, to_grayscale
from tui.core.preprocess import (
    clear_edge_bands, find_ink, frame_tight_crop, preprocess_gray, preprocess_image, remove_impulses,
)
from tui.core.synth import (
    crop_to_ink, render_failure_class, with_dark_edge, with_frame, with_ring, with_specks, with_underline,
)

from test_preprocess import assert_mnist_like, shape_match

REAL = Path(os.environ.get("DIGITREC_REAL", Path(__file__).resolve().parents[2] / "shared" / "data" / "realdigits"))


def _framed_like(mnist, kind: str, count: int = 6, seed: int = 11) -> list[float]:
    rng = np.random.default_rng(seed)
    scores = []
    for k in range(count):
        digit = mnist.x_test[k]
        out = preprocess_image(render_failure_class(digit, kind, rng))
        assert_mnist_like(out)
        scores.append(shape_match(out, digit / 255.0))
    return scores


@pytest.mark.parametrize("kind", ["hairline", "long_stroke", "tiny", "shaded", "form_cell"])
def test_failure_class_digit_is_found_and_framed(mnist, kind):
    # A hairline on a 1150x650 canvas, one long thin stroke, a 16x16 or 28x28 crop, thin blue
    # ballpoint on shaded beige paper, a scanned form's cell with its ruled edges: each was refused
    # as blank or cropped to the shadow or the box before.
    scores = _framed_like(mnist, kind)
    assert np.median(scores) > 0.6 and min(scores) > 0.4, scores


def test_hairline_on_a_large_canvas_keeps_its_shape(mnist):
    img = render_failure_class(mnist.x_test[0], "hairline", np.random.default_rng(3))
    assert min(img.size) >= 600 and max(img.size) >= 1000
    gray = to_grayscale(img)
    assert (gray < 0.5).mean() < 0.01  # a thin line: under 1% of the canvas is ink
    out = preprocess_image(img)
    assert_mnist_like(out)
    assert shape_match(out, mnist.x_test[0] / 255.0) > 0.6


@pytest.mark.parametrize("ink", [0.0, 0.6], ids=["black", "faint"])
def test_hard_two_pixel_line_on_a_large_canvas_is_a_one(ink):
    # No anti-aliasing, under 0.1% of the pixels, on a canvas shrunk 3x before analysis: the border
    # and the percentiles see only paper, so polarity must come from the strokes themselves.
    gray = np.ones((650, 1150), dtype=np.float32)
    gray[100:300, 200:202] = ink
    out = preprocess_gray(gray)
    assert_mnist_like(out)
    rows, cols = np.flatnonzero(out.max(axis=1) > 0.5), np.flatnonzero(out.max(axis=0) > 0.5)
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 <= 6  # a tall thin stroke


def test_bold_tiny_digit_touching_the_edges_is_not_blank(mnist):
    # A heavy 28x28 crop whose strokes reach the border, on grey paper, with a white padded band.
    digit = mnist.x_test[3].astype(np.float32) / 255.0
    from scipy import ndimage
    ink = ndimage.grey_dilation(digit, size=(3, 3))[2:26, 4:24]
    gray = 0.6 - 0.6 * ink
    gray = np.pad(gray, ((0, 0), (0, 8)), constant_values=1.0)
    out = preprocess_gray(gray)
    assert_mnist_like(out)


def test_faint_noisy_tiny_crop_is_read(mnist):
    # Pencil on grey paper, 28x28, with sensor noise: the strokes stand only ~7 noise deviations
    # above the paper, and their own edges inflate a noise estimate taken from all neighbours.
    rng = np.random.default_rng(7)
    for k in range(5):
        ink = mnist.x_test[k].astype(np.float32) / 255.0
        gray = 0.75 - 0.22 * ink + rng.normal(0, 0.03, ink.shape)
        gray = np.round(np.clip(gray, 0, 1) * 255) / 255
        out = preprocess_gray(gray.astype(np.float32))
        assert_mnist_like(out)
        assert shape_match(out, ink) > 0.6


def test_crease_across_the_page_is_not_taken_for_the_digit(mnist):
    # A fold line across the photo, with the light stepping along it: the digit is still what is cropped.
    # The fold's line is dropped (and bridged where a stroke crosses it); its light step is not ink.
    rng = np.random.default_rng(4)
    good = 0
    for k in range(12):
        out = preprocess_image(render_failure_class(mnist.x_test[k], "crease", rng))
        good += shape_match(out, mnist.x_test[k] / 255.0) > 0.6
    assert good >= 10


def _page_with_digit(digit: np.ndarray, side: int = 420) -> np.ndarray:
    """Dark ink of an MNIST digit (enlarged to about half the page) on light grey paper: the page's ink map."""
    from test_preprocess import enlarge, on_canvas
    ink = enlarge(digit.astype(np.float32) / 255.0, side // 2)
    return on_canvas(ink, (side, side), side // 4, side // 4)


def _stray_ink(out: np.ndarray, clean: np.ndarray) -> int:
    """Pixels that are ink in ``out`` but nowhere near ink in ``clean`` (a kept stretch of a line)."""
    from scipy import ndimage
    return int(((out > 0.3) & ~ndimage.binary_dilation(clean > 0.05, iterations=2)).sum())


@pytest.mark.parametrize("k", [0, 4])
def test_a_faint_fold_line_does_not_join_the_digit(mnist, k):
    # A fold across a photo: a thin line fainter than the strokes, edge to edge through the digit,
    # the light a little dimmer on one side, the ink fading across the page. Only the stretch of the
    # line touching a stroke passes hysteresis's faint threshold, too short on its own to be seen as
    # a line: it must be looked for among all the faint pixels, and fitted without the bold strokes
    # that cross it pulling it askew.
    side = 420
    ys, xs = np.mgrid[0:side, 0:side]
    ink = _page_with_digit(mnist.x_test[k], side) * (0.6 + 0.4 * xs / side)
    d = np.cos(0.5) * (xs - side / 2) + np.sin(0.5) * (ys - side / 2) - 8
    paper = 0.9 * np.where(d > 0, 1.0, 0.9)
    fold = 0.2 * np.exp(-(d / 1.5) ** 2)
    noise = 0.01 * np.random.default_rng(0).standard_normal((side, side))
    clean = preprocess_gray((paper * (1 - 0.8 * ink)).astype(np.float32))
    out = preprocess_gray(np.clip(paper * (1 - fold) * (1 - 0.8 * ink) + noise, 0, 1).astype(np.float32))
    assert_mnist_like(out)
    assert _stray_ink(out, clean) <= 2, _stray_ink(out, clean)


def test_a_thin_rule_does_not_take_a_slice_of_a_bold_digit(mnist):
    # A form's cell: a bold 3 whose lowest stroke ends two pixels above a dotted baseline, between
    # ruled edges. The rules go at their own (one pixel) width, not the digit's stroke width.
    from scipy import ndimage
    from test_preprocess import enlarge, on_canvas
    digit = ndimage.grey_dilation(enlarge(mnist.x_test[18].astype(np.float32) / 255.0, 36), size=(3, 3))
    ink = on_canvas(digit, (48, 80), 3, 22)
    bottom = np.flatnonzero(ink.max(axis=1) > 0.5)[-1]
    rules = np.zeros_like(ink)
    rules[bottom + 3, ::3] = 0.7
    rules[:, 1] = rules[:, 78] = 0.8
    clean = preprocess_gray(0.92 - 0.85 * ink)
    out = preprocess_gray((0.92 - 0.85 * np.maximum(ink, rules)).astype(np.float32))
    assert mnist.y_test[18] == 3
    assert shape_match(out, clean) > 0.95, shape_match(out, clean)


def test_the_lit_side_of_a_fold_does_not_turn_the_ink_bright(mnist):
    # The fold's lit side fills much of the border, so the border votes for light ink on dark paper;
    # the faint dark strokes are 1.4x stronger than what the other polarity finds, which must be
    # enough to overrule the vote (it took 1.5x before, and this 5 came out as a speck).
    img = render_failure_class(mnist.x_test[8], "crease", np.random.default_rng(48))
    out = preprocess_image(img)
    assert_mnist_like(out)
    assert shape_match(out, mnist.x_test[8] / 255.0) > 0.6


def test_tight_crop_keeps_a_sevens_bar_along_its_edge():
    # A 7 cropped tight in a 200 px image: its straight bar runs along the top edge from border to
    # border, like a cell's ruled edge, but it ends where the writing does, so it is kept.
    from PIL import Image, ImageDraw
    img = Image.new("L", (180, 200), 255)
    draw = ImageDraw.Draw(img)
    draw.line([(0, 4), (179, 4)], fill=0, width=9)
    draw.line([(175, 4), (110, 100), (95, 199)], fill=0, width=9, joint="curve")  # a bent stem
    out = preprocess_image(img)
    assert_mnist_like(out)
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    bar = np.flatnonzero(out[rows[0]:rows[0] + 3].max(axis=0) > 0.5)
    assert bar[-1] - bar[0] >= 12, bar  # the bar spans the top, not just the stem's end


@pytest.mark.parametrize("digit", [4, 9])
@pytest.mark.parametrize("dark", [True, False], ids=["black-on-white", "white-on-black"])
def test_a_digit_cropped_to_its_ink_reads_as_with_paper_around_it(mnist, digit, dark):
    # A 4's or a 9's stem runs down the crop's right edge: mirrored at the edge by the background
    # and top-hat filters, it used to be taken for shading and lost (then a 4 read as 2 or 6).
    from PIL import Image

    matches = []
    for i in np.flatnonzero(mnist.y_train == digit)[:30]:
        big = np.asarray(Image.fromarray(mnist.x_train[i]).resize((224, 224), Image.Resampling.BICUBIC),
                         dtype=np.float32) / 255.0
        gray = 1.0 - big if dark else big
        tight = crop_to_ink(gray)
        out = preprocess_gray(tight)
        assert_mnist_like(out)
        matches.append(shape_match(out, preprocess_gray(gray)))
    assert min(matches) > 0.8, np.round(sorted(matches)[:5], 3)


def test_frame_tight_crop_pads_only_digits_cropped_to_their_ink():
    yy, xx = np.mgrid[0:60, 0:50]
    ring = np.abs(np.hypot((yy - 29.5) / 30, (xx - 24.5) / 25) - 0.75) < 0.3  # a bold 0, ink over half the box
    assert ring.mean() > 0.5 and ring[0].any() and ring[:, 0].any()
    white_on_black = np.where(ring, 1.0, 0.0).astype(np.float32)
    framed = frame_tight_crop(white_on_black)  # its border band, commonest level and larger area are ink
    assert framed.shape == (78, 68) and framed[0, 0] == 0.0 and framed[-1, -1] == 0.0
    assert frame_tight_crop(1.0 - white_on_black)[0, 0] == 1.0
    # Paper around the digit already: unchanged.
    with_margin = np.pad(1.0 - white_on_black, 8, constant_values=1.0)
    assert frame_tight_crop(with_margin) is with_margin
    # Grey paper with a photo's grain is framed with its own level, and read as the 0 it is: the
    # paper inside it stays paper (unframed, it was read as the ink). Faint pencil in heavy grain is
    # not framed: Otsu's split there cuts the grain, not the writing.
    grain = (0.8 - 0.7 * white_on_black + np.random.default_rng(0).normal(0, 0.03, ring.shape)).astype(np.float32)
    framed = frame_tight_crop(grain)
    assert framed.shape == (78, 68) and abs(framed[0, 0] - 0.8) < 0.03 and abs(framed[-1, -1] - 0.8) < 0.03
    out = preprocess_gray(grain)
    assert out[12:17, 12:17].mean() < 0.1 and out[14, 3:8].max() > 0.8
    faint = (0.7 - 0.2 * white_on_black + np.random.default_rng(0).normal(0, 0.08, ring.shape)).astype(np.float32)
    assert frame_tight_crop(faint) is faint
    # A fold's dark line across a grainy page cuts the paper in two, like a stroke would, but it is
    # far too little ink for a digit cropped to it: left for the rule finder to see run edge to edge.
    page = np.full((120, 120), 0.8, np.float32)
    page[np.abs(np.subtract.outer(np.arange(120), np.arange(120))) <= 1] = 0.2
    page += np.random.default_rng(1).normal(0, 0.02, page.shape).astype(np.float32)
    assert frame_tight_crop(page) is page
    # A form's cell cut at the digit: ruled edges along two sides are a box, left to the rule finder.
    cell = np.ones((60, 50), dtype=np.float32)
    cell[1:3, :] = 0.0
    cell[:, 1:3] = 0.0
    cell[15:60, 20:23] = 0.0
    cell[40:43, 20:50] = 0.0
    assert frame_tight_crop(cell) is cell
    # A 4 cropped to its ink: its stem along the right edge, its arm reaching the left and the top.
    four = np.ones((60, 40), dtype=np.float32)
    four[:, 34:40] = 0.0
    four[30:36, :] = 0.0
    four[0:36, 0:6] = 0.0
    assert frame_tight_crop(four).shape == (78, 58)


def test_edge_bands_that_frame_the_writing_are_cleared_and_strokes_along_a_side_kept():
    def paper_with(ink: np.ndarray) -> np.ndarray:
        return np.where(ink, 0.1, 0.9).astype(np.float32)

    blob = np.zeros((60, 50), dtype=bool)
    blob[20:40, 18:30] = True  # the writing, clear of every side
    framed = blob.copy()
    framed[:2], framed[-2:], framed[:, :2], framed[:, -2:] = True, True, True, True
    assert np.array_equal(clear_edge_bands(paper_with(framed)), paper_with(blob))
    shadow = blob.copy()
    shadow[:, :7] = True  # the dark edge of a scanner's lid, a tenth of the width deep
    shadow[5:55, 7] = True  # its ragged inner edge, over half covered
    assert np.array_equal(clear_edge_bands(paper_with(shadow)), paper_with(blob))
    white_on_black = 1.0 - paper_with(framed)
    assert np.array_equal(clear_edge_bands(white_on_black), 1.0 - paper_with(blob))
    # Strokes of the digit along a side stay: a 7's bar joined to its stem, a 2's base under its
    # curve, a '1' that fills its crop.
    seven = np.zeros((60, 50), dtype=bool)
    seven[:5] = True
    seven[5:, 40:45] = True
    two = np.zeros((60, 50), dtype=bool)
    two[-5:] = True
    two[10:55, 3:8] = two[10:15, 3:47] = two[10:40, 42:47] = True
    one = np.zeros((60, 12), dtype=bool)
    one[:, 2:10] = True
    for digit in (seven, two, one):
        gray = paper_with(digit)
        assert clear_edge_bands(gray) is gray


def _real_images(kind: str) -> list[tuple[str, np.ndarray]]:
    """The development set's images of one kind, decoded to grayscale, with their file names."""
    rows = [r for r in csv.DictReader(open(REAL / "labels.csv", newline="")) if r["kind"] == kind]
    return [(r["file"], to_grayscale(open_image(REAL / "images" / r["file"]))) for r in rows]


def _read_differently(images: list[tuple[str, np.ndarray]], change) -> list[str]:
    """The images whose digit, as the model sees it, no longer matches the original's once changed."""
    return [name for name, gray in images if shape_match(preprocess_gray(change(gray)), preprocess_gray(gray)) < 0.8]


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
@pytest.mark.parametrize("clutter", ["frame", "shadow"])
def test_real_drawings_with_a_frame_or_a_dark_edge_read_as_the_originals(clutter):
    # A black line round the image (a canvas's border) or a dark band down one side (a scanner's
    # lid): both used to be taken for strokes of the digit (drawings 66 % and 74 % right).
    drawings = [(name, g) for name, g in _real_images("drawn") if np.median(g) > 0.5]  # black on white
    differ = _read_differently(drawings, (lambda g: with_frame(g, 0.0)) if clutter == "frame" else with_dark_edge)
    assert len(differ) <= 0.05 * len(drawings), differ


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
def test_a_white_margin_round_a_photo_does_not_turn_its_polarity():
    # A photo of grey paper pasted on white: the white is further from the paper than the pencil
    # is, but it is the frame, not the writing.
    photos = _real_images("photo")
    differ = _read_differently(photos, lambda g: with_frame(g, 1.0))
    assert len(differ) <= 0.05 * len(photos), differ


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
def test_grainy_photos_of_faint_pencil_are_read_not_refused():
    # The development set's photos with heavy grain added (sigma 0.08, a phone in poor light): 21
    # of 76 used to be refused as "no digit found"; the median-filtered second look leaves 2.
    rng = np.random.default_rng(0)
    refused = []
    for name, gray in _real_images("photo"):
        try:
            preprocess_gray(np.clip(gray + rng.normal(0, 0.08, gray.shape), 0, 1))
        except ImageError:
            refused.append(name)
    assert len(refused) <= 3, refused


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
@pytest.mark.parametrize("kind", ["photo", "drawn"])
def test_real_images_with_salt_and_pepper_specks_read_as_the_originals(kind):
    # 2 % of the pixels black or white at random (dust on a scanner's glass, a photocopy's specks).
    # Before the specks were removed 15 of the 76 photos read differently (one refused) and 7 of
    # the 117 drawings larger than a tiny crop; after, 1 and 0.
    rng = np.random.default_rng(0)
    images = [(name, g) for name, g in _real_images(kind) if max(g.shape) > 32]
    refused = []

    def specked(gray):
        try:
            return preprocess_gray(with_specks(gray, rng))
        except ImageError:
            refused.append(name)
            return np.zeros((28, 28), np.float32)

    differ = [name for name, gray in images if shape_match(specked(gray), preprocess_gray(gray)) < 0.8]
    assert len(differ) <= 0.03 * len(images), (differ, refused)


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
def test_a_ring_drawn_round_the_digit_is_not_part_of_it():
    # A circled answer: the ring used to be taken for the digit's outline (pen renders 11 % right).
    pens = _real_images("pen")
    differ = _read_differently(pens, with_ring)
    assert len(differ) <= 0.05 * len(pens), differ
    # A 0 written with a dot in it keeps both: the dot spans too little of the ring to be writing.
    yy, xx = np.mgrid[0:120, 0:100]
    zero = np.abs(np.hypot((yy - 60) / 45, (xx - 50) / 32) - 1.0) < 0.08
    zero |= np.hypot(yy - 60, xx - 50) < 5
    assert len(find_ink(np.where(zero, 0.1, 0.9).astype(np.float32)).boxes) == 2


def test_a_thin_1_in_a_bold_ring_is_kept_and_the_ring_set_aside():
    # The 1 has under 2 % of the ring's ink, so it used to be dropped as a speck beside it and the
    # ring read as a 0. A dot in the same place is still a speck.
    yy, xx = np.mgrid[0:400, 0:400]
    ring = np.abs(np.hypot(yy - 200, xx - 200) - 180) < 8
    one = (np.abs(xx - 200) < 2) & (np.abs(yy - 200) < 40)
    inkmap = find_ink(np.where(ring | one, 0.1, 0.9).astype(np.float32))
    assert len(inkmap.boxes) == 1
    top, left, bottom, right = inkmap.boxes[0]
    assert bottom - top < 100 and right - left < 20, inkmap.boxes
    dot = np.hypot(yy - 200, xx - 200) < 3
    inkmap = find_ink(np.where(ring | dot, 0.1, 0.9).astype(np.float32))
    assert len(inkmap.boxes) == 1 and inkmap.boxes[0][2] - inkmap.boxes[0][0] > 300


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
@pytest.mark.parametrize("kind", ["photo", "drawn"])
def test_a_wide_ring_round_a_small_digit_is_not_part_of_it(kind):
    # A circle drawn wide round an answer: the digit spans under a third of the ring, but many of
    # its own stroke widths (a dot is about 2). Circled, the photos used to read 71 % right.
    images = [(name, g) for name, g in _real_images(kind) if max(g.shape) > 32]
    differ = _read_differently(images, with_ring)
    assert len(differ) <= 0.05 * len(images), differ


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
@pytest.mark.parametrize("kind", ["drawn", "pen"])
def test_a_line_drawn_under_the_digit_is_not_part_of_it(kind):
    # A number underlined on a page, the line clear of the digit: it used to be read as part of it.
    images = _real_images(kind)
    differ = _read_differently(images, lambda g: with_underline(np.pad(g, round(0.2 * max(g.shape)), mode="edge")))
    assert len(differ) <= 0.05 * len(images), differ


def test_lone_specks_are_removed_and_strokes_kept():
    paper = np.full((60, 80), 0.85, np.float32)
    strokes = paper.copy()
    strokes[10, 5:70] = 0.1  # a 1 px hairline, across
    np.fill_diagonal(strokes[20:60, 10:50], 0.1)  # and on the diagonal
    strokes[30:36, 60:64] = 0.1  # a blob
    specked = strokes.copy()
    specks = [(3, 3), (50, 70), (40, 20), (0, 40), (59, 79)]  # two on the border
    for y, x in specks:
        specked[y, x] = 0.0
    specked[45, 70:72] = 0.0  # two side by side
    specked[32, 61] = 1.0  # a white one in the blob
    out = remove_impulses(specked, 1.0)
    changed = list(zip(*np.nonzero(np.abs(out - strokes) > 1e-6)))
    assert not changed, changed  # every speck gone, every stroke whole to its ends
    assert remove_impulses(strokes, float(np.ptp(strokes))) is strokes  # nothing to remove: the image itself
    dash = strokes.copy()
    dash[50, 30:32] = 0.1  # a stray two-pixel dash of a hairline drawing, no specks around: kept
    assert remove_impulses(dash, float(np.ptp(dash))) is dash
    grain = np.clip(paper + np.random.default_rng(0).normal(0, 0.04, paper.shape), 0, 1).astype(np.float32)
    assert remove_impulses(grain, float(np.ptp(grain))) is grain  # grain is not specks


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
@pytest.mark.parametrize("kind", ["drawn", "photo"])
def test_real_images_cropped_to_their_ink_read_as_the_originals(kind):
    # The development set's drawings and photos, each cropped to its ink as a person might: the
    # digit as the model sees it must match the original's for nearly all. Before framing 49 of the
    # 295 drawings differed; before grainy paper was framed too, 7 of the 76 photos (bold strokes
    # filling the border band turned the polarity).
    images = _real_images(kind)
    differ = _read_differently(images, crop_to_ink)
    assert len(differ) <= 0.05 * len(images), differ


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
@pytest.mark.parametrize("name", ["7_jeesh_1.png", "9_jspir1t_1.png"])
def test_long_straight_stroke_of_a_digit_is_kept(name):
    # The stem of a 9 or the diagonal of a 7 in a tight crop runs edge to edge: writing, not a rule.
    out = preprocess_gray(to_grayscale(open_image(REAL / "images" / name)))
    assert_mnist_like(out)
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    assert rows[-1] - rows[0] >= 17  # the whole digit, not its loop or bar alone


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
def test_real_development_set_has_no_false_refusals():
    rows = list(csv.DictReader(open(REAL / "labels.csv", newline="")))
    refused = []
    for row in rows:
        try:
            preprocess_gray(to_grayscale(open_image(REAL / "images" / row["file"])))
        except ImageError:
            refused.append(row["file"])
    assert not refused, f"clearly written digits refused as blank: {refused}"


@pytest.mark.skipif(not (REAL / "labels.csv").is_file(), reason=f"real development set not found at {REAL}")
def test_shipped_model_says_unsure_about_most_of_its_real_misses():
    """Issue 10: on the development set the shipped model flags at least 70 % of its misses as
    uncertain and at most 5 % of its right answers, at its own threshold."""
    from tui.core.inference import Predictor

    rows = list(csv.DictReader(open(REAL / "labels.csv", newline="")))
    predictor = Predictor(Path(__file__).resolve().parents[1] / "models" / "digit_recognizer.h5")
    predictions = predictor.predict_paths([REAL / "images" / row["file"] for row in rows])
    assert all(p.error is None for p in predictions)
    right = np.array([p.digit == int(row["label"]) for p, row in zip(predictions, rows)])
    flagged = np.array([p.uncertain for p in predictions])
    assert (~right).any()
    assert flagged[~right].mean() >= 0.70, [(r["file"], p.digit, round(p.confidence, 2))
                                             for p, r, ok in zip(predictions, rows, right) if not ok]
    assert flagged[right].mean() <= 0.05

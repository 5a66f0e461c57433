"""Turn any image of a handwritten digit into the 28x28 input MNIST models expect.

MNIST digits are white on black, cropped to their ink, scaled to fit 20x20 with anti-aliased grey
levels, and placed in a 28x28 field so their centre of mass sits at (14, 14). Photos, scans and
drawings differ in polarity, lighting, noise, size and position; these functions undo that.

The image analysis is scipy.ndimage (labelling, grey and binary morphology, distance transforms,
zoom) and scikit-image (Otsu's threshold, hysteresis thresholding, the Hough transform):

1. Specks of salt and pepper are set to their neighbours' median (``remove_impulses``). Polarity from
   the border (the usual paper) so ink is bright. A drawing, scan or photo cropped to its ink
   (strokes running into the frame) first gets a margin of its own paper (``frame_tight_crop``),
   and straight bands along the sides that frame the writing (a border round the image, a scanner
   lid's shadow, a white margin round a photo) are painted over with the paper (``clear_edge_bands``).
2. Tiny images (32 px and less) are taken as already framed digits: a global paper level, no local
   background (a bold digit touching the edges is not mistaken for shading). Larger ones shrink to at most ``WORK_SIDE`` by the *maximum* of each block, so a
   1 px pen line on a 4000 px canvas keeps its full strength, then lose a smooth background
   (a low percentile per block, opened, interpolated) and, at the scale of the strokes themselves,
   shading and shadows wider than a stroke (a white top-hat sized from the measured stroke width).
3. Long straight lines that run edge to edge (a crease, a ruled line, the edge of a scanned form's
   cell) are looked for among all the faint ink and dropped, at their own width, when other writing
   remains.
4. Ink is what stands clear of the paper's own noise (a robust sigma): hysteresis thresholding
   keeps a faint stretch of stroke attached to a strong one.
5. The pieces that look like writing (less a ring drawn round the rest, or a line under it) are cropped, strokes normalised to MNIST's width, fitted into
   20x20 and centred by mass.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from tui.core.errors import ImageError
from tui.core.images import is_truncated, open_image, to_grayscale

SIZE = 28
BOX = 20
CENTRE = 14.0
# Longest side analysed. Larger images shrink by block maxima of the ink, which keeps hairlines.
WORK_SIDE = 512
# Images this small are digits someone already cropped: one paper level, no local background.
TINY_SIDE = 32
PREVIEW_SIDE = 112
# Shadows big enough to fool the border's polarity vote appear in photos, not in crops this small.
OVERRIDE_SIDE = 128
# How much stronger the other polarity's strokes must be to overrule the border's vote.
POLARITY_OVERRULE = 1.3
# Stroke widths in output pixels: thinner than THIN_STROKE is thickened to about TARGET_STROKE.
THIN_STROKE = 1.6
TARGET_STROKE = 2.4
# Below this contrast (on a 0..1 scale) between ink and background there is nothing to read.
MIN_CONTRAST = 0.08
# Ink must stand this many robust standard deviations above the paper's noise ...
NOISE_MARGIN = 8.0
# In a tiny crop (at most ~1,000 pixels, so noise alone rarely reaches 3.5 deviations) this many do.
TINY_NOISE_MARGIN = 6.0
# ... and a stroke may fade to this many where it joins ink that does.
FAINT_MARGIN = 3.0
# Shading wider than this many stroke widths is background, not writing.
TOPHAT_STROKES = 4.0
# A straight line covering this share of its chord across the image is a crease, rule or cell edge.
RULE_COVER = 0.85
# A drawing cropped to its ink (strokes touching the frame) gets a margin of its own paper this
# wide, as a share of its longer side, before it is analysed: see :func:`frame_tight_crop`.
FRAME_PAD = 0.15
# Flat paper (or flat ink): the commonest grey level, give or take 1 of 255, covers this share of the image.
FLAT_PAPER = 0.3
# Paper with grain (a photo) is framed when each side of Otsu's split spreads (interquartile range)
# at most this share of the step between them. On the development set's photos and drawings cropped
# to their ink (with and without grain added), 0.4-0.55 all read best; at 1.0 faint pencil in heavy
# grain was framed too, at a level cut through the grain (photos with grain 90.8 -> 80.3 %). Within
# that range, 0.45 leaves out the folded pages of the crease failure class, at 0.47-0.50.
EVEN_SIDES = 0.45
# ... and when the side taken for ink is strokes: none wider than this share of the longer side.
STROKE_SHARE = 0.4
# ... and when the ink covers at least this share of it, as a digit cropped to its ink does (the
# development set's photos cropped so: 11 % and more; a fold's line across a page: 2 %).
CROPPED_INK = 0.05
# A 3x3 median filter leaves this share of Gaussian grain's standard deviation: sqrt(pi / (2 * 9)).
MEDIAN_NOISE = 0.42
# A row or column of ink covering this share of the image's width or height is part of a solid band
# along its side (see :func:`clear_edge_bands`).
EDGE_BAND_COVER = 0.9
# A pixel this far from the median of its eight neighbours, as a share of the image's contrast (and
# at least IMPULSE_NOISE robust deviations of its grain), may be a speck: see :func:`remove_impulses`.
IMPULSE_STEP = 0.25
IMPULSE_NOISE = 6.0
# Lone specks on this share of the pixels or more are salt and pepper, whose specks also fall in
# pairs: clean images of the development set have at most 0.023 %, 0.2 % of salt and pepper 0.064 %.
SPECKLED = 4e-4
# Writing inside a closed ring or box spanning this share of its height or width, or this many of
# its own stroke widths (a dot is about 2, the development set's digits 2.7-51): the ring goes.
ENCLOSED_SPAN = 0.35
ENCLOSED_STROKES = 3.0
_BLANK = "no digit found: the image is blank, uniform or only noise; give an image with a dark digit on light paper or a light one on dark"
_EIGHT = np.ones((3, 3), dtype=bool)
_RING = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


@dataclass(frozen=True)
class Preprocessed:
    """One image ready for the model, with a small copy of the source for previews (unless not wanted)."""

    input28: np.ndarray
    gray: np.ndarray | None
    path: Path
    truncated: bool = False  # prepared from the decodable part of a truncated file


@dataclass(frozen=True)
class InkMap:
    """Polarity-corrected ink of an image (1 = ink) with its connected pieces, specks removed."""

    ink: np.ndarray
    labels: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    areas: list[int]
    threshold: float


def import_lazy_parts() -> None:
    """Import the parts of scikit-image that the analysis loads only when an image needs them (one
    image should not pay for them): done before forking workers, it is not done again in each."""
    from skimage.draw import line  # noqa: F401, PLC0415
    from skimage.filters import apply_hysteresis_threshold, threshold_otsu  # noqa: F401, PLC0415
    from skimage.transform import hough_line  # noqa: F401, PLC0415


def preprocess_path(path: str | os.PathLike, preview: bool = True) -> Preprocessed:
    """Read an image file and prepare it for the model; raises ImageError with a one-line reason.

    ``preview=False`` leaves out the small copy of the source (``gray`` is None).
    """
    path = Path(path)
    img = open_image(path)
    gray = to_grayscale(img)
    input28 = preprocess_gray(gray)
    return Preprocessed(input28=input28, gray=_shrink(gray, PREVIEW_SIDE) if preview else None, path=path,
                        truncated=is_truncated(img))


def preprocess_image(img: Image.Image) -> np.ndarray:
    """A decoded Pillow image as a (28, 28) float32 MNIST-like input."""
    return preprocess_gray(to_grayscale(img))


def preprocess_gray(gray: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) in [0, 1] (0 = black) to (28, 28) float32 in [0, 1], white digit on black."""
    inkmap = find_ink(gray)
    return normalise_ink(digit_ink(inkmap, range(1, len(inkmap.boxes) + 1)))


def find_ink(gray: np.ndarray) -> InkMap:
    """Flatten lighting, make ink bright on black, and keep the connected pieces that look like writing."""
    ink, noise, tiny = _ink_and_noise(gray)
    mask, threshold = _ink_mask(ink, noise, TINY_NOISE_MARGIN if tiny else NOISE_MARGIN, lines=not tiny)
    labels, boxes, areas = connected_components(mask)
    keep = _digit_pieces(boxes, areas, ink.shape)
    if not keep:
        raise ImageError(_BLANK)
    keep = _without_enclosure(labels, boxes, areas, _with_enclosed_writing(labels, boxes, areas, keep))
    keep = _without_underline(boxes, keep)
    # Relabel so the kept pieces are 1..k and everything else (specks) is 0.
    lookup = np.zeros(len(boxes) + 1, dtype=np.int32)
    lookup[np.asarray(keep) + 1] = np.arange(1, len(keep) + 1)
    return InkMap(
        ink=ink, labels=lookup[labels], boxes=[boxes[i] for i in keep], areas=[areas[i] for i in keep], threshold=threshold,
    )


def _ink_and_noise(gray: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Ink in [0, 1] at the working resolution, the paper's noise on that scale, and whether it is tiny."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2:
        raise ImageError(f"expected a grayscale image, got an array of shape {gray.shape}")
    if min(gray.shape) < 2:
        raise ImageError(_BLANK)
    gray = np.nan_to_num(np.clip(gray, 0.0, 1.0), copy=False)
    contrast = float(np.ptp(gray))
    tiny = max(gray.shape) <= TINY_SIDE
    if not tiny and contrast >= MIN_CONTRAST:  # a tiny crop's 1 px pencil strokes may have lone pixels
        cleaned = remove_impulses(gray, contrast)
        if cleaned is not gray:  # specks set the extremes: the contrast is the writing's without them
            gray, contrast = cleaned, float(np.ptp(cleaned))
    if contrast < MIN_CONTRAST:
        raise ImageError(_BLANK)
    gray = frame_tight_crop(gray)
    judgement = _border_judgement(gray)
    cleared = clear_edge_bands(gray, judgement)
    if cleared is not gray:
        gray, judgement = cleared, _border_judgement(cleared)
    dark = judgement[0]
    if tiny:
        # Already framed (the digit may touch the edges): one paper level for all of it.
        x = 1.0 - gray if dark else gray
        noise = _noise(x, tiny=True)
        ink = np.clip(x - _paper_level(x), 0.0, None)
    else:
        ink, noise = _large_ink(gray, dark, contrast)
    top = float(ink.max())
    # Writing must stand well clear of the paper's own grain, or we would "read" the noise.
    if not tiny and top < max(MIN_CONTRAST, NOISE_MARGIN * noise):
        # Heavy grain (a phone photo in poor light) can bury faint pencil: one more look through a
        # 3x3 median filter, only for an image that would otherwise be refused. The filter leaves
        # about MEDIAN_NOISE of the grain, and correlates what it leaves, which the neighbour
        # differences of ``_noise`` would undercount: the margin is judged on the grain measured
        # before the filter, times that share, so pure noise stays refused.
        ink, filtered_noise = _large_ink(ndimage.median_filter(gray, size=3), dark, contrast)
        noise = max(filtered_noise, MEDIAN_NOISE * noise)
        top = float(ink.max())
    if top < max(MIN_CONTRAST, (TINY_NOISE_MARGIN if tiny else NOISE_MARGIN) * noise):
        raise ImageError(_BLANK)
    return np.clip(ink / top, 0.0, 1.0), noise / top, tiny


def _large_ink(gray: np.ndarray, dark: bool, contrast: float) -> tuple[np.ndarray, float]:
    """Ink and noise of an image larger than ``TINY_SIDE``, at the working resolution.

    Shrink by block maxima so a hairline keeps its strength, then remove the background. Polarity
    comes from the border (``dark``, the usual paper), unless its strokes are feeble next to the
    image's contrast and the other polarity's strokes are far stronger: the dark shadow of a phone
    photo pulls the border's statistics the wrong way. Strengths are compared after flattening: the
    step in the light along a fold is wide, and would otherwise pass for strong strokes of the other
    polarity.
    """
    k = math.ceil(max(gray.shape) / WORK_SIDE)
    ink, noise = _flat_ink(_bright_ink(gray, dark, k))
    strength = _stroke_strength(ink)
    if max(gray.shape) > OVERRIDE_SIDE and strength < 0.6 * contrast:
        ink2, noise2 = _flat_ink(_bright_ink(gray, not dark, k))
        if _stroke_strength(ink2) > POLARITY_OVERRULE * strength:
            ink, noise = ink2, noise2
    return ink, noise


def remove_impulses(gray: np.ndarray, contrast: float) -> np.ndarray:
    """Specks of one or two pixels far brighter or darker than all their other neighbours (salt and
    pepper: dust on a scan, a sensor's hot pixels, a photocopy's specks) set to the median of their
    eight neighbours.

    Left in, a dark speck on the paper reads as ink, and every later step works at a smaller scale
    (block maxima, the background, the thresholds), where a few specks become many. A pixel counts
    as a speck when it stands more than the margin from the median of its eight neighbours and none
    of them is nearer to it than to that median; in an image speckled all over (``SPECKLED``), two
    such pixels side by side are specks too, as random specks often fall (a stray two-pixel dash of
    a hairline drawing is kept). A stroke's pixels have more of their own kind around them; a
    hairline's too, to its last pixel, and however its edges are smoothed (the line's next pixel is
    half as dark at least). Gaussian grain stays below the margin (``IMPULSE_NOISE`` deviations). The
    image itself comes back when there are no specks. Only the pixels far from a horizontal and a
    vertical neighbour are checked against all eight.
    """
    h, w = gray.shape
    if min(h, w) < 3:
        return gray
    # Candidates first, at the contrast's share of the margin (a 2-megapixel photo takes two
    # differences and a few boolean passes); the grain's share, dearer to measure, only if any.
    floor = IMPULSE_STEP * contrast
    across = np.abs(np.diff(gray, axis=1)) > floor
    down = np.abs(np.diff(gray, axis=0)) > floor
    sideways = np.zeros((h, w), dtype=bool)
    sideways[:, :-1] = across
    sideways[:, 1:] |= across
    upright = np.zeros((h, w), dtype=bool)
    upright[:-1] = down
    upright[1:] |= down
    ys, xs = np.nonzero(sideways & upright)
    if not ys.size:
        return gray
    margin = max(floor, IMPULSE_NOISE * _noise(gray))
    padded = np.pad(gray, 1, mode="reflect")
    around = np.stack([padded[ys + 1 + dy, xs + 1 + dx] for dy, dx in _RING])
    value = gray[ys, xs]
    level = np.median(around, axis=0)  # what surrounds it
    halfway = 0.5 * (value + level)
    kin = np.where(value > level, around > halfway, around < halfway)  # neighbours nearer it than the surround
    stands_out = np.abs(value - level) > margin
    speck = stands_out & ~kin.any(axis=0)
    if speck.sum() >= SPECKLED * gray.size:
        # Salt and pepper, not a stray pixel or two: specks fall side by side too, each the other's
        # one neighbour of its kind. A hairline's last pixel has one as well, but that one (the line
        # going on) has more: the pair must be mutual.
        paired = stands_out & (kin.sum(axis=0) == 1)
        marked = np.zeros(gray.shape, dtype=bool)
        marked[ys[speck | paired], xs[speck | paired]] = True
        ring = np.asarray(_RING)
        which = kin[:, paired].argmax(axis=0)
        speck[paired] = marked[np.clip(ys[paired] + ring[which, 0], 0, h - 1), np.clip(xs[paired] + ring[which, 1], 0, w - 1)]
    if not speck.any():
        return gray
    out = gray.copy()
    out[ys[speck], xs[speck]] = level[speck]
    return out


def frame_tight_crop(gray: np.ndarray) -> np.ndarray:
    """A digit cropped to its own ink, on even paper, with a margin of that paper around it; any
    other image unchanged.

    People crop their drawings to the digit, so its strokes run into the frame. Everything after
    assumes paper around the writing: the border's polarity vote (a bold stroke can fill the
    border band), the smooth background and the top-hat (which mirror the image at its edge, so a
    stroke along the edge doubles in width and is taken for shading). Which side is paper: a digit
    is one or two strokes, and one that reaches across its crop cuts the paper into pieces (the
    corners, the loops), so the paper is the side in more pieces; on a tie, the side with more area.
    Flat paper or flat ink (a drawing, a clean scan) splits half way between the extremes; a photo's
    paper, grainy, splits at Otsu's threshold and is framed only when both sides are even next to
    the step between them (``EVEN_SIDES``), the paper is in more pieces than the ink, with no tie
    (the two sides of a fold or of a shadow's edge are one piece each), and the ink is strokes, not
    half a page (``STROKE_SHARE``), enough of them for a digit that fills its crop (``CROPPED_INK``).
    """
    h, w = gray.shape
    step = max(1, max(h, w) // WORK_SIDE)
    g = gray[::step, ::step]
    levels = np.bincount(np.clip(np.round(g * 255), 0, 255).astype(np.int64).ravel(), minlength=256)
    mode = int(np.argmax(levels))
    lo, hi = float(g.min()), float(g.max())
    if hi - lo < MIN_CONTRAST:
        return gray
    flat = levels[max(0, mode - 1):mode + 2].sum() >= FLAT_PAPER * g.size
    if flat:
        darker = g < 0.5 * (lo + hi)
    else:
        # A photo's grain spreads the levels: split by Otsu's threshold, and frame only if both sides
        # are even next to the step between them (below). Faint pencil in heavy grain is not: the
        # split there cuts the grain, not the writing.
        from skimage.filters import threshold_otsu  # noqa: PLC0415

        darker = g < threshold_otsu(g)
        if darker.all() or not darker.any():
            return gray
    sides = (darker, ~darker)
    reaches = [_reaches_two_sides(side) for side in sides]
    if not any(reaches):
        return gray  # paper all round (the usual image), or a box's edges
    if not flat:
        dark, light = g[darker], g[~darker]
        spread = max(float(np.subtract(*np.percentile(side, [75, 25]))) for side in (dark, light))
        if spread > EVEN_SIDES * float(np.median(light) - np.median(dark)):
            return gray
    smallest = max(2, round(0.002 * g.size))
    pieces = []
    for side in sides:
        labels, n = ndimage.label(side, structure=_EIGHT)
        pieces.append(int(np.count_nonzero(np.bincount(labels.ravel(), minlength=n + 1)[1:] >= smallest)))
    if pieces[0] == pieces[1] and not flat:
        return gray  # the two sides of a fold, or of a shadow's edge: no sign of writing cut by the frame
    ink_is_darker = pieces[1] > pieces[0] if pieces[0] != pieces[1] else darker.mean() < 0.5
    ink = 0 if ink_is_darker else 1
    if not reaches[ink]:
        return gray
    if not flat and (sides[ink].mean() < CROPPED_INK
                     or 2 * ndimage.distance_transform_edt(sides[ink]).max() > STROKE_SHARE * max(g.shape)):
        # Too little to be a digit cropped to its ink (a fold's line across a page, which the rule
        # finder must see run edge to edge), or as wide as the lit half of a folded page.
        return gray
    return np.pad(gray, max(2, round(FRAME_PAD * max(h, w))), constant_values=float(np.median(g[sides[1 - ink]])))


def _reaches_two_sides(ink: np.ndarray) -> bool:
    """Whether writing runs into two sides of the frame: ink within 3 % of the edge (a pixel at least).

    Straight bands of ink along two sides (:func:`_edge_bands`, starting within 6 % of the edge)
    are a box's or a cell's edges, or a '1' cropped to its width: not writing that runs into the
    frame. A band along one side may be a stem (a 4's, a 9's), a single ruled edge or a shadow: it
    is set aside, so that its own ends do not count as writing that touches the other sides.
    """
    depths = _edge_bands(ink, 0.06)
    if sum(1 for depth in depths if depth) > 1:
        return False
    rest = ink.copy()
    for view, depth in zip(_sides(rest), depths):
        view[:depth] = False
    edge = max(1, round(0.03 * max(ink.shape)))
    return sum(bool(view[:edge].any()) for view in _sides(rest)) >= 2


def _flat_ink(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Bright-ink image to ink above its background with shading flattened, and its pixel noise."""
    noise = _noise(x)
    return _flatten_shading(np.clip(x - _background(x), 0.0, None), noise, x), noise


def _stroke_strength(ink: np.ndarray) -> float:
    """How strongly the strokes stand out: the mean of the pixels at least half as strong as the strongest."""
    top = float(ink.max())
    return float(ink[ink >= 0.5 * top].mean()) if top > 0 else 0.0


def _noise(x: np.ndarray, tiny: bool = False) -> float:
    """Standard deviation of the pixel noise, from neighbour differences (robust to edges and gradients).

    Differences along every fourth row and column are plenty for a median, at a quarter of the
    cost. In a tiny crop the strokes' edges make up a good share of all differences, so every row
    is used and the estimate comes from the lower quartile of the differences instead.
    """
    step = 1 if tiny else 4
    diffs = np.concatenate([np.abs(np.diff(x[::step], axis=1)).ravel(), np.abs(np.diff(x[:, ::step], axis=0)).ravel()])
    if tiny:
        # For Gaussian noise the lower quartile of |a - b| is 0.3186 * sqrt(2) * sigma.
        return float(np.percentile(diffs, 25)) / (0.3186 * math.sqrt(2.0))
    return float(np.median(diffs)) * 1.4826 / math.sqrt(2.0)


def _paper_level(x: np.ndarray) -> float:
    """The paper's level in a bright-ink image: the median of the pixels below Otsu's split."""
    from skimage.filters import threshold_otsu  # noqa: PLC0415

    split = threshold_otsu(x)
    below = x[x <= split]
    return float(np.median(below)) if below.size else float(x.min())


def _bright_ink(gray: np.ndarray, dark: bool, k: int) -> np.ndarray:
    """The image with its ink bright (``1 - gray`` for dark ink), shrunk by ``k`` taking each block's
    strongest ink, so thin strokes keep their full strength.

    For dark ink that is one less each block's minimum: the same numbers as the maximum of
    ``1 - gray``, without a full-size copy.
    """
    if k > 1:
        h, w = gray.shape
        padded = np.pad(gray, ((0, -h % k), (0, -w % k)), mode="edge")
        pick = np.minimum if dark else np.maximum
        # Rows, then columns, as strided slices: many times faster than reducing two axes of a 4-D view.
        rows = functools.reduce(pick, [padded[i::k] for i in range(k)])
        gray = functools.reduce(pick, [rows[:, i::k] for i in range(k)])
    return 1.0 - gray if dark else gray


def normalise_ink(ink: np.ndarray) -> np.ndarray:
    """Ink (1 = ink) of one digit to MNIST's framing: cropped, fit to 20x20, centred by mass, max 1."""
    crop = _crop(ink)
    crop = _crop(_normalise_stroke(crop, BOX / max(crop.shape)))
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(
        Image.fromarray(crop.astype(np.float32)).resize((new_w, new_h), Image.Resampling.LANCZOS),
        dtype=np.float32,
    )
    small = np.clip(small, 0.0, None)
    if small.max() <= 0:
        raise ImageError(_BLANK)
    small /= small.max()
    cy, cx = ndimage.center_of_mass(small)
    # Integer shift like LeCun's MNIST; clamped so a lopsided digit is never cut off.
    top = int(np.clip(round(CENTRE - cy), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = small
    return out


def _crop(ink: np.ndarray) -> np.ndarray:
    """The bounding box of the ink (anything above 0.05)."""
    box = ndimage.find_objects((ink > 0.05).astype(np.int8))
    if not box or box[0] is None:
        raise ImageError(_BLANK)
    return ink[box[0]]


def looks_like_digit(input28: np.ndarray) -> bool:
    """Whether a prepared input is plausibly one digit: see :func:`digit_score`."""
    return digit_score(input28) >= 0.5


def digit_score(input28: np.ndarray) -> float:
    """0..1 plausibility that a prepared input is one handwritten digit, from its ink statistics.

    In MNIST, ink above 0.5 covers 3-30% of the 28x28 field and rarely fills more than 80% of its
    own bounding box unless that box is narrow (a '1'). Far less ink is a dot or a hairline; far
    more, or a solid box, is a blob, a photo of something else, or several digits.
    """
    x = np.asarray(input28, dtype=np.float32)
    if x.shape != (SIZE, SIZE) or x.max() <= 0:
        return 0.0
    mask = x > 0.5
    frac = float(mask.mean())
    lo, hi = 0.03, 0.30
    if frac < lo:
        return frac / lo * 0.5
    if frac > hi:
        return max(0.0, 0.5 - (frac - hi) / (1.0 - hi))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    if min(height, width) >= 8 and mask.sum() / (height * width) > 0.8:
        return 0.2
    return 1.0


def _sides(m: np.ndarray) -> tuple[np.ndarray, ...]:
    """Top, bottom, left, right: each a view of ``m`` whose rows run from that edge inward."""
    return m, m[::-1], m.T, m.T[::-1]


def _edge_bands(mask: np.ndarray, reach: float) -> list[int]:
    """How deep a straight band of ink along each side (top, bottom, left, right) reaches, 0 for none:
    to the last row (or column) within ``reach`` of the side from the edge that ink covers almost
    entirely, and on through the rows next to it that ink covers over half."""
    depths = []
    rows, cols = mask.mean(axis=1), mask.mean(axis=0)  # the four sides' lines from these two
    for cover in (rows, rows[::-1], cols, cols[::-1]):
        full = np.flatnonzero(cover[:max(1, round(reach * len(cover)))] > EDGE_BAND_COVER)
        depth = int(full[-1]) + 1 if full.size else 0
        while depth and depth < len(cover) // 3 and cover[depth] > 0.5:
            depth += 1
        depths.append(depth)
    return depths


def _sharp_edge(lines: np.ndarray, depth: int, far: float, paper: float) -> bool:
    """Whether a band ``depth`` rows deep (rows running from the edge inward) ends in a step, a
    quarter of the way from ``far`` to the paper or more, between its last row and the next: a frame
    or a shadow's edge does, a smooth gradient of the light does not."""
    if not depth:
        return False
    after = float(np.median(lines[depth])) if depth < len(lines) else paper
    return abs(float(np.median(lines[depth - 1])) - after) > 0.25 * abs(far - paper)


def clear_edge_bands(gray: np.ndarray, judgement: tuple[bool, float, float] | None = None) -> np.ndarray:
    """``gray`` with straight bands along its sides that frame the writing painted over with the
    paper's level: a border drawn round the image, the dark edge of a scanner's lid, the table
    beyond the page, and any band on the far side of the paper from the ink (a white margin round
    a photo of grey paper). Done first, on the image itself, where such a band is still solid (the
    background and shading steps would leave ragged pieces of it).

    A band (:func:`_edge_bands`: ink, half way or more from the paper to the writing's extreme,
    covering a row or column almost entirely within a quarter of the side from the edge, and ending
    in a step, not a gradient of the light: :func:`_sharp_edge`) goes only when it frames the
    writing: a gap between it and the rest of the ink, which it runs past at both ends. A stroke of the digit along a side (a 1 cropped to its width, a 4's stem, a 7's bar, a
    2's base) joins the rest of the digit or ends where it does, so it stays. ``judgement`` is
    :func:`_border_judgement` of ``gray``, when the caller has it. Returns ``gray`` itself when
    nothing changes.
    """
    h, w = gray.shape
    if min(h, w) < 8:
        return gray
    dark, paper, extreme = judgement or _border_judgement(gray)
    step = max(1, max(h, w) // WORK_SIDE)
    g = gray[::step, ::step]
    # First the far side of the paper from the ink: a white margin round a photo of grey paper
    # (whose edge the background step would take for a stroke) is no writing wherever it lies.
    beyond = float(g.max() if dark else g.min())
    if abs(beyond - paper) > 2 * MIN_CONTRAST:
        split = 0.5 * (paper + beyond)
        margins = [depth if _sharp_edge(view, depth, beyond, paper) else 0
                   for view, depth in zip(_sides(g), _edge_bands(g > split if dark else g < split, 0.25))]
        if any(margins):
            gray = gray.copy()
            for view, depth in zip(_sides(gray), margins):
                band = view[:depth * step + step - 1]  # only its own pixels: a stroke crossing it stays
                band[band > split if dark else band < split] = paper
            g = gray[::step, ::step]
    mask = g < 0.5 * (paper + extreme) if dark else g > 0.5 * (paper + extreme)
    depths = [depth if _sharp_edge(view, depth, extreme, paper) else 0
              for view, depth in zip(_sides(g), _edge_bands(mask, 0.25))]
    if not any(depths):
        return gray
    rest = mask.copy()
    for view, depth in zip(_sides(rest), depths):
        view[:depth] = False
    if not rest.any():
        return gray  # nothing but bands: the writing itself
    rows, cols = np.flatnonzero(rest.any(axis=1)), np.flatnonzero(rest.any(axis=0))
    gh, gw = mask.shape
    # Past the writing at both ends by 3 % of the side, a pixel at least.
    past_cols = cols[0] >= max(1, 0.03 * gw) and cols[-1] <= gw - 1 - max(1, 0.03 * gw)
    past_rows = rows[0] >= max(1, 0.03 * gh) and rows[-1] <= gh - 1 - max(1, 0.03 * gh)
    framing = [not depth or (past and depth < len(rest_view) and not rest_view[depth].any())
               for rest_view, depth, past in zip(_sides(rest), depths, (past_cols, past_cols, past_rows, past_rows))]
    if not all(framing):
        return gray  # all or none: half a box's edges gone would hide the rest from the rule finder
    cleared = gray.copy()
    for view, depth in zip(_sides(cleared), depths):
        view[:depth * step + step - 1] = paper  # the last sampled row of the band stands for step rows
    return cleared


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[int]]:
    """8-connected components of a boolean mask: labels (0 = background, i + 1 = component i), boxes, areas.

    Boxes are (top, left, bottom, right) with exclusive ends.
    """
    labels, n = ndimage.label(mask, structure=_EIGHT)
    boxes = [(s[0].start, s[1].start, s[0].stop, s[1].stop) for s in ndimage.find_objects(labels)]
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:].tolist()
    return labels.astype(np.int32, copy=False), boxes, areas


def digit_ink(inkmap: InkMap, pieces) -> np.ndarray:
    """The ink of the chosen pieces (labels 1..k) alone: specks and paper texture set to zero."""
    wanted = np.zeros(len(inkmap.boxes) + 1, dtype=bool)
    wanted[list(pieces)] = True
    chosen = wanted[inkmap.labels]
    # Grown a little so the anti-aliased rims of strokes survive, but never into another piece. Only
    # the box around the chosen pieces, ``grow`` wider, can change: the dilation runs on that alone.
    grow = max(1, round(max(inkmap.ink.shape) / 150))
    h, w = chosen.shape
    picked = [inkmap.boxes[i - 1] for i in pieces]
    if not picked:
        return np.zeros_like(inkmap.ink)
    box = (slice(max(0, min(b[0] for b in picked) - grow), min(h, max(b[2] for b in picked) + grow)),
           slice(max(0, min(b[1] for b in picked) - grow), min(w, max(b[3] for b in picked) + grow)))
    near = np.zeros_like(chosen)
    near[box] = ndimage.binary_dilation(chosen[box], iterations=grow) & ((inkmap.labels[box] == 0) | chosen[box])
    floor = min(0.5 * inkmap.threshold, 0.15)
    return np.clip((inkmap.ink - floor) / (1.0 - floor), 0.0, 1.0) * near


def _border_judgement(gray: np.ndarray) -> tuple[bool, float, float]:
    """Whether the writing is dark, the paper's level (the border's median) and the writing's extreme
    level (the 1st or 99th percentile), judged on every k-th pixel, k = longer side // ``WORK_SIDE``."""
    step = max(1, max(gray.shape) // WORK_SIDE)
    gray = gray[::step, ::step]
    h, w = gray.shape
    # A fifth of the side: a cell's ruled edges fill a thin border band, never most of this one.
    band = max(1, min(h, w) // 5)
    border = np.concatenate([gray[:band].ravel(), gray[-band:].ravel(), gray[:, :band].ravel(), gray[:, -band:].ravel()])
    level = float(np.median(border))
    # The extremes come from inside a thin outer rim: a frame round the image (a white margin added
    # round a photo of grey paper) is paper, however light or dark.
    rim = max(1, round(0.04 * min(h, w)))
    inside = gray[rim:-rim, rim:-rim] if min(h, w) > 4 * rim else gray
    lo, hi = (float(v) for v in np.percentile(inside, [1, 99]))
    # The ink is whichever extreme lies further from the background level.
    dark = (level - lo) > (hi - level)
    return dark, level, lo if dark else hi


def _background(x: np.ndarray) -> np.ndarray:
    """Large-scale background of a bright-ink image: a low percentile per block, opened, then interpolated."""
    h, w = x.shape
    block = max(6, max(h, w) // 8)
    padded = np.pad(x, ((0, -h % block), (0, -w % block)), mode="reflect")
    gh, gw = padded.shape[0] // block, padded.shape[1] // block
    cells = padded.reshape(gh, block, gw, block).transpose(0, 2, 1, 3).reshape(gh, gw, block * block)
    grid = np.partition(cells, block * block // 4, axis=2)[:, :, block * block // 4].astype(np.float32)
    # Opening (min then max over 3x3 blocks) drops blocks that strokes filled but keeps gradients;
    # the grid is first extended by one block continuing each edge's slope, so a lighting ramp's
    # edges are not held flat (which would leave them behind as fake ink).
    grid = _pad_linear(grid)
    grid = ndimage.grey_opening(grid, size=(3, 3), mode="nearest")
    # Bilinear interpolation back to full size (Pillow's resize is several times faster than ndimage.zoom here).
    up = Image.fromarray(grid).resize((grid.shape[1] * block, grid.shape[0] * block), Image.Resampling.BILINEAR)
    return np.asarray(up.crop((block, block, block + w, block + h)), dtype=np.float32)


def _pad_linear(grid: np.ndarray) -> np.ndarray:
    """Pad by one cell, continuing each edge's slope (a ramp stays a ramp)."""
    return np.pad(grid, 1, mode="reflect", reflect_type="odd") if min(grid.shape) > 1 else np.pad(grid, 1, mode="edge")


def _flatten_shading(ink: np.ndarray, noise: float, x: np.ndarray) -> np.ndarray:
    """Remove what is much wider than a stroke (a shadow, the dark side of a page) but keep strokes.

    A white top-hat of the image itself, sized from the stroke width measured on ``ink`` (the
    image less its smooth background): it follows a sharp step in the light, such as a fold, which
    a smooth background cannot. Ink must stand out by both measures. A heavy marker whose strokes
    are as wide as a quarter of the image keeps its smooth-background ink.
    """
    strong = ink > max(MIN_CONTRAST, NOISE_MARGIN * noise, 0.5 * float(ink.max()))
    if not strong.any():
        return ink
    width = stroke_width(strong)
    size = int(round(TOPHAT_STROKES * width)) | 1
    if size >= 0.25 * min(ink.shape):
        return ink
    return np.minimum(ink, ndimage.white_tophat(x, size=(size, size)))


def _ink_mask(ink: np.ndarray, noise: float, margin: float = NOISE_MARGIN, lines: bool = False) -> tuple[np.ndarray, float]:
    """Pixels that are ink: strong ones (Otsu, above the noise) and faint ones joined to them.

    With ``lines``, straight lines across the image (creases, rules, cell edges: see
    :func:`_drop_rules`) are looked for among all the faint pixels first, and left out. A faint
    fold line is broken into dashes; the one dash that touches a stroke would otherwise join the
    digit, and on its own it is too short to be seen as a line.
    """
    from skimage.filters import apply_hysteresis_threshold, threshold_otsu  # noqa: PLC0415

    high = float(np.clip(threshold_otsu(ink), 0.2, 0.6))
    high = max(high, margin * noise)
    low = min(max(0.5 * high, FAINT_MARGIN * noise, MIN_CONTRAST), high)
    if lines:
        faint = ink > low
        kept = _drop_rules(faint)
        if kept is not faint:
            ink = np.where(kept, ink, 0.0)
    return apply_hysteresis_threshold(ink, low, high), high


def _drop_rules(mask: np.ndarray) -> np.ndarray:
    """Remove straight lines that cross the whole image past the writing (creases, rules, cell edges).

    A line is dropped when it covers most of its chord across the image *and* runs on beyond the
    rest of the ink at both ends: the stem of a 9 or the bar of a 7 in a tight crop ends where
    the digit does, a crease or the edge of a form's cell does not.
    """
    h, w = mask.shape
    if min(h, w) < 16 or not _borders_touched(mask):
        return mask  # such a line runs off the image at one end at least
    # Imported here, past the early return: it brings scipy.spatial and scipy.linalg (about 0.1 s of a
    # cold process), which most images never need.
    from skimage.transform import hough_line  # noqa: PLC0415
    width = max(1.0, stroke_width(mask))
    angles = np.linspace(-np.pi / 2, np.pi / 2, 180, endpoint=False)
    accumulator, thetas, dists = hough_line(mask, theta=angles)
    peaks = hough_peaks(accumulator, thetas, dists, num_peaks=10, threshold=0.25 * min(h, w))
    ink_y, ink_x = np.nonzero(mask)
    ys, xs = np.ogrid[0:h, 0:w]  # a column and a row: distances broadcast, no full-size grids

    def along_line(theta: float, dist: float, half: float) -> np.ndarray:
        """The positions along a line of the ink's pixels within ``half`` of it."""
        c, s = math.cos(theta), math.sin(theta)
        close = np.abs(ink_x * c + ink_y * s - dist) <= half
        return -ink_x[close] * s + ink_y[close] * c

    lines = []
    shortest = RULE_COVER * 0.75 * min(h, w)  # the shortest run of ink a line can have
    for _, theta, dist in zip(*peaks):
        # Most peaks are a stroke's, far too short: seen before fitting them, with room for the fit.
        run = _longest_run(along_line(theta, dist, width / 2 + 4.5))
        if run[1] - run[0] < shortest:
            continue
        # The peak lies within a pixel or two of its line all along it; fitted to the ink that close
        # only, a bold stroke crossing the line cannot pull it askew.
        theta, dist = _fit_line(ink_y, ink_x, theta, dist, 3.0)
        along = along_line(theta, dist, width / 2 + 1.5)
        chord = _chord(theta, dist, h, w, width / 2 + 1.5)  # the line's length inside the image
        run = _longest_run(along)
        if chord < 0.75 * min(h, w) or run[1] - run[0] < RULE_COVER * chord:
            continue
        # Only the line itself goes, at the width it measures across, not the writing's stroke width
        # (a thin rule beside a bold digit must not take a slice of it), fitted again to the ink of
        # that width alone (a dotted baseline or a stroke beside it does not pull it off).
        thick = min(width, _thickness(along, run))
        for _ in range(2):
            theta, dist = _fit_line(ink_y, ink_x, theta, dist, thick / 2 + 1.5)
        run = _longest_run(along_line(theta, dist, thick / 2 + 1.0))
        near = np.abs(xs * np.cos(theta) + ys * np.sin(theta) - dist) <= thick / 2 + 1.0
        lines.append((theta, dist, near, run))
    if not lines:
        return mask
    rest = mask.copy()
    for _, _, near, _ in lines:
        rest &= ~near
    if rest.sum() < 0.1 * mask.sum():
        return mask  # nothing but lines: a tall '1' in a tight crop is a line too
    # An end lies beyond the writing when it is outside the box of the rest's writing-like pieces
    # (specks of paper texture far away do not count), with a margin.
    _, boxes, areas = connected_components(rest)
    pieces = [boxes[i] for i in _digit_pieces(boxes, areas, rest.shape)] or boxes
    top, left = min(b[0] for b in pieces), min(b[1] for b in pieces)
    bottom, right = max(b[2] for b in pieces) - 1, max(b[3] for b in pieces) - 1
    margin = 0.1 * max(bottom - top, right - left) + width
    keep = mask.copy()
    for theta, dist, near, run in lines:
        ends = [(dist * math.cos(theta) - a * math.sin(theta), dist * math.sin(theta) + a * math.cos(theta)) for a in run]
        if all(x < left - margin or x > right + margin or y < top - margin or y > bottom + margin for x, y in ends):
            # Where a stroke crosses the line, keep the band: ink on both sides across the line.
            across = _segment(theta, int(width + 4.0))
            keep &= ~near | ndimage.binary_closing(keep & ~near, structure=across)
    return keep


def hough_peaks(accumulator, thetas, dists, num_peaks: int, threshold: float, min_distance: int = 9, min_angle: int = 10):
    """The strongest lines in a Hough accumulator: what ``skimage.transform.hough_line_peaks`` returns
    (peak values, angles, distances), with its defaults, at a fraction of the cost.

    scikit-image's version measures every local maximum above the threshold with ``regionprops``
    (about 7 ms a call here, most of a crease photo's line search); this one measures them all at
    once with numpy. The suppression and the order of the peaks are the same:
    neighbours within ``min_distance`` bins of distance and ``min_angle`` of angle, with the angle
    wrapping around (the distance flips sign there).
    """
    rows, cols = accumulator.shape
    min_angle = min(min_angle, cols)
    # Only cells above the threshold can be peaks, and only such cells can be the largest in a peak's
    # window: the maximum filter and the labelling need just the box that holds them.
    above = accumulator > threshold
    if not above.any():
        return np.array([]), thetas[np.array([], dtype=int)], dists[np.array([], dtype=int)]
    r = np.flatnonzero(above.any(axis=1))
    c = np.flatnonzero(above.any(axis=0))
    box = (slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1))
    part = np.where(above[box], accumulator[box], 0)
    peak = ndimage.maximum_filter1d(part, size=2 * min_distance + 1, axis=0, mode="constant", cval=0)
    peak = ndimage.maximum_filter1d(peak, size=2 * min_angle + 1, axis=1, mode="constant", cval=0)
    labels, n = ndimage.label((part == peak) & above[box], structure=_EIGHT)
    local = np.zeros(accumulator.shape, dtype=accumulator.dtype)
    local[box] = peak
    ys, xs = np.nonzero(labels)
    which = labels[ys, xs]
    ys, xs = ys + r[0], xs + c[0]
    count = np.bincount(which, minlength=n + 1)[1:]
    # Each candidate is a plateau of equal local maxima: its value, and its centre (rounded).
    strengths = np.bincount(which, weights=local[ys, xs], minlength=n + 1)[1:] / np.maximum(count, 1)
    cy = np.round(np.bincount(which, weights=ys, minlength=n + 1)[1:] / np.maximum(count, 1)).astype(int)
    cx = np.round(np.bincount(which, weights=xs, minlength=n + 1)[1:] / np.maximum(count, 1)).astype(int)
    # Strongest first; among equals, the later label first (scikit-image's stable sort, reversed).
    order = np.argsort(strengths, kind="stable")[::-1]
    values, peak_y, peak_x = [], [], []
    for y, x in zip(cy[order].tolist(), cx[order].tolist()):
        value = local[y, x]
        if value <= threshold:
            continue
        # Its neighbours lose their chance: rows 1.. only (sic: row 0 never, as in scikit-image);
        # past either end of the angles the window wraps to the other end, with the distance mirrored.
        r0, r1 = max(1, y - min_distance), min(rows, y + min_distance + 1)
        c0, c1 = x - min_angle, x + min_angle + 1
        local[r0:r1, max(0, c0):min(cols, c1)] = 0
        if c0 < 0:
            local[rows - r1 + 1:rows - r0 + 1, c0 + cols:] = 0
        if c1 > cols:
            local[rows - r1 + 1:rows - r0 + 1, :c1 - cols] = 0
        values.append(value)
        peak_y.append(y)
        peak_x.append(x)
    values, peak_y, peak_x = np.array(values), np.array(peak_y, dtype=int), np.array(peak_x, dtype=int)
    if num_peaks < len(values):
        best = np.argsort(values)[::-1][:num_peaks]  # the same (unstable) order of ties as scikit-image
        values, peak_y, peak_x = values[best], peak_y[best], peak_x[best]
    return values, thetas[peak_x], dists[peak_y]


def _segment(theta: float, length: int) -> np.ndarray:
    """A one-pixel line ``length`` long along the normal of a line at angle ``theta``: a structuring element."""
    from skimage.draw import line as draw_line  # noqa: PLC0415

    half = length // 2
    se = np.zeros((2 * half + 1, 2 * half + 1), dtype=bool)
    dy, dx = round(half * math.sin(theta)), round(half * math.cos(theta))
    rr, cc = draw_line(half - dy, half - dx, half + dy, half + dx)
    se[rr, cc] = True
    return se


def _fit_line(ink_y, ink_x, theta: float, dist: float, reach: float) -> tuple[float, float]:
    """Refine a Hough peak (1 degree bins) to the ink (pixels at ``ink_y``, ``ink_x``) within ``reach``
    of it: a thin line 500 px long needs better."""
    near = np.abs(ink_x * np.cos(theta) + ink_y * np.sin(theta) - dist) <= reach
    if near.sum() < 3:
        return theta, dist
    px, py = ink_x[near].astype(np.float64), ink_y[near].astype(np.float64)
    cx, cy = px.mean(), py.mean()
    cov = np.cov(np.stack([px - cx, py - cy]))
    _, vecs = np.linalg.eigh(cov)
    nx, ny = vecs[:, 0]  # the normal: the direction of least spread
    if nx * math.cos(theta) + ny * math.sin(theta) < 0:
        nx, ny = -nx, -ny  # the same way round as the peak, so positions along the line keep their sign
    fitted = math.atan2(ny, nx)
    return fitted, cx * math.cos(fitted) + cy * math.sin(fitted)


def _borders_touched(mask: np.ndarray) -> int:
    """How many of the four borders have ink within 3% of the image's size: at least as many pixels
    of it as that band is wide (what any line crossing it leaves; specks of noise leave fewer)."""
    band = max(1, round(0.03 * max(mask.shape)))
    return sum(int(np.count_nonzero(edge) >= band) for edge in (mask[:band], mask[-band:], mask[:, :band], mask[:, -band:]))


def _chord(theta: float, dist: float, h: int, w: int, margin: float) -> float:
    """How long the line ``x cos(theta) + y sin(theta) = dist`` is inside an ``h`` x ``w`` image
    widened by ``margin`` on every side (a band along a border runs its whole length even when its
    centre line, slightly tilted, leaves the image)."""
    c, s = math.cos(theta), math.sin(theta)
    # Points on the line: (dist c - t s, dist s + t c); keep the t where both lie inside.
    low, high = -math.inf, math.inf
    for origin, step, limit in ((dist * c, -s, w - 1), (dist * s, c, h - 1)):
        if abs(step) < 1e-12:
            if not -margin <= origin <= limit + margin:
                return 0.0
            continue
        a, b = (-margin - origin) / step, (limit + margin - origin) / step
        low, high = max(low, min(a, b)), min(high, max(a, b))
    return max(0.0, high - low)


def _longest_run(along: np.ndarray) -> tuple[float, float]:
    """Where (start, stop, as positions along a line) the longest unbroken run of ink lies, from the
    positions along it of the ink's pixels near it.

    Gaps of up to four positions (a skipping pen, a dotted rule, JPEG) are bridged; of runs equally
    long, the first.
    """
    if not along.size:
        return 0.0, 0.0
    origin = float(along.min())
    inked = np.unique(np.round(along - origin).astype(np.int64))
    breaks = np.flatnonzero(np.diff(inked) > 5)  # more than four empty positions between
    starts = inked[np.concatenate(([0], breaks + 1))]
    stops = inked[np.concatenate((breaks, [inked.size - 1]))] + 1
    longest = int(np.argmax(stops - starts))
    return origin + float(starts[longest]), origin + float(stops[longest])


def _thickness(along: np.ndarray, run: tuple[float, float]) -> float:
    """How wide a line is across: the median, over the positions of its run that have ink, of how
    many of the ink's pixels near it (at positions ``along`` it) lie across it there; a stroke
    crossing the line is a minority of the positions."""
    origin = float(along.min())
    counts = np.bincount(np.round(along - origin).astype(np.int64))
    counts = counts[max(0, round(run[0] - origin)):max(1, round(run[1] - origin))]
    counts = counts[counts > 0]
    return float(np.median(counts)) if counts.size else 1.0


def _digit_pieces(boxes, areas, shape) -> list[int]:
    """Indices of components that belong to the writing: big ones, and smaller ones near them."""
    if not areas:
        return []
    biggest = max(areas)
    h, w = shape
    if biggest < max(4, 0.0002 * h * w):
        return []
    main = [i for i, a in enumerate(areas) if a >= 0.15 * biggest]
    top = min(boxes[i][0] for i in main)
    left = min(boxes[i][1] for i in main)
    bottom = max(boxes[i][2] for i in main)
    right = max(boxes[i][3] for i in main)
    my, mx = (bottom - top) * 0.15, (right - left) * 0.15

    def near(box: tuple[int, int, int, int]) -> bool:
        return box[0] >= top - my and box[2] <= bottom + my and box[1] >= left - mx and box[3] <= right + mx

    main_set = set(main)
    return [i for i, box in enumerate(boxes) if i in main_set or (areas[i] >= 0.03 * biggest and near(box))]


def _largest_box(boxes, keep: list[int]) -> int:
    return max(keep, key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))


def _holes(labels: np.ndarray, box, index: int) -> np.ndarray:
    """The holes piece ``index`` closes, as a mask over its ``box``."""
    top, left, bottom, right = box
    ring = labels[top:bottom, left:right] == index + 1
    return ndimage.binary_fill_holes(ring) & ~ring


def _spans_strokes(mask: np.ndarray) -> bool:
    """Whether the ink ``mask`` (cropped to its box) spans ``ENCLOSED_STROKES`` of its own stroke
    widths: writing, where a dot or a speck spans about 2."""
    return max(mask.shape) >= ENCLOSED_STROKES * stroke_width(mask)


def _with_enclosed_writing(labels: np.ndarray, boxes, areas, keep: list[int]) -> list[int]:
    """``keep`` plus the pieces :func:`_digit_pieces` dropped as too small next to the biggest one
    that lie in the holes of the kept piece with the largest box and are writing, not specks: each
    spans ``ENCLOSED_STROKES`` of its own stroke widths. A thin 1 in a big ring has under 3 % of the
    ring's ink; :func:`_without_enclosure` then sets the ring aside. The development set as given
    has no such piece."""
    outer = _largest_box(boxes, keep)
    top, left, bottom, right = boxes[outer]
    kept = set(keep)
    writing = [i for i, b in enumerate(boxes)
               if i not in kept and b[0] > top and b[1] > left and b[2] < bottom and b[3] < right
               and _spans_strokes(labels[b[0]:b[2], b[1]:b[3]] == i + 1)]
    if not writing:  # the common case: no stroke-like piece inside its box, so no holes to fill
        return keep
    holes, window = _holes(labels, boxes[outer], outer), labels[top:bottom, left:right]
    inside = [i for i in writing if np.count_nonzero(holes & (window == i + 1)) >= 0.95 * areas[i]]
    return sorted(keep + inside)


def _without_enclosure(labels: np.ndarray, boxes, areas, keep: list[int]) -> list[int]:
    """``keep`` without a ring or box drawn round the rest of the writing (a circled answer on a
    worksheet, a box round a digit on a form): the piece with the largest box, when every other kept
    piece lies in the holes it closes and they are writing of their own: together they span
    ``ENCLOSED_SPAN`` of its height or width, or ``ENCLOSED_STROKES`` of their own stroke widths (a
    small digit in a big ring, a circle drawn wide round an answer). A dot inside a 0 is neither; a
    short dash written inside a 0 without touching it would count, and the 0 would go."""
    if len(keep) < 2:
        return keep
    outer = _largest_box(boxes, keep)
    inner = [i for i in keep if i != outer]
    top, left, bottom, right = boxes[outer]
    i_top, i_left = min(boxes[i][0] for i in inner), min(boxes[i][1] for i in inner)
    i_bottom, i_right = max(boxes[i][2] for i in inner), max(boxes[i][3] for i in inner)
    span_h, span_w = i_bottom - i_top, i_right - i_left
    if (max(span_h / (bottom - top), span_w / (right - left)) < ENCLOSED_SPAN
            and not _spans_strokes(np.isin(labels[i_top:i_bottom, i_left:i_right], np.asarray(inner) + 1))):
        return keep
    window = labels[top:bottom, left:right]
    holes = _holes(labels, boxes[outer], outer)
    inside = sum(int(np.count_nonzero(holes & (window == i + 1))) for i in inner)
    return inner if inside >= 0.95 * sum(areas[i] for i in inner) else keep


def _without_underline(boxes, keep: list[int]) -> list[int]:
    """``keep`` without a line drawn under the rest of the writing (a number underlined on a page, a
    form's baseline): the one flat piece (at most a fifth as tall as it is wide), wholly below the
    others, at least half as wide as they are. None of the development set's images, as given or
    cropped, has such a piece; a 2 whose base is a stroke of its own would, and would lose it."""
    if len(keep) < 2:
        return keep
    flat = [i for i in keep if (boxes[i][2] - boxes[i][0]) * 5 <= boxes[i][3] - boxes[i][1]]
    if len(flat) != 1:
        return keep
    line = flat[0]
    rest = [i for i in keep if i != line]
    top, left = min(boxes[i][0] for i in rest), min(boxes[i][1] for i in rest)
    bottom, right = max(boxes[i][2] for i in rest), max(boxes[i][3] for i in rest)
    below = boxes[line][0] >= bottom - 0.05 * (bottom - top)
    wide = boxes[line][3] - boxes[line][1] >= 0.5 * (right - left)
    return rest if below and wide else keep


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width of a boolean ink mask in pixels: twice its area over its boundary length.

    The boundary is the ink that ``ndimage.binary_erosion(mask, border_value=0)`` (the plus-shaped
    neighbourhood) removes; counting the interior with five shifted views gives the same number at
    a twentieth of the cost (a test holds the two to equal), and this runs a few times an image.
    """
    m = np.asarray(mask, dtype=bool)
    area = int(np.count_nonzero(m))
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return 2.0 * area / max(area - int(np.count_nonzero(inner)), 1)


def _normalise_stroke(crop: np.ndarray, scale: float) -> np.ndarray:
    """Thicken hairline strokes that would fade to faint, broken lines at 20x20 (pen on a big photo).

    MNIST strokes are about 2-3 px wide at 20x20; a 1 px pen line on a 400 px image would be 0.05 px.
    """
    width = stroke_width(crop > 0.5) * scale
    if width >= THIN_STROKE:
        return crop
    radius = round((TARGET_STROKE - width) / scale / 2)
    if radius < 1:
        return crop
    # Pad first so strokes touching the crop's edge grow outwards too. Cross and 3x3 square steps,
    # half and half: a roughly round pen. Dilations compose in any order, so the square steps are
    # one square of their combined size (the same numbers: a maximum is exact, and at the edges the
    # reflected border only repeats pixels inside the window), two separable passes whatever its size.
    out = np.pad(crop, radius)
    squares = radius // 2
    if squares:
        out = ndimage.grey_dilation(out, size=(2 * squares + 1, 2 * squares + 1))
    cross = ndimage.generate_binary_structure(2, 1)
    for _ in range(radius - squares):
        out = ndimage.grey_dilation(out, footprint=cross)
    return out


def _shrink(gray: np.ndarray, side: int) -> np.ndarray:
    """Area-average down so the longer side is at most ``side``; smaller images pass unchanged."""
    h, w = gray.shape
    if max(h, w) <= side:
        return gray.astype(np.float32, copy=False)
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(gray.astype(np.float32)).resize(size, Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32)

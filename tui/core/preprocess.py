"""Turn any image of a handwritten digit into the 28x28 input MNIST models expect.

MNIST digits are white on black, cropped to their ink, scaled to fit 20x20 with anti-aliased grey
levels, and placed in a 28x28 field so their centre of mass sits at (14, 14). Photos, scans and
drawings differ in polarity, lighting, noise, size and position; these functions undo that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tui.core.errors import ImageError
from tui.core.images import open_image, to_grayscale

SIZE = 28
BOX = 20
CENTRE = 14.0
# Longest side analysed: far more than the 20 px the digit ends up as, and it keeps big photos quick.
WORK_SIDE = 400
PREVIEW_SIDE = 112
# Stroke widths in output pixels: thinner than THIN_STROKE is thickened to about TARGET_STROKE.
THIN_STROKE = 1.6
TARGET_STROKE = 2.4
# Below this contrast (on a 0..1 scale) between ink and background there is nothing to read.
MIN_CONTRAST = 0.08
# ...and it must exceed this many standard deviations of the background noise.
NOISE_MARGIN = 8.0
_BLANK = "no digit found: the image is blank, uniform or only noise; give an image with a dark digit on light paper or a light one on dark"


@dataclass(frozen=True)
class Preprocessed:
    """One image ready for the model, with a small copy of the source for previews."""

    input28: np.ndarray
    gray: np.ndarray
    path: Path


@dataclass(frozen=True)
class InkMap:
    """Polarity-corrected ink of an image (1 = ink) with its connected pieces, specks removed."""

    ink: np.ndarray
    labels: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    areas: list[int]
    threshold: float


def preprocess_path(path: str | os.PathLike) -> Preprocessed:
    """Read an image file and prepare it for the model; raises ImageError with a one-line reason."""
    path = Path(path)
    gray = to_grayscale(open_image(path))
    input28 = preprocess_gray(gray)
    return Preprocessed(input28=input28, gray=_shrink(gray, PREVIEW_SIDE), path=path)


def preprocess_image(img: Image.Image) -> np.ndarray:
    """A decoded Pillow image as a (28, 28) float32 MNIST-like input."""
    return preprocess_gray(to_grayscale(img))


def preprocess_gray(gray: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) in [0, 1] (0 = black) to (28, 28) float32 in [0, 1], white digit on black."""
    inkmap = find_ink(gray)
    return normalise_ink(digit_ink(inkmap, range(1, len(inkmap.boxes) + 1)))


def find_ink(gray: np.ndarray) -> InkMap:
    """Flatten lighting, make ink bright on black, and keep the connected pieces that look like writing."""
    ink = ink_image(gray)
    threshold = _threshold(ink)
    mask = ink > threshold
    labels, boxes, areas = connected_components(mask)
    keep = _digit_pieces(boxes, areas, ink.shape)
    if not keep:
        raise ImageError(_BLANK)
    # Relabel so the kept pieces are 1..k and everything else (specks) is 0.
    lookup = np.zeros(len(boxes) + 1, dtype=np.int32)
    for new, old in enumerate(keep, start=1):
        lookup[old + 1] = new
    return InkMap(
        ink=ink, labels=lookup[labels], boxes=[boxes[i] for i in keep], areas=[areas[i] for i in keep], threshold=threshold,
    )


def ink_image(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (1 = strongest ink) with background, lighting and polarity removed."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2:
        raise ImageError(f"expected a grayscale image, got an array of shape {gray.shape}")
    if min(gray.shape) < 2:
        raise ImageError(_BLANK)
    gray = np.nan_to_num(np.clip(gray, 0.0, 1.0))
    gray = _shrink(gray, WORK_SIDE)
    if float(np.ptp(gray)) < MIN_CONTRAST:
        raise ImageError(_BLANK)
    x = 1.0 - gray if _dark_ink(gray) else gray
    ink = np.clip(x - _background(x), 0.0, None)
    top = float(np.percentile(ink, 99.9))
    # Writing must stand well clear of the paper's own grain, or we would "read" the noise.
    spread = float(np.median(np.abs(ink - np.median(ink)))) * 1.4826
    if top < max(MIN_CONTRAST, NOISE_MARGIN * spread):
        raise ImageError(_BLANK)
    return np.clip(ink / max(float(ink.max()), 1e-6), 0.0, 1.0)


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
    ys, xs = np.indices(small.shape)
    mass = small.sum()
    cy, cx = (small * ys).sum() / mass, (small * xs).sum() / mass
    # Integer shift like LeCun's MNIST; clamped so a lopsided digit is never cut off.
    top = int(np.clip(round(CENTRE - cy), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = small
    return out


def _crop(ink: np.ndarray) -> np.ndarray:
    """The bounding box of the ink (anything above 0.05)."""
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    if rows.size == 0:
        raise ImageError(_BLANK)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


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


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[int]]:
    """8-connected components of a boolean mask: labels (0 = background, i + 1 = component i), boxes, areas.

    Boxes are (top, left, bottom, right) with exclusive ends. Works on runs of pixels, so it is fast
    in numpy without SciPy.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    r_start, c_start = np.nonzero(edges == 1)
    _, c_end = np.nonzero(edges == -1)
    n = len(r_start)
    labels = np.zeros((h, w), dtype=np.int32)
    if n == 0:
        return labels, [], []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_first = np.searchsorted(r_start, np.arange(h + 1))
    for row in range(1, h):
        prev = range(row_first[row - 1], row_first[row])
        j0 = prev.start
        for i in range(row_first[row], row_first[row + 1]):
            # Runs in the row above that touch this one, diagonals included.
            while j0 < prev.stop and c_end[j0] < c_start[i]:
                j0 += 1
            j = j0
            while j < prev.stop and c_start[j] <= c_end[i]:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
                j += 1
    roots = np.array([find(i) for i in range(n)])
    _, comp = np.unique(roots, return_inverse=True)
    boxes: list[list[int]] = []
    areas: list[int] = []
    for i in range(n):
        k = comp[i]
        r, c0, c1 = r_start[i], c_start[i], c_end[i]
        labels[r, c0:c1] = k + 1
        if k == len(boxes):
            boxes.append([r, c0, r + 1, c1])
            areas.append(0)
        box = boxes[k]
        box[0], box[1], box[2], box[3] = min(box[0], r), min(box[1], c0), max(box[2], r + 1), max(box[3], c1)
        areas[k] += int(c1 - c0)
    return labels, [tuple(int(v) for v in b) for b in boxes], areas


def digit_ink(inkmap: InkMap, pieces) -> np.ndarray:
    """The ink of the chosen pieces (labels 1..k) alone: specks and paper texture set to zero."""
    chosen = np.isin(inkmap.labels, list(pieces))
    # Grown a little so the anti-aliased rims of strokes survive, but never into another piece.
    near = _dilate(chosen, max(1, round(max(inkmap.ink.shape) / 150))) & ((inkmap.labels == 0) | chosen)
    floor = min(0.5 * inkmap.threshold, 0.15)
    return np.clip((inkmap.ink - floor) / (1.0 - floor), 0.0, 1.0) * near


def _dark_ink(gray: np.ndarray) -> bool:
    """True when the writing is darker than its background (judged from the border, the usual paper)."""
    h, w = gray.shape
    band = max(1, min(h, w) // 10)
    border = np.concatenate([gray[:band].ravel(), gray[-band:].ravel(), gray[:, :band].ravel(), gray[:, -band:].ravel()])
    level = float(np.median(border))
    lo, hi = np.percentile(gray, [1, 99])
    # The ink is whichever extreme lies further from the background level.
    return (level - lo) > (hi - level)


def _background(x: np.ndarray) -> np.ndarray:
    """Large-scale background of a bright-ink image: a low percentile per block, opened, then smoothed."""
    h, w = x.shape
    block = max(6, max(h, w) // 8)
    gh, gw = -(-h // block), -(-w // block)
    grid = np.zeros((gh, gw), dtype=np.float32)
    for i in range(gh):
        for j in range(gw):
            grid[i, j] = np.percentile(x[i * block:(i + 1) * block, j * block:(j + 1) * block], 25)
    # Opening (min then max over 3x3 blocks) drops blocks that strokes filled but keeps gradients.
    grid = _grid_filter(_grid_filter(grid, np.min), np.max)
    # Extend the grid linearly by one block each way: interpolation would otherwise hold the
    # outer half-blocks flat and leave a lighting gradient's edges behind as fake ink.
    grid = _pad_linear(grid)
    img = Image.fromarray(grid.astype(np.float32)).resize(((gw + 2) * block, (gh + 2) * block), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32)[block:block + h, block:block + w]


def _pad_linear(grid: np.ndarray) -> np.ndarray:
    """Pad by one cell, continuing each edge's slope (a ramp stays a ramp)."""
    return np.pad(grid, 1, mode="reflect", reflect_type="odd") if min(grid.shape) > 1 else np.pad(grid, 1, mode="edge")


def _grid_filter(grid: np.ndarray, reduce) -> np.ndarray:
    padded = _pad_linear(grid)
    stack = [padded[i:i + grid.shape[0], j:j + grid.shape[1]] for i in range(3) for j in range(3)]
    return reduce(np.stack(stack), axis=0)


def _threshold(ink: np.ndarray) -> float:
    """Otsu's threshold on the ink histogram, floored so faint paper texture never counts as ink."""
    hist, edges = np.histogram(ink, bins=128, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    total = weight[-1]
    mean = np.cumsum(hist * centres)
    w0, w1 = weight[:-1], total - weight[:-1]
    valid = (w0 > 0) & (w1 > 0)
    between = np.zeros_like(centres[:-1])
    m0 = mean[:-1][valid] / w0[valid]
    m1 = (mean[-1] - mean[:-1][valid]) / w1[valid]
    between[valid] = w0[valid] * w1[valid] * (m0 - m1) ** 2
    otsu = float(edges[1:-1][np.argmax(between)]) if valid.any() else 0.5
    return float(np.clip(otsu, 0.2, 0.6))


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


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width of a boolean ink mask in pixels: twice its area over its boundary length."""
    inner = _erode(mask, 1)
    boundary = int((mask & ~inner).sum())
    return 2.0 * float(mask.sum()) / max(boundary, 1)


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
    # Pad first so strokes touching the crop's edge grow outwards too.
    padded = np.pad(crop, radius)
    return _grey_dilate(padded, radius)


def _grey_dilate(x: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over a roughly round neighbourhood (alternating cross and square steps)."""
    out = x
    for step in range(radius):
        grown = out.copy()
        np.maximum(grown[1:], out[:-1], out=grown[1:])
        np.maximum(grown[:-1], out[1:], out=grown[:-1])
        np.maximum(grown[:, 1:], out[:, :-1], out=grown[:, 1:])
        np.maximum(grown[:, :-1], out[:, 1:], out=grown[:, :-1])
        if step % 2:
            np.maximum(grown[1:, 1:], out[:-1, :-1], out=grown[1:, 1:])
            np.maximum(grown[:-1, :-1], out[1:, 1:], out=grown[:-1, :-1])
            np.maximum(grown[1:, :-1], out[:-1, 1:], out=grown[1:, :-1])
            np.maximum(grown[:-1, 1:], out[1:, :-1], out=grown[:-1, 1:])
        out = grown
    return out


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return ~_dilate(~mask, radius)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
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

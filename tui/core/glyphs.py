"""Continental glyph variants of MNIST digits, for training: a 1 with a flag (and sometimes a foot),
a 7 with a crossbar.

MNIST was written by American clerks and students: its 1s are mostly bare sticks and its 7s are
hardly ever crossed. Much of the world writes a 1 with a long flag and crosses its 7s, and a model
that never saw them reads those 1s as 7, 2 or 4 and crossed 7s as 2. Each variant draws the extra
stroke onto the MNIST digit itself, at that digit's own stroke width and ink level, so the result
looks like the same hand writing the other style. numpy only; the training pipeline picks a
variant for a share of the 1s and 7s each epoch, so the saved model keeps only standard layers.
"""

from __future__ import annotations

import numpy as np

STYLED = (1, 7)  # the digits that get a variant; every other digit is left as it is

_ROWS, _COLS = np.mgrid[0:28, 0:28].astype("float32")


def glyph_variants(x: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """A copy of uint8 (N, 28, 28) ``x`` with each 1 flagged and each 7 crossed (other digits as they are)."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    for i in np.flatnonzero(np.isin(y, STYLED)):
        img = x[i].astype("float32") / 255.0
        styled = flag_one(img, rng) if y[i] == 1 else cross_seven(img, rng)
        out[i] = np.round(styled * 255.0).astype("uint8")
    return out


def flag_one(img: np.ndarray, rng: np.random.Generator, reach: tuple[float, float] = (0.3, 0.55)) -> np.ndarray:
    """A flag from the top of the stem down to the left (20-50 degrees, ``reach`` of the height:
    30-55 % by default, up to nearly the stem's length for a long lead-in stroke); on a third of
    them a foot as well, a bar across the bottom of the stem (30-90% of the height long: from a
    pen's serif to a typewriter's base)."""
    shape = _shape(img)
    if shape is None:
        return img
    top, bottom, width, level = shape
    height = bottom - top + 1
    c_top = _centre(img, top, top + 1)
    angle = np.radians(rng.uniform(20, 50))
    length = rng.uniform(*reach) * height
    end = (top + length * np.sin(angle), c_top - length * np.cos(angle))
    out = _stroke(img, (top, c_top), end, width, level)
    if rng.random() < 1 / 3:
        c_bottom = _centre(img, bottom - 1, bottom)
        half = rng.uniform(0.15, 0.45) * height
        out = _stroke(out, (bottom, c_bottom - half), (bottom, c_bottom + half), width, level)
    return out


def cross_seven(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bar across the stem, 45-65% of the way down, level or rising a little to the right; it
    reaches 10-35% of the height to the left of the stem and 15-45% to the right (many people
    draw it mostly on the right)."""
    shape = _shape(img)
    if shape is None:
        return img
    top, bottom, width, level = shape
    height = bottom - top + 1
    row = top + rng.uniform(0.45, 0.65) * height
    r = int(round(row))
    stem = _centre(img, r, r)
    left, right = rng.uniform(0.1, 0.35) * height, rng.uniform(0.15, 0.45) * height
    tilt = np.tan(np.radians(rng.uniform(-12, 5)))  # image rows grow downwards: negative rises
    start = (row - left * tilt, stem - left)
    end = (row + right * tilt, stem + right)
    return _stroke(img, start, end, width, level)


def _shape(img: np.ndarray):
    """(top row, bottom row, stroke width, ink level) of a digit, or None if it has too little ink."""
    ink = img > 0.35
    rows = np.flatnonzero(ink.any(axis=1))
    if len(rows) < 8:
        return None
    top, bottom = int(rows[0]), int(rows[-1])
    middle = ink[top + (bottom - top) // 3: bottom - (bottom - top) // 3 + 1]
    runs = middle.sum(axis=1)
    width = float(np.clip(np.median(runs[runs > 0]), 1.5, 5.0))
    level = float(np.percentile(img[ink], 90))
    return top, bottom, width, level


def _centre(img: np.ndarray, first: int, last: int) -> float:
    """The ink-weighted mean column of rows ``first`` to ``last``."""
    band = img[max(first, 0): min(last, 27) + 1]
    total = band.sum()
    if total <= 0:
        return 13.5
    return float((band.sum(axis=0) * np.arange(28)).sum() / total)


def _stroke(img: np.ndarray, start, end, width: float, level: float) -> np.ndarray:
    """``img`` with an anti-aliased straight stroke of ``width`` px at ``level`` from ``start`` to ``end``
    (row, column), clipped to the 28x28 frame."""
    (r0, c0), (r1, c1) = (np.clip(p, 1.0, 26.0) for p in (np.asarray(start, "float32"), np.asarray(end, "float32")))
    dr, dc = r1 - r0, c1 - c0
    length2 = max(dr * dr + dc * dc, 1e-6)
    t = np.clip(((_ROWS - r0) * dr + (_COLS - c0) * dc) / length2, 0.0, 1.0)
    dist = np.hypot(_ROWS - (r0 + t * dr), _COLS - (c0 + t * dc))
    line = level * np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)
    return np.maximum(img, line)

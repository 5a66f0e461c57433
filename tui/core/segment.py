"""Split an image of a written number (e.g. "2026") into its digits, left to right."""

from __future__ import annotations

import numpy as np

from tui.core.preprocess import digit_ink, find_ink, normalise_ink

# Pieces overlapping horizontally by more than this share of the narrower one are one digit
# (the two strokes of a '4').
MERGE_OVERLAP = 0.5
# Pieces shorter than this share of the digits' height are parts of a digit (a '5' whose top
# bar lifted off) when they overlap one, and stray marks (a full stop) when they do not.
SMALL_PIECE = 0.5
# A group wider than this times the digits' height is taken as several touching digits.
TOUCHING_ASPECT = 1.4


def segment_digits(gray: np.ndarray) -> list[np.ndarray]:
    """Grayscale (H, W) in [0, 1] to one (28, 28) MNIST-like input per digit, left to right."""
    inkmap = find_ink(gray)
    height = _digit_height(inkmap.boxes)
    inputs = []
    for members in _group_pieces(inkmap.boxes, height):
        ink = digit_ink(inkmap, [i + 1 for i in members])
        for part in _split_touching(ink, height):
            inputs.append(normalise_ink(part))
    return inputs


def _digit_height(boxes: list[tuple[int, int, int, int]]) -> float:
    """Typical height of the digits: the median height of the pieces at least half as tall as the tallest."""
    heights = np.array([b[2] - b[0] for b in boxes], dtype=np.float64)
    return float(np.median(heights[heights >= 0.5 * heights.max()]))


def _group_pieces(boxes: list[tuple[int, int, int, int]], height: float) -> list[list[int]]:
    """Indices of pieces grouped into digits by horizontal overlap, ordered left to right."""
    def overlap(a: list[int], b: list[int]) -> int:
        return min(a[1], b[1]) - max(a[0], b[0])

    small = {i for i, b in enumerate(boxes) if b[2] - b[0] < SMALL_PIECE * height}
    groups: list[list[int]] = []
    spans: list[list[int]] = []
    for i in sorted(set(range(len(boxes))) - small, key=lambda i: boxes[i][1]):
        span = [boxes[i][1], boxes[i][3]]
        if spans and overlap(span, spans[-1]) > MERGE_OVERLAP * min(span[1] - span[0], spans[-1][1] - spans[-1][0]):
            groups[-1].append(i)
            spans[-1] = [min(span[0], spans[-1][0]), max(span[1], spans[-1][1])]
        else:
            groups.append([i])
            spans.append(span)
    for i in small:
        span = [boxes[i][1], boxes[i][3]]
        best = max(range(len(spans)), key=lambda g: overlap(span, spans[g]), default=None)
        if best is not None and overlap(span, spans[best]) > 0:
            groups[best].append(i)
    return groups


def _split_touching(ink: np.ndarray, height: float) -> list[np.ndarray]:
    """One digit's ink, or several when it is so wide that digits must touch: cut at the thinnest columns."""
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    if rows.size == 0:
        return [ink]
    width = cols[-1] - cols[0] + 1
    height = max(height, rows[-1] - rows[0] + 1)
    if width <= TOUCHING_ASPECT * height:
        return [ink]
    count = max(2, int(round(width / (height * 0.75))))
    profile = ink[:, cols[0]:cols[-1] + 1].sum(axis=0)
    cuts = [cols[0]]
    for k in range(1, count):
        # Search near each evenly spaced cut for the column with least ink.
        centre = cols[0] + k * width // count
        lo, hi = max(cuts[-1] + 1, centre - width // (3 * count)), min(cols[-1], centre + width // (3 * count))
        if hi <= lo:
            return [ink]
        cuts.append(lo + int(np.argmin(profile[lo - cols[0]:hi - cols[0]])))
    cuts.append(cols[-1] + 1)
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        part = np.zeros_like(ink)
        part[:, a:b] = ink[:, a:b]
        parts.append(part)
    return parts

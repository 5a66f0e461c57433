"""A line of writing (a number) as the number reader sees it: a fixed-size ink map.

The reader takes the whole line at once, so this module only makes every image look alike: grey
levels with the ink dark, the paper's slow shading taken away, the writing cropped with a margin,
scaled to ``LINE_HEIGHT`` keeping its aspect (squeezed only when wider than ``LINE_WIDTH``), and
centred on a blank line. The same function serves training (real and synthetic lines) and
prediction, so what the model saw in training is what it sees in use.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

LINE_HEIGHT = 32
LINE_WIDTH = 160
# Share of the ink mass cut from each end when finding the writing's extent: a speck or the tail
# of a background line at the edge must not set the crop.
CROP_TAIL = 0.004
# Margin kept round the writing, in units of its height.
CROP_MARGIN = 0.12


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) in [0, 1] to ink in [0, 1] (1 = darkest stroke), paper near 0.

    Light writing on a dark ground (chalk, a white-on-black MNIST digit) is turned over first,
    judged by the paper, the brighter or darker majority of the image. Shading wider than a
    stroke is removed by subtracting a wide grey opening's background estimate.
    """
    gray = np.asarray(gray, dtype=np.float32)
    if float(np.median(gray)) < 0.5:
        gray = 1.0 - gray
    ink = 1.0 - gray
    size = max(3, int(round(min(gray.shape) * 0.35)) | 1)
    background = ndimage.grey_opening(ink, size=(size, size))
    ink = np.clip(ink - background, 0.0, None)
    top = float(np.percentile(ink, 99.5))
    if top <= 1e-3:
        return np.zeros_like(ink)
    return np.clip(ink / top, 0.0, 1.0)


def writing_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the writing: where the strong ink mass lies, with a margin."""
    strong = np.where(ink > 0.5, ink, 0.0)
    if strong.sum() <= 0:
        return 0, 0, ink.shape[0], ink.shape[1]

    def extent(profile: np.ndarray) -> tuple[int, int]:
        cum = np.cumsum(profile) / profile.sum()
        lo = int(np.searchsorted(cum, CROP_TAIL))
        hi = int(np.searchsorted(cum, 1.0 - CROP_TAIL)) + 1
        return lo, max(hi, lo + 1)

    top, bottom = extent(strong.sum(axis=1))
    left, right = extent(strong.sum(axis=0))
    margin = int(round(CROP_MARGIN * (bottom - top))) + 1
    return (max(0, top - margin), max(0, left - margin),
            min(ink.shape[0], bottom + margin), min(ink.shape[1], right + margin))


def fit_line(ink: np.ndarray, height: int = LINE_HEIGHT, width: int = LINE_WIDTH, stretch: float = 1.0) -> np.ndarray:
    """Scale ink (h, w) to ``height`` rows keeping its aspect (times ``stretch`` across), squeezed
    to ``width`` if wider, centred."""
    h, w = ink.shape
    new_w = max(1, min(width, int(round(w * height / max(h, 1) * stretch))))
    img = Image.fromarray(np.clip(ink * 255.0, 0, 255).astype(np.uint8))
    scaled = np.asarray(img.resize((new_w, height), Image.Resampling.BILINEAR if min(h, w) < height
                                   else Image.Resampling.BOX), dtype=np.float32) / 255.0
    line = np.zeros((height, width), dtype=np.float32)
    left = (width - new_w) // 2
    line[:, left:left + new_w] = scaled
    return line


def normalise_line(gray: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) in [0, 1] to the reader's input: (LINE_HEIGHT, LINE_WIDTH) float32 ink."""
    return normalise_lines(gray, (1.0,))[0]


def normalise_lines(gray: np.ndarray, stretches: tuple[float, ...]) -> np.ndarray:
    """The line at several widths (``stretches`` of its natural aspect): (len(stretches), H, W)."""
    ink = ink_map(gray)
    top, left, bottom, right = writing_box(ink)
    crop = ink[top:bottom, left:right]
    return np.stack([fit_line(crop, stretch=s) for s in stretches])

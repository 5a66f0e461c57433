"""Text rendering shared by the CLI and the app: digits as characters, probabilities as bars.

Pure functions returning lists of lines. A character covers one pixel column and two pixel rows,
because terminal cells are about twice as tall as wide: a 28x28 digit is 14 lines of 28 columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

RAMP = " .:-=+*#%@"
# Half blocks indexed by top + 2 * bottom (each pixel of the pair inked or not).
BLOCKS = np.array([" ", "▀", "▄", "█"])
MODES = ("ascii", "blocks")


def ascii_digit(img28: np.ndarray, mode: str = "ascii") -> list[str]:
    """An (H, W) image in [0, 1] with 1 = ink (uint8 0..255 also accepted) as ceil(H/2) lines of W characters.

    "ascii" maps the mean of each pixel pair onto a density ramp; "blocks" thresholds each pixel at
    0.5 and draws half blocks, which keeps the full vertical resolution.
    """
    x = np.asarray(img28)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else _unit(x.astype(np.float32))
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {x.shape}")
    if x.shape[0] % 2:
        x = np.vstack([x, np.zeros((1, x.shape[1]), dtype=np.float32)])
    top, bottom = x[0::2], x[1::2]
    # Characters looked up for the whole image at once (a folder of 1,000 images draws 400,000).
    if mode == "ascii":
        levels = np.rint((top + bottom) / 2 * (len(RAMP) - 1)).astype(np.intp)
        return [row.tobytes().decode("ascii") for row in _RAMP_BYTES[levels]]
    if mode == "blocks":
        codes = (top >= 0.5).astype(np.intp) + 2 * (bottom >= 0.5)
        return ["".join(row) for row in BLOCKS[codes]]
    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


_RAMP_BYTES = np.frombuffer(RAMP.encode("ascii"), dtype=np.uint8)


def _unit(x: np.ndarray) -> np.ndarray:
    """Values clipped to [0, 1], NaN as 0 (infinities go to the nearer end): ``np.nan_to_num`` then a
    clip, at a fraction of its cost."""
    x = np.clip(x, 0.0, 1.0)
    x[np.isnan(x)] = 0.0
    return x


def ascii_image(
    gray: np.ndarray, width: int = 28, mode: str = "ascii", invert: bool | None = None, max_lines: int | None = 14,
) -> list[str]:
    """A preview of any grayscale image (0 = black) in ``width`` columns, aspect kept, ink drawn dense.

    A tall image is narrowed to stay within ``max_lines`` (the height of a drawn digit by default).
    ``invert`` None decides from the border: light paper is inverted so dark writing shows as ink.
    """
    g = _unit(np.asarray(gray, dtype=np.float32))
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"expected a non-empty 2-D image, got shape {g.shape}")
    h, w = g.shape
    if max_lines and h / w * width > 2 * max_lines:
        width = max(1, round(2 * max_lines * w / h))
    # One character is one pixel wide and two tall, so square pixels need height/width * width rows.
    rows = max(2, 2 * round(h / w * width / 2))
    small = np.asarray(Image.fromarray(g).resize((width, rows), Image.Resampling.BOX), dtype=np.float32)
    if invert is None:
        border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
        invert = float(np.median(border)) > 0.5
    ink = 1.0 - small if invert else small
    lo, hi = float(ink.min()), float(ink.max())
    ink = (ink - lo) / (hi - lo) if hi - lo > 1e-6 else np.zeros_like(ink)
    return ascii_digit(ink, mode)


def probability_bars(
    probabilities: Sequence[float], width: int = 20, top: int | None = None, ascii_only: bool = False,
) -> list[str]:
    """One line per class like ``> 7 ████████████████░░░░  81.2%``; the most likely class starts with '>'.

    ``top`` None lists all classes in order; a number lists only that many, most likely first.
    """
    p = _unit(np.asarray(probabilities, dtype=np.float64).ravel())
    full, empty = ("#", ".") if ascii_only else ("█", "░")
    best = int(np.argmax(p)) if p.size else -1
    order = list(range(p.size)) if top is None else [int(i) for i in np.argsort(-p, kind="stable")[:top]]
    lines = []
    for cls in order:
        filled = int(round(p[cls] * width))
        marker = ">" if cls == best else " "
        lines.append(f"{marker} {cls} {full * filled}{empty * (width - filled)} {p[cls] * 100:5.1f}%")
    return lines


def side_by_side(left: list[str], right: list[str], gap: int = 3) -> list[str]:
    """Two columns of lines, the left padded to one width so the right column lines up."""
    pad = max((len(line) for line in left), default=0)
    lines = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        lines.append((a.ljust(pad) + " " * gap + b).rstrip() if b else a.rstrip())
    return lines


def format_prediction(
    path, digit: int, confidence: float, probabilities: Sequence[float], input28: np.ndarray,
    mode: str = "ascii", uncertain: bool = False, note: str | None = None,
) -> str:
    """The CLI's block for one image: a header with the verdict, then the digit beside its bars."""
    verdict = f"predicted {digit} ({confidence * 100:.1f}%)"
    if uncertain:
        verdict = f"uncertain: best guess {digit} ({confidence * 100:.1f}%)"
    header = f"{path}: {verdict}" + (f" - {note}" if note else "")
    digit_lines = ascii_digit(input28, mode)
    framed = ["+" + "-" * len(digit_lines[0]) + "+"] + [f"|{line}|" for line in digit_lines]
    framed.append(framed[0])
    bars = probability_bars(probabilities, ascii_only=(mode == "ascii"))
    # Centre the bars against the framed digit.
    offset = max(0, (len(framed) - len(bars)) // 2)
    return "\n".join([header, *side_by_side(framed, [""] * offset + bars)])

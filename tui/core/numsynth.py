"""Synthetic handwritten numbers built from MNIST *training* digits, for training the number reader.

A number is 2-8 digits written along a wavy baseline with a common slant, uneven gaps (neighbours
touch and overlap often, as the "00" of an amount does), sizes and stroke widths that vary, and the
marks people add that are not digits: thousands separators (``.`` ``,`` ``'``), end marks (``-``,
``=``, ``.-``, a long dash), an underline, a ruled baseline or a box round it. It lies on paper
with shading and, often, a cheque's security pattern (guilloche waves or cross-hatching), and goes
through blur, a low-resolution round trip and JPEG. :func:`render_number` returns the grey image
with one mask per digit and one for the marks, so tests can check what was drawn.

Only ever feed it MNIST's training split: the test split stays for reporting.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

# The digit height the canvas is drawn at (pixels); the real cheque amounts are 35-108 px high.
DRAW_HEIGHT = 48
# How often each kind of mark appears.
P_SEPARATORS = 0.45
P_END_MARK = 0.45
P_UNDERLINE = 0.12
P_RULE = 0.3
P_BOX = 0.08
P_PATTERN = 0.7


@dataclass
class SynthNumber:
    """One rendered number: ``gray`` (H, W) in [0, 1], dark ink on light paper; ``label`` its
    digits; ``digit_masks`` one boolean (H, W) per digit; ``mark_mask`` the non-digit marks."""

    gray: np.ndarray
    label: str
    digit_masks: list[np.ndarray]
    mark_mask: np.ndarray


class DigitBank:
    """MNIST training digits by class, cropped to their ink, for drawing numbers.

    As much of the world writes them (and the cheque amounts people read do): half the 1s get a
    lead-in stroke from the top of the stem, up to nearly as long as the stem, and two in five 7s
    a crossbar (tui/core/glyphs.py draws them in the digit's own stroke).
    """

    P_FLAGGED_ONE = 0.5
    P_CROSSED_SEVEN = 0.4

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.by_class = [np.flatnonzero(y == d) for d in range(10)]
        self.x = x

    def glyph(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        from tui.core.glyphs import cross_seven, flag_one  # noqa: PLC0415

        img = self.x[rng.choice(self.by_class[digit])].astype(np.float32) / 255.0
        if digit == 1 and rng.random() < self.P_FLAGGED_ONE:
            img = flag_one(img, rng, reach=(0.3, 0.9))
        elif digit == 7 and rng.random() < self.P_CROSSED_SEVEN:
            img = cross_seven(img, rng)
        rows = np.flatnonzero(img.max(axis=1) > 0.1)
        cols = np.flatnonzero(img.max(axis=0) > 0.1)
        return img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _stroke(glyph: np.ndarray, height: int, aspect: float, slant: float, thin: float) -> np.ndarray:
    """A glyph scaled to ``height`` (width times ``aspect``), sheared by ``slant`` and with its
    strokes thinned (``thin`` near 1) or kept (near 0.3) by where the soft edge is cut."""
    h, w = glyph.shape
    new_w = max(2, int(round(w * height / h * aspect)))
    img = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize((new_w, height), Image.Resampling.BILINEAR),
                     dtype=np.float32) / 255.0
    pad = int(abs(slant) * height) + 2
    img = np.pad(img, ((2, 2), (pad, pad)))
    if slant:
        cy = img.shape[0] / 2
        img = ndimage.affine_transform(img, [[1, 0], [-slant, 1]], offset=[0, slant * cy], order=1)
    ink = np.clip((img - thin) / 0.18 + 0.5, 0.0, 1.0)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    return ink[:, cols[0]:cols[-1] + 1] if cols.size else ink


def _draw_mark(draw: ImageDraw.ImageDraw, rng: np.random.Generator, kind: str, x: int, base: int, height: int,
               width_px: float) -> int:
    """Draw a separator or end mark at column ``x`` on baseline ``base``; return the next column."""
    r = max(1.0, width_px * rng.uniform(0.5, 0.9))
    pen = max(1, int(round(2 * r * 0.8)))

    def dot(cx, cy, rad):
        draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=255)

    def line(x0, y0, x1, y1):
        draw.line([(x0, y0), (x1, y1)], fill=255, width=pen)

    if kind == ".":
        dot(x + r, base - r, r)
        return int(x + 2 * r + 2)
    if kind == ",":
        line(x + r, base - r, x - r, base + 0.25 * height)
        return int(x + 2 * r + 2)
    if kind == "'":
        line(x + r, base - height, x, base - 0.75 * height)
        return int(x + 2 * r + 2)
    if kind == "-":
        length = height * rng.uniform(0.3, 0.7)
        y = base - height * rng.uniform(0.3, 0.6)
        line(x, y, x + length, y + rng.uniform(-2, 2))
        return int(x + length + 3)
    if kind == "=":
        length = height * rng.uniform(0.3, 0.6)
        for y in (base - height * 0.55, base - height * 0.3):
            line(x, y, x + length, y)
        return int(x + length + 3)
    if kind == ".-":
        dot(x + r, base - r, r)
        return _draw_mark(draw, rng, "-", int(x + 2 * r + 3), base, height, width_px)
    # a long dash to the end of the box
    length = height * rng.uniform(1.0, 3.0)
    y = base - height * rng.uniform(0.3, 0.6)
    line(x, y, x + length, y + rng.uniform(-3, 3))
    return int(x + length + 3)


def _paper(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Paper grey level with shading and, often, a security pattern of fine wavy or crossed lines."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    level = rng.uniform(0.62, 0.97)
    paper = level + rng.uniform(-0.08, 0.08) * (xx / w - 0.5) + rng.uniform(-0.06, 0.06) * (yy / h - 0.5)
    if rng.random() < P_PATTERN:
        for _ in range(rng.integers(1, 3)):
            angle = rng.uniform(0, np.pi)
            period = rng.uniform(3.0, 9.0)
            wave = rng.uniform(0, 6) * np.sin(2 * np.pi * (xx * np.sin(angle) + yy * np.cos(angle)) / rng.uniform(40, 160))
            phase = (xx * np.cos(angle) - yy * np.sin(angle) + wave) / period
            lines = np.clip(1.0 - np.abs(np.sin(np.pi * phase)) * rng.uniform(2.0, 5.0), 0, 1)
            paper = paper - lines * rng.uniform(0.05, 0.3) * level
    return np.clip(paper, 0, 1)


def render_number(rng: np.random.Generator, bank: DigitBank, label: str | None = None) -> SynthNumber:
    """Draw one number (``label``, or 2-8 random digits) on paper; see the module's docstring."""
    if label is None:
        length = int(rng.choice([2, 3, 4, 5, 6, 7, 8], p=[0.08, 0.17, 0.23, 0.23, 0.15, 0.08, 0.06]))
        label = "".join(str(d) for d in rng.integers(0, 10, size=length))
    height = int(DRAW_HEIGHT * rng.uniform(0.8, 1.15))
    slant = rng.normal(0.1, 0.15)
    thin = rng.uniform(0.3, 0.65)
    aspect = rng.uniform(0.8, 1.25)
    pen = max(1.0, height * rng.uniform(0.03, 0.07))
    glyphs = [_stroke(bank.glyph(rng, int(c)), int(height * rng.uniform(0.85, 1.1)), aspect * rng.uniform(0.9, 1.1),
                      slant + rng.normal(0, 0.05), thin) for c in label]
    seps = rng.random() < P_SEPARATORS and len(label) >= 4
    sep_kind = str(rng.choice([".", ",", "'"], p=[0.6, 0.3, 0.1]))
    end = str(rng.choice(["-", "=", ".-", "long", "."])) if rng.random() < P_END_MARK else None
    width = int(sum(g.shape[1] for g in glyphs) + height * (len(label) + 5) + 40)
    canvas_h = int(height * 2.2)
    ink = np.zeros((canvas_h, width), dtype=np.float32)
    mark_img = Image.new("L", (width, canvas_h), 0)
    draw = ImageDraw.Draw(mark_img)
    masks = []
    x = int(rng.uniform(0.2, 1.0) * height)
    base0 = int(height * 1.6)
    wave_amp, wave_len, wave_phase = rng.uniform(0, 0.12) * height, rng.uniform(3, 8) * height, rng.uniform(0, 6.3)
    tight = rng.random() < 0.35  # some writers run their digits together
    for i, g in enumerate(glyphs):
        base = int(base0 + wave_amp * np.sin(x / wave_len * 2 * np.pi + wave_phase) + rng.normal(0, 0.03 * height))
        top = max(0, base - g.shape[0])
        gh, gw = min(g.shape[0], canvas_h - top), min(g.shape[1], width - x)
        layer = np.zeros_like(ink)
        layer[top:top + gh, x:x + gw] = g[:gh, :gw]
        masks.append(layer > 0.5)
        ink = np.maximum(ink, layer)
        gap = rng.uniform(-0.22, 0.05) if tight else rng.uniform(-0.12, 0.35)
        x += max(int(gw * 0.55), gw + int(gap * height))
        remaining = len(label) - 1 - i
        if seps and remaining > 0 and remaining % 3 == 0:
            x = _draw_mark(draw, rng, sep_kind, x + int(0.05 * height), base, height, pen)
    if end:
        x = _draw_mark(draw, rng, end, x + int(rng.uniform(0.05, 0.4) * height), base0, height, pen)
    right = min(width, x + int(rng.uniform(0.1, 0.8) * height))
    marks = np.array(mark_img, dtype=np.float32) / 255.0
    if rng.random() < P_UNDERLINE:
        y = base0 + int(rng.uniform(0.08, 0.25) * height)
        marks[y:y + max(1, int(pen * 0.8)), int(0.1 * height):right - int(0.1 * height)] = 1.0
    if rng.random() < P_BOX:
        t = max(1, int(pen * 0.8))
        top, bottom = int(0.25 * height), min(canvas_h - t, base0 + int(0.35 * height))
        marks[top:top + t, :right] = 1.0
        marks[bottom:bottom + t, :right] = 1.0
        marks[top:bottom, :t] = 1.0
        marks[top:bottom, right - t:right] = 1.0
    ink_all = np.maximum(ink, marks)[:, :right]
    paper = _paper(rng, ink_all.shape)
    if rng.random() < P_RULE:  # a printed baseline under the amount, part of the form
        y = base0 + int(rng.uniform(0.0, 0.2) * height)
        paper[y:y + rng.integers(1, 3), :] *= rng.uniform(0.4, 0.8)
    pen_level = rng.uniform(0.0, 0.45)
    gray = paper * (1 - ink_all) + pen_level * ink_all
    gray = gray + rng.normal(0, rng.uniform(0.0, 0.04), gray.shape)
    gray = _degrade(rng, np.clip(gray, 0, 1))
    return SynthNumber(gray.astype(np.float32), label, [m[:, :right] for m in masks], marks[:, :right] > 0.5)


def _degrade(rng: np.random.Generator, gray: np.ndarray) -> np.ndarray:
    """Blur, a low-resolution round trip and JPEG, each often."""
    if rng.random() < 0.5:
        gray = ndimage.gaussian_filter(gray, rng.uniform(0.3, 1.2))
    h, w = gray.shape
    img = Image.fromarray((gray * 255).astype(np.uint8))
    if rng.random() < 0.5:
        f = rng.uniform(0.35, 0.8)
        img = img.resize((max(8, int(w * f)), max(8, int(h * f))), Image.Resampling.BILINEAR)
    if rng.random() < 0.6:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(rng.uniform(30, 90)))
        img = Image.open(io.BytesIO(buf.getvalue()))
    return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0

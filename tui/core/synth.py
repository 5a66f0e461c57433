"""Realistic "user-style" digit images made from MNIST digits: photos, scans, drawings, inverted.

They exercise preprocessing the way real inputs do (paper, lighting, ink colour, transparency,
position, stroke width) and feed the sample images. Numpy and Pillow only; a few ms per image.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageFilter

STYLES = ("photo", "scan", "drawn", "inverted", "thick", "thin")

_INKS = ((22, 32, 120), (30, 30, 36), (15, 55, 150), (60, 40, 90))
_PAPERS = ((236, 232, 220), (245, 244, 238), (228, 230, 232), (240, 234, 210))
_DRAW_COLOURS = ((0, 0, 0), (200, 30, 30), (20, 90, 200), (10, 130, 60), (90, 30, 140))


def render_user_style(
    digit28: np.ndarray, style: str, rng: np.random.Generator, size: int | None = None,
) -> Image.Image:
    """One MNIST digit (uint8, white on black) as a user might supply it in the given style.

    ``size`` is the canvas side in pixels; by default it is drawn at random per style (120-360).
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if style == "photo":
        return _photo([digit28], rng, size or int(rng.integers(200, 361)))
    if style == "drawn":
        return _drawn(digit28, rng, size or int(rng.integers(150, 301)))
    if style == "inverted":
        return _inverted(digit28, rng, size or int(rng.integers(160, 321)))
    width = {"scan": 0, "thick": 1, "thin": -1}[style]
    return _scan(digit28, rng, size or int(rng.integers(120, 241)), width)


def render_number(digits: Sequence[np.ndarray], rng: np.random.Generator, height: int = 120) -> Image.Image:
    """Several MNIST digits written left to right on paper, photographed: a number like "2026"."""
    return _photo(list(digits), rng, height, jpeg=False)


def generate(
    mnist_x: np.ndarray, mnist_y: np.ndarray, n: int, rng: np.random.Generator,
) -> Iterator[tuple[Image.Image, int, str]]:
    """``n`` random digits as (image, label, style), cycling through every style in turn."""
    for i in range(n):
        k = int(rng.integers(len(mnist_x)))
        style = STYLES[i % len(STYLES)]
        yield render_user_style(mnist_x[k], style, rng), int(mnist_y[k]), style


def _ink_mask(digit28: np.ndarray, side: int, rng: np.random.Generator, width: int = 0, angle: float = 0.0) -> Image.Image:
    """The digit as a pen-like alpha mask (L, 0..255) of about ``side`` pixels, optionally rotated."""
    img = Image.fromarray(np.asarray(digit28, dtype=np.uint8))
    # Crop MNIST's empty margin so ``side`` is the size of the digit itself.
    box = img.getbbox() or (0, 0, 28, 28)
    img = img.crop((max(0, box[0] - 1), max(0, box[1] - 1), min(28, box[2] + 1), min(28, box[3] + 1)))
    scale = side / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BICUBIC)
    if width > 0:
        img = img.filter(ImageFilter.MaxFilter(max(3, (side // 18) | 1)))
    # Upscaled MNIST is a soft blob; a steep tone curve gives it the crisp edge of a pen stroke,
    # and a higher cut leaves only the core of each stroke: a fine pen.
    a = np.asarray(img, dtype=np.float32) / 255.0
    lo = 0.75 if width < 0 else 0.3
    a = np.clip((a - lo) / (0.1 if width < 0 else 0.25), 0.0, 1.0)
    img = Image.fromarray((a * 255).astype(np.uint8))
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return img


def _place(canvas: tuple[int, int], mask: Image.Image, rng: np.random.Generator, centred: float) -> Image.Image:
    """``mask`` pasted on an empty canvas, near the centre (centred=1) or anywhere that fits (0)."""
    out = Image.new("L", canvas, 0)
    free_x, free_y = max(0, canvas[0] - mask.width), max(0, canvas[1] - mask.height)
    jitter = 1.0 - centred
    x = int(free_x / 2 + (rng.uniform(-0.5, 0.5) * jitter * free_x))
    y = int(free_y / 2 + (rng.uniform(-0.5, 0.5) * jitter * free_y))
    out.paste(mask, (x, y))
    return out


def _paper(shape: tuple[int, int], rng: np.random.Generator, colour) -> np.ndarray:
    """Paper (H, W, 3) in 0..1: tinted, with fibre texture, a lighting gradient and a soft vignette."""
    h, w = shape
    base = np.array(colour, dtype=np.float32) / 255.0
    coarse = rng.standard_normal((max(2, h // 24), max(2, w // 24)), dtype=np.float32)
    blotch = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    grain = rng.standard_normal((h, w), dtype=np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(theta) * (xs / w - 0.5) + np.sin(theta) * (ys / h - 0.5))
    light = 1.0 - rng.uniform(0.1, 0.35) * (ramp + 0.5)
    vignette = 1.0 - 0.15 * (((xs / w - 0.5) ** 2 + (ys / h - 0.5) ** 2) * 2)
    shade = light * vignette + 0.02 * blotch + 0.015 * grain
    return np.clip(base[None, None, :] * shade[..., None], 0.0, 1.0)


def _photo(digits: list[np.ndarray], rng: np.random.Generator, side: int, jpeg: bool = True) -> Image.Image:
    """Ink on paper photographed by a phone: tilt, perspective, uneven light, blur, JPEG."""
    digit_side = int(side * rng.uniform(0.35, 0.6))
    masks = [_ink_mask(d, digit_side, rng, width=int(rng.integers(0, 2)), angle=rng.uniform(-4, 4)) for d in digits]
    gap = digit_side // 8
    row = Image.new("L", (sum(m.width for m in masks) + gap * (len(masks) - 1), max(m.height for m in masks)), 0)
    x = 0
    for m in masks:
        row.paste(m, (x, int(rng.integers(0, row.height - m.height + 1))))
        x += m.width + gap
    canvas = (max(side, row.width + 2 * gap + digit_side // 2), side)
    mask = _place(canvas, row, rng, centred=0.5)
    mask = mask.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, fillcolor=0)
    mask = mask.transform(canvas, Image.Transform.PERSPECTIVE, _perspective(canvas, rng), Image.Resampling.BICUBIC)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0 * rng.uniform(0.8, 0.95)
    paper = _paper((canvas[1], canvas[0]), rng, _PAPERS[int(rng.integers(len(_PAPERS)))])
    ink = np.array(_INKS[int(rng.integers(len(_INKS)))], dtype=np.float32) / 255.0
    # Ink is lit by the same light as the paper around it.
    lit_ink = ink[None, None, :] * (paper.mean(axis=2, keepdims=True) / 0.9)
    rgb = paper * (1.0 - alpha) + lit_ink * alpha
    rgb += 0.012 * rng.standard_normal((*rgb.shape[:2], 1), dtype=np.float32)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))
    if jpeg:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=int(rng.integers(55, 86)))
        img = Image.open(io.BytesIO(buf.getvalue()))
        img.load()
    return img


def _perspective(canvas: tuple[int, int], rng: np.random.Generator) -> list[float]:
    """Coefficients of a mild random perspective warp, as Image.transform expects them."""
    w, h = canvas
    d = 0.06
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(x + rng.uniform(-d, d) * w, y + rng.uniform(-d, d) * h) for x, y in src]
    rows = []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([u, v, 1, 0, 0, 0, -x * u, -x * v])
        rows.append([0, 0, 0, u, v, 1, -y * u, -y * v])
    rhs = np.array(src, dtype=np.float64).ravel()
    return list(np.linalg.solve(np.array(rows, dtype=np.float64), rhs))


def _scan(digit28: np.ndarray, rng: np.random.Generator, side: int, width: int) -> Image.Image:
    """A flatbed scan: dark grey ink on near-white paper with sensor noise, slightly tilted."""
    mask = _ink_mask(digit28, int(side * rng.uniform(0.45, 0.75)), rng, width=width, angle=rng.uniform(-6, 6))
    alpha = np.asarray(_place((side, side), mask, rng, centred=0.7), dtype=np.float32) / 255.0
    paper, ink = rng.uniform(0.88, 0.98), rng.uniform(0.05, 0.3)
    gray = paper * (1.0 - alpha) + ink * alpha + 0.02 * rng.standard_normal(alpha.shape, dtype=np.float32)
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))


def _drawn(digit28: np.ndarray, rng: np.random.Generator, side: int) -> Image.Image:
    """A paint-program drawing: one solid colour, anti-aliased edges, transparent background (RGBA)."""
    mask = _ink_mask(digit28, int(side * rng.uniform(0.5, 0.85)), rng, width=int(rng.integers(0, 2)))
    alpha = _place((side, side), mask, rng, centred=0.6)
    colour = _DRAW_COLOURS[int(rng.integers(len(_DRAW_COLOURS)))]
    img = Image.new("RGBA", (side, side), (*colour, 0))
    img.putalpha(alpha)
    return img


def _inverted(digit28: np.ndarray, rng: np.random.Generator, side: int) -> Image.Image:
    """White chalk-like digit on a dark background, small and off-centre on a large canvas."""
    mask = _ink_mask(digit28, int(side * rng.uniform(0.2, 0.4)), rng, angle=rng.uniform(-10, 10))
    alpha = np.asarray(_place((side, side), mask, rng, centred=0.0), dtype=np.float32) / 255.0
    dark, light = rng.uniform(0.0, 0.2), rng.uniform(0.75, 1.0)
    gray = dark + (light - dark) * alpha + 0.015 * rng.standard_normal(alpha.shape, dtype=np.float32)
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))

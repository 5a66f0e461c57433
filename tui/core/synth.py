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


def looped_seven(rng: np.random.Generator, side: int = 112) -> Image.Image:
    """A 7 whose top bar starts with a closed loop, dark on white: one person's habit that MNIST
    models read as a 9 (the shipped model reads 20 of 20 as 9), for teaching and its tests."""
    from PIL import ImageDraw  # noqa: PLC0415

    img = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(img)
    s = side / 112

    def at(x: float, y: float) -> tuple[float, float]:
        return ((x + rng.uniform(-3, 3)) * s, (y + rng.uniform(-3, 3)) * s)

    width = int(round(rng.integers(7, 10) * s))
    draw.ellipse([*at(20, 12), *at(60, 50)], outline=0, width=width)
    corner = at(86, 18)
    draw.line([at(58, 22), corner], fill=0, width=width)
    draw.line([corner, at(60, 98)], fill=0, width=width)
    return img


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


# --- Failure classes seen on real images -----------------------------------------------------------
# Each renders an MNIST digit the way one kind of real input defeated an earlier pipeline, so the
# benchmark and the tests hold every class to account (see BENCHMARKS.md, "real images").
def _border_paper(gray: np.ndarray) -> float:
    """The paper's level: the median of the outer tenth along each side (test-side, on purpose not
    the preprocessing's own estimate)."""
    band = max(1, min(gray.shape) // 10)
    return float(np.median(np.concatenate([gray[:band].ravel(), gray[-band:].ravel(),
                                           gray[:, :band].ravel(), gray[:, -band:].ravel()])))


def _pen_level(gray: np.ndarray) -> float:
    """The level a pen adds on this paper: the darkest on light paper, the lightest on dark."""
    return float(gray.min()) if _border_paper(gray) > 0.5 else float(gray.max())


def crop_to_ink(gray: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """What a person cropping an image to its digit makes: the box of the ink and ``margin`` (a share
    of the box's longer side) of paper around it, within the image. ``gray`` must have paper along
    its border (its level is the border's median); ink is what lies more than half way from the
    paper to the far extreme."""
    paper = _border_paper(gray)
    far = float(gray.min()) if paper - gray.min() > gray.max() - paper else float(gray.max())
    ink = np.abs(gray - paper) > 0.5 * abs(far - paper)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not rows.size:
        return gray
    pad = int(round(margin * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)))
    return gray[max(0, rows[0] - pad):rows[-1] + 1 + pad, max(0, cols[0] - pad):cols[-1] + 1 + pad]


def with_frame(gray: np.ndarray, level: float, share: float = 0.03) -> np.ndarray:
    """``gray`` inside a frame of grey ``level`` ``share`` of its longer side wide: a canvas's
    border, a white margin round a photo pasted on a page."""
    return np.pad(gray, max(1, round(share * max(gray.shape))), constant_values=level)


def with_dark_edge(gray: np.ndarray, share: float = 0.08, level: float = 0.1) -> np.ndarray:
    """``gray`` with a dark band down its left side, ``share`` of its width: a scanner lid's shadow,
    the table beyond the page."""
    out = np.array(gray, dtype=np.float32, copy=True)
    out[:, :max(1, round(share * gray.shape[1]))] = level
    return out


def with_ring(gray: np.ndarray, margin: float = 0.25) -> np.ndarray:
    """``gray`` with ``margin`` (a share of its longer side) more of its edge's paper round it and an
    ellipse drawn round the lot in its darkest (or, on dark paper, lightest) ink: a circled answer on
    a worksheet. ``gray`` must have paper along its border."""
    ink = _pen_level(gray)
    out = np.pad(np.asarray(gray, dtype=np.float32), round(margin * max(gray.shape)), mode="edge")
    h, w = out.shape
    yy, xx = np.mgrid[0:h, 0:w]
    radius = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2))
    out[np.abs(radius - 0.97) < max(1, min(h, w) // 60) / min(h, w) * 2] = ink
    return out


def with_underline(gray: np.ndarray) -> np.ndarray:
    """``gray`` with a line under it, across the middle 70 % of its width at 90 % of its height, in
    its darkest (or, on dark paper, lightest) ink: a number underlined on a page. ``gray`` must have
    paper along its border."""
    out = np.array(gray, dtype=np.float32, copy=True)
    h, w = out.shape
    y = int(h * 0.9)
    out[y:y + max(1, h // 60), int(w * 0.15):int(w * 0.85)] = _pen_level(gray)
    return out


def with_specks(gray: np.ndarray, rng: np.random.Generator, share: float = 0.02) -> np.ndarray:
    """``gray`` with ``share`` of its pixels set to black or white at random, half each (salt and
    pepper): dust on a scanner's glass, a photocopy's specks, a sensor's dead pixels."""
    out = np.array(gray, dtype=np.float32, copy=True)
    draw = rng.random(out.shape)
    out[draw < share / 2] = 0.0
    out[draw > 1.0 - share / 2] = 1.0
    return out


FAILURE_CLASSES = ("hairline", "long_stroke", "tiny", "shaded", "crease", "form_cell")


def render_failure_class(digit28: np.ndarray, kind: str, rng: np.random.Generator) -> Image.Image:
    """One MNIST digit (uint8, white on black) as an image of the given failure class."""
    render = {
        "hairline": _hairline, "long_stroke": _long_stroke, "tiny": _tiny, "shaded": _shaded,
        "crease": _crease, "form_cell": _form_cell,
    }.get(kind)
    if render is None:
        raise ValueError(f"unknown failure class {kind!r}; choose one of {', '.join(FAILURE_CLASSES)}")
    return render(np.asarray(digit28, dtype=np.uint8), rng)


def _pen_line(digit28: np.ndarray, side: int, width: float) -> np.ndarray:
    """The digit's centre line as a pen stroke of ``width`` pixels, about ``side`` pixels tall (0..1)."""
    from scipy import ndimage  # noqa: PLC0415
    from skimage.morphology import skeletonize  # noqa: PLC0415

    img = Image.fromarray(digit28)
    box = img.getbbox() or (0, 0, 28, 28)
    img = img.crop(box)
    scale = side / max(img.size)
    big = np.asarray(img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    skeleton = skeletonize(np.pad(big > 0.5, 2))
    # Distance to the centre line, then an anti-aliased edge at width / 2.
    dist = ndimage.distance_transform_edt(~skeleton)
    return np.clip(width / 2 + 0.5 - dist, 0.0, 1.0).astype(np.float32)


def _on_canvas(stroke: np.ndarray, shape: tuple[int, int], top: int, left: int) -> np.ndarray:
    out = np.zeros(shape, dtype=np.float32)
    h, w = min(stroke.shape[0], shape[0] - top), min(stroke.shape[1], shape[1] - left)
    out[top:top + h, left:left + w] = stroke[:h, :w]
    return out


def _hairline(digit28, rng):
    """A drawing-app export: a 1-3 px pen line on a large white canvas, the digit in one corner."""
    h, w = int(rng.integers(600, 700)), int(rng.integers(1050, 1250))
    stroke = _pen_line(digit28, int(rng.integers(120, 260)), float(rng.uniform(1.0, 3.0)))
    corner_y = int(rng.choice([rng.integers(10, 60), h - stroke.shape[0] - int(rng.integers(10, 60))]))
    corner_x = int(rng.choice([rng.integers(10, 80), w - stroke.shape[1] - int(rng.integers(10, 80))]))
    alpha = _on_canvas(stroke, (h, w), max(0, corner_y), max(0, corner_x))
    gray = 1.0 - alpha * rng.uniform(0.85, 1.0)
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8)).convert("RGB")


def _long_stroke(digit28, rng):
    """A thin pen line on a plain white image of about 300x340 (a '1' is one long stroke)."""
    h, w = int(rng.integers(300, 360)), int(rng.integers(280, 330))
    stroke = _pen_line(digit28, int(h * rng.uniform(0.5, 0.8)), float(rng.uniform(1.5, 3.0)))
    top = (h - stroke.shape[0]) // 2 + int(rng.integers(-20, 21))
    left = (w - stroke.shape[1]) // 2 + int(rng.integers(-20, 21))
    alpha = _on_canvas(stroke, (h, w), max(0, top), max(0, left))
    gray = 1.0 - alpha * rng.uniform(0.7, 1.0)
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))


def _tiny(digit28, rng):
    """A small scan or crop: 16x16 or 28x28, faint, thick or blocky strokes, often touching the edges."""
    from scipy import ndimage  # noqa: PLC0415

    a = np.asarray(digit28, dtype=np.float32) / 255.0
    box = Image.fromarray(digit28).getbbox() or (0, 0, 28, 28)
    a = a[box[1]:box[3], box[0]:box[2]]
    variant = int(rng.integers(4))
    if variant == 1:  # thick: a heavy marker
        a = ndimage.grey_dilation(a, size=(2, 2))
    margin = int(rng.integers(0, 3))
    a = np.pad(a, margin)
    side = 16 if variant in (0, 3) else 28
    img = Image.fromarray((a * 255).astype(np.uint8))
    scale = side / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BOX)
    canvas = Image.new("L", (side, side), 0)
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    if variant == 3:  # blocky: a binarised low-resolution scan
        ink = (ink > 0.4).astype(np.float32)
    paper, dark = rng.uniform(0.55, 0.95), rng.uniform(0.0, 0.3)
    if variant == 2:  # faint: pencil on grey paper
        dark = paper - rng.uniform(0.15, 0.3)
    gray = paper * (1 - ink) + dark * ink + 0.02 * rng.standard_normal(ink.shape)
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))


def _photo_paper(shape, rng, colour=(232, 222, 196)):
    """Beige paper under uneven light: a strong gradient and a soft shadow across part of the page."""
    h, w = shape
    paper = _paper(shape, rng, colour)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(-0.2, 1.2) * h, rng.uniform(-0.2, 1.2) * w
    r = rng.uniform(0.3, 0.6) * max(h, w)
    shadow = 1.0 - rng.uniform(0.25, 0.45) * np.exp(-(((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r)))
    return paper * shadow[..., None]


def _ballpoint(paper, alpha, rng, colour=None):
    ink = np.array(colour or ((30, 50, 160) if rng.random() < 0.7 else (40, 40, 50)), dtype=np.float32) / 255.0
    rgb = paper * (1 - alpha[..., None]) + ink[None, None] * paper.mean(axis=2, keepdims=True) * alpha[..., None]
    rgb += 0.01 * rng.standard_normal((*rgb.shape[:2], 1), dtype=np.float32)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(60, 90)))
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    return out


def _uneven(shape, rng, low):
    """A smooth random field in [low, 1]: ink that skips and fades along the stroke."""
    coarse = rng.uniform(low, 1.0, (5, 5)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((shape[1], shape[0]), Image.Resampling.BICUBIC), dtype=np.float32)


def _shaded(digit28, rng):
    """A phone photo of thin blue ballpoint on beige paper with a shading gradient and a shadow."""
    side = int(rng.integers(480, 560))
    stroke = _pen_line(digit28, int(side * rng.uniform(0.4, 0.6)), float(rng.uniform(2.0, 4.0)))
    top, left = (side - stroke.shape[0]) // 2 + int(rng.integers(-40, 41)), (side - stroke.shape[1]) // 2 + int(rng.integers(-40, 41))
    alpha = _on_canvas(stroke, (side, side), max(0, top), max(0, left)) * _uneven((side, side), rng, 0.55) * 0.85
    return _ballpoint(_photo_paper((side, side), rng), alpha, rng)


def _crease(digit28, rng):
    """A photo of folded paper: a crease line across the page and a step in the light along it."""
    side = int(rng.integers(400, 520))
    stroke = _pen_line(digit28, int(side * rng.uniform(0.45, 0.65)), float(rng.uniform(3.0, 6.0)))
    top, left = (side - stroke.shape[0]) // 2, (side - stroke.shape[1]) // 2
    alpha = _on_canvas(stroke, (side, side), top, left) * _uneven((side, side), rng, 0.35) * 0.9
    paper = _paper((side, side), rng, _PAPERS[int(rng.integers(len(_PAPERS)))])
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    d = np.cos(theta) * (xs - side / 2) + np.sin(theta) * (ys - side / 2) - rng.uniform(-0.2, 0.2) * side
    # One side of the fold faces away from the light; the fold itself is a thin dark line with a highlight.
    paper = paper * np.where(d > 0, 1.0, 1.0 - rng.uniform(0.08, 0.2))[..., None]
    line = np.exp(-(d / rng.uniform(1.0, 2.5)) ** 2) * rng.uniform(0.25, 0.45)
    highlight = np.exp(-((d - 4) / 2.0) ** 2) * 0.08
    paper = np.clip(paper * (1 - line)[..., None] + highlight[..., None], 0, 1)
    return _ballpoint(paper, alpha, rng)


def _form_cell(digit28, rng):
    """A cropped cell of a scanned form: ruled box edges (often cut) around a handwritten digit."""
    h, w = int(rng.integers(44, 90)), int(rng.integers(40, 80))
    mask = _ink_mask(digit28, int(min(h, w) * rng.uniform(0.55, 0.75)), rng, width=int(rng.integers(0, 2)))
    alpha = np.asarray(_place((w, h), mask, rng, centred=0.6), dtype=np.float32) / 255.0
    rule = np.zeros((h, w), dtype=np.float32)
    t = int(rng.integers(1, 3))
    strength = rng.uniform(0.5, 0.9)
    for side in ("top", "bottom", "left", "right"):
        if rng.random() < 0.75:
            off = int(rng.integers(0, 3))
            if side == "top":
                rule[off:off + t] = strength
            elif side == "bottom":
                rule[h - off - t:h - off] = strength
            elif side == "left":
                rule[:, off:off + t] = strength
            else:
                rule[:, w - off - t:w - off] = strength
    if rng.random() < 0.5:  # a printed dotted baseline
        y = int(h * rng.uniform(0.8, 0.9))
        rule[y, ::3] = np.maximum(rule[y, ::3], strength * 0.7)
    ink = np.maximum(alpha * rng.uniform(0.7, 1.0), rule)
    paper = rng.uniform(0.85, 0.97)
    gray = paper * (1 - ink) + 0.05 * ink + 0.02 * rng.standard_normal(ink.shape)
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))

"""Write the curated sample_images/ folder from MNIST test digits (deterministic, a few hundred KB).

File names start with the true label: 7_mnist_01.png (a plain MNIST digit), 7_photo_01.jpg (ink on
paper photographed), 7_drawn_01.png (a drawing on a transparent background), 7_inverted_01.png
(light on dark, off-centre) and a few scans and thick or thin strokes; 2026_paper.png and
1984_paper.jpg hold whole numbers for segmentation.

    python scripts/make_samples.py [--data mnist.npz] [--out sample_images]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.core.data import load_mnist  # noqa: E402
from tui.core.errors import DigitrecError  # noqa: E402
from tui.core.preprocess import preprocess_image  # noqa: E402
from tui.core.synth import render_number, render_user_style  # noqa: E402

SEED = 2026
# Canvas side per style: small files, still clearly a photo or a drawing.
SIZES = {"photo": 144, "drawn": 128, "inverted": 160, "scan": 112, "thick": 112, "thin": 128}
EXTRA = {"scan": (1, 4, 8), "thick": (2, 5), "thin": (3, 9)}
NUMBERS = {"2026_paper.png": "2026", "1984_paper.jpg": "1984"}
# A rendering is kept only if preprocessing brings it back this close to its source digit.
MIN_MATCH = 0.8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="mnist.npz (default: $DIGITREC_MNIST or the Keras cache)")
    parser.add_argument("--out", default="sample_images", help="folder to write (default: sample_images)")
    args = parser.parse_args(argv)
    try:
        mnist = load_mnist(args.data)
    except DigitrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    written = []
    for digit in range(10):
        pool = np.flatnonzero(mnist.y_test == digit)
        source = mnist.x_test[pool[0]]
        written.append(save(Image.fromarray(source), out / f"{digit}_mnist_01.png"))
        styles = ["photo", "drawn", "inverted"] + [s for s, ds in EXTRA.items() if digit in ds]
        for k, style in enumerate(styles, start=1):
            # A different test digit per style, so the folder shows several hands.
            src = mnist.x_test[pool[k]]
            img = faithful(src, style, rng)
            suffix = ".jpg" if style == "photo" else ".png"
            written.append(save(img, out / f"{digit}_{style}_01{suffix}"))
    for name, number in NUMBERS.items():
        digits = [mnist.x_test[np.flatnonzero(mnist.y_test == int(ch))[20 + i]] for i, ch in enumerate(number)]
        written.append(save(render_number(digits, rng, height=110), out / name))
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} images to {out}/ ({total / 1024:.0f} KB)")
    return 0


def faithful(source: np.ndarray, style: str, rng: np.random.Generator, tries: int = 5) -> Image.Image:
    """The first rendering (of a few tries) that preprocessing still brings back to its source digit."""
    best, best_score = None, -1.0
    for _ in range(tries):
        img = render_user_style(source, style, rng, size=SIZES[style])
        score = shape_match(preprocess_image(reload(img)), source / 255.0)
        if score >= MIN_MATCH:
            return img
        if score > best_score:
            best, best_score = img, score
    return best


def shape_match(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation allowing a one-pixel shift, since centring by mass rounds to whole pixels."""
    return max(float(np.corrcoef(np.roll(a, (dy, dx), axis=(0, 1)).ravel(), b.ravel())[0, 1])
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def reload(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return Image.open(io.BytesIO(buf.getvalue()))


def save(img: Image.Image, path: Path) -> Path:
    if path.suffix == ".jpg":
        img.convert("RGB").save(path, "JPEG", quality=80, optimize=True)
    elif img.mode == "RGB":
        # Paper photos as 64-colour palettes: a fraction of the bytes, no visible loss at this size.
        img.quantize(64, dither=Image.Dither.NONE).save(path, optimize=True)
    else:
        img.save(path, optimize=True)
    return path


if __name__ == "__main__":
    sys.exit(main())

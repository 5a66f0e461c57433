"""Peak memory and streaming of `digitrec predict FOLDER` for a small and a large folder.

    python bench/predict_memory.py [--sizes 500 5000] [--model PATH] [--root CHECKOUT]

Fills a temporary folder with variations of ``sample_images/`` (each source image shifted,
rotated and rescaled a little, saved as PNG or JPEG like the original), then runs the real command
line, `python -m tui predict FOLDER --json`, once per size in a fresh process. For each run it
reports the peak resident memory of the command (ru_maxrss of the child), the seconds until the
first result line and the total seconds. ``--root`` runs another checkout's code (e.g. the commit
before a change) on the same images. Target: peak RSS for 5,000 images within 20 % of 500.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sample_images"


def make_images(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` images in ``folder``, variations of the sample images (PNG stays PNG, JPEG stays JPEG)."""
    rng = random.Random(seed)
    sources = sorted(p for p in SOURCES.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    decoded = []
    for p in sources:
        with Image.open(p) as img:
            # Drawings keep their transparency: flattened onto black they would be blank.
            decoded.append((p.suffix.lower(), img.convert("RGBA" if p.suffix.lower() == ".png" else "RGB")))
    for i in range(n):
        suffix, img = decoded[i % len(decoded)]
        scale = rng.uniform(0.8, 1.2)
        varied = img.resize((max(8, int(img.width * scale)), max(8, int(img.height * scale))))
        varied = varied.rotate(rng.uniform(-8, 8), fillcolor=varied.getpixel((0, 0)), translate=(rng.randint(-3, 3), rng.randint(-3, 3)))
        varied.save(folder / f"{i:05d}{suffix}", quality=90) if suffix != ".png" else varied.save(folder / f"{i:05d}.png")


def measure(folder: Path, model: str | None, root: Path) -> dict:
    """Run the predict command once (this process is a fresh one) and report what it cost."""
    cmd = [sys.executable, "-m", "tui", "predict", str(folder), "--json"] + (["--model", model] if model else [])
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=root)
    first = None
    lines = 0
    for _ in proc.stdout:
        if first is None:
            first = time.monotonic() - started
        lines += 1
    rc = proc.wait()
    total = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"images": lines, "rc": rc, "peak_rss_mb": round(peak_kib / 1024, 1),
            "first_result_s": round(first, 2) if first is not None else None, "total_s": round(total, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--model", help="model file (default: the command's default)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose code runs (default: this one)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one run in a fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.model, args.root.resolve())))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="digitrec-bench-") as tmp:
        for n in args.sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            make_images(folder, n)
            # A fresh measuring process per size: ru_maxrss of children is the maximum over all of them.
            cmd = [sys.executable, __file__, "--measure", str(folder), "--root", str(args.root)]
            cmd += ["--model", str(Path(args.model).resolve())] if args.model else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            row = {"size": n, **json.loads(out)}
            results.append(row)
            print(f"{n:>6} images: peak RSS {row['peak_rss_mb']:>7.1f} MB, first result after {row['first_result_s']} s, "
                  f"all {row['images']} after {row['total_s']} s (rc {row['rc']})", flush=True)
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
        print(f"peak RSS for {large['size']} images is {growth:+.1%} of that for {small['size']} (target: within 20 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

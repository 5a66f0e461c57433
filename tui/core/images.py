"""Safe image reading: find image files, decode them with Pillow, and turn any pixel mode into grayscale.

Every failure is an :class:`ImageError` with one line saying what is wrong and what to do; raw
Pillow or OS errors never escape.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import math
import os
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from tui.core.errors import ImageError
from tui.core.formats import IMAGE_SUFFIXES

# Only the decoders we need (phone JPEGs that are really MPO come through "JPEG"): Pillow's rarer
# plugins stay unreachable (EPS runs Ghostscript, for one).
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "WEBP", "TIFF", "PPM")
# The Pillow plugins that register those formats (BMP's registers DIB too).
_PILLOW_PLUGINS = ("Png", "Jpeg", "Bmp", "Gif", "WebP", "Tiff", "Ppm")
MAX_PIXELS = 40_000_000
_SUFFIX_LIST = ", ".join(IMAGE_SUFFIXES[:4]) + ", ..."
_CONVERT_HINT = "convert it to PNG or JPEG"
_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"PK\x03\x04", "a zip archive"),
)
_IMAGE_MAGIC = (
    (b"\x89PNG", "PNG"), (b"\xff\xd8", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)


class Skipped(ImageError):
    """An entry inside a folder passed over because it is named like an image but is no file to read:
    a link to nothing, a loop of links, a FIFO, a folder. ``str()`` is one line naming it and why."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"skipped {path}: {reason}")


def collect_images(paths: list[str | Path]) -> list[tuple[Path, ImageError | None]]:
    """Expand files and folders into image paths, each paired with the error that rules it out (or None).

    An entry of a folder named like an image that is no regular file comes paired with a
    :class:`Skipped` (see :func:`split_skipped`); other names (``notes.txt``, ``.hidden.png``) are not images.
    """
    found: list[tuple[Path, ImageError | None]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            try:
                entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            except OSError as exc:
                found.append((path, ImageError(f"cannot list folder {path} ({_reason(exc)})")))
                continue
            named = [(p, _not_a_file(p)) for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
            if any(why is None for _, why in named):
                found.extend((p, None if why is None else Skipped(p, why)) for p, why in named)
            else:
                found.extend((p, Skipped(p, why)) for p, why in named)
                found.append((path, ImageError(f"folder {path} contains no images ({_SUFFIX_LIST})")))
        elif path.exists():
            found.append((path, None))
        else:
            found.append((path, ImageError(_missing(path))))
    return found


def split_skipped(collected: list[tuple[Path, ImageError | None]]) -> tuple[list[tuple[Path, ImageError | None]], list[Skipped]]:
    """``collect_images`` entries apart from the folder entries it skipped, and those skips, each in order."""
    kept = [(path, problem) for path, problem in collected if not isinstance(problem, Skipped)]
    return kept, [problem for _, problem in collected if isinstance(problem, Skipped)]


def _not_a_file(path: Path) -> str | None:
    """Why a folder entry named like an image is no file to read, or None when it is a regular file (or a link to one)."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if exc.errno == errno.ENOENT and path.is_symlink():
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
        return f"cannot be read ({_reason(exc)})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder named like an image"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not an image file"
    if stat.S_ISSOCK(mode):
        return "a socket, not an image file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not an image file"
    return "not a regular file"


def _missing(path: Path) -> str:
    """Why ``path`` cannot be followed: absent, a link to nothing, or a loop of links."""
    if not path.is_symlink():
        return f"{path} does not exist; check the path"
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return f"{path} is a symbolic link loop; point the link at an image"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{path} is a symbolic link loop; point the link at an image"
        return f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; check the link"
    return f"{path} does not exist; check the path"


@functools.cache
def _register_decoders() -> None:
    """Import the plugins of ``PILLOW_FORMATS``, and only those.

    ``Image.open`` calls ``Image.init()``, which imports all of Pillow's forty-odd plugins (some
    0.03 s of a cold process), as soon as one of the formats it is asked to try is not registered
    yet; for a file of any format but PNG one is. Importing a plugin registers its formats, as
    Pillow's own ``preinit`` does; one that is missing is left to ``Image.init()`` as before.
    """
    for name in _PILLOW_PLUGINS:
        with contextlib.suppress(ImportError):
            importlib.import_module(f"PIL.{name}ImagePlugin")


def open_image(path: str | os.PathLike) -> Image.Image:
    """Fully decode one image file: EXIF orientation applied, first frame of an animation."""
    path = Path(path)
    _check_file(path)
    _register_decoders()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its two bomb limits; a warning is as much a refusal as the error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=PILLOW_FORMATS) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise ImageError(f"{path} has no pixels ({width}x{height}); use a real image")
                if width * height > MAX_PIXELS:
                    raise ImageError(_too_large(path, width, height))
                img.seek(0)
                truncated = False
                try:
                    with _DECODE_LOCK:
                        img.load()
                except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError):
                    img, truncated = _decodable_part(path), True  # a truncated file: predict what can be decoded
                try:
                    out = ImageOps.exif_transpose(img)
                except Exception:  # a damaged EXIF block should not cost the user the picture
                    out = img.copy()
                if truncated:
                    out.info[TRUNCATED] = True
                return out
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{path} claims too many pixels (a decompression bomb?); refused, use an image under "
            f"{MAX_PIXELS // 1_000_000} megapixels"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(_unidentified(path)) from None
    except PermissionError:
        raise ImageError(f"cannot read {path}: permission denied; check the file's permissions") from None
    except MemoryError:
        raise ImageError(f"{path} is too large to decode in memory; use a smaller image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        # Pillow reports damaged data with any of these, e.g. "image file is truncated".
        raise ImageError(f"{path} is truncated or damaged ({_reason(exc)}); re-save or re-export the image") from None


# The key in a decoded image's ``info`` that says it is only the decodable part of a truncated file.
TRUNCATED = "digitrec_truncated"


def is_truncated(img: Image.Image) -> bool:
    """Whether ``open_image`` gave only the decodable part of a truncated file."""
    return bool(img.info.get(TRUNCATED))


# Pillow decodes truncated data only while its module-wide LOAD_TRUNCATED_IMAGES is set. We set it
# for our own second attempt alone, and every decode here holds this lock, so no other load of
# ours runs while it is set.
_DECODE_LOCK = threading.Lock()


def _decodable_part(path: Path) -> Image.Image:
    """The rows Pillow can decode of a truncated file, above the flat fill left where data was missing."""
    with _DECODE_LOCK:
        lenient = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            with Image.open(path, formats=PILLOW_FORMATS) as img:
                img.seek(0)
                img.load()
                decoded, jpeg = img.copy(), img.format == "JPEG"
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = lenient
    rows = _decoded_rows(np.asarray(decoded), jpeg)
    if rows == 0:
        raise ImageError(f"{path} is truncated or damaged (nothing could be decoded); re-save or re-export the image")
    return decoded.crop((0, 0, decoded.width, rows)) if rows < decoded.height else decoded


def _decoded_rows(pixels: np.ndarray, jpeg: bool) -> int:
    """How many rows at the top hold data: missing ones come back as one flat fill value (black in
    a PNG, grey in a JPEG), and a JPEG band of blocks cut short ends in that fill on the right."""
    fill = pixels[-1:, :1]
    flat = (pixels == fill).reshape(len(pixels), -1).all(axis=1)
    if flat.all():
        return 0
    rows = len(flat) - int(np.argmin(flat[::-1]))
    if jpeg and rows < len(flat):
        cut_short = (pixels[:rows, -8:] == fill).reshape(rows, -1).all(axis=1)
        rows = 0 if cut_short.all() else rows - int(np.argmin(cut_short[::-1]))
    return rows


def to_grayscale(img: Image.Image) -> np.ndarray:
    """Any Pillow image as float32 (H, W) in [0, 1], 0 black and 1 white; transparency composited on white."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("PA", "La", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "1":
        img = img.convert("L")
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return _scale_integer(np.asarray(img.convert("I") if mode != "I" else img, dtype=np.float64))
    if mode == "F":
        return _scale_float(np.asarray(img, dtype=np.float64))
    if mode == "L":
        return np.asarray(img, dtype=np.float32) / 255.0
    if mode in ("LA", "RGBA"):
        rgba = img.convert("RGBA")
        # Compositing and the grey conversion run inside Pillow, in 8 bits: a big photo stays cheap.
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        gray = np.asarray(Image.alpha_composite(white, rgba).convert("L"), dtype=np.float32) / 255.0
        low, high = rgba.getchannel("A").getextrema()
        if np.ptp(gray) < 0.05 and high - low > 64:
            # Light strokes on a transparent background vanish on white: the alpha channel is the drawing.
            gray = 1.0 - np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
        return gray
    try:
        luminance = img.convert("L") if mode == "RGB" else img.convert("RGB").convert("L")
    except (ValueError, OSError):
        raise ImageError(f"pixel mode {mode} is not supported; {_CONVERT_HINT}") from None
    return np.asarray(luminance, dtype=np.float32) / 255.0


def _scale_integer(a: np.ndarray) -> np.ndarray:
    """Scale integer pixels by the range they actually use: 8, 12 or 16 bits, else their min..max."""
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0:
        for top in (255.0, 4095.0, 65535.0):
            if hi <= top:
                return (a / top).astype(np.float32)
    return _stretch(a, lo, hi)


def _scale_float(a: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0 and hi <= 1:
        return a.astype(np.float32)
    if lo >= 0 and hi <= 255:
        return (a / 255.0).astype(np.float32)
    return _stretch(a, lo, hi)


def _stretch(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.zeros(a.shape, dtype=np.float32)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def _check_file(path: Path) -> None:
    """Refuse what is plainly not a readable file before Pillow sees it, with the reason why."""
    try:
        if not path.exists():
            raise ImageError(_missing(path))
        if path.is_dir():
            raise ImageError(f"{path} is a folder; give an image file, or pass the folder to read every image in it")
        if not path.is_file():
            raise ImageError(f"{path} is not a regular file; give an image file")
        if path.stat().st_size == 0:
            raise ImageError(f"{path} is empty (0 bytes); re-save or re-export the image")
        with open(path, "rb"):
            pass
    except PermissionError:
        raise ImageError(f"cannot read {path}: permission denied; check the file's permissions") from None
    except OSError as exc:
        raise ImageError(f"cannot read {path} ({_reason(exc)})") from None


def _unidentified(path: Path) -> str:
    """Why Pillow could not identify a file, as far as its first bytes tell."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        head = b""
    suffix = path.suffix.lower()
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1") or suffix in (".heic", ".heif"):
        return f"{path} is a HEIC/HEIF photo, which is not supported; {_CONVERT_HINT}"
    if head[4:12] in (b"ftypavif", b"ftypavis") or suffix == ".avif":
        return f"{path} is an AVIF image, which is not supported; {_CONVERT_HINT}"
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return f"{path} is {what}, not a supported image; {_CONVERT_HINT}"
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return f"{path} starts like a {kind} image but is damaged; re-save or re-export the image"
    text = head.lstrip()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return f"{path} is an SVG drawing, which is not supported; export it as PNG"
    if head and _looks_like_text(head):
        return f"{path} contains text, not an image; give a .png or .jpg image"
    return f"{path} is not an image in a supported format ({_SUFFIX_LIST}); {_CONVERT_HINT}"


def _looks_like_text(head: bytes) -> bool:
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            decoded = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(ch.isprintable() or ch in "\r\n\t\f" for ch in decoded)


def _too_large(path: Path, width: int, height: int) -> str:
    # Rounded up to a tenth, so an image just over the limit never reads as being at it.
    megapixels = math.ceil(width * height / 1e5) / 10
    return (f"{path} is too large ({width}x{height}, {megapixels:g} megapixels); "
            f"refused above {MAX_PIXELS // 1_000_000} megapixels, shrink the image first")


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]

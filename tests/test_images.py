"""Reading images the user hands us: every bad file is one clear ImageError, every pixel mode reads."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tui.core.errors import ImageError
from tui.core.images import IMAGE_SUFFIXES, MAX_PIXELS, collect_images, open_image, to_grayscale
from tui.core.preprocess import preprocess_gray, preprocess_image


def digit_image(size: int = 64) -> Image.Image:
    """A dark ring on white paper: a stand-in '0' that needs no MNIST."""
    ys, xs = np.mgrid[0:size, 0:size]
    r = np.hypot((ys - size / 2) / 1.4, xs - size / 2)
    ring = (np.abs(r - size / 5) < size / 20)
    return Image.fromarray(np.where(ring, 20, 240).astype(np.uint8))


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def assert_one_line(err: ImageError, *words: str) -> None:
    text = str(err)
    assert "\n" not in text and text
    for word in words:
        assert word in text.lower(), f"{word!r} not in {text!r}"


@pytest.fixture
def good_png(tmp_path):
    path = tmp_path / "zero.png"
    digit_image().save(path)
    return path


def test_reads_a_plain_png(good_png):
    img = open_image(good_png)
    assert img.size == (64, 64)
    gray = to_grayscale(img)
    assert gray.dtype == np.float32 and gray.shape == (64, 64)
    assert 0.0 <= gray.min() < 0.2 and gray.max() > 0.9


@pytest.mark.parametrize("name, content, words", [
    ("empty.png", b"", ["empty", "0 bytes"]),
    ("notes.png", b"these are my shopping notes, not a picture\n", ["text", "not an image"]),
    ("random.png", bytes(range(256)) * 4, ["not an image"]),
    ("photo.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, ["heic", "not supported"]),
    ("drawing.png", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"\x00" * 64, ["pdf"]),
])
def test_bad_files_are_one_clear_line(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError) as exc:
        open_image(path)
    assert_one_line(exc.value, *words)
    assert str(path) in str(exc.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError) as exc:
        open_image(tmp_path / "nope.png")
    assert_one_line(exc.value, "does not exist")
    with pytest.raises(ImageError) as exc:
        open_image(tmp_path)
    assert_one_line(exc.value, "folder")


def digit_on_paper() -> Image.Image:
    """The ring digit at the top of a sheet twice its height, on paper with a faint grain (so a
    file's bytes spread evenly over its rows)."""
    grain = np.random.default_rng(0).integers(225, 256, (128, 64), dtype=np.uint8)
    sheet = Image.fromarray(grain)
    sheet.paste(digit_image(), (0, 0))
    return sheet


@pytest.mark.parametrize("fmt, options", [("PNG", {"compress_level": 0}), ("JPEG", {"quality": 95})])
def test_truncated_image_gives_the_rows_it_holds(tmp_path, fmt, options):
    """A file cut off in the paper below the digit: the rows it holds are decoded and the digit
    is read as from the whole file; the missing rows (black or grey fill) are not part of it."""
    whole = tmp_path / f"whole.{fmt.lower()}"
    digit_on_paper().save(whole, fmt, **options)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(data[: int(len(data) * 0.75)])
    with Image.open(whole) as intact:
        intact = np.asarray(intact.convert("L"), dtype=np.float32) / 255.0
    img = open_image(cut)
    assert img.width == 64 and 64 <= img.height < 128, img.size
    gray = to_grayscale(img)
    np.testing.assert_allclose(gray[:64], intact[:64], atol=0.02)  # the digit, as in the whole file
    assert gray[64:].min() > 0.8, "no fill from the missing part"
    np.testing.assert_allclose(preprocess_image(img), preprocess_image(open_image(whole)), atol=0.02)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_with_nothing_decodable_is_one_clear_line(tmp_path, fmt):
    """Cut off right after the header: nothing can be decoded, so it is refused as truncated."""
    buf = io.BytesIO()
    digit_on_paper().save(buf, fmt)
    data = buf.getvalue()
    if fmt == "PNG":  # the first bytes of pixel data: not one whole row
        start = data.index(b"IDAT") + 12
    else:  # the scan header, and no scan
        sos = data.index(b"\xff\xda")
        start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[:start])
    with pytest.raises(ImageError) as exc:
        open_image(path)
    assert_one_line(exc.value, "truncated or damaged", "re-save")


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims the given size but holds almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width, height", [(8000, 8000), (50000, 50000)])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, width, height):
    assert width * height > MAX_PIXELS
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(width, height))
    with pytest.raises(ImageError) as exc:
        open_image(path)
    assert_one_line(exc.value, "megapixels")


def test_unreadable_file(good_png):
    if os.geteuid() == 0:
        pytest.skip("running as root, which reads any file: the setpriv version that drops CAP_DAC_OVERRIDE, "
                    "test_cli.py::test_unreadable_file_is_reported_and_the_batch_goes_on, is the one that runs")
    good_png.chmod(0)
    try:
        with pytest.raises(ImageError) as exc:
            open_image(good_png)
        assert_one_line(exc.value, "permission denied")
    finally:
        good_png.chmod(0o644)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("L", (40, 40), 255), Image.new("L", (40, 40), 0)]
    frames[0].paste(0, (10, 5, 30, 35))
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    gray = to_grayscale(open_image(path))
    assert gray[0, 0] > 0.9 and gray[20, 20] < 0.1


def test_sixteen_bit_png(tmp_path):
    ring = np.asarray(digit_image(), dtype=np.float64) / 255.0
    path = tmp_path / "deep.png"
    Image.fromarray((ring * 65535).astype(np.uint16)).save(path)
    img = open_image(path)
    assert img.mode.startswith("I")
    gray = to_grayscale(img)
    np.testing.assert_allclose(gray, ring, atol=1e-3)


def test_palette_png_with_transparency_composites_on_white(tmp_path):
    rgba = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (10, 10, 30, 30))
    path = tmp_path / "pal.png"
    rgba.convert("P").save(path, transparency=0)
    img = open_image(path)
    assert img.mode == "P"
    gray = to_grayscale(img)
    assert gray[0, 0] == pytest.approx(1.0) and gray[20, 20] < 0.5


def test_la_png_composites_on_white(tmp_path):
    la = Image.new("LA", (40, 40), (0, 0))
    la.paste((0, 255), (10, 10, 30, 30))
    path = tmp_path / "la.png"
    la.save(path)
    gray = to_grayscale(open_image(path))
    assert gray[0, 0] == pytest.approx(1.0) and gray[20, 20] == pytest.approx(0.0)


def test_white_strokes_on_transparency_still_show(tmp_path):
    rgba = Image.new("RGBA", (40, 40), (255, 255, 255, 0))
    rgba.paste((255, 255, 255, 255), (15, 5, 25, 35))
    gray = to_grayscale(rgba)
    assert gray[20, 20] < 0.1 and gray[0, 0] > 0.9


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "print.jpg"
    digit_image().convert("RGB").convert("CMYK").save(path, "JPEG", quality=95)
    img = open_image(path)
    assert img.mode == "CMYK"
    gray = to_grayscale(img)
    assert gray[0, 0] > 0.8 and gray.min() < 0.3


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "RGBA", "F", "I", "P"])
def test_every_mode_gives_unit_range(mode):
    img = digit_image().convert(mode)
    gray = to_grayscale(img)
    assert gray.shape == (64, 64) and gray.dtype == np.float32
    assert gray.min() >= 0 and gray.max() <= 1
    assert gray[0, 0] > 0.8 and gray.min() < 0.2


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("L", (60, 30), 255)
    img.paste(0, (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif)
    shown = open_image(path)
    assert shown.size == (30, 60)


@pytest.mark.parametrize("value", [0, 255])
def test_uniform_images_have_no_digit(tmp_path, value):
    path = tmp_path / "flat.png"
    Image.new("L", (50, 50), value).save(path)
    with pytest.raises(ImageError) as exc:
        preprocess_image(open_image(path))
    assert_one_line(exc.value, "no digit found")


def test_one_pixel_image(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 0).save(path)
    with pytest.raises(ImageError) as exc:
        preprocess_gray(to_grayscale(open_image(path)))
    assert_one_line(exc.value, "no digit found")


def test_non_ascii_file_names(tmp_path):
    folder = tmp_path / "Zahlen – ünïcødé 数字"
    folder.mkdir()
    path = folder / "ziffer_7_日本.png"
    digit_image().save(path)
    assert collect_images([folder]) == [(path, None)]
    assert open_image(path).size == (64, 64)


def test_collect_images(tmp_path):
    for name in ("b.png", "a.JPG", ".hidden.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = collect_images([tmp_path, tmp_path / "notes.txt", tmp_path / "ghost.png"])
    paths = [p.name for p, _ in found]
    assert paths == ["a.JPG", "b.png", "notes.txt", "ghost.png"]
    assert [err is None for _, err in found] == [True, True, True, False]
    assert_one_line(found[-1][1], "does not exist")


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    [(path, err)] = collect_images([tmp_path])
    assert path == tmp_path
    assert_one_line(err, "contains no images", ".png")


def test_suffixes_are_lower_case():
    assert all(s.startswith(".") and s == s.lower() for s in IMAGE_SUFFIXES)
    assert {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"} <= set(IMAGE_SUFFIXES)

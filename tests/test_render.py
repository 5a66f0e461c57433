"""Digits and probabilities as text: fixed shapes that fit a terminal, readable in plain ASCII."""

from __future__ import annotations

import numpy as np
import pytest

from tui.core.render import RAMP, ascii_digit, ascii_image, format_prediction, probability_bars, side_by_side


def ring28() -> np.ndarray:
    ys, xs = np.mgrid[0:28, 0:28]
    r = np.hypot((ys - 14) / 1.3, xs - 14)
    return np.clip(1.0 - np.abs(r - 6) / 2, 0.0, 1.0).astype(np.float32)


def shows_drawing(text: str, drawing: list[str]) -> bool:
    """Whether ``text`` holds ``drawing`` as a block: its rows on consecutive lines, in one column.

    Bars and percentages cannot satisfy it, unlike a check for single ramp or block characters.
    """
    inked = [row for row in drawing if row.strip(" .")]
    assert len(inked) >= 4, f"the drawing to look for is nearly blank: {drawing}"
    lines = text.splitlines()
    width = max(len(row) for row in drawing)
    for top in range(len(lines) - len(drawing) + 1):
        for col in range(max(len(lines[top]) - width, 0) + 1):
            if all(lines[top + k][col:col + width].ljust(width) == row.ljust(width) for k, row in enumerate(drawing)):
                return True
    return False


@pytest.mark.parametrize("mode", ["ascii", "blocks"])
def test_digit_is_14_lines_of_28(mode):
    lines = ascii_digit(ring28(), mode)
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)


def test_ascii_mode_is_pure_ascii_and_blank_background():
    lines = ascii_digit(ring28())
    assert all(line.isascii() for line in lines)
    assert lines[0] == " " * 28
    assert "@" in "".join(lines)


def test_ramp_is_monotonic_in_ink():
    levels = np.linspace(0, 1, 28, dtype=np.float32)
    [line] = ascii_digit(np.tile(levels, (2, 1)))
    indices = [RAMP.index(ch) for ch in line]
    assert indices == sorted(indices)
    assert line[0] == " " and line[-1] == RAMP[-1]


def test_blocks_follow_each_pixel_of_the_pair():
    img = np.zeros((2, 4), dtype=np.float32)
    img[0, 1] = img[1, 2] = 1.0
    img[:, 3] = 1.0
    assert ascii_digit(img, "blocks") == [" ▀▄█"]


def test_uint8_and_odd_heights_are_accepted():
    img = (ring28()[:27] * 255).astype(np.uint8)
    lines = ascii_digit(img)
    assert len(lines) == 14 and lines == ascii_digit(ring28()[:27])


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        ascii_digit(ring28(), "braille")


def test_image_preview_keeps_aspect_and_shows_dark_ink_as_dense():
    paper = np.ones((60, 120), dtype=np.float32)
    paper[20:40, 50:70] = 0.0
    lines = ascii_image(paper, width=40)
    # 120x60 pixels at 40 columns is 20 pixel rows, two per line.
    assert len(lines) == 10 and all(len(line) == 40 for line in lines)
    assert lines[0].strip() == "" and "@" in lines[5]


def test_tall_image_preview_is_narrowed_to_fit():
    portrait = np.ones((400, 100), dtype=np.float32)
    portrait[100:300, 40:60] = 0.0
    lines = ascii_image(portrait, width=28)
    assert len(lines) == 14 and all(len(line) == 7 for line in lines)
    assert len(ascii_image(portrait, width=28, max_lines=None)) == 56


def test_probability_bars():
    p = np.full(10, 0.02)
    p[7] = 0.82
    lines = probability_bars(p, width=20)
    assert len(lines) == 10
    assert lines[7] == "> 7 ████████████████░░░░  82.0%"
    assert lines[3] == "  3 ░░░░░░░░░░░░░░░░░░░░   2.0%"
    assert len({len(line) for line in lines}) == 1
    assert [line.startswith(">") for line in lines].count(True) == 1


def test_probability_bars_ascii_and_top():
    p = np.array([0.1, 0.6, 0.0, 0.3, 0, 0, 0, 0, 0, 0])
    lines = probability_bars(p, width=10, top=3, ascii_only=True)
    assert lines == [
        "> 1 ######....  60.0%",
        "  3 ###.......  30.0%",
        "  0 #.........  10.0%",
    ]
    assert all(line.isascii() for line in lines)


def test_side_by_side_aligns_the_right_column():
    lines = side_by_side(["ab", "abcd", "a"], ["1", "2", "3", "4"], gap=2)
    assert lines == ["ab    1", "abcd  2", "a     3", "      4"]
    assert side_by_side(["xx", "x"], ["1"]) == ["xx   1", "x"]


def test_format_prediction_fits_a_terminal():
    p = np.full(10, 0.01)
    p[4] = 0.91
    text = format_prediction("samples/4_photo_01.jpg", 4, 0.91, p, ring28())
    lines = text.splitlines()
    assert lines[0] == "samples/4_photo_01.jpg: predicted 4 (91.0%)"
    assert len(lines) <= 23 and max(len(line) for line in lines) <= 80
    assert text.isascii()
    assert sum("> 4 " in line for line in lines) == 1


def test_format_prediction_uncertain_with_note():
    p = np.full(10, 0.1)
    text = format_prediction("x.png", 0, 0.1, p, ring28(), mode="blocks", uncertain=True, note="does not look like a digit")
    header = text.splitlines()[0]
    assert "uncertain" in header and "does not look like a digit" in header
    assert shows_drawing(text, ascii_digit(ring28(), "blocks"))  # the half-block digit, not just the bars
    assert not shows_drawing(text, ascii_digit(ring28(), "ascii"))

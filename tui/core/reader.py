"""Reading a handwritten number whole: the number reader on LiteRT, its output decoded by CTC.

``NumberReader`` opens ``number_reader.h5`` (found beside the digit model; see
``modelfile.reader_model_path``) through the same runtime machinery as digit models: its
``.tflite`` twin runs on LiteRT with no TensorFlow, rebuilt from the ``.h5`` when missing or stale.
The image is normalised to a line (:mod:`tui.core.lines`), read in one pass, and decoded in numpy
(:mod:`tui.core.ctc`). Marks that are not digits (separators, dashes, underlines) were never labels
in training, so the reader emits nothing for them: ``20.000`` reads as ``20000``.

Confidence: the whole number's probability under CTC (every alignment of the decoded string), and
per digit the highest probability it reaches in its columns. The number is ``uncertain`` below the
reader's ``number_threshold`` and a digit is doubtful below ``digit_threshold`` (both in the model's
metadata where set, else the defaults here, chosen on the real development set; BENCHMARKS.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tui.core.ctc import Decoded, consensus_decode
from tui.core.lines import normalise_lines

# Defaults for models whose metadata does not carry their own (see the module's docstring).
# Chosen by one rule on the development set of real cheque amounts (bench/read_numbers.py): the
# highest threshold, in steps of 0.05, that flags at most 10 % of the right answers. For the
# shipped reader that is 0.65: 9.0 % of right answers and 60 % of wrong ones flagged.
NUMBER_THRESHOLD = 0.65
DIGIT_THRESHOLD = 0.65
COLUMN = 4  # pixels of the line per output column
VIEW_PAPER = 0.35  # ink below this is left out of the digits drawn for display
BEAM_WIDTH = 8  # prefixes kept by the CTC beam search (tui/core/ctc.py)
# The widths the line is read at, as shares of its natural aspect (see read_gray).
STRETCHES = tuple(float(s) for s in os.environ.get("DIGITREC_READER_STRETCHES", "1.0,0.85,1.15").split(","))


def _threshold(metadata: dict[str, Any], key: str, default: float) -> float:
    value = metadata.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    return default


class NumberReader:
    """A loaded number reader; ``read_gray`` and ``read_path`` give a ``NumberReading``."""

    def __init__(self, path: str | os.PathLike, runtime: str | None = None,
                 notify: Callable[[str], None] | None = None):
        from tui.core.modelfile import READER  # noqa: PLC0415
        from tui.core.runtime import open_engine  # noqa: PLC0415

        self.path = Path(path)
        self.engine, self.metadata = open_engine(self.path, runtime, notify, signature=READER)
        self.number_threshold = _threshold(self.metadata, "number_threshold", NUMBER_THRESHOLD)
        self.digit_threshold = _threshold(self.metadata, "digit_threshold", DIGIT_THRESHOLD)

    @property
    def runtime(self) -> str:
        return self.engine.name

    def columns(self, lines: np.ndarray) -> np.ndarray:
        """(N, 40, 11) column probabilities for normalised lines (N, 32, 160)."""
        return self.engine.predict(np.asarray(lines, dtype=np.float32)[..., None])

    def read_gray(self, gray: np.ndarray, path: str = "") -> Any:
        """Read the number in a grayscale image (H, W) in [0, 1]: the line at each of
        ``STRETCHES`` is read, and the number they agree on most wins (ctc.consensus_decode)."""
        lines = normalise_lines(gray, STRETCHES)
        columns = self.columns(lines)
        decoded, where = consensus_decode(list(columns), BEAM_WIDTH)
        return self.reading(path, lines[where], decoded)

    def read_path(self, path: str | os.PathLike) -> Any:
        from tui.core.images import open_image, to_grayscale  # noqa: PLC0415

        return self.read_gray(to_grayscale(open_image(path)), str(path))

    read_number = read_path  # what ``read`` and ``predict --number`` call on whatever reads numbers

    def reading(self, path: str, line: np.ndarray, decoded: Decoded) -> Any:
        """The decoded number as a ``NumberReading``, each digit drawn alone for display."""
        from tui.core.inference import NumberReading, Prediction  # noqa: PLC0415

        digits = []
        for d in decoded.digits:
            doubtful = d.confidence < self.digit_threshold
            digits.append(Prediction(
                path=path, digit=d.digit, confidence=d.confidence, probabilities=d.probabilities,
                input28=digit_view(line, d.columns), uncertain=doubtful,
                reason=f"doubtful digit ({d.confidence:.0%})" if doubtful else None))
        uncertain = not digits or decoded.probability < self.number_threshold
        reason = None
        if not digits:
            reason = "no digits read"
        elif uncertain:
            reason = f"low confidence in the whole number ({decoded.probability:.0%})"
        return NumberReading(path, digits, confidence=decoded.probability, method="reader", line=line,
                             flagged=uncertain, reason=reason)


def digit_view(line: np.ndarray, columns: tuple[int, int]) -> np.ndarray:
    """The stretch of the line a digit was read from, framed like an MNIST digit (28x28) for display."""
    from tui.core.preprocess import normalise_ink  # noqa: PLC0415

    start, end = columns
    centre = (start + end) / 2 * COLUMN + COLUMN / 2
    half = max(line.shape[0] * 0.3, (end - start) * COLUMN / 2 + COLUMN / 2)
    left, right = max(0, int(centre - half)), min(line.shape[1], int(centre + half) + 1)
    # The paper's pattern survives in the line as faint ink (the reader learned to ignore it);
    # a person looking at one digit is better served without it.
    part = np.clip((line[:, left:right] - VIEW_PAPER) / (1 - VIEW_PAPER), 0, 1)
    if part.size == 0 or part.max() <= 0.05:
        return np.zeros((28, 28), dtype=np.float32)
    return normalise_ink(part).astype(np.float32)

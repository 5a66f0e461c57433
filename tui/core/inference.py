"""Inference: images or 28x28 inputs in, digits with probabilities and an uncertainty flag out."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui.core.calibration import apply_temperature, model_temperature
from tui.core.errors import DigitrecError, ImageError
from tui.core.modelfile import default_model_path, read_metadata

# Below this top probability we say "unsure" instead of naming a digit confidently (the default;
# a model's own threshold comes from confidence_threshold below). Chosen for `default` on images
# rendered from MNIST validation digits (robust_trial.py's 2,400 failure-class and style images):
# the highest threshold that flags at most 3% of the correct answers there (0.65: 2.9%, and 93% of
# the misses; 0.6 flagged 2.3% and 87%; 0.7 3.6%). BENCHMARKS.md, issue 10 round 5.
CONFIDENCE_THRESHOLD = 0.65


def confidence_threshold(metadata: dict[str, Any]) -> float:
    """The model's own "unsure" threshold: its metadata's ``confidence_threshold``, else the one
    chosen for its preset by the same rule (presets.CONFIDENCE_THRESHOLDS), else 0.65."""
    from tui.core.presets import CONFIDENCE_THRESHOLDS  # noqa: PLC0415

    value = metadata.get("confidence_threshold")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    return CONFIDENCE_THRESHOLDS.get(str(metadata.get("preset")), CONFIDENCE_THRESHOLD)


@dataclass
class Prediction:
    """One image's answer; ``error`` is set (and the rest empty) when the image failed."""

    path: str | None
    digit: int | None = None
    confidence: float = 0.0
    probabilities: list[float] | None = None
    input28: np.ndarray | None = None  # what the model saw: 28x28 float [0, 1], white on black
    gray: np.ndarray | None = None  # a small grayscale preview of the source image
    uncertain: bool = False
    reason: str | None = None  # why it is uncertain
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.error:
            return {"path": self.path, "error": self.error}
        return {
            "path": self.path,
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(p, 6) for p in self.probabilities or []],
            "uncertain": self.uncertain,
            "reason": self.reason,
        }


TRUNCATED_REASON = "predicted from part of a truncated image"


def judge(probabilities: np.ndarray, input28: np.ndarray | None,
          threshold: float = CONFIDENCE_THRESHOLD, truncated: bool = False) -> tuple[bool, str | None]:
    """Whether to flag a prediction as uncertain, and why (``threshold``: see confidence_threshold;
    ``truncated``: the input was prepared from the decodable part of a truncated file)."""
    if truncated:  # the missing part may hold what makes it another digit, however sure the model is
        return True, TRUNCATED_REASON
    if input28 is not None:
        from tui.core.preprocess import looks_like_digit  # noqa: PLC0415

        if not looks_like_digit(input28):
            return True, "the image does not look like a single handwritten digit"
    top = float(np.max(probabilities))
    if top < threshold:
        return True, f"low confidence ({top:.0%}); the digit may be ambiguous"
    return False, None


@dataclass
class NumberReading:
    """Several digits read left to right from one image.

    ``method`` says how: ``reader`` (the number reader read the line whole; ``confidence`` is the
    whole number's probability and ``line`` what it saw) or ``segment`` (cut into pieces, each
    classified by the digit model). ``uncertain_positions`` count from 1.
    """

    path: str
    digits: list[Prediction]
    confidence: float | None = None
    method: str = "segment"
    line: np.ndarray | None = None
    flagged: bool | None = None  # the reader's own judgement; None: any doubtful digit
    reason: str | None = None

    @property
    def text(self) -> str:
        return "".join(str(p.digit) for p in self.digits)

    @property
    def uncertain(self) -> bool:
        return self.flagged if self.flagged is not None else any(p.uncertain for p in self.digits)

    @property
    def doubtful_positions(self) -> list[int]:
        return [i for i, p in enumerate(self.digits, 1) if p.uncertain]

    def to_json(self) -> dict[str, Any]:
        out = {"path": self.path, "number": self.text, "uncertain": self.uncertain,
               "uncertain_positions": self.doubtful_positions}
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 6)
        out["method"] = self.method
        if self.reason:
            out["reason"] = self.reason
        out["digits"] = [{k: v for k, v in p.to_json().items() if k != "path"} for p in self.digits]
        return out


def _naming(path, exc: Exception) -> str:
    """The error's one line, starting with the file it is about, so a batch's errors are clear."""
    text = str(exc)
    return text if str(path) in text else f"{path}: {text}"


class Predictor:
    """A loaded digit model ready to predict, on LiteRT where it can (see ``tui.core.runtime``).

    ``runtime``: ``auto`` (LiteRT, or TensorFlow where LiteRT is not installed), ``litert`` or
    ``tensorflow``; default ``$DIGITREC_RUNTIME`` or ``auto``. ``notify`` gets one line when the
    model's runtime file had to be rebuilt. Passing a Keras ``model`` predicts with it directly.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, model=None, runtime: str | None = None,
                 notify: Callable[[str], None] | None = None, reader_path: str | os.PathLike | None = None):
        from tui.core.runtime import KerasEngine, open_engine  # noqa: PLC0415

        self.model_path = Path(model_path) if model_path else default_model_path()
        self._runtime, self._notify = runtime, notify
        self._reader: Any = None  # the number reader, opened on first use (False: there is none)
        self._reader_path: Path | None = Path(reader_path) if reader_path else None
        if model is not None:
            self.engine: Any = KerasEngine(model)
            try:
                self.metadata = read_metadata(self.model_path)
            except DigitrecError:
                self.metadata = {}
        else:
            self.engine, self.metadata = open_engine(self.model_path, runtime, notify)
        self.threshold = confidence_threshold(self.metadata)
        # Every probability this predictor gives is calibrated by the model's own temperature
        # (tui/core/calibration.py), whichever runtime answered; 1 leaves them as the network gave them.
        self.temperature = model_temperature(self.metadata)

    @property
    def runtime(self) -> str:
        """Which runtime answers: ``LiteRT`` or ``TensorFlow``."""
        return self.engine.name

    def predict_arrays(self, inputs: np.ndarray, batch_size: int = 2048, calibrated: bool = True) -> np.ndarray:
        """Probabilities (N, 10) for inputs of shape (N, 28, 28) uint8 or float in [0, 1], calibrated
        by the model's temperature unless ``calibrated`` is false (then as the network gives them)."""
        from tui.core.pipeline import to_model_input  # noqa: PLC0415

        probs = self.engine.predict(to_model_input(inputs), batch_size)
        return apply_temperature(probs, self.temperature) if calibrated else probs

    def predict_input(self, input28: np.ndarray, path: str | None = None, gray: np.ndarray | None = None) -> Prediction:
        probs = self.predict_arrays(np.asarray(input28, dtype="float32")[None])[0]
        return self._prediction(path, probs, input28, gray)

    def _prediction(self, path, probs, input28, gray, truncated: bool = False) -> Prediction:
        uncertain, reason = judge(probs, input28, self.threshold, truncated)
        digit = int(np.argmax(probs))
        return Prediction(
            path=path, digit=digit, confidence=float(probs[digit]), probabilities=[float(p) for p in probs],
            input28=input28, gray=gray, uncertain=uncertain, reason=reason,
        )

    def predict_image(self, path: str | os.PathLike) -> Prediction:
        return self.predict_paths([path])[0]

    def number_reader(self):
        """The number reader beside this model (``modelfile.reader_model_path``), loaded once;
        None where there is none, and then numbers are read by cutting them into digits."""
        if self._reader is None:
            from tui.core.reader import NumberReader  # noqa: PLC0415

            found = find_reader(self.model_path, self._reader_path)
            self._reader = NumberReader(found, self._runtime, self._notify) if found else False
        return self._reader or None

    def read_number(self, path: str | os.PathLike, segment: bool = False) -> NumberReading:
        """Read the number written in an image (e.g. "2026"): whole, by the number reader where
        there is one, else (or with ``segment``) by cutting it into digits and predicting each."""
        from tui.core.images import open_image, to_grayscale  # noqa: PLC0415

        return self.read_number_gray(to_grayscale(open_image(path)), str(path), segment)

    def read_number_gray(self, gray: np.ndarray, path: str = "", segment: bool = False) -> NumberReading:
        """:meth:`read_number` for a grayscale image (H, W) in [0, 1], dark ink on light (a drawing)."""
        from tui.core.segment import segment_digits  # noqa: PLC0415

        reader = None if segment else self.number_reader()
        if reader is not None:
            return reader.read_gray(gray, path)
        try:
            inputs = segment_digits(gray)
        except ImageError:
            raise
        except Exception as exc:  # a segmentation failure on odd input is still one line
            raise ImageError(f"{path}: could not find digits ({type(exc).__name__})") from None
        if not inputs:
            raise ImageError(f"{path}: no digits found; give an image with dark digits on light paper or light on dark")
        probs = self.predict_arrays(np.stack(inputs))
        return NumberReading(str(path), [self._prediction(str(path), p, x, None) for p, x in zip(probs, inputs)])

    def predict_paths(self, paths: list[str | os.PathLike]) -> list[Prediction]:
        """Predict every image named or found in folders; failures become ``error`` entries."""
        from tui.core.images import collect_images  # noqa: PLC0415

        return self.predict_prepared([
            (path, str(problem) if problem is not None else prepare(path))
            for path, problem in collect_images(list(paths))
        ])

    def predict_prepared(self, items: list[tuple[str | os.PathLike, Any]]) -> list[Prediction]:
        """Predict images already through :func:`prepare`: (path, Preprocessed or error line) pairs."""
        results = [Prediction(path=str(path), error=pre) if isinstance(pre, str) else None for path, pre in items]
        ready = [(i, pre) for i, (_, pre) in enumerate(items) if not isinstance(pre, str)]
        if ready:
            probs = self.predict_arrays(np.stack([pre.input28 for _, pre in ready]))
            for (index, pre), p in zip(ready, probs):
                results[index] = self._prediction(str(pre.path), p, pre.input28, pre.gray, pre.truncated)
        return results


def find_reader(model_path: str | os.PathLike | None = None, reader_path: str | os.PathLike | None = None) -> Path | None:
    """The number reader to use: ``reader_path`` if given (it must exist), else ``$DIGITREC_READER``,
    else ``number_reader.h5`` beside the digit model, else beside the default model; None if none is."""
    from tui.core.modelfile import READER_NAME, reader_model_path  # noqa: PLC0415

    if reader_path:
        path = Path(reader_path)
        if not path.is_file():
            raise DigitrecError(f"number reader {path} does not exist; check the path, or leave --reader out "
                                "to use the one beside the digit model")
        return path
    if os.environ.get("DIGITREC_READER"):
        candidates = [Path(os.environ["DIGITREC_READER"])]
    else:
        beside = Path(model_path or default_model_path()).with_name(READER_NAME)
        candidates = [beside, reader_model_path()]
    return next((p for p in candidates if p.is_file()), None)


def number_source(model_path: str | os.PathLike | None = None, reader_path: str | os.PathLike | None = None,
                  runtime: str | None = None, notify: Callable[[str], None] | None = None, segment: bool = False):
    """What reads numbers for ``read`` and ``predict --number``: the number reader alone where one is
    found (the digit model is then never loaded), else a :class:`Predictor` that cuts numbers into
    digits. Either has ``read_number(path)``."""
    if not segment:
        found = find_reader(model_path, reader_path)
        if found:
            from tui.core.reader import NumberReader  # noqa: PLC0415

            return NumberReader(found, runtime, notify)
    predictor = Predictor(model_path, runtime=runtime, notify=notify)
    predictor._reader = False if segment else predictor._reader
    return predictor


def prepare(path: str | os.PathLike, preview: bool = True):
    """Read and preprocess one image: a ``Preprocessed`` (with a preview unless ``preview`` is false),
    or the one-line reason it failed.

    A plain function of the path, so a process pool can run it for a large folder.
    """
    from tui.core.preprocess import preprocess_path  # noqa: PLC0415

    try:
        return preprocess_path(path, preview)
    except ImageError as exc:
        return _naming(path, exc)
    except Exception as exc:  # an image library failure must not stop the batch
        return f"{path}: could not read image ({type(exc).__name__})"

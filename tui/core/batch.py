"""Predicting many images in small batches, each answer handed on as soon as its batch is done.

A folder of thousands of images is never held in memory at once: images are read, preprocessed
and predicted ``batch_size`` at a time, and each batch's results are yielded before the next is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tui.core.errors import ImageError
from tui.core.inference import Prediction, Predictor

BATCH_SIZE = 64


def stream_predictions(predictor: Predictor, collected: Iterable[tuple[Path, ImageError | None]],
                       batch_size: int = BATCH_SIZE) -> Iterator[Prediction]:
    """Predictions for ``collect_images`` entries, in order, ``batch_size`` images at a time."""
    batch: list[Path] = []
    for path, problem in collected:
        if problem is not None:
            yield from _predict(predictor, batch)
            batch = []
            yield Prediction(path=str(path), error=str(problem))
            continue
        batch.append(path)
        if len(batch) >= batch_size:
            yield from _predict(predictor, batch)
            batch = []
    yield from _predict(predictor, batch)


def _predict(predictor: Predictor, batch: list[Path]) -> list[Prediction]:
    return predictor.predict_paths(batch) if batch else []

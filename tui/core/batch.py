"""Predicting many images in small batches, each answer handed on as soon as its batch is done.

A folder of thousands of images is never held in memory at once: images are read, preprocessed
and predicted ``batch_size`` at a time, and each batch's results are yielded before the next is read.
Preprocessing (a few ms of CPU an image, all of it numpy/scipy on one core) can be spread over a
process pool, made with :func:`preprocessing_pool` before any thread starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tui.core.errors import ImageError
from tui.core.inference import Prediction, Predictor, prepare

BATCH_SIZE = 64
# Fewer images than this are done before a pool's workers would have paid for themselves.
POOL_MIN_IMAGES = 200


def preprocessing_pool(images: int):
    """A pool of forked workers for preprocessing ``images`` images, or None where it would not help.

    Forking is cheap (the workers share the parent's imports) but unsafe once threads run, so the
    caller makes the pool first; where fork is unavailable (Windows, macOS default) there is none.
    """
    if images < POOL_MIN_IMAGES:
        return None
    import multiprocessing  # noqa: PLC0415 - not for one image

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    import tui.core.preprocess  # noqa: F401, PLC0415 - imported once here, not again in every worker

    return multiprocessing.get_context("fork").Pool(min(cores, 4))


def stream_predictions(predictor: Predictor, collected: Iterable[tuple[Path, ImageError | None]],
                       batch_size: int = BATCH_SIZE, pool=None) -> Iterator[Prediction]:
    """Predictions for ``collect_images`` entries, in order, ``batch_size`` images at a time.

    With ``pool`` (see :func:`preprocessing_pool`) each batch is preprocessed by its workers.
    """
    batch: list[Path] = []
    for path, problem in collected:
        if problem is not None:
            yield from _predict(predictor, batch, pool)
            batch = []
            yield Prediction(path=str(path), error=str(problem))
            continue
        batch.append(path)
        if len(batch) >= batch_size:
            yield from _predict(predictor, batch, pool)
            batch = []
    yield from _predict(predictor, batch, pool)


def _predict(predictor: Predictor, batch: list[Path], pool) -> list[Prediction]:
    if not batch:
        return []
    prepared = pool.map(prepare, batch, chunksize=max(1, len(batch) // 16)) if pool else map(prepare, batch)
    return predictor.predict_prepared(list(zip(batch, prepared)))

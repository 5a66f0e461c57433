"""Predicting many images in small batches, each answer handed on as soon as its batch is done.

A folder of thousands of images is never held in memory at once: images are read, preprocessed
and predicted ``batch_size`` at a time, and each batch's results are yielded before the batch after
next is read (with a pool, its workers read the next one while this one is predicted).
Preprocessing (a few ms of CPU an image, all of it numpy/scipy on one core) can be spread over a
process pool, made with :func:`preprocessing_pool` before any thread starts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tui.core.errors import ImageError
from tui.core.inference import Prediction, Predictor, prepare

_prepare = functools.partial(prepare, preview=False)

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
    from tui.core.preprocess import import_lazy_parts  # noqa: PLC0415

    import_lazy_parts()  # once here, not again in every worker
    return multiprocessing.get_context("fork").Pool(min(cores, 4))


def stream_predictions(predictor: Predictor, collected: Iterable[tuple[Path, ImageError | None]],
                       batch_size: int = BATCH_SIZE, pool=None) -> Iterator[Prediction]:
    """Predictions for ``collect_images`` entries, in order, ``batch_size`` images at a time, without
    previews of the images (``gray``): a pool's workers need not send them back.

    With ``pool`` (see :func:`preprocessing_pool`) each batch is preprocessed by its workers, and the
    next batch is already under way while one is predicted and handed on: two batches at most.
    """
    previous = None
    for current in (_start(work, pool) for work in _work(collected, batch_size)):
        if previous is not None:
            yield from _finish(predictor, previous)
        previous = current
    if previous is not None:
        yield from _finish(predictor, previous)


def _work(collected: Iterable[tuple[Path, ImageError | None]], batch_size: int) -> Iterator[Prediction | list[Path]]:
    """The entries in order: one that failed as its error, the others in batches of up to ``batch_size``."""
    batch: list[Path] = []
    for path, problem in collected:
        if problem is not None:
            if batch:
                yield batch
                batch = []
            yield Prediction(path=str(path), error=str(problem))
            continue
        batch.append(path)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _start(work: Prediction | list[Path], pool):
    """Set a pool's workers preparing a batch; without a pool it is prepared when it is finished."""
    if isinstance(work, Prediction) or pool is None:
        return work, None
    return work, pool.map_async(_prepare, work, chunksize=max(1, len(work) // 16))


def _finish(predictor: Predictor, started) -> list[Prediction]:
    work, preparing = started
    if isinstance(work, Prediction):
        return [work]
    prepared = preparing.get() if preparing is not None else map(_prepare, work)
    return predictor.predict_prepared(list(zip(work, prepared)))

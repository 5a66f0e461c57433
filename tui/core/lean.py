"""Keeping a cold process lean: what a quick command (predict, evaluate, the app's model loading)
does before numpy and SciPy are first imported. No Textual, no TensorFlow.
"""

from __future__ import annotations

import os
import sys


def one_blas_thread() -> None:
    """Keep numpy's BLAS to one thread in commands that do no linear algebra of size.

    The BLAS that numpy and SciPy load starts a thread per core as they are imported, each spinning
    for a while: about 0.2 s of CPU in a 0.4 s command. Call before numpy is first imported; a
    value the user set is kept. Training processes started from the app inherit it, harmlessly:
    TensorFlow computes with its own thread pools, not numpy's BLAS.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# numpy's test helpers and its Fortran wrapper generator, tools for developers, and its masked arrays
# (about 0.013 s): SciPy's array-API layer imports all three. Predicting never uses the first two;
# numpy's own median and percentile load the third (they check for masked input) on the first
# image, so deferring it only takes it off the path to a loaded model (the app's "model ready").
NUMPY_DEV_MODULES = ("numpy.testing", "numpy.f2py", "numpy.ma")


def defer_numpy_dev_modules() -> None:
    """Leave numpy's developer tools unexecuted until something uses them.

    Importing SciPy's ``ndimage`` runs its array-API layer, which copies every public name of
    numpy, so numpy's lazy ``testing`` and ``f2py`` submodules are imported too, and it imports
    ``numpy.ma`` itself: about 0.06 s of CPU in a 0.4 s command. Each becomes a module made by the
    standard library's ``importlib.util.LazyLoader`` (the Python documentation's lazy-import recipe): it runs as soon
    as any of its attributes is read, so whoever uses it gets the real module. Call it before SciPy
    is imported (a command calls it first; the app, in the thread that loads the model); it imports
    numpy. A module already imported is left as it is.
    """
    import importlib.util  # noqa: PLC0415

    import numpy  # noqa: PLC0415

    for name in NUMPY_DEV_MODULES:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # As the import system does for a submodule, so numpy's own lazy __getattr__ is not consulted.
        setattr(numpy, name.rpartition(".")[2], module)

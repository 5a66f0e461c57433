"""MNIST loading: an explicit path or ``DIGITREC_MNIST``, then the Keras cache, then a download.

Every source is validated (keys, shapes, dtype, label range) and problems are reported as one
line saying what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui.core.errors import DataError

ENV_VAR = "DIGITREC_MNIST"
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
EXPECTED = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str


def keras_cache_path() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def locate(path: str | os.PathLike | None = None) -> Path | None:
    """The local MNIST file to use, or None when a download is needed."""
    explicit = _explicit(path)
    if explicit:
        p, where = explicit
        if not p.exists():
            raise DataError(f"MNIST file {p} (from {where}) does not exist; fix the path or unset it to use the Keras cache")
        refuse_non_file(path)
        return p
    cache = keras_cache_path()
    return cache if cache.exists() else None


def refuse_non_file(path: str | os.PathLike | None = None) -> None:
    """Refuse an MNIST path given by ``path`` or ``$DIGITREC_MNIST`` that exists but is not a regular file.

    A FIFO or a device would block or never end when read; a folder is a common slip. A path that
    does not exist is left to :func:`locate`, so commands that may not need MNIST still start.
    """
    explicit = _explicit(path)
    if explicit and explicit[0].exists() and not explicit[0].is_file():
        p, where = explicit
        kind = "a folder" if p.is_dir() else "not a regular file (a pipe or a device?)"
        raise DataError(f"MNIST file {p} (from {where}) is {kind}; give the mnist.npz file itself")


def _explicit(path: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The MNIST path the user named (``--data`` wins over the environment) and where it came from."""
    value = path or os.environ.get(ENV_VAR)
    return (Path(value).expanduser(), "--data" if path else ENV_VAR) if value else None


def load_mnist(path: str | os.PathLike | None = None, download: bool = True, progress: bool = False) -> Mnist:
    """Load and validate MNIST from the first source that has it."""
    p = locate(path)
    if p is None:
        if not download:
            raise DataError(offline_message())
        p = _download(progress)
    return read_npz(p)


def offline_message() -> str:
    return (
        f"MNIST is not available offline: set {ENV_VAR}=/path/to/mnist.npz "
        f"or place the file at {keras_cache_path()}"
    )


def _download(progress: bool) -> Path:
    from tui.core.tf import import_tf  # noqa: PLC0415 - only a download needs Keras here

    _, keras = import_tf()
    try:
        fetched = keras.utils.get_file(
            "mnist.npz", origin=os.environ.get("DIGITREC_MNIST_URL", MNIST_URL), file_hash=MNIST_SHA256, cache_subdir="datasets",
            cache_dir=str(keras_cache_path().parent.parent),
        )
    except Exception as exc:  # network errors come in many types (URLError, OSError, ValueError)
        raise DataError(f"could not download MNIST ({_network_reason(exc)}); {offline_message()}") from None
    return Path(fetched)


def _network_reason(exc: Exception) -> str:
    """The useful tail of a download error, e.g. 'Name or service not known'."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "]" in text:  # "... [Errno -2] Name or service not known"
        text = text.rsplit("]", 1)[1].strip() or text
    return text[:100]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_npz(path: Path) -> Mnist:
    """Read a local ``mnist.npz`` in Keras' layout and validate it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in EXPECTED if k not in npz.files]
            if missing:
                raise DataError(f"{path} is not an MNIST file: missing {', '.join(missing)} (expected keys {', '.join(EXPECTED)})")
            arrays = {k: npz[k] for k in EXPECTED}
    except DataError:
        raise
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder; point {ENV_VAR} at the mnist.npz file itself") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz file ({type(exc).__name__}); replace it with a good copy of mnist.npz") from None
    for key, shape in EXPECTED.items():
        arr = arrays[key]
        if arr.shape != shape:
            raise DataError(f"{path}: {key} has shape {arr.shape}, expected {shape}; the file is not MNIST or is damaged")
        if arr.dtype != np.uint8:
            raise DataError(f"{path}: {key} has dtype {arr.dtype}, expected uint8; the file is not MNIST or is damaged")
    for key in ("y_train", "y_test"):
        if arrays[key].max() > 9:
            raise DataError(f"{path}: {key} has labels above 9; the file is not MNIST or is damaged")
    return Mnist(**arrays, source=str(path), sha256=file_sha256(path))


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """Seeded split of the training set into (train, validation); the test set is never touched."""
    if fraction <= 0:
        return (x, y), (x[:0], y[:0])
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])

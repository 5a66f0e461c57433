"""Model files: HDF5 ``.h5`` written atomically with metadata attributes, and safe loading.

Loading never runs code from the file: the stored architecture may only use an allow-list of
standard Keras layers (no Lambda, no custom objects), Keras' safe mode stays on, and the model
must take 28x28x1 input and give 10 outputs.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.errors import ModelFileError

DEFAULT_MODEL = Path("models/digit_recognizer.h5")
MODELS_DIR = Path("models")
META_ATTR = "digitrec_metadata"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# Layers a digit model may contain. Anything else (Lambda, custom classes) is refused before
# Keras sees the file, since deserialising arbitrary classes is how model files run code.
SAFE_LAYERS = frozenset(
    """InputLayer Conv2D DepthwiseConv2D SeparableConv2D MaxPooling2D AveragePooling2D
    GlobalAveragePooling2D GlobalMaxPooling2D Flatten Dense Dropout SpatialDropout2D
    BatchNormalization LayerNormalization Activation ReLU LeakyReLU PReLU ELU Softmax Rescaling
    Reshape ZeroPadding2D Cropping2D Add Concatenate Multiply Average Maximum GaussianNoise
    Permute LSTM GRU Bidirectional Conv1D MaxPooling1D
    Sequential Functional Model""".split()
)


@dataclass(frozen=True)
class Signature:
    """What a kind of model takes and gives, checked on every file before it is used."""

    what: str  # "digit model"
    inputs: tuple[tuple[int, ...], ...]  # accepted input shapes, without the batch axis
    output: tuple[int, ...]
    input_words: str  # how a refusal names the expected input
    output_words: str  # ... and output
    fixed_batch: int | None = None  # converted at this batch size (an LSTM needs one)


DIGIT = Signature("digit model", ((28, 28, 1), (28, 28)), (10,), "28x28x1 images", "10 classes")
# The number reader (tui/core/reader_model.py): 32x160 lines in, 40 columns of 10 digits + blank out.
READER = Signature("number reader", ((32, 160, 1),), (40, 11), "32x160x1 line images", "40 columns of 11 classes",
                   fixed_batch=1)


@dataclass
class ModelInfo:
    """A model file found on disk, with what its metadata says (no TensorFlow needed)."""

    path: Path
    size_bytes: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def test_accuracy(self) -> float | None:
        value = self.metadata.get("test_accuracy")
        return float(value) if isinstance(value, (int, float)) else None


def default_model_path() -> Path:
    return Path(os.environ.get("DIGITREC_MODEL") or DEFAULT_MODEL)


READER_NAME = "number_reader.h5"


def reader_model_path() -> Path:
    """The number reader: ``$DIGITREC_READER``, else ``number_reader.h5`` beside the digit model."""
    return Path(os.environ.get("DIGITREC_READER") or default_model_path().with_name(READER_NAME))


def default_output(arch: str) -> Path:
    """Where a run of ``arch`` publishes when no output is given: the reader or the digit model."""
    return DEFAULT_MODEL.with_name(READER_NAME) if arch == "reader" else DEFAULT_MODEL


def read_model_head(path: Path, kind: str = ".h5", size: int = 8) -> bytes:
    """The first ``size`` bytes of a model file, after refusing what is missing, a folder or not a regular file."""
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist; train one with `digitrec train` or pass --model PATH")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file; pass the {kind} file itself")
    if not path.is_file():  # a FIFO or a device would block or never end in open()/read()
        raise ModelFileError(f"{path} is not a regular file (a pipe or a device?); pass the {kind} model file itself")
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except PermissionError:
        raise ModelFileError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_hdf5(path: Path) -> None:
    """Refuse a model path that is missing, not a regular file, or not HDF5 (reads 8 bytes)."""
    head = read_model_head(path)
    if head != HDF5_SIGNATURE:
        raise ModelFileError(f"{path} is not an HDF5 model file (.h5); pass a model saved by `digitrec train`")


def _open_h5(path: Path):
    import h5py  # noqa: PLC0415 - h5py is cheap, but only model commands need it

    check_hdf5(path)
    try:
        return h5py.File(path, "r")
    except OSError:
        raise ModelFileError(f"{path} is a damaged or truncated HDF5 file; retrain or copy the model again") from None


def _attr_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The digitrec metadata stored in ``path`` (empty for a foreign model); h5py only, fast."""
    with _open_h5(Path(path)) as f:
        text = _attr_text(f.attrs.get(META_ATTR))
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _read_architecture(path: Path) -> dict[str, Any]:
    with _open_h5(path) as f:
        text = _attr_text(f.attrs.get("model_config"))
        has_weights = "model_weights" in f
    if not text or not has_weights:
        raise ModelFileError(f"{path} is an HDF5 file but not a saved Keras model; pass a model saved by `digitrec train`")
    try:
        return json.loads(text)
    except ValueError:
        raise ModelFileError(f"{path} has an unreadable model architecture; retrain or copy the model again") from None


def _layer_classes(config: Any) -> set[str]:
    """Every ``class_name`` of a model and its layers in a Keras architecture, nested models too."""
    inner = config.get("config") if isinstance(config, dict) else None
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return set()
    found = {str(config.get("class_name"))}
    for layer in inner["layers"]:
        if isinstance(layer, dict):
            found.add(str(layer.get("class_name")))
            found |= _layer_classes(layer)
    return found


def check_architecture(path: Path) -> None:
    """Refuse files whose architecture uses layers outside SAFE_LAYERS (e.g. Lambda)."""
    config = _read_architecture(path)
    classes = _layer_classes(config)
    if not classes:
        raise ModelFileError(f"{path} has no layers we recognise; it is not a digit model")
    unsafe = sorted(classes - SAFE_LAYERS)
    if unsafe:
        raise ModelFileError(
            f"{path} contains layers that can run code or are unknown ({', '.join(unsafe)}); refusing to load an untrusted model"
        )


def load_model(path: str | os.PathLike | None = None, signature: Signature = DIGIT):
    """Load a model safely and check it takes and gives what ``signature`` says (a digit model:
    28x28x1 input and 10 outputs)."""
    path = Path(path) if path else default_model_path()
    check_architecture(path)
    from tui.core.tf import import_tf  # noqa: PLC0415

    _, keras = import_tf()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files; none may reach the user raw
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} could not be loaded as a Keras model ({detail})") from None
    in_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    out_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else None
    if in_shape is None or tuple(in_shape[1:]) not in signature.inputs:
        raise ModelFileError(f"{path} expects input {in_shape}, not {signature.input_words}; it is not a {signature.what}")
    if out_shape is None or tuple(out_shape[1:]) != signature.output:
        raise ModelFileError(f"{path} gives output {out_shape}, not {signature.output_words}; it is not a {signature.what}")
    return model


def library_versions() -> dict[str, str]:
    import h5py  # noqa: PLC0415
    import numpy  # noqa: PLC0415

    from tui.core.tf import import_tf  # noqa: PLC0415

    tf, keras = import_tf()
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "h5py": h5py.__version__,
        "numpy": numpy.__version__,
    }


def save_model(model, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``model`` to ``path`` as HDF5 with ``metadata`` as attributes, atomically.

    The file is written beside the target under a temporary name, its metadata added with
    h5py, flushed to disk, then renamed over the target: readers see the old file or the
    new one, never half of either.
    """
    import h5py  # noqa: PLC0415

    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise ModelFileError(f"model files are HDF5: give a path ending in .h5, not {path.name!r}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.h5")
    meta = {"format": "digitrec-1", "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **metadata}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras calls HDF5 "legacy"; it is what we want here
            # Weights only, no optimizer state: nothing reads it back (resume rebuilds the
            # optimizer from the config), and Adam's moments and the EMA copy quadruple the file.
            model.save(tmp, include_optimizer=False)
        with h5py.File(tmp, "a") as f:
            f.attrs[META_ATTR] = json.dumps(meta, default=str)
            for key in ("preset", "test_accuracy", "epochs_run", "training_seconds", "date", "dataset_sha256"):
                if meta.get(key) is not None:
                    f.attrs[f"digitrec_{key}"] = meta[key]
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except ModelFileError:
        raise
    except Exception as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120] or type(exc).__name__
        raise ModelFileError(f"could not save the model to {path} ({reason}); the previous file, if any, is untouched") from None
    return path


def update_metadata(path: str | os.PathLike, changes: dict[str, Any]) -> Path:
    """Merge ``changes`` into the digitrec metadata of the model at ``path``, atomically: a copy is
    changed with h5py and renamed over it. Only attributes change; the weights are not rewritten."""
    import shutil  # noqa: PLC0415

    import h5py  # noqa: PLC0415

    path = Path(path)
    meta = {**read_metadata(path), **changes}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.h5")
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[META_ATTR] = json.dumps(meta, default=str)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(f"could not update the metadata of {path} ({exc.strerror or exc}); the file is untouched") from None
    return path


def check_output_writable(path: str | os.PathLike) -> None:
    """Refuse, before any training, an output model path that could not be written at the end."""
    import tempfile  # noqa: PLC0415

    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5") and not path.is_dir():
        # Under another name (x.keras) the HDF5 file would load nowhere, and share x.tflite with x.h5.
        fmt = {".keras": "keras", ".tflite": "tflite"}.get(path.suffix.lower())
        raise ModelFileError(f"output {path} must end in .h5 (or .hdf5): training writes an HDF5 model"
                             + (f"; for a {path.suffix} file, train to .h5, then `digitrec export MODEL --format {fmt}`"
                                if fmt else ""))
    if path.is_dir():
        raise ModelFileError(f"output {path} is a folder; give a model file path such as {path / DEFAULT_MODEL.name}")
    if path.exists() and not path.is_file():
        raise ModelFileError(f"output {path} is not a regular file; give a model file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ModelFileError(f"cannot write the output model {path} ({exc.strerror or exc}); make {path.parent} "
                             "writable or pass --output PATH") from None


def list_models(folder: str | os.PathLike = MODELS_DIR) -> list[ModelInfo]:
    """The ``.h5`` files in ``folder`` with their metadata; unreadable ones carry ``error``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    infos = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in (".h5", ".hdf5") or p.name.startswith("."):
            continue
        info = ModelInfo(path=p)
        try:
            info.size_bytes = p.stat().st_size
            info.metadata = read_metadata(p)
        except ModelFileError as exc:
            info.error = str(exc)
        except OSError as exc:
            info.error = f"cannot read {p}: {exc.strerror or exc}"
        infos.append(info)
    return infos

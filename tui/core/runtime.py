"""The light inference runtime: digit models converted to LiteRT (``.tflite``) and run without TensorFlow.

The ``.h5`` stays the model of record. Beside it, ``NAME.tflite`` holds the same network converted by
TensorFlow's own converter, with the sha256 of the ``.h5`` it came from and that file's digitrec
metadata stored inside it, in the TFLite metadata table: the record travels with the weights and one
atomic rename publishes both. A runtime file is untrusted input like an ``.h5``: its size, format,
operators (no custom ones) and input and output shapes are checked before it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tui.core.errors import ModelFileError
from tui.core.modelfile import DIGIT, Signature

SUFFIX = ".tflite"
RECORD_NAME = "digitrec"  # the entry of the TFLite metadata table that holds our record
RECORD_FORMAT = "digitrec-runtime-1"
TFLITE_IDENTIFIER = b"TFL3"  # a TFLite flatbuffer's file identifier, at bytes 4-8
MAX_BYTES = 64 * 1024 * 1024  # the largest preset converts to about 2.4 MB
MAX_TABLE = 4096  # more operator codes or metadata entries than this is not a digit model
LITERT, TENSORFLOW = "LiteRT", "TensorFlow"
RUNTIMES = ("auto", "litert", "tensorflow")
THREADS = max(1, min(4, os.cpu_count() or 1))

Notify = Callable[[str], None]


def runtime_path(model_path: str | os.PathLike) -> Path:
    """Where the runtime file of a model lives: ``models/x.h5`` -> ``models/x.tflite``."""
    return Path(model_path).with_suffix(SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def litert_interpreter() -> Any:
    """LiteRT's ``Interpreter`` class, or None where ai-edge-litert is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 - optional, and only prediction needs it
    except Exception:  # noqa: BLE001 - not installed, or a wheel that cannot load here: TensorFlow answers instead
        return None
    return Interpreter


def chosen_runtime(runtime: str | None) -> str:
    """``runtime`` if given, else ``$DIGITREC_RUNTIME``, else ``auto``; refuses anything else."""
    value = (runtime or os.environ.get("DIGITREC_RUNTIME") or "auto").strip().lower()
    if value not in RUNTIMES:
        raise ModelFileError(f"unknown runtime {value!r}; use one of {', '.join(RUNTIMES)}")
    return value


# -- reading a runtime file ---------------------------------------------------------------------


def _damaged(path: Path, detail: str = "") -> ModelFileError:
    more = f" ({detail})" if detail else ""
    return ModelFileError(f"{path} is a damaged or truncated LiteRT model file{more}; rebuild it with "
                          f"`digitrec export MODEL.h5 --format tflite`")


def _read_table(content: bytes, path: Path) -> tuple[list[str], dict[str, Any] | None]:
    """The custom operators a TFLite flatbuffer names, and our record from its metadata table."""
    from ai_edge_litert import schema_py_generated as schema  # noqa: PLC0415

    try:
        model = schema.Model.GetRootAs(content, 0)
        n_codes, n_meta = model.OperatorCodesLength(), model.MetadataLength()
        if not 0 <= n_codes <= MAX_TABLE or not 0 <= n_meta <= MAX_TABLE:
            raise ValueError("implausible table sizes")
        custom = []
        for i in range(n_codes):
            code = model.OperatorCodes(i)
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin == schema.BuiltinOperator.CUSTOM or code.CustomCode():
                custom.append((code.CustomCode() or b"?").decode("utf-8", "replace"))
        raw = None
        for i in range(n_meta):
            entry = model.Metadata(i)
            if entry.Name() == RECORD_NAME.encode():
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                raw = data.tobytes() if isinstance(data, np.ndarray) else b""
    except Exception:  # noqa: BLE001 - a flatbuffer read past its end fails in many ways; all mean damaged
        raise _damaged(path) from None
    try:
        record = json.loads(raw) if raw else None
    except ValueError:
        record = None
    return custom, record if isinstance(record, dict) else None


class LiteEngine:
    """A checked runtime file in LiteRT's interpreter; ``predict`` is safe from any thread."""

    name = LITERT

    def __init__(self, content: bytes, path: Path, signature: Signature = DIGIT):
        self.path = path
        self.signature = signature
        if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
            raise ModelFileError(f"{path} is not a LiteRT model file (.tflite); rebuild it with "
                                 "`digitrec export MODEL.h5 --format tflite`")
        custom, self.record = _read_table(content, path)
        if custom:
            raise ModelFileError(f"{path} uses custom operators ({', '.join(sorted(set(custom)))}), which run code "
                                 "outside the standard runtime; refusing to load an untrusted model")
        interpreter_class = litert_interpreter()
        if interpreter_class is None:
            raise ModelFileError(f"{path} needs LiteRT (pip install ai-edge-litert), which is not installed here; "
                                 "use the model's .h5 file instead")
        from tui.core.tf import stderr_fd_silenced  # noqa: PLC0415 - no TensorFlow: only the fd helper

        try:
            with stderr_fd_silenced():  # LiteRT's C++ "Created TensorFlow Lite XNNPACK delegate" line
                self._interpreter = interpreter_class(model_content=content, num_threads=THREADS)
                self._interpreter.allocate_tensors()
        except Exception as exc:  # noqa: BLE001 - the interpreter's verifier refuses bad files with many types
            raise _damaged(path, first_line(exc)) from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        in_shape = tuple(int(d) for d in inputs[0]["shape"]) if len(inputs) == 1 else tuple(len(inputs) * [None])
        out_shape = tuple(int(d) for d in outputs[0]["shape"]) if len(outputs) == 1 else tuple(len(outputs) * [None])
        words = signature.input_words.replace("images", "float images") if signature is DIGIT else signature.input_words
        if len(inputs) != 1 or in_shape[1:] not in signature.inputs or inputs[0]["dtype"] != np.float32:
            dtype = f" {np.dtype(inputs[0]['dtype']).name}" if len(inputs) == 1 else ""
            raise ModelFileError(f"{path} expects{dtype} input {in_shape}, not {words}; it is not a {signature.what}")
        if len(outputs) != 1 or out_shape[1:] != signature.output or outputs[0]["dtype"] != np.float32:
            out_words = "10 class probabilities" if signature is DIGIT else signature.output_words
            raise ModelFileError(f"{path} gives output {out_shape}, not {out_words}; it is not a {signature.what}")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self._image_shape = in_shape[1:]
        self._batch = in_shape[0]
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, signature: Signature = DIGIT) -> LiteEngine:
        from tui.core.modelfile import read_model_head  # noqa: PLC0415

        read_model_head(path, kind=SUFFIX)  # refuses a missing path, a folder, a FIFO
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ModelFileError(f"{path} is {size / 1e6:.0f} MB, far larger than a digit model; refusing to load it")
        return cls(path.read_bytes(), path, signature)

    @property
    def source_sha256(self) -> str | None:
        return (self.record or {}).get("source_sha256")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = (self.record or {}).get("metadata")
        return meta if isinstance(meta, dict) else {}

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Probabilities (N, 10) for float32 inputs (N, 28, 28, 1) (a reader: (N, 40, 11) for lines)."""
        if self.signature.fixed_batch:
            batch_size = self.signature.fixed_batch
        out = []
        with self._lock:  # one interpreter: its tensors are shared state
            for start in range(0, len(x), batch_size):
                chunk = np.ascontiguousarray(x[start : start + batch_size].reshape((-1, *self._image_shape)))
                if len(chunk) != self._batch:
                    self._interpreter.resize_tensor_input(self._input, [len(chunk), *self._image_shape])
                    self._interpreter.allocate_tensors()
                    self._batch = len(chunk)
                self._interpreter.set_tensor(self._input, chunk)
                self._interpreter.invoke()
                out.append(self._interpreter.get_tensor(self._output).copy())
        return np.concatenate(out) if out else np.zeros((0, *self.signature.output), dtype="float32")


class KerasEngine:
    """A loaded Keras model: the TensorFlow path, for training, conversion and the fallback."""

    name = TENSORFLOW

    def __init__(self, model: Any, signature: Signature = DIGIT):
        self.model = model
        self.signature = signature

    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        out = [np.asarray(self.model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, *self.signature.output), dtype="float32")


def first_line(exc: BaseException) -> str:
    """An exception's first line, short enough for a one-line message (its type if it has no text)."""
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


# -- converting ---------------------------------------------------------------------------------------


def convert(model: Any, source: Path, metadata: dict[str, Any] | None = None, source_sha256: str | None = None,
            signature: Signature | None = None) -> bytes:
    """A runtime file's bytes for a loaded Keras model, recording ``source``'s checksum (imports TensorFlow).

    A model with a recurrent layer is converted at ``signature.fixed_batch`` (1): with a dynamic
    batch TensorFlow's converter leaves the LSTM as a TensorList loop it cannot lower to builtins.
    """
    from tui.core.tf import import_tf, stderr_fd_silenced  # noqa: PLC0415

    tf, keras = import_tf()
    batch = (signature or signature_of(model)).fixed_batch
    if batch:
        line = keras.Input(tuple(model.input_shape[1:]), batch_size=batch)
        model = keras.Model(line, model(line))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # Builtin operators only: the file then runs on LiteRT alone, never needing TensorFlow's kernels.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with contextlib.redirect_stdout(io.StringIO()), stderr_fd_silenced(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        content = converter.convert()  # Keras' export prints "Saved artifact at ..." to stdout
    record = {
        "format": RECORD_FORMAT, "source": source.name, "source_sha256": source_sha256 or file_sha256(source),
        "converted": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tensorflow": tf.__version__,
        "metadata": metadata or {},
    }
    return with_record(content, record)


def signature_of(model: Any) -> Signature:
    """The signature a loaded Keras model answers to: the reader's for its line input, else a digit model's."""
    from tui.core.modelfile import READER  # noqa: PLC0415

    return READER if tuple(model.input_shape[1:]) in READER.inputs else DIGIT


def with_record(content: bytes, record: dict[str, Any]) -> bytes:
    """``content`` with ``record`` as JSON in the TFLite metadata table (replacing an older one)."""
    import flatbuffers  # noqa: PLC0415

    schema = _writer_schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    model.buffers = list(model.buffers or [])
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(record, default=str, sort_keys=True).encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = RECORD_NAME, len(model.buffers) - 1
    model.metadata = [m for m in model.metadata or [] if _text(m.name) != RECORD_NAME] + [entry]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _writer_schema() -> Any:
    """The TFLite flatbuffer schema: LiteRT's copy, or TensorFlow's where LiteRT has no wheel."""
    try:
        return importlib.import_module("ai_edge_litert.schema_py_generated")
    except ImportError:
        return importlib.import_module("tensorflow.lite.python.schema_py_generated")


def write_atomic(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` beside it under a temporary name, flushed, then renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ModelFileError(f"could not write {path} ({exc.strerror or exc}); the previous file, if any, is untouched") from None
    return path


def export_runtime(model: Any, source: Path, metadata: dict[str, Any] | None = None, output: Path | None = None) -> Path:
    """Convert ``model`` (loaded from ``source``) and write its runtime file atomically."""
    return write_atomic(output or runtime_path(source), convert(model, source, metadata, signature=signature_of(model)))


# -- choosing the engine for a model --------------------------------------------------------------------


def written_by_digitrec(path: Path) -> bool:
    """Whether ``path`` is a LiteRT file carrying digitrec's record, i.e. one digitrec converted."""
    try:
        with open(path, "rb") as fh:
            content = fh.read(MAX_BYTES + 1)
        if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
            return False
        try:
            _, record = _read_table(content, path)
        except ImportError:  # no LiteRT schema here: the record's format name is stored as written
            return RECORD_FORMAT.encode() in content
        return (record or {}).get("format") == RECORD_FORMAT
    except (OSError, ModelFileError):
        return False


def runtime_state(model_path: Path) -> tuple[str, str]:
    """(``current`` | ``stale`` | ``missing`` | ``unusable`` | ``unused``, a few words) for a model's runtime file."""
    rt = runtime_path(model_path)
    if litert_interpreter() is None:
        return "unused", "LiteRT is not installed here: TensorFlow answers"
    if not rt.exists():
        return "missing", "not built yet: made on first use"
    try:
        content = rt.read_bytes()[: MAX_BYTES + 1]
        if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
            return "unusable", "not a LiteRT model file: rebuilt on next use"
        _, record = _read_table(content, rt)
        if (record or {}).get("source_sha256") == file_sha256(model_path):
            return "current", "up to date"
        return "stale", "made from another .h5: rebuilt on next use"
    except (OSError, ModelFileError):
        return "unusable", "damaged: rebuilt on next use"


def open_engine(model_path: Path, runtime: str | None = None, notify: Notify | None = None,
                signature: Signature = DIGIT) -> tuple[Any, dict[str, Any]]:
    """The engine that answers for ``model_path`` and the model's metadata.

    A ``.tflite`` path runs on LiteRT alone. For an ``.h5``: its runtime file when that is current;
    otherwise the runtime file is rebuilt with TensorFlow (``notify`` gets one line saying so); and
    where LiteRT is not installed, or ``runtime`` is ``tensorflow``, the Keras model itself answers.
    """
    from tui.core.modelfile import check_hdf5, load_model  # noqa: PLC0415

    choice = chosen_runtime(runtime)
    if model_path.suffix.lower() == SUFFIX:
        if choice == "tensorflow":
            raise ModelFileError(f"{model_path} is a LiteRT file; the TensorFlow runtime needs the model's .h5")
        engine = LiteEngine.from_file(model_path, signature)
        return engine, engine.metadata
    check_hdf5(model_path)  # a missing path, a FIFO, a text file: refused before anything else
    if choice == "tensorflow" or (choice == "auto" and litert_interpreter() is None):
        return KerasEngine(load_model(model_path, signature), signature), _metadata_or_empty(model_path)
    if litert_interpreter() is None:
        raise ModelFileError("the LiteRT runtime (ai-edge-litert) is not installed on this platform; "
                             "use --runtime tensorflow, or install it with pip install ai-edge-litert")
    sha = file_sha256(model_path)
    rt = runtime_path(model_path)
    problem = "was missing"
    if rt.exists():
        try:
            engine = LiteEngine.from_file(rt, signature)
        except ModelFileError as exc:
            problem = f"could not be used ({first_line(exc).removeprefix(str(rt)).strip()})"
        else:
            if engine.source_sha256 == sha:
                return engine, engine.metadata
            problem = "was made from another version of the .h5"
    return _rebuild(model_path, rt, sha, problem, notify, signature)


def _rebuild(model_path: Path, rt: Path, sha: str, problem: str, notify: Notify | None,
             signature: Signature = DIGIT) -> tuple[Any, dict[str, Any]]:
    """Convert the ``.h5`` again and use the result; the Keras model answers if conversion fails."""
    from tui.core.modelfile import load_model  # noqa: PLC0415

    say = notify or (lambda line: None)
    metadata = _metadata_or_empty(model_path)
    model = load_model(model_path, signature)
    try:
        content = convert(model, model_path, metadata, source_sha256=sha, signature=signature)
        engine = LiteEngine(content, rt, signature)
    except Exception as exc:  # noqa: BLE001 - a conversion failure must still leave a working predictor
        say(f"{rt} {problem} and could not be rebuilt ({first_line(exc)}); predicting with TensorFlow")
        return KerasEngine(model, signature), metadata
    try:
        write_atomic(rt, content)
    except ModelFileError as exc:
        say(f"{rt} {problem}; converted {model_path.name} for LiteRT in memory only ({first_line(exc)})")
    else:
        say(f"{rt} {problem}; rebuilt it from {model_path.name} (once; later runs start at once)")
    return engine, metadata


def _metadata_or_empty(path: Path) -> dict[str, Any]:
    """The .h5's digitrec metadata; a foreign model has none, and prediction does not need it."""
    from tui.core.errors import DigitrecError  # noqa: PLC0415
    from tui.core.modelfile import read_metadata  # noqa: PLC0415

    try:
        return read_metadata(path)
    except DigitrecError:
        return {}

"""``digitrec export``: a digit model written in the other formats a user may want, each atomically.

``tflite`` is the LiteRT runtime file digitrec itself predicts with (see ``tui.core.runtime``),
``keras`` the native Keras v3 archive, ``savedmodel`` a TensorFlow SavedModel folder for serving.
Export replaces only what it wrote itself: each file or folder carries a record of digitrec's
(``digitrec.json`` inside the .keras archive and the SavedModel folder, a metadata entry in the
.tflite), and anything else at the target is refused; ``force`` replaces a foreign file or a
SavedModel folder, never a folder that holds anything else.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
import warnings
import zipfile
from pathlib import Path

from tui.core.errors import ModelFileError
from tui.core.runtime import file_sha256, first_line

FORMATS = {"tflite": ".tflite", "keras": ".keras", "savedmodel": "_savedmodel"}
MARKER = "digitrec.json"  # digitrec's record inside the .keras archive and the SavedModel folder
MARKER_FORMAT = "digitrec-export-1"
SAVEDMODEL_ENTRIES = frozenset({"saved_model.pb", "fingerprint.pb", "variables", "assets", MARKER})


def default_output(model_path: Path, fmt: str) -> Path:
    """``models/x.h5`` -> ``models/x.tflite``, ``models/x.keras`` or the folder ``models/x_savedmodel``."""
    return model_path.with_name(model_path.stem + FORMATS[fmt])


def export_model(model_path: Path, fmt: str = "tflite", output: Path | None = None, force: bool = False) -> Path:
    """Load ``model_path`` safely and write it as ``fmt`` to ``output`` (default beside it).

    An existing ``output`` is replaced only when digitrec wrote it, or with ``force`` (see the module).
    """
    from tui.core.modelfile import DIGIT, READER, load_model, read_metadata  # noqa: PLC0415
    from tui.core.runtime import export_runtime  # noqa: PLC0415

    if fmt not in FORMATS:
        raise ModelFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    output = Path(output) if output else default_output(model_path, fmt)
    if output.name in ("", ".", ".."):
        raise ModelFileError(f"--output {output} names no new {'folder' if fmt == 'savedmodel' else 'file'}; "
                             f"give a path such as {default_output(Path(model_path.name), fmt)}")
    if output.resolve() == model_path.resolve():
        raise ModelFileError(f"{output} is the model itself; give another --output")
    check_replaceable(output, fmt, force)  # before the slow load, and again before the rename
    metadata = read_metadata(model_path)
    model = load_model(model_path, READER if metadata.get("kind") == "number_reader" else DIGIT)
    if fmt == "tflite":
        check_replaceable(output, fmt, force)  # loading took a while: check what is there now
        return export_runtime(model, model_path, metadata, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.{os.getpid()}.tmp{FORMATS[fmt] if fmt == 'keras' else ''}")
    record = json.dumps({"format": MARKER_FORMAT, "source": model_path.name, "source_sha256": file_sha256(model_path),
                         "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                         # digitrec shows softmax(log(p) / temperature); the export gives p itself
                         "temperature": metadata.get("temperature")})
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "keras":
                model.save(tmp)
                with zipfile.ZipFile(tmp, "a") as archive:  # Keras reads only its own entries
                    archive.writestr(MARKER, record)
            else:  # Keras' export prints "Saved artifact at ..."; the CLI says where it went instead
                model.export(str(tmp), format="tf_saved_model")
                (tmp / MARKER).write_text(record + "\n", encoding="utf-8")
        check_replaceable(output, fmt, force)
        _replace(tmp, output)
    except ModelFileError:
        _remove(tmp)
        raise
    except Exception as exc:
        _remove(tmp)
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise ModelFileError(f"could not export {model_path} to {output} ({reason}); nothing was changed") from None
    return output


def check_replaceable(output: Path, fmt: str, force: bool = False) -> None:
    """Refuse, in one line, to write ``fmt`` over an existing ``output`` that digitrec did not write.

    With ``force`` a foreign file, or a folder holding only SavedModel contents, may be replaced;
    a folder holding anything else never is.
    """
    if not os.path.lexists(output):
        return
    if fmt == "savedmodel":
        if output.is_symlink() or not output.is_dir():
            raise ModelFileError(f"{output} exists and is not a folder; give a new --output, or remove it yourself")
        if not _savedmodel_only(output):
            raise ModelFileError(f"{output}/ exists and is not a SavedModel digitrec wrote; give a new --output, "
                                 "or remove it yourself" + (" (--force never removes other files)" if force else ""))
        if force or _has_marker(_read(output / MARKER)):
            return
        raise ModelFileError(f"{output}/ exists and is not a SavedModel digitrec wrote; give a new --output, "
                             "or add --force to replace it")
    if output.is_dir() and not output.is_symlink():
        raise ModelFileError(f"{output} is a folder; give a file path for --output, such as {output / ('model' + FORMATS[fmt])}")
    if force or _written_by_digitrec(output, fmt):
        return
    raise ModelFileError(f"{output} exists and is not a .{fmt} file digitrec wrote; give a new --output, "
                         "or add --force to replace it")


def _savedmodel_only(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but what a SavedModel export writes (it may be empty)."""
    try:
        for entry in folder.iterdir():
            if entry.name not in SAVEDMODEL_ENTRIES or entry.is_symlink():
                return False
            if (entry.name in ("variables", "assets")) != entry.is_dir():
                return False
            if entry.name == "variables" and any(not p.name.startswith("variables.") or not p.is_file()
                                                 for p in entry.iterdir()):
                return False
    except OSError:
        return False
    return True


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes() if path.is_file() else b""
    except OSError:
        return b""


def _has_marker(raw: bytes) -> bool:
    try:
        return json.loads(raw).get("format") == MARKER_FORMAT
    except (ValueError, AttributeError):
        return False


def _written_by_digitrec(path: Path, fmt: str) -> bool:
    """Whether the file ``path`` is a ``fmt`` export carrying digitrec's record."""
    from tui.core.runtime import written_by_digitrec  # noqa: PLC0415

    if fmt == "tflite":
        return written_by_digitrec(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _has_marker(archive.read(MARKER))
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def _replace(new: Path, target: Path) -> None:
    """Rename ``new`` over ``target``; a folder is swapped in, then the old one removed."""
    if new.is_dir() and target.exists():
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.replace(target, old)
        os.replace(new, target)
        _remove(old)
    else:
        os.replace(new, target)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

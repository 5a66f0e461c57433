"""``digitrec export``: a digit model written in the other formats a user may want, each atomically.

``tflite`` is the LiteRT runtime file digitrec itself predicts with (see ``tui.core.runtime``),
``keras`` the native Keras v3 archive, ``savedmodel`` a TensorFlow SavedModel folder for serving.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import warnings
from pathlib import Path

from tui.core.errors import ModelFileError
from tui.core.runtime import first_line

FORMATS = {"tflite": ".tflite", "keras": ".keras", "savedmodel": "_savedmodel"}


def default_output(model_path: Path, fmt: str) -> Path:
    """``models/x.h5`` -> ``models/x.tflite``, ``models/x.keras`` or the folder ``models/x_savedmodel``."""
    return model_path.with_name(model_path.stem + FORMATS[fmt])


def export_model(model_path: Path, fmt: str = "tflite", output: Path | None = None) -> Path:
    """Load ``model_path`` safely and write it as ``fmt`` to ``output`` (default beside it)."""
    from tui.core.modelfile import load_model, read_metadata  # noqa: PLC0415
    from tui.core.runtime import export_runtime  # noqa: PLC0415

    if fmt not in FORMATS:
        raise ModelFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    output = Path(output) if output else default_output(model_path, fmt)
    if output.resolve() == model_path.resolve():
        raise ModelFileError(f"{output} is the model itself; give another --output")
    model = load_model(model_path)
    if fmt == "tflite":
        return export_runtime(model, model_path, read_metadata(model_path), output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.{os.getpid()}.tmp{FORMATS[fmt] if fmt == 'keras' else ''}")
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "keras":
                model.save(tmp)
            else:  # Keras' export prints "Saved artifact at ..."; the CLI says where it went instead
                model.export(str(tmp), format="tf_saved_model")
        _replace(tmp, output)
    except Exception as exc:
        _remove(tmp)
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise ModelFileError(f"could not export {model_path} to {output} ({reason}); nothing was changed") from None
    return output


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

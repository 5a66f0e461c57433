"""The one place TensorFlow is imported: its C++ logs silenced first, threads set once."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()
_modules = None


def silence_tf_logs() -> None:
    """Ask TensorFlow and Keras to stay quiet; call before importing them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "3")


@contextlib.contextmanager
def stderr_fd_silenced():
    """Point file descriptor 2 at /dev/null for the block.

    TensorFlow's C++ start-up lines ("oneDNN custom operations are on", "Could not find cuda
    drivers") are written before absl logging is initialised, so no environment variable hides
    them; they go straight to fd 2 and would write over a terminal UI.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. embedded): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tf():
    """Import and return ``(tensorflow, keras)`` with logging silenced; safe from any thread."""
    global _modules
    with _lock:
        if _modules is None:
            silence_tf_logs()
            with stderr_fd_silenced():
                import tensorflow as tf  # noqa: PLC0415 - deliberately lazy
                import keras  # noqa: PLC0415

                import absl.logging  # noqa: PLC0415 - Keras warns through absl, e.g. about HDF5

                absl.logging.set_verbosity(absl.logging.ERROR)
                tf.get_logger().setLevel("ERROR")
                tf.autograph.set_verbosity(0)
                # Touch the device list now so any CUDA probing also happens while silenced.
                tf.config.list_physical_devices()
            _modules = (tf, keras)
    return _modules

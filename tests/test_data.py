"""MNIST loading from a file, validation of what is loaded, and the offline message."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tui.core.data import keras_cache_path, load_mnist, read_npz, split_validation
from tui.core.errors import DataError


def test_loads_real_mnist(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8 and set(np.unique(mnist.y_test)) == set(range(10))
    assert len(mnist.sha256) == 64


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _good_arrays():
    return dict(x_train=np.zeros((60000, 28, 28), np.uint8), y_train=np.zeros(60000, np.uint8),
                x_test=np.zeros((10000, 28, 28), np.uint8), y_test=np.zeros(10000, np.uint8))


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda a: a.pop("y_test"), "missing y_test"),
        (lambda a: a.update(x_train=np.zeros((100, 28, 28), np.uint8)), "x_train has shape (100, 28, 28)"),
        (lambda a: a.update(x_test=np.zeros((10000, 28, 28), np.float32)), "x_test has dtype float32"),
        (lambda a: a.update(y_train=np.full(60000, 12, np.uint8)), "labels above 9"),
    ],
)
def test_wrongly_shaped_files_are_named_precisely(tmp_path, change, expected):
    arrays = _good_arrays()
    change(arrays)
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_npz(_write(tmp_path / "bad.npz", **arrays))


def test_corrupt_file(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        read_npz(bad)


def test_missing_explicit_path_names_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITREC_MNIST", str(tmp_path / "nope.npz"))
    with pytest.raises(DataError, match="DIGITREC_MNIST"):
        load_mnist()


def test_offline_without_a_copy_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("DIGITREC_MNIST", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataError) as err:
        load_mnist(download=False)
    message = str(err.value)
    assert "DIGITREC_MNIST" in message and str(keras_cache_path()) in message and "\n" not in message


def test_keras_cache_is_used(tmp_path, monkeypatch, mnist_path):
    monkeypatch.delenv("DIGITREC_MNIST", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mnist.npz").symlink_to(mnist_path)
    assert load_mnist(download=False).x_test.shape == (10000, 28, 28)


def test_validation_split_is_seeded_and_disjoint():
    x = np.arange(1000).reshape(1000, 1)
    y = np.arange(1000)
    (xt, yt), (xv, yv) = split_validation(x, y, 0.1, seed=3)
    (xt2, _), (xv2, _) = split_validation(x, y, 0.1, seed=3)
    assert len(xv) == 100 and len(xt) == 900
    assert not set(yt) & set(yv)
    assert np.array_equal(xv, xv2) and np.array_equal(xt, xt2)


def test_failed_download_says_what_to_do(tmp_path):
    """No network (here: a closed local port stands in for it) and no local copy: one clear line."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "DIGITREC_MNIST"}
    env.update(KERAS_HOME=str(tmp_path / "keras"), DIGITREC_RUNS=str(tmp_path / "runs"),
               DIGITREC_MNIST_URL="http://127.0.0.1:9/mnist.npz", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "tui", "train", "--epochs", "1"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line.startswith("digitrec")][-1]
    assert "could not download MNIST" in message and "DIGITREC_MNIST" in message
    assert str(tmp_path / "keras" / "datasets" / "mnist.npz") in message


def test_load_mnist_refuses_a_fifo_before_reading_it(tmp_path):
    # The engine itself refuses (not only the CLI): opening a FIFO would block for ever, so the
    # call runs in a subprocess with a time limit that only a hang reaches.
    fifo = tmp_path / "mnist.npz"
    os.mkfifo(fifo)
    code = ("from tui.core.data import load_mnist\nfrom tui.core.errors import DataError\n"
            f"try:\n    load_mnist({str(fifo)!r}, download=False)\nexcept DataError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == f"MNIST file {fifo} (from --data) is not a regular file (a pipe or a device?); give the mnist.npz file itself"

"""Shared fixtures: the real MNIST file, a small real model trained once per session, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _mnist_env() -> str | None:
    value = os.environ.get("DIGITREC_MNIST")
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    return str(path)


MNIST = _mnist_env()
if MNIST:
    os.environ["DIGITREC_MNIST"] = MNIST  # absolute, so tests may change directory


@pytest.fixture(scope="session")
def mnist_path() -> str:
    if not MNIST:
        pytest.skip("DIGITREC_MNIST is not set: point it at an offline mnist.npz (CI uses ../shared/data/mnist.npz)")
    if not Path(MNIST).exists():
        pytest.skip(f"DIGITREC_MNIST={MNIST} does not exist")
    return MNIST


@pytest.fixture(scope="session")
def mnist(mnist_path):
    from tui.core.data import load_mnist

    return load_mnist(mnist_path)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist):
    """A real run: the classic convnet, 2 epochs on 12,000 MNIST images (about 10 s)."""
    from tui.core.config import TrainConfig
    from tui.core.train import run_training

    base = tmp_path_factory.mktemp("session-run")
    cfg = TrainConfig(preset="classic", arch="classic", epochs=2, batch_size=128, learning_rate=2e-3,
                      train_subset=12000, seed=1)
    result = run_training(cfg, data=mnist, output=base / "models" / "digit_recognizer.h5", run_dir=base / "runs" / "r1")
    assert result.status == "done", result.reason
    return result


@pytest.fixture(scope="session")
def trained_model(trained_run) -> Path:
    """Path to a small real .h5 digit model (about 95% test accuracy)."""
    return trained_run.model_path


@pytest.fixture
def cli_env(tmp_path, mnist_path):
    """Environment for running the CLI in a subprocess with runs kept in a temporary folder."""
    env = {**os.environ, "DIGITREC_RUNS": str(tmp_path / "runs"), "DIGITREC_MNIST": mnist_path,
           "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return env


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300,
            check_rc: int | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m tui ARGS`` and return the completed process (text mode)."""
    proc = subprocess.run([sys.executable, "-m", "tui", *args], env=env, cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def without_root_file_access(cmd: list[str]) -> list[str]:
    """``cmd`` run so that file permissions apply even when the tests run as root.

    Root reads and writes any file; without the capabilities that let it (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH, dropped with util-linux's setpriv), permissions apply to root too.
    """
    if os.geteuid() != 0:
        return cmd
    import shutil  # noqa: PLC0415

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]

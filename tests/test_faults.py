"""Training faults: a full disk while saving never damages the existing model, and is recorded."""

import contextlib
import resource
import shutil
import signal
import subprocess
import sys

from conftest import ROOT, run_cli
from tui.core import runs

LIMIT = 64_000  # a classic model is about 200 kB, so any model write fails past this


def _limit_file_size():
    # Writes past 64 kB fail with EFBIG, as a full disk fails with ENOSPC: the save path is the same.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@contextlib.contextmanager
def files_limited_to(size: int = LIMIT):
    """In this process, writes past ``size`` bytes fail with EFBIG while the block runs (soft limit only)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_disk_full_while_checkpointing_keeps_the_old_model(cli_env, trained_model, tmp_path):
    """The first write past the limit is the first epoch's checkpoint: the run stops there."""
    output = tmp_path / "digit_recognizer.h5"
    shutil.copyfile(trained_model, output)
    before = output.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "train", "--preset", "classic", "--epochs", "1", "--subset", "2000",
         "--output", str(output), "--no-test"],
        env=cli_env, cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "could not save" in proc.stderr
    assert output.read_bytes() == before
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    last = runs.read_events(run_dir)[-1]
    assert last["type"] == "error" and "could not save" in last["reason"]
    assert not [p for p in run_dir.iterdir() if "tmp" in p.name], "no half-written file is left behind"
    listing = run_cli("runs", env=cli_env, check_rc=0).stdout
    assert "error" in listing and "could not save" in listing


def test_disk_full_while_publishing_keeps_the_old_model(trained_model, mnist, tmp_path, monkeypatch):
    """Checkpoints and the run's model are written; the disk fills only while the finished model
    is copied to the output: the old output stays whole, the partial copy is removed, the run says so."""
    from tui.core import train
    from tui.core.config import TrainConfig

    models = tmp_path / "models"
    models.mkdir()
    output = models / "digit_recognizer.h5"
    shutil.copyfile(trained_model, output)
    before = output.read_bytes()
    publish = train.publish_model

    def publish_on_a_full_disk(final, target):
        with files_limited_to(LIMIT):
            return publish(final, target)

    monkeypatch.setattr(train, "publish_model", publish_on_a_full_disk)
    cfg = TrainConfig(preset="classic", arch="classic", epochs=1, train_subset=600, seed=3)
    result = train.run_training(cfg, data=mnist, output=output, run_dir=tmp_path / "run", evaluate_test=False)
    assert result.status == "error"
    assert result.reason.startswith(f"could not write {output}") and "the trained model is kept at" in result.reason
    assert output.read_bytes() == before
    assert (tmp_path / "run" / runs.FINAL_MODEL).stat().st_size > LIMIT  # the run's own copy is whole
    leftovers = [p.name for p in models.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "the partial copy is removed"
    last = runs.read_events(tmp_path / "run")[-1]
    assert last["type"] == "error" and last["reason"] == result.reason

"""Training faults: a full disk while saving never damages the existing model, and is recorded."""

import resource
import shutil
import signal
import subprocess
import sys

from conftest import ROOT, run_cli
from tui.core import runs


def _limit_file_size():
    # Writes past 64 kB fail with EFBIG, as a full disk fails with ENOSPC: the save path is the same.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))


def test_disk_full_while_saving_keeps_the_old_model(cli_env, trained_model, tmp_path):
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
    (run_dir,) = list((tmp_path / "runs").iterdir())
    last = runs.read_events(run_dir)[-1]
    assert last["type"] == "error" and "could not save" in last["reason"]
    assert not [p for p in run_dir.iterdir() if "tmp" in p.name], "no half-written file is left behind"
    listing = run_cli("runs", env=cli_env, check_rc=0).stdout
    assert "error" in listing and "could not save" in listing

"""The dependency rules: the engine never imports Textual; the app and CLI start without TensorFlow."""

import subprocess
import sys
import time

from conftest import ROOT


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return set(out.split())


def test_engine_never_imports_textual():
    mods = _modules_after(
        "import tui.core.data, tui.core.runs, tui.core.config, tui.core.train, tui.core.inference, "
        "tui.core.evaluate, tui.core.modelfile, tui.core.launch, tui.core.render, tui.core.preprocess, tui.core.images"
    )
    assert "textual" not in mods
    assert "tensorflow" not in mods, "engine modules must import TensorFlow lazily, inside functions"


def test_app_module_does_not_import_tensorflow():
    mods = _modules_after("import tui.app.app")
    assert "textual" in mods
    assert "tensorflow" not in mods and "keras" not in mods


def test_help_is_fast_and_imports_no_tensorflow():
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tui", "--help"], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0
    assert "usage: digitrec" in proc.stdout
    assert "tensorflow" not in proc.stderr
    assert elapsed < 5  # generous: a sanity bound for a loaded CI box, not a benchmark

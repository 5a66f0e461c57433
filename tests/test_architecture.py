"""The dependency rules, in one place: the engine never imports Textual and loads TensorFlow only
inside the functions that need it; the app and the CLI's help start without TensorFlow."""

import subprocess
import sys

from conftest import ROOT

ENGINE = ("data", "runs", "config", "train", "inference", "evaluate", "modelfile", "launch", "render", "runtime", "export",
          "preprocess", "images", "segment", "synth", "formats")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return set(out.split())


def test_engine_never_imports_textual():
    mods = _modules_after("import " + ", ".join(f"tui.core.{name}" for name in ENGINE))
    assert "textual" not in mods
    assert "tensorflow" not in mods and "keras" not in mods, "engine modules must import TensorFlow lazily, inside functions"


def test_app_module_does_not_import_tensorflow():
    mods = _modules_after("import tui.app.app")
    assert "textual" in mods
    assert not {"tensorflow", "keras", "h5py"} & mods


def test_help_imports_no_tensorflow():
    """How fast it starts is measured by bench/startup.py, not here."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tui", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    assert "usage: digitrec" in proc.stdout
    assert "tensorflow" not in proc.stderr


def test_app_first_screen_waits_for_no_panel_module():
    """The panels mount after the first frame, so their modules (plotext among them) load then too."""
    mods = _modules_after("import tui.app.app")
    late = {"plotext", "tui.core.compare", "tui.app.widgets.train_panel", "tui.app.widgets.evaluate_panel",
            "tui.app.widgets.models_panel", "tui.app.widgets.draw_panel"}
    assert not late & mods


def test_predicting_one_image_imports_only_what_it_uses():
    """One JPEG: Pillow's decoders for the formats we read, not all its plugins; numpy's developer
    tools (which SciPy's import touches) left unexecuted; no TensorFlow."""
    code = ("import sys\nfrom tui.cli import main\n"
            "assert main(['predict', 'sample_images/7_photo_01.jpg']) == 0\nprint(file=sys.stderr)")
    mods = _modules_after(code)
    assert "PIL.JpegImagePlugin" in mods and "PIL.EpsImagePlugin" not in mods, "Image.init() imports every plugin"
    assert "numpy.testing" in mods and "numpy.testing._private" not in mods
    assert "numpy.f2py" in mods and "numpy.f2py.crackfortran" not in mods
    assert not {"tensorflow", "keras"} & mods

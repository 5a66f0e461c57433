"""The light runtime: LiteRT files beside the .h5, the same answers as Keras, refusals of bad files,
rebuilding stale ones, and TensorFlow as the fallback where LiteRT cannot be imported."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, run_cli, without_root_file_access
from tui.core import runtime
from tui.core.errors import ModelFileError
from tui.core.inference import Predictor

SHIPPED = ROOT / "models" / "digit_recognizer.h5"
SAMPLES = ROOT / "sample_images"
TOLERANCE = 1e-5


def _record(path: Path) -> dict:
    engine = runtime.LiteEngine.from_file(path)
    assert engine.record is not None, f"{path} carries no digitrec record"
    return engine.record


def test_shipped_runtime_file_records_the_shipped_model():
    """A retrained models/digit_recognizer.h5 committed without its runtime file fails here:
    regenerate it with `digitrec export models/digit_recognizer.h5 --format tflite`."""
    record = _record(runtime.runtime_path(SHIPPED))
    assert record["source"] == SHIPPED.name
    assert record["source_sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest(), (
        "models/digit_recognizer.tflite was not made from models/digit_recognizer.h5; "
        "run `digitrec export models/digit_recognizer.h5 --format tflite` and commit it")
    assert runtime.runtime_state(SHIPPED)[0] == "current"


# -- same answers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def both_runtimes():
    lite, keras = Predictor(SHIPPED, runtime="litert"), Predictor(SHIPPED, runtime="tensorflow")
    assert (lite.runtime, keras.runtime) == ("LiteRT", "TensorFlow")
    return lite, keras


def _agree(lite: Predictor, keras: Predictor, inputs: np.ndarray) -> None:
    a, b = lite.predict_arrays(inputs), keras.predict_arrays(inputs)
    assert a.shape == b.shape == (len(inputs), 10)
    assert float(np.max(np.abs(a - b))) <= TOLERANCE
    assert np.array_equal(a.argmax(axis=1), b.argmax(axis=1))


def test_runtime_and_keras_agree_on_every_mnist_test_image(both_runtimes, mnist):
    _agree(*both_runtimes, mnist.x_test)


def test_runtime_and_keras_agree_on_preprocessed_user_style_images(both_runtimes, mnist):
    from tui.core.preprocess import preprocess_image, preprocess_path
    from tui.core.synth import STYLES, render_user_style

    rng = np.random.default_rng(11)
    inputs = [preprocess_path(p).input28 for p in sorted(SAMPLES.glob("[0-9]_*"))]  # one digit each
    for i in range(60):
        image = render_user_style(mnist.x_test[i], STYLES[i % len(STYLES)], rng)
        inputs.append(preprocess_image(image))
    assert len(inputs) > 80
    _agree(*both_runtimes, np.stack(inputs))


def test_single_images_and_odd_batch_sizes_agree(both_runtimes, mnist):
    """The interpreter is resized for each batch size; one image, then 3, then 1 again."""
    lite, keras = both_runtimes
    for n in (1, 3, 1, 70):
        _agree(lite, keras, mnist.x_test[100 : 100 + n])


# -- rebuilt when missing, stale or damaged ---------------------------------------------------------


@pytest.fixture
def model_copy(tmp_path) -> Path:
    path = tmp_path / "m.h5"
    shutil.copy(SHIPPED, path)
    return path


@pytest.mark.parametrize("state, make", [
    ("was missing", lambda rt: None),
    ("was made from another version", lambda rt: rt.write_bytes(_with_source_sha(rt, "0" * 64))),
    ("could not be used", lambda rt: rt.write_bytes(b"TFL3 but not really a model")),
])
def test_missing_stale_or_damaged_runtime_file_is_rebuilt_with_one_line(model_copy, state, make):
    rt = runtime.runtime_path(model_copy)
    make(rt)
    lines: list[str] = []
    predictor = Predictor(model_copy, notify=lines.append)
    assert predictor.runtime == "LiteRT"
    assert len(lines) == 1 and state in lines[0] and "rebuilt it from m.h5" in lines[0]
    assert runtime.runtime_state(model_copy)[0] == "current"
    assert _record(rt)["source_sha256"] == hashlib.sha256(model_copy.read_bytes()).hexdigest()
    lines.clear()
    Predictor(model_copy, notify=lines.append)  # now current: nothing to say, nothing rebuilt
    assert lines == []


def _with_source_sha(rt: Path, sha: str) -> bytes:
    content = runtime.runtime_path(SHIPPED).read_bytes()
    record = {**_record(runtime.runtime_path(SHIPPED)), "source_sha256": sha}
    return runtime.with_record(content, record)


def test_a_runtime_file_that_cannot_be_written_is_used_from_memory(model_copy):
    folder = model_copy.parent
    os.chmod(folder, 0o555)
    try:
        cmd = without_root_file_access([sys.executable, "-m", "tui", "predict", "--model", str(model_copy),
                                        str(SAMPLES / "7_mnist_01.png")])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.chmod(folder, 0o755)
    assert proc.returncode == 0, proc.stderr
    assert "predicted 7" in proc.stdout
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"digitrec: {runtime.runtime_path(model_copy)} was missing; converted m.h5 for LiteRT in memory only")
    assert not runtime.runtime_path(model_copy).exists()


def test_training_writes_a_current_runtime_file_beside_its_model(trained_model):
    assert runtime.runtime_state(trained_model)[0] == "current"
    lines: list[str] = []
    predictor = Predictor(trained_model, notify=lines.append)
    assert predictor.runtime == "LiteRT" and lines == []
    assert predictor.metadata.get("preset") == "classic"  # the .h5's metadata travels in the runtime file


# -- untrusted runtime files ---------------------------------------------------------------------------


def _patched(mutate) -> bytes:
    """The shipped runtime file with its flatbuffer changed by ``mutate(model_object, schema)``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(runtime.runtime_path(SHIPPED).read_bytes()), 0)
    mutate(model, schema)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _custom_op(model, schema) -> None:
    code = model.operatorCodes[0]
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "EvilOp"


def _small_keras_tflite(shape, classes) -> bytes:
    from tui.core.tf import import_tf

    _, keras = import_tf()
    inputs = keras.Input(shape)
    model = keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(inputs)))
    return runtime.convert(model, SHIPPED)


BAD_FILES = {
    "empty": (lambda: b"", "is not a LiteRT model file"),
    "text": (lambda: b"just some text, not a model\n" * 10, "is not a LiteRT model file"),
    "png": (lambda: (SAMPLES / "3_mnist_01.png").read_bytes(), "is not a LiteRT model file"),
    "truncated-head": (lambda: runtime.runtime_path(SHIPPED).read_bytes()[:64], "damaged or truncated"),
    "truncated-half": (lambda: runtime.runtime_path(SHIPPED).read_bytes()[:200_000], "damaged or truncated"),
    "truncated-tail": (lambda: runtime.runtime_path(SHIPPED).read_bytes()[:-100], "damaged or truncated"),
    "custom-op": (lambda: _patched(_custom_op), "uses custom operators (EvilOp)"),
    "wrong-input": (lambda: _small_keras_tflite((32, 32, 1), 10), "expects float32 input (1, 32, 32, 1), not 28x28x1"),
    "wrong-output": (lambda: _small_keras_tflite((28, 28, 1), 5), "gives output (1, 5), not 10 class"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_runtime_files_are_refused_in_one_line(tmp_path, kind):
    make, expected = BAD_FILES[kind]
    path = tmp_path / f"{kind}.tflite"
    path.write_bytes(make())
    with pytest.raises(ModelFileError) as caught:
        Predictor(path)
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message
    # The command line says the same in one line, with no traceback, and exits 1.
    proc = run_cli("predict", "--model", str(path), str(SAMPLES / "3_mnist_01.png"), timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"digitrec: {message}"]


def test_runtime_file_that_is_not_a_regular_file_is_refused_before_reading(tmp_path):
    fifo = tmp_path / "pipe.tflite"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        Predictor(fifo)
    with pytest.raises(ModelFileError, match="is a folder"):
        Predictor(tmp_path)


def test_a_huge_runtime_file_is_refused_from_its_size(tmp_path):
    path = tmp_path / "huge.tflite"
    with open(path, "wb") as fh:
        fh.truncate(runtime.MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ModelFileError, match="far larger than a digit model"):
        Predictor(path)


def test_a_damaged_runtime_file_beside_a_good_h5_is_never_used(model_copy):
    rt = runtime.runtime_path(model_copy)
    rt.write_bytes(_patched(_custom_op))
    lines: list[str] = []
    predictor = Predictor(model_copy, notify=lines.append)
    assert "could not be used" in lines[0] and "custom operators" in lines[0]
    assert predictor.runtime == "LiteRT" and runtime.runtime_state(model_copy)[0] == "current"


def test_a_runtime_file_alone_predicts_with_its_recorded_metadata(tmp_path):
    alone = tmp_path / "alone.tflite"
    shutil.copy(runtime.runtime_path(SHIPPED), alone)
    predictor = Predictor(alone)
    assert predictor.runtime == "LiteRT" and predictor.metadata.get("preset") == "robust"
    (p,) = predictor.predict_paths([SAMPLES / "7_mnist_01.png"])
    assert p.digit == 7


# -- no TensorFlow import, and the fallback -------------------------------------------------------


def _run_python(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_predict_and_evaluate_never_import_tensorflow(mnist_path):
    code = (
        "import sys\nfrom tui.cli import main\n"
        "rc1 = main(['predict', '--json', 'sample_images/7_mnist_01.png'])\n"
        "rc2 = main(['predict', '--number', 'sample_images/2026_paper.png'])\n"
        "rc3 = main(['evaluate', '--json', '--worst', '0'])\n"
        "print('RESULT', rc1, rc2, rc3, 'tensorflow' in sys.modules, 'keras' in sys.modules, 'h5py' in sys.modules)\n"
    )
    proc = _run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert "RESULT 0 0 0 False False False" in proc.stdout, proc.stdout[-500:] + proc.stderr
    report = json.loads([line for line in proc.stdout.splitlines() if line.startswith('{"model"')][0])
    assert report["runtime"] == "LiteRT" and report["n"] == 10000 and report["accuracy"] > 0.99


# Makes `import ai_edge_litert` fail, as on a platform without its wheel.
NO_LITERT = "import sys\nsys.modules['ai_edge_litert'] = None\n"


def test_without_litert_prediction_falls_back_to_tensorflow(both_runtimes, mnist):
    lite, _ = both_runtimes
    code = NO_LITERT + (
        "import json, numpy as np\nfrom tui.core.inference import Predictor\nfrom tui.cli import main\n"
        "p = Predictor()\n"
        "x = np.load(__import__('os').environ['DIGITREC_MNIST'])['x_test'][:500]\n"
        "print('RUNTIME', p.runtime)\nprint('PROBS', json.dumps(p.predict_arrays(x).tolist()))\n"
        "print('RC', main(['predict', '--json', 'sample_images/7_mnist_01.png']))\n"
        "print('RC', main(['models']))\n"
    )
    proc = _run_python(code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "RUNTIME TensorFlow" in lines
    probs = np.array(json.loads(next(line for line in lines if line.startswith("PROBS "))[6:]))
    assert float(np.max(np.abs(probs - lite.predict_arrays(mnist.x_test[:500])))) <= TOLERANCE
    assert json.loads(next(line for line in lines if line.startswith('{"path"')))["digit"] == 7
    assert lines.count("RC 0") == 2
    assert "LiteRT is not installed here: TensorFlow answers" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_asking_for_litert_where_it_is_missing_is_one_line():
    proc = _run_python(NO_LITERT + "from tui.cli import main\n"
                       "raise SystemExit(main(['predict', '--runtime', 'litert', 'sample_images/7_mnist_01.png']))")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "digitrec: the LiteRT runtime (ai-edge-litert) is not installed on this platform; use --runtime tensorflow, "
        "or install it with pip install ai-edge-litert"]


def test_runtime_chosen_by_the_environment(monkeypatch):
    monkeypatch.setenv("DIGITREC_RUNTIME", "TensorFlow")
    assert Predictor(SHIPPED).runtime == "TensorFlow"
    monkeypatch.setenv("DIGITREC_RUNTIME", "tpu")
    with pytest.raises(ModelFileError, match="unknown runtime 'tpu'; use one of auto, litert, tensorflow"):
        Predictor(SHIPPED)


# -- the command line: evaluate's cross-check, models, export -------------------------------------------


def test_evaluate_cross_check_reports_agreement(mnist_path):
    proc = run_cli("evaluate", "--json", "--worst", "0", "--cross-check", timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["runtime"] == "LiteRT"
    check = report["cross_check"]
    assert check["other"] == "TensorFlow" and check["n"] == 10000
    assert check["digits_differ"] == 0 and check["max_abs_difference"] <= TOLERANCE


def _lying_runtime_file(model: Path) -> bytes:
    """A runtime file recorded as made from ``model`` (its checksum matches, so it counts as current)
    whose network is another one: an untrained dense layer, whose digits differ from the .h5's."""
    from tui.core.tf import import_tf

    _, keras = import_tf()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    other = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    return runtime.convert(other, model, metadata=_record(runtime.runtime_path(SHIPPED))["metadata"])


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_evaluate_cross_check_exits_1_when_digits_differ(tmp_path, mnist_path, as_json):
    """The README: `--cross-check` exits 1 if any predicted digit differs, with `--json` too."""
    model = tmp_path / "m.h5"
    shutil.copy(SHIPPED, model)
    runtime.runtime_path(model).write_bytes(_lying_runtime_file(model))
    assert runtime.runtime_state(model)[0] == "current"  # used as it is, never rebuilt from the .h5
    proc = run_cli("evaluate", "--model", str(model), *(["--json"] if as_json else []), "--worst", "0",
                   "--cross-check", cwd=tmp_path, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    if as_json:
        check = json.loads(proc.stdout)["cross_check"]
        assert (check["runtime"], check["other"], check["n"]) == ("LiteRT", "TensorFlow", 10000)
        assert check["digits_differ"] > 1000 and check["max_abs_difference"] > 0.5
    else:
        differ = r"cross-check against TensorFlow: .*, [1-9][\d,]* of 10000 predicted digits differ"
        assert re.search(differ, proc.stdout), proc.stdout[-500:]


def test_models_lists_each_model_with_its_runtime_file(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(SHIPPED, models / f"{name}.h5")
    shutil.copy(runtime.runtime_path(SHIPPED), models / "a.tflite")  # current
    (models / "b.tflite").write_bytes(_with_source_sha(runtime.runtime_path(SHIPPED), "f" * 64))  # stale
    shutil.copy(runtime.runtime_path(SHIPPED), models / "lonely.tflite")
    proc = run_cli("models", cwd=tmp_path, check_rc=0)
    lines = proc.stdout.splitlines()
    assert any("models/a.tflite" in line and "up to date" in line for line in lines)
    assert any("models/b.tflite" in line and "made from another .h5" in line for line in lines)
    assert any("models/c.tflite" in line and "not built yet" in line for line in lines)
    assert any("models/lonely.tflite" in line and "no .h5 beside it" in line for line in lines)
    rows = [json.loads(line) for line in run_cli("models", "--json", cwd=tmp_path, check_rc=0).stdout.splitlines()]
    states = {Path(r["path"]).name: r["runtime"]["state"] for r in rows if "runtime" in r}
    assert states == {"a.h5": "current", "b.h5": "stale", "c.h5": "missing"}


def test_export_writes_each_format_that_loads_back(tmp_path, mnist):
    from tui.core.tf import import_tf

    tf, keras = import_tf()
    model = tmp_path / "m.h5"
    shutil.copy(SHIPPED, model)
    proc = run_cli("export", str(model), cwd=tmp_path, check_rc=0)
    assert proc.stdout.strip() == f"wrote {tmp_path / 'm.tflite'} (tflite)"
    assert runtime.runtime_state(model)[0] == "current"
    run_cli("export", str(model), "--format", "keras", cwd=tmp_path, check_rc=0)
    for _ in range(2):  # a second export replaces the folder whole
        run_cli("export", str(model), "--format", "savedmodel", "--output", str(tmp_path / "served"), cwd=tmp_path, check_rc=0)
    assert (tmp_path / "served" / "saved_model.pb").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files were left behind"
    x = mnist.x_test[:50].astype("float32")[..., None] / 255.0
    reloaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    # The exports hold the network as it is: its own probabilities, before the temperature digitrec's
    # Predictor applies (README, calibration); the digits are the same either way.
    reference = Predictor(model, runtime="tensorflow").predict_arrays(mnist.x_test[:50], calibrated=False)
    assert float(np.max(np.abs(np.asarray(reloaded(x, training=False)) - reference))) <= TOLERANCE
    # The SavedModel is for TensorFlow Serving and the like: TensorFlow alone loads it (no Keras, no
    # digitrec), and it gives the .h5's digits on the same images.
    served = tf.saved_model.load(str(tmp_path / "served"))
    served_probabilities = np.asarray(served.signatures["serving_default"](tf.constant(x)).popitem()[1])
    assert served_probabilities.shape == (50, 10)
    assert np.array_equal(served_probabilities.argmax(axis=1), reference.argmax(axis=1))
    assert float(np.max(np.abs(served_probabilities - reference))) <= TOLERANCE


def test_export_refuses_an_unsafe_model_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    proc = run_cli("export", str(bad), cwd=tmp_path)
    assert proc.returncode == 1 and "is not an HDF5 model file" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5"]


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for a folder): what "left intact" compares."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def _one_line_refusal(proc: subprocess.CompletedProcess, *phrases: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "unexpected error" not in proc.stderr and all(p in proc.stderr for p in phrases), proc.stderr


def test_export_refuses_a_folder_holding_other_files_and_leaves_it_intact(tmp_path, model_copy):
    served = tmp_path / "served"
    (served / "models").mkdir(parents=True)
    shutil.copy(SHIPPED, served / "models" / "mine.h5")
    (served / "notes.txt").write_text("my notes\n")
    (served / "saved_model.pb").write_bytes(b"someone else's")
    before = _tree(tmp_path)
    for force in ([], ["--force"]):  # --force never removes a folder holding anything else
        proc = run_cli("export", str(model_copy), "--format", "savedmodel", "--output", "served", *force, cwd=tmp_path)
        _one_line_refusal(proc, "served/ exists and is not a SavedModel digitrec wrote", "remove it yourself")
        assert _tree(tmp_path) == before


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "keras"])
def test_export_refuses_the_current_folder_with_one_line(tmp_path, model_copy, fmt):
    before = _tree(tmp_path)
    for force in ([], ["--force"]):
        proc = run_cli("export", str(model_copy), "--format", fmt, "--output", ".", *force, cwd=tmp_path)
        _one_line_refusal(proc, "--output . names no new")
        assert _tree(tmp_path) == before


@pytest.mark.parametrize("fmt, name", [("tflite", "m.tflite"), ("keras", "m.keras"), ("savedmodel", "m_savedmodel")])
def test_export_refuses_an_existing_file_it_did_not_write(tmp_path, model_copy, fmt, name):
    (tmp_path / name).write_bytes(b"TFL3 not digitrec's, and kept")  # even the default output beside the .h5
    before = _tree(tmp_path)
    proc = run_cli("export", str(model_copy), "--format", fmt, cwd=tmp_path)
    _one_line_refusal(proc, name, "give a new --output")
    assert _tree(tmp_path) == before


def test_export_replaces_only_what_digitrec_wrote(tmp_path, model_copy):
    """Its own SavedModel and files are re-exported over; a foreign file only with force."""
    from tui.core.errors import ModelFileError
    from tui.core.export import MARKER, export_model

    served = tmp_path / "served"
    for _ in range(2):  # the second export replaces digitrec's own SavedModel
        export_model(model_copy, "savedmodel", served)
    marker = json.loads((served / MARKER).read_text())
    assert marker["source"] == "m.h5" and marker["source_sha256"] == hashlib.sha256(model_copy.read_bytes()).hexdigest()
    (served / "notes.txt").write_text("added by hand")
    with pytest.raises(ModelFileError, match="not a SavedModel digitrec wrote"):
        export_model(model_copy, "savedmodel", served, force=True)
    assert (served / "notes.txt").read_text() == "added by hand" and (served / "saved_model.pb").is_file()

    stale = runtime.runtime_path(model_copy)  # digitrec's own .tflite, made from another .h5: rebuilt
    stale.write_bytes(_with_source_sha(stale, "0" * 64))
    export_model(model_copy, "tflite")
    assert runtime.runtime_state(model_copy)[0] == "current"

    foreign = tmp_path / "m.keras"
    foreign.write_bytes(b"not digitrec's")
    with pytest.raises(ModelFileError, match="add --force to replace it"):
        export_model(model_copy, "keras")
    assert foreign.read_bytes() == b"not digitrec's"
    export_model(model_copy, "keras", force=True)
    export_model(model_copy, "keras")  # now digitrec's own: replaced without force
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files were left behind"


def test_predict_images_agree_between_cli_runtimes():
    """The sample folder predicted by the CLI on each runtime gives the same digits and probabilities."""
    outputs = {}
    for name in ("litert", "tensorflow"):
        proc = run_cli("predict", "--json", "--runtime", name, str(SAMPLES), check_rc=0)
        outputs[name] = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert outputs["litert"].keys() == outputs["tensorflow"].keys() and len(outputs["litert"]) > 40
    for path, r in outputs["litert"].items():
        other = outputs["tensorflow"][path]
        assert r["digit"] == other["digit"]
        assert max(abs(a - b) for a, b in zip(r["probabilities"], other["probabilities"])) <= 2e-5  # rounded to 6 places


# -- the app ------------------------------------------------------------------------------------------


async def test_app_loads_the_model_on_litert_and_says_when_it_rebuilt_the_runtime_file(tmp_path, monkeypatch, trained_model):
    from test_app import make_app, settle, type_command
    from tui.app.widgets.prediction import PredictionView

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DIGITREC_MODEL", raising=False)
    monkeypatch.delenv("DIGITREC_RUNTIME", raising=False)
    (tmp_path / "models").mkdir()
    shutil.copy(trained_model, tmp_path / "models" / "digit_recognizer.h5")  # its .tflite stays behind
    shutil.copy(SAMPLES / "7_mnist_01.png", tmp_path / "seven.png")
    for launch in ("first", "second"):
        app = make_app(preload=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: "LiteRT" in app.status_bar.model, timeout=120)
            assert app.status_bar.model.startswith("model: digit_recognizer.h5 (")
            notes = [t.text for t in app.conversation.turns if "rebuilt it from digit_recognizer.h5" in t.text]
            assert len(notes) == (1 if launch == "first" else 0)
            await type_command(pilot, "predict seven.png")
            await settle(pilot, lambda: bool(app.conversation.last_turn.query(PredictionView)), timeout=60)
            assert app.conversation.last_turn.query_one(PredictionView).prediction.digit == 7
    assert runtime.runtime_state(tmp_path / "models" / "digit_recognizer.h5")[0] == "current"


def test_each_model_is_judged_unsure_at_its_own_threshold():
    """The 'uncertain' line sits where it was chosen for the model's preset (robust, calibrated: 0.99,
    else 0.65);
    a threshold in the model's own metadata wins; nonsense there is ignored."""
    from tui.core.inference import Predictor, confidence_threshold, judge

    assert confidence_threshold({}) == 0.65 and confidence_threshold({"preset": "default"}) == 0.65
    assert confidence_threshold({"preset": "robust"}) == 0.99
    assert confidence_threshold({"preset": "robust", "confidence_threshold": 0.9}) == 0.9
    for junk in (True, 2, -1, "0.7", None):
        assert confidence_threshold({"preset": "default", "confidence_threshold": junk}) == 0.65
    predictor = Predictor(SHIPPED, runtime="litert")
    assert predictor.metadata["preset"] == "robust" and predictor.threshold == 0.99
    seven = np.zeros((28, 28), "float32")
    seven[6:8, 8:20] = 1.0
    seven[8:22, 17:19] = 1.0
    probs = np.full(10, 0.25 / 9, "float32")
    probs[7] = 0.75
    assert judge(probs, seven, predictor.threshold)[0] and not judge(probs, seven)[0]

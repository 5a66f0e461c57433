"""Model files: metadata round trip, atomic writes, and clear refusals of bad or unsafe files."""

import json
import shutil
import warnings

import h5py
import numpy as np
import pytest

from tui.core.errors import ModelFileError
from tui.core.modelfile import list_models, load_model, read_metadata, save_model


def test_metadata_round_trip(trained_model, trained_run):
    meta = read_metadata(trained_model)
    assert meta["preset"] == "classic" and meta["epochs_run"] == 2
    assert meta["trained_by"] == "digitrec train" and meta["run_id"] == trained_run.run_dir.name
    assert 0.9 < meta["test_accuracy"] <= 1.0
    assert meta["training_seconds"] > 0 and len(meta["dataset_sha256"]) == 64
    assert {"tensorflow", "keras", "h5py", "numpy"} <= set(meta["versions"])
    with h5py.File(trained_model, "r") as f:  # also plain attributes, readable by any HDF5 tool
        assert f.attrs["digitrec_preset"] == "classic"
        assert json.loads(f.attrs["digitrec_metadata"])["config"]["epochs"] == 2


def test_save_load_gives_the_same_predictions(trained_model, tmp_path, mnist):
    model = load_model(trained_model)
    x = mnist.x_test[:50].astype("float32")[..., None] / 255.0
    before = np.asarray(model(x, training=False))
    copy = save_model(model, tmp_path / "copy.h5", {"preset": "copy"})
    after = np.asarray(load_model(copy)(x, training=False))
    np.testing.assert_allclose(before, after, atol=1e-6)
    assert read_metadata(copy)["preset"] == "copy"
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file may be left behind"


def test_failed_save_leaves_the_old_file(trained_model, tmp_path):
    """The disk fills while the new model is being written over an existing one: the save fails
    with one line, the old file is byte-identical, and no partial file is left beside it."""
    from test_faults import LIMIT, files_limited_to

    target = tmp_path / "model.h5"
    shutil.copyfile(trained_model, target)
    before = target.read_bytes()
    assert len(before) > LIMIT
    model = load_model(trained_model)
    with files_limited_to(LIMIT), pytest.raises(ModelFileError, match="could not save the model to .*model.h5"):
        save_model(model, target, {"preset": "new"})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"], "no partial file may be left behind"


def test_not_hdf5(tmp_path):
    bad = tmp_path / "model.h5"
    bad.write_text("hello")
    with pytest.raises(ModelFileError, match="is not an HDF5 model file"):
        load_model(bad)


def test_truncated_h5(trained_model, tmp_path):
    bad = tmp_path / "cut.h5"
    bad.write_bytes(trained_model.read_bytes()[:4000])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        load_model(bad)


def test_hdf5_that_is_not_a_model(tmp_path):
    bad = tmp_path / "data.h5"
    with h5py.File(bad, "w") as f:
        f["x"] = np.arange(10)
    with pytest.raises(ModelFileError, match="not a saved Keras model"):
        load_model(bad)


def test_missing_file_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelFileError, match="digitrec train"):
        load_model(tmp_path / "none.h5")


def _save_keras(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    return path


def test_wrong_shapes_are_refused(tmp_path):
    from tui.core.tf import import_tf

    _, keras = import_tf()
    wrong_in = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    wrong_out = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    with pytest.raises(ModelFileError, match="not 28x28x1"):
        load_model(_save_keras(wrong_in, tmp_path / "in.h5"))
    with pytest.raises(ModelFileError, match="not 10 classes"):
        load_model(_save_keras(wrong_out, tmp_path / "out.h5"))


def test_lambda_layers_are_never_run(tmp_path):
    """A Lambda whose code writes a marker file when it runs: loading it unsafely does write the
    marker, so the file really carries code; our loader refuses it and the marker never appears."""
    from tui.core.tf import import_tf

    _, keras = import_tf()
    marker = tmp_path / "ran"
    # Built from source so its bytecode is stored in the file (no closure over test variables).
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Lambda(touch),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    path = _save_keras(model, tmp_path / "lambda.h5")
    marker.unlink()  # building the model ran it once, here in the test
    try:
        load_model(path)
        refusal = None
    except ModelFileError as exc:
        refusal = str(exc)
    assert not marker.exists(), "loading must never run code from the file"
    assert refusal and "layers that can run code or are unknown (Lambda)" in refusal, refusal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras.models.load_model(path, compile=False, safe_mode=False)
    assert marker.exists(), "with safe mode off the same file does run its code"


def test_list_models_reads_metadata_without_tensorflow(trained_model, tmp_path):
    shutil.copyfile(trained_model, tmp_path / "a.h5")
    (tmp_path / "broken.h5").write_text("nope")
    infos = {m.path.name: m for m in list_models(tmp_path)}
    assert infos["a.h5"].metadata["preset"] == "classic" and infos["a.h5"].error is None
    assert "not an HDF5" in infos["broken.h5"].error


def test_custom_layer_classes_are_refused(tmp_path):
    from tui.core.tf import import_tf

    _, keras = import_tf()

    @keras.saving.register_keras_serializable(package="evil")
    class Sneaky(keras.layers.Layer):
        def call(self, x):
            return x

    model = keras.Sequential([keras.Input((28, 28, 1)), Sneaky(), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ModelFileError, match="refusing to load an untrusted model"):
        load_model(_save_keras(model, tmp_path / "custom.h5"))


@pytest.mark.parametrize("preset", ["classic", "default", "best", "robust"])
def test_every_preset_network_saves_and_loads_safely(preset, tmp_path, mnist):
    """Each preset's network (its layer mix, sizes and names) passes the safe loader unchanged."""
    from tui.core import model as model_lib
    from tui.core.config import preset_config

    cfg = preset_config(preset)
    net = model_lib.compile_model(model_lib.build_model(cfg), cfg, steps_per_epoch=10)
    x = mnist.x_test[:8].astype("float32")[..., None] / 255.0
    before = np.asarray(net(x, training=False))
    assert before.shape == (8, 10)
    path = save_model(net, tmp_path / f"{preset}.h5", {"preset": preset})
    with h5py.File(path, "r") as f:  # weights only: optimizer state is never read back
        assert "optimizer_weights" not in f and "model_weights" in f
    assert path.stat().st_size < 5e6
    loaded = load_model(path)
    np.testing.assert_allclose(before, np.asarray(loaded(x, training=False)), atol=1e-6)
    conv_layers = sum(type(layer).__name__ == "Conv2D" for layer in loaded.layers)
    assert conv_layers == {"classic": 2, "default": 3, "best": 5, "robust": 5}[preset]


def test_a_compact_net_with_a_cropped_border_ignores_it_and_loads_safely(tmp_path, mnist):
    """``extra.crop`` runs the convs on the middle of the image; the safe loader accepts the layer."""
    from tui.core import model as model_lib
    from tui.core.config import preset_config

    base = preset_config("default")
    cfg = base.with_overrides(extra={**base.extra, "crop": 2})
    net = model_lib.compile_model(model_lib.build_model(cfg), cfg, steps_per_epoch=10)
    first_conv = next(layer for layer in net.layers if type(layer).__name__ == "Conv2D")
    assert tuple(first_conv.output.shape[1:3]) == (10, 10)  # 24x24 in, 5x5 stride 2
    x = mnist.x_test[:8].astype("float32")[..., None] / 255.0
    border = x.copy()
    border[:, :2] = border[:, -2:] = border[:, :, :2] = border[:, :, -2:] = 1.0
    before = np.asarray(net(x, training=False))
    np.testing.assert_array_equal(before, np.asarray(net(border, training=False)))
    loaded = load_model(save_model(net, tmp_path / "crop.h5", {"preset": "default"}))
    np.testing.assert_allclose(before, np.asarray(loaded(x, training=False)), atol=1e-6)

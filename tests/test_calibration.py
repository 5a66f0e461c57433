"""Confidence that means what it says: a temperature fitted on held-out data when a model is trained,
stored in its metadata, and applied to every probability either runtime gives."""

from __future__ import annotations

import numpy as np
import pytest

from tui.core.calibration import apply_temperature, expected_calibration_error, fit_temperature, model_temperature


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_fit_recovers_the_temperature_that_makes_overconfident_probabilities_honest():
    """Answers drawn from softmax(z) but shown as softmax(2z) are twice as sure as they should be:
    the fit finds T = 2, and after it the shown confidence matches how often they are right."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2.5, (20000, 10))
    labels = np.array([rng.choice(10, p=p) for p in _softmax(z)])
    shown = _softmax(2 * z)
    t = fit_temperature(shown, labels)
    assert t == pytest.approx(2.0, rel=0.03)
    assert expected_calibration_error(apply_temperature(shown, t), labels) < 0.01 < expected_calibration_error(shown, labels)


def test_temperature_keeps_every_answer_and_one_leaves_probabilities_alone():
    probs = _softmax(np.random.default_rng(1).normal(0, 3, (50, 10))).astype("float32")
    sharper = apply_temperature(probs, 0.3)
    assert (sharper.argmax(1) == probs.argmax(1)).all() and (sharper.max(1) > probs.max(1)).all()
    np.testing.assert_allclose(sharper.sum(1), 1, rtol=1e-5)
    assert apply_temperature(probs, 1.0) is probs
    assert model_temperature({}) == 1.0 and model_temperature({"temperature": "hot"}) == 1.0
    assert model_temperature({"temperature": 0.3}) == 0.3


def test_a_training_run_fits_its_temperature_on_its_own_validation_split(trained_run, mnist):
    """The session's tiny run (12,000 images, a tenth held out) stores the temperature that is the
    fit on exactly the validation images the run held out, and logs it."""
    from tui.core.config import TrainConfig
    from tui.core.data import split_validation
    from tui.core.inference import Predictor
    from tui.core.modelfile import read_metadata

    meta = read_metadata(trained_run.model_path)
    assert meta["temperature_fitted_on"] == "1200 validation images"
    cfg = TrainConfig.from_dict(meta["config"])
    x, y = mnist.x_train[: cfg.train_subset], mnist.y_train[: cfg.train_subset]
    _, (x_val, y_val) = split_validation(x, y, cfg.validation_split, cfg.seed)
    raw = Predictor(trained_run.model_path, runtime="tensorflow").predict_arrays(x_val, calibrated=False)
    assert meta["temperature"] == pytest.approx(fit_temperature(raw, y_val), abs=2e-3)
    assert meta["temperature"] != 1.0
    assert f"temperature {meta['temperature']} fitted on 1200 validation images" in \
        (trained_run.run_dir / "train.log").read_text()


@pytest.mark.parametrize("runtime", ["litert", "tensorflow"])
def test_every_probability_shown_is_calibrated_by_the_model_temperature(trained_model, mnist, runtime):
    """Both runtimes: what predict_arrays and a Prediction show is softmax(log p / T) of what the
    network gave, and the answer is the network's."""
    from tui.core.inference import Predictor

    predictor = Predictor(trained_model, runtime=runtime)
    t = predictor.temperature
    assert t == model_temperature(predictor.metadata) != 1.0
    x = mnist.x_test[:64]
    raw = predictor.predict_arrays(x, calibrated=False)
    shown = predictor.predict_arrays(x)
    logits = np.log(np.clip(raw.astype(np.float64), 1e-12, None)) / t
    np.testing.assert_allclose(shown, _softmax(logits), atol=1e-6)
    assert (shown.argmax(1) == raw.argmax(1)).all()
    prediction = predictor.predict_input(x[0] / 255.0)
    assert prediction.probabilities == pytest.approx(list(shown[0]), abs=1e-6)
    assert prediction.confidence == pytest.approx(float(shown[0].max()), abs=1e-6)


def test_metadata_update_changes_attributes_only(trained_model, tmp_path):
    """How the shipped model got its temperature: the metadata merged, every weight byte the same."""
    import hashlib
    import shutil

    import h5py

    from tui.core.modelfile import read_metadata, update_metadata

    def weights(path):
        found = {}
        with h5py.File(path) as f:
            f.visititems(lambda name, obj: found.__setitem__(name, hashlib.sha256(obj[()].tobytes()).hexdigest())
                         if isinstance(obj, h5py.Dataset) else None)
        return found

    model = shutil.copyfile(trained_model, tmp_path / "m.h5")
    before = read_metadata(model)
    update_metadata(model, {"temperature": 0.5, "confidence_threshold": 0.99})
    assert read_metadata(model) == {**before, "temperature": 0.5, "confidence_threshold": 0.99}
    assert weights(model) == weights(trained_model) and weights(model)
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"]  # no temporary file left behind

"""Training in mixed bfloat16 where the CPU has it, and fewer calls into TensorFlow per step.

A model trained in mixed precision must come out exactly like one trained in float32: its files
carry no bfloat16 policy, it loads through the safe loader, and its LiteRT file gives the same
answers. Real training on a small MNIST subset; real ``/proc/cpuinfo``-style files.
"""

import json

import h5py
import numpy as np
import pytest

from tui.core import runs
from tui.core.config import ConfigError, TrainConfig, parse_override, preset_config


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 {flags}\n\n", encoding="ascii")
    return path


@pytest.mark.parametrize(("flags", "native"), [
    ("avx2 avx512f avx512_bf16", True),
    ("avx2 amx_tile amx_bf16", True),
    ("avx2 avx512f avx512_vnni", False),  # AVX-512 without its bf16 instructions
    ("avx2 fma", False),
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    from tui.core.model import cpu_has_native_bf16

    assert cpu_has_native_bf16(_cpuinfo(tmp_path, flags)) is native


def test_an_unreadable_cpuinfo_means_float32(tmp_path):
    from tui.core.model import cpu_has_native_bf16

    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_precision_setting_maps_to_a_policy():
    from tui.core.model import cpu_has_native_bf16, training_precision

    assert training_precision(TrainConfig(precision="float32")) == "float32"
    assert training_precision(TrainConfig(precision="bfloat16")) == "mixed_bfloat16"
    expected = "mixed_bfloat16" if cpu_has_native_bf16() else "float32"  # no GPU on these machines
    assert training_precision(TrainConfig(precision="auto")) == expected


def test_precision_is_a_checked_setting():
    assert parse_override("precision", "float32") == ("precision", "float32")
    with pytest.raises(ConfigError, match="precision must be one of auto, float32, bfloat16"):
        preset_config("fast").with_overrides(precision="fp8")
    with pytest.raises(ConfigError, match="steps per execution"):
        preset_config("fast").with_overrides(steps_per_execution=0)


def test_building_under_a_policy_leaves_the_global_policy_alone():
    from tui.core import model as model_lib
    from tui.core.tf import import_tf

    _, keras = import_tf()
    before = keras.mixed_precision.global_policy().name
    with model_lib.dtype_policy("mixed_bfloat16"):
        mixed = model_lib.build_model(preset_config("default"))
    assert keras.mixed_precision.global_policy().name == before
    assert mixed.layers[1].dtype_policy.name == "mixed_bfloat16"
    assert mixed.layers[-1].dtype_policy.name == "float32", "the softmax must stay in float32"
    twin = model_lib.plain_twin(mixed, preset_config("default"))
    assert all(layer.dtype_policy.name == "float32" for layer in twin.layers)
    for a, b in zip(mixed.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    plain = model_lib.build_model(preset_config("default"))
    assert model_lib.plain_twin(plain, preset_config("default")) is plain


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_the_fused_batch_norm_trains_as_keras_own_does(policy):
    """Same outputs, gradients and moving statistics as keras.layers.BatchNormalization, in training
    and in inference, within float32 (bfloat16) rounding."""
    from tui.core import model as model_lib
    from tui.core.tf import import_tf

    tf, keras = import_tf()
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 3.0, (32, 6, 6, 8)).astype("float32")
    weights = tf.constant(rng.normal(size=x.shape).astype("float32"))
    tol = 1e-5 if policy == "float32" else 1e-2
    with model_lib.dtype_policy(policy):
        layers = [keras.layers.BatchNormalization(momentum=0.9), model_lib.fused_batch_norm_class()(momentum=0.9)]
    results = []
    for layer in layers:
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 8))
        layer.beta.assign(np.linspace(-1.0, 1.0, 8))
        inputs = tf.cast(tf.constant(x), layer.compute_dtype)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2 * weights)
        grads = tape.gradient(loss, [inputs, layer.gamma, layer.beta])
        assert y.dtype == layer.compute_dtype
        results.append([np.asarray(tf.cast(t, tf.float32)) for t in (y, *grads)]
                       + [layer.moving_mean.numpy(), layer.moving_variance.numpy(),
                          np.asarray(tf.cast(layer(inputs, training=False), tf.float32))])
    for keras_own, fused in zip(*results):
        assert np.abs(keras_own - fused).max() <= tol * np.abs(keras_own).max()


def test_a_model_built_for_training_is_saved_through_a_plain_twin():
    from tui.core import model as model_lib
    from tui.core.tf import import_tf

    _, keras = import_tf()
    cfg = preset_config("default")
    trained = model_lib.build_model(cfg, for_training=True)
    fused = model_lib.fused_batch_norm_class()
    assert sum(isinstance(layer, fused) for layer in trained.layers) == 3
    twin = model_lib.plain_twin(trained, cfg)
    assert twin is not trained
    norms = [layer for layer in twin.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(type(layer) is keras.layers.BatchNormalization for layer in norms)
    for a, b in zip(trained.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_compact_head_can_carry_a_hidden_dense_layer_that_trains_and_saves():
    from tui.core import model as model_lib
    from tui.core.tf import import_tf

    _, keras = import_tf()
    cfg = preset_config("default").with_overrides(extra={**preset_config("default").extra, "hidden": 48})
    with model_lib.dtype_policy("mixed_bfloat16"):
        trained = model_lib.build_model(cfg, for_training=True)
    dense = [layer for layer in trained.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [48, 10]
    assert not dense[0].use_bias  # batch norm follows it
    hidden_norm = trained.layers[trained.layers.index(dense[0]) + 1]
    assert isinstance(hidden_norm, keras.layers.BatchNormalization)
    trained.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.random.default_rng(0).random((32, 28, 28, 1), dtype=np.float32)
    y = keras.utils.to_categorical(np.arange(32) % 10, 10)
    mean_before = hidden_norm.moving_mean.numpy().copy()
    trained.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(mean_before, hidden_norm.moving_mean.numpy())  # it trained
    twin = model_lib.plain_twin(trained, cfg)
    np.testing.assert_allclose(twin.predict(x, verbose=0), trained.predict(x, verbose=0), atol=0.05)


def _policies(path):
    with h5py.File(path, "r") as fh:
        config = fh.attrs["model_config"]
    return config if isinstance(config, str) else config.decode()


@pytest.mark.slow
def test_a_bfloat16_run_saves_float32_files_that_predict_like_keras(tmp_path, mnist):
    from tui.core import pipeline
    from tui.core.modelfile import load_model, read_metadata
    from tui.core.inference import Predictor
    from tui.core.train import run_training

    cfg = preset_config("fast").with_overrides(epochs=1, train_subset=6000, precision="bfloat16",
                                               steps_per_execution=4)
    output = tmp_path / "models" / "digit_recognizer.h5"
    result = run_training(cfg, data=mnist, output=output, run_dir=tmp_path / "run")
    assert result.status == "done", result.reason
    assert result.test_accuracy > 0.93, "one epoch of fast on 6,000 images reads 95-96% in float32"
    assert read_metadata(output)["training_precision"] == "mixed_bfloat16"
    for path in (output, tmp_path / "run" / runs.LAST_CHECKPOINT, tmp_path / "run" / runs.BEST_CHECKPOINT):
        text = _policies(path)
        assert "bfloat16" not in text, f"{path.name} carries a bfloat16 policy"
        assert "Fused" not in text, f"{path.name} carries the training-only batch norm"
    keras_model = load_model(output)
    x = pipeline.to_model_input(mnist.x_test[:500])
    expected = np.asarray(keras_model.predict_on_batch(x))
    lite = Predictor(output, runtime="litert")
    assert lite.runtime == "LiteRT", "the runtime file written at the end of the run must be current"
    got = lite.predict_arrays(x, calibrated=False)  # the network itself; shown answers are calibrated
    assert np.abs(got - expected).max() < 1e-5
    assert (expected.argmax(1) == mnist.y_test[:500]).mean() > 0.93

    # With 4 steps per call, progress still counts single steps and reaches the epoch's last one.
    events = runs.read_events(tmp_path / "run")
    steps = events[0]["steps_per_epoch"]
    batches = [e for e in events if e["type"] == "batch"]
    assert batches and batches[-1]["step"] == steps
    assert all(1 <= e["step"] <= steps for e in batches)
    config = json.loads((tmp_path / "run" / runs.CONFIG).read_text())
    assert config["train"]["precision"] == "bfloat16" and config["train"]["steps_per_execution"] == 4


def test_the_weight_average_spans_a_hundred_steps_unless_the_config_sets_its_span():
    from tui.core import model as model_lib

    cfg = preset_config("default")
    compiled = model_lib.compile_model(model_lib.build_model(cfg), cfg, steps_per_epoch=200)
    assert compiled.optimizer.ema_momentum == pytest.approx(0.99)
    long = cfg.with_overrides(extra={**cfg.extra, "ema_span": 500})
    compiled = model_lib.compile_model(model_lib.build_model(long), long, steps_per_epoch=200)
    assert compiled.optimizer.ema_momentum == pytest.approx(0.998)


def test_the_activation_and_optimizer_options_build_what_they_name():
    """extra.activation swaps ReLU after each batch norm (the float32 twin too); extra.optimizer
    "sgd" compiles Nesterov SGD with the weight average and decay."""
    from tui.core import model as model_lib
    from tui.core.tf import import_tf

    _, keras = import_tf()
    base = preset_config("default")
    cfg = base.with_overrides(extra={**base.extra, "activation": "gelu"})
    with model_lib.dtype_policy("mixed_bfloat16"):
        trained = model_lib.build_model(cfg, for_training=True)
    for net in (trained, model_lib.plain_twin(trained, cfg)):
        acts = [layer for layer in net.layers if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation))]
        assert len(acts) == 3 and all(isinstance(a, keras.layers.Activation) for a in acts)
        assert {a.get_config()["activation"] for a in acts} == {"gelu"}
    plain = model_lib.build_model(base)
    assert sum(isinstance(layer, keras.layers.ReLU) for layer in plain.layers) == 3

    sgd = base.with_overrides(learning_rate=0.1, weight_decay=5e-4, extra={**base.extra, "optimizer": "sgd"})
    optimizer = model_lib.compile_model(model_lib.build_model(sgd), sgd, steps_per_epoch=200).optimizer
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov and optimizer.momentum == 0.9
    assert optimizer.use_ema and optimizer.weight_decay == pytest.approx(5e-4)
    assert isinstance(model_lib.compile_model(model_lib.build_model(base), base, 200).optimizer, keras.optimizers.AdamW)

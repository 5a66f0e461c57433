"""CNN architectures built in code, and their compilation (optimizer, schedule, loss).

Models take float32 input of shape (28, 28, 1) scaled to [0, 1] (white digit on black) and
output 10 softmax probabilities.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

from tui.core.config import TrainConfig
from tui.core.errors import DigitrecError
from tui.core.tf import import_tf

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def strategy_scope():
    """``MirroredStrategy().scope()`` when more than one GPU is visible, else a no-op context.

    Build and compile the model inside it; Keras' fit then splits each batch across the GPUs.
    """
    tf, _ = import_tf()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


def build_model(cfg: TrainConfig, *, seed: bool = True, for_training: bool = False):
    """Build the (uncompiled) Keras model named by ``cfg.arch``.

    With ``seed`` (the default) every random generator is seeded from ``cfg.seed`` first, so the
    initial weights and everything after them repeat; ``seed=False`` leaves them as they are
    (for a copy built while a seeded run is under way). ``for_training`` swaps each batch norm
    for one that trains through TensorFlow's fused kernel (``fused_batch_norm_class``): the same
    weights and the same arithmetic, a quarter less time per step; save through ``plain_twin``.
    """
    builder = ARCHITECTURES.get(cfg.arch)
    if builder is None:
        raise DigitrecError(f"unknown architecture {cfg.arch!r}; known: {', '.join(ARCHITECTURES)}")
    _, keras = import_tf()
    if seed:
        keras.utils.set_random_seed(cfg.seed)
    norm = fused_batch_norm_class() if for_training else keras.layers.BatchNormalization
    return builder(keras, cfg, norm)


@functools.cache
def fused_batch_norm_class():
    """``keras.layers.BatchNormalization`` whose training-mode call is TensorFlow's fused kernel.

    Keras 3 normalises a batch with a dozen separate ops (moments, rsqrt, scale, shift), each
    with its own gradient, and casts bfloat16 activations to float32 around them. Profiled on
    the `default` net: the three batch norms took about a quarter of a training step, and the
    fused kernel (one op forward, one backward, statistics in float32 inside, bfloat16 in and
    out) brings them close to free (BENCHMARKS.md, issue 13). Variables, their order, the
    moving-statistics update (the batch's biased variance, as Keras keeps it) and inference
    are Keras' own, so weights move between this layer and the plain one unchanged; models are
    always saved from a plain twin, so no file carries this class. Anything the kernel does not
    cover (masks, renorm, synchronised statistics, other ranks or axes) goes to Keras' own call.
    """
    tf, keras = import_tf()

    class FusedBatchNormalization(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            if (not (training and self.trainable) or mask is not None or self.renorm or self.synchronized
                    or len(inputs.shape) != 4 or self.axis not in (-1, 3) or not (self.scale and self.center)):
                return super().call(inputs, training=training, mask=mask)
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32),
                epsilon=self.epsilon, is_training=True, data_format="NHWC",
            )
            # The kernel returns the unbiased variance; Keras' moving variance tracks the biased one.
            n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
            variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + tf.cast(mean, self.moving_mean.dtype) * (1.0 - momentum))
            self.moving_variance.assign(
                self.moving_variance * momentum + tf.cast(variance, self.moving_variance.dtype) * (1.0 - momentum))
            return tf.cast(outputs, self.compute_dtype)

    return FusedBatchNormalization


# CPU flags (Linux /proc/cpuinfo) of instructions that run bfloat16 matrix products natively.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); False where unknown."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def training_precision(cfg: TrainConfig) -> str:
    """The dtype policy to train ``cfg`` with: "mixed_bfloat16" or "float32".

    ``precision="auto"`` picks mixed bfloat16 only on a CPU-only machine whose CPU has native bf16
    (measured there: about a tenth less training time, one or two images fewer right per seed,
    BENCHMARKS.md); with a GPU visible, or on any other CPU, it trains in float32.
    """
    if cfg.precision == "bfloat16":
        return "mixed_bfloat16"
    if cfg.precision == "float32":
        return "float32"
    tf, _ = import_tf()
    if tf.config.list_logical_devices("GPU"):
        return "float32"
    return "mixed_bfloat16" if cpu_has_native_bf16() else "float32"


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under Keras dtype policy ``name``; the global policy is restored afterwards."""
    _, keras = import_tf()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def plain_twin(model, cfg: TrainConfig):
    """A float32 model of ``cfg`` built from Keras' own layers and holding ``model``'s weights, or
    ``model`` itself if it is one already.

    Models are always saved this way, so a file trained in mixed precision or with the fused batch
    norm loads, converts and predicts like any other (its layers carry no bfloat16 policy and no
    class of ours). The variables of a mixed model are float32 already; only its computations ran
    in bfloat16.
    """
    if all(layer.dtype_policy.name == "float32" and type(layer) is not fused_batch_norm_class() for layer in model.layers):
        return model
    with dtype_policy("float32"):
        twin = build_model(cfg, seed=False)
    twin.set_weights(model.get_weights())
    return twin


def _classic(keras, cfg: TrainConfig, norm=None):
    """The classic Keras MNIST convnet."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="image"),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32"),
        ],
        name="classic",
    )


def _compact(keras, cfg: TrainConfig, norm):
    """Three conv layers with batch norm, sized so an epoch costs about one classic epoch on a CPU.

    conv 5x5 stride 2 (28->12) - conv 3x3 (->10) - max-pool (->5) - conv 3x3 (->3) - dense.
    No layer runs at full 28x28 resolution, and the pool sits between the second conv and its
    batch norm, so normalisation touches a quarter of that layer's activations. Widths and the
    head's dropout come from ``cfg.extra`` ("widths", "dropout") so one design serves every size.
    Batch-norm momentum 0.9 lets the moving statistics settle within about 70 steps; shorter runs
    re-estimate them at the end (``recalibrate_batch_norm``).
    With ``"double": true`` each of the first two stages gets a second, 'same'-padded 3x3 conv
    (at 12x12 and at 5x5): five conv layers instead of three, for the ``best`` preset.
    ``"hidden": N`` puts a dense layer of N units (batch norm, ReLU) between the flattened maps and
    the head's dropout.
    ``"activation"`` replaces ReLU after each batch norm ("gelu", "silu").
    ``"crop": N`` drops an N-pixel border before the first conv (MNIST's digits sit in the middle
    20x20): with 2, the convs run on 24x24 (-> 10 -> 8 -> 4 -> 2) at about 0.6x the arithmetic.
    ``norm`` is the batch-norm layer class (Keras' own, or the fused one for training).
    """
    layers = keras.layers
    w1, w2, w3 = cfg.extra.get("widths", (32, 64, 128))
    double = bool(cfg.extra.get("double", False))

    activation = cfg.extra.get("activation", "relu")  # or "gelu", "silu"

    def norm_relu(x):
        x = norm(momentum=0.9)(x)
        return layers.ReLU()(x) if activation == "relu" else layers.Activation(activation)(x)

    def same_conv(x, width):
        return norm_relu(layers.Conv2D(width, 3, padding="same", use_bias=False)(x)) if double else x

    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    crop = int(cfg.extra.get("crop", 0))
    x = layers.Cropping2D(crop)(inputs) if crop else inputs
    x = layers.Conv2D(w1, 5, strides=2, use_bias=False)(x)  # bias is redundant before batch norm
    x = same_conv(norm_relu(x), w1)
    x = layers.Conv2D(w2, 3, use_bias=False)(x)
    x = norm_relu(layers.MaxPooling2D()(x))
    x = same_conv(x, w2)
    x = norm_relu(layers.Conv2D(w3, 3, use_bias=False)(x))
    x = layers.Flatten()(x)
    hidden = int(cfg.extra.get("hidden", 0))
    if hidden:  # a hidden dense layer before the classifier: capacity at a few percent of the convs' cost
        x = layers.ReLU()(norm(momentum=0.9)(layers.Dense(hidden, use_bias=False)(x)))
    x = layers.Dropout(cfg.extra.get("dropout", 0.2))(x)
    # The softmax and the loss stay in float32 when the rest computes in bfloat16.
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="compact")


ARCHITECTURES = {"classic": _classic, "compact": _compact}


def learning_rate(cfg: TrainConfig, steps_per_epoch: int):
    """The learning rate or schedule for ``cfg`` over the whole run."""
    _, keras = import_tf()
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=total, alpha=0.01)
    if cfg.lr_schedule == "onecycle":
        warm = max(1, int(0.2 * total))
        return keras.optimizers.schedules.CosineDecay(
            cfg.learning_rate / 10, decay_steps=total - warm, alpha=0.001,
            warmup_target=cfg.learning_rate, warmup_steps=warm,
        )
    return cfg.learning_rate


def compile_model(model, cfg: TrainConfig, steps_per_epoch: int):
    """Compile ``model`` with Adam (or AdamW with weight decay) and cross-entropy."""
    _, keras = import_tf()
    lr = learning_rate(cfg, steps_per_epoch)
    # The average spans about 100 steps, or a tenth of a short run (quick trials on a subset);
    # ``extra.ema_span`` sets the span in steps outright.
    momentum = min(0.99, max(0.5, 1 - 10 / max(1, cfg.epochs * steps_per_epoch)))
    if cfg.extra.get("ema_span"):
        momentum = 1 - 1 / max(2, int(cfg.extra["ema_span"]))
    ema = dict(use_ema=cfg.ema, ema_momentum=momentum)
    if cfg.extra.get("optimizer") == "sgd":  # Nesterov momentum; decay as Keras applies it (x rate)
        optimizer = keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None, **ema)
    elif cfg.weight_decay:
        optimizer = keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay, **ema)
    else:
        optimizer = keras.optimizers.Adam(lr, **ema)
    if cfg.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, steps_per_execution=cfg.steps_per_execution)
    return model


# Runs shorter than this many optimizer steps get their batch-norm statistics re-estimated at the
# end. Measured with `default` for 1 epoch: after 22 steps (3,000 images) the moving statistics
# still carry their initial values (variance 1) and the model scores 11.5 % on the test set,
# 92.6 % once re-estimated; after 71 steps 96.5 % either way; after 211 steps no difference. Every
# preset's full run takes 800+ steps and is left exactly as benchmarked.
SHORT_RUN_STEPS = 200


def recalibration_size(cfg: TrainConfig, total_steps: int) -> int:
    """How many training images a finished run re-estimates its batch-norm statistics on: those
    ``extra.bn_refresh`` asks for, 2,048 for a run shorter than ``SHORT_RUN_STEPS``, else none."""
    return int(cfg.extra.get("bn_refresh", 0)) or (2048 if total_steps < SHORT_RUN_STEPS else 0)


def recalibrate_batch_norm(model, images, batch_size: int = 1024) -> int:
    """Set every BatchNormalization layer's moving mean and variance from ``images``.

    ``images`` is model input (float, N x 28 x 28 x 1). The statistics become the plain average
    over the batches of what the current weights produce (the momentum is set per batch so the
    running update is a cumulative mean), replacing moving averages that lag behind weights
    which changed fast. Nothing else changes: the images run forward in training mode, and
    weights are not touched. Returns how many layers were updated.
    """
    _, keras = import_tf()
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    try:
        for k, start in enumerate(range(0, len(images), batch_size)):
            for layer in norms:
                layer.momentum = k / (k + 1)  # batch 0 replaces the statistics, batch k weighs 1/(k+1)
            model(images[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum
    return len(norms)


def uses_one_hot(cfg: TrainConfig) -> bool:
    """Whether ``compile_model`` expects one-hot labels for ``cfg``."""
    return bool(cfg.label_smoothing)

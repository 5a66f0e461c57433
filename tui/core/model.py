"""CNN architectures built in code, and their compilation (optimizer, schedule, loss).

Models take float32 input of shape (28, 28, 1) scaled to [0, 1] (white digit on black) and
output 10 softmax probabilities.
"""

from __future__ import annotations

from tui.core.config import TrainConfig
from tui.core.errors import DigitrecError
from tui.core.tf import import_tf

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def build_model(cfg: TrainConfig):
    """Build the (uncompiled) Keras model named by ``cfg.arch``."""
    builder = ARCHITECTURES.get(cfg.arch)
    if builder is None:
        raise DigitrecError(f"unknown architecture {cfg.arch!r}; known: {', '.join(ARCHITECTURES)}")
    _, keras = import_tf()
    keras.utils.set_random_seed(cfg.seed)
    return builder(keras, cfg)


def _classic(keras, cfg: TrainConfig):
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
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="classic",
    )


ARCHITECTURES = {"classic": _classic}


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
    if cfg.weight_decay:
        optimizer = keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay, use_ema=cfg.ema)
    else:
        optimizer = keras.optimizers.Adam(lr, use_ema=cfg.ema)
    if cfg.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def uses_one_hot(cfg: TrainConfig) -> bool:
    """Whether ``compile_model`` expects one-hot labels for ``cfg``."""
    return bool(cfg.label_smoothing)

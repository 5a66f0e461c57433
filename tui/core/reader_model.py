"""The number reader's network: convolutional features over the line's width, a bidirectional
LSTM, and per-column probabilities over the ten digits and CTC's blank (index 10).

Built from standard Keras layers only, so the safe loader accepts it and TensorFlow's converter
makes a LiteRT file of it with builtin operators (at batch 1: a dynamic batch leaves the LSTM as a
TensorList loop the converter cannot lower). Imports TensorFlow; the app never imports this
module at start-up.
"""

from __future__ import annotations

from typing import Any

from tui.core.lines import LINE_HEIGHT, LINE_WIDTH
from tui.core.tf import import_tf

BLANK = 10
CLASSES = 11
MAX_DIGITS = 10  # the longest label a training batch carries (padded with -1)


def build_reader(widths: tuple[int, ...] = (32, 64, 96, 96, 128), rnn: int = 96, dropout: float = 0.25,
                 batch_size: int | None = None, seed: int | None = 0) -> Any:
    """The reader: (LINE_HEIGHT, LINE_WIDTH, 1) ink in, (LINE_WIDTH // 4, 11) probabilities out."""
    _, keras = import_tf()
    layers = keras.layers
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input((LINE_HEIGHT, LINE_WIDTH, 1), batch_size=batch_size, name="line")
    x = inputs
    # Halve both axes twice (32x160 -> 8x40), then only the height (-> 2x40): one column of
    # features every 4 pixels of width, enough frames for CTC's blanks between repeated digits.
    pools = [(2, 2), (2, 2), None, (2, 1), (2, 1)]
    for width, pool in zip(widths, pools):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if pool:
            x = layers.MaxPooling2D(pool)(x)
    x = layers.Permute((2, 1, 3))(x)  # (columns, rows, channels)
    x = layers.Reshape((LINE_WIDTH // 4, (LINE_HEIGHT // 16) * widths[-1]))(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Bidirectional(layers.LSTM(rnn, return_sequences=True))(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(CLASSES, activation="softmax", name="columns")(x)
    return keras.Model(inputs, outputs, name="number_reader")


def ctc_loss(y_true, y_pred):
    """CTC loss for padded labels (-1 after the last digit) against per-column probabilities."""
    tf, keras = import_tf()
    ops = keras.ops
    labels = ops.cast(y_true, "int32")
    label_length = ops.sum(ops.cast(labels >= 0, "int32"), axis=-1)
    labels = ops.where(labels >= 0, labels, 0)
    probs = ops.cast(y_pred, "float32")
    frames = ops.shape(probs)[1]
    logit_length = ops.full((ops.shape(probs)[0],), frames, dtype="int32")
    return tf.nn.ctc_loss(labels=labels, logits=ops.log(probs + 1e-7), label_length=label_length,
                          logit_length=logit_length, blank_index=BLANK, logits_time_major=False)

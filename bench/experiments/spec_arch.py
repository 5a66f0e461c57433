"""A conv stack written as tokens, registered as architecture ``spec`` for design exploration.

``c64k3`` conv 64 3x3 'same'; suffix ``s2`` stride 2, ``v`` 'valid', ``n`` no batch norm, ``+p``
max-pool between conv and batch norm; ``p`` max-pool; ``f`` flatten; ``g`` global average pool;
``d0.3`` dropout. A softmax dense layer ends every stack. Winners move to tui/core/model.py as
named architectures; this stays out of the engine.
"""
import re

from tui.core import model as model_lib

TOKEN = re.compile(r"c(\d+)k(\d+)(s\d+)?(v)?(n)?(\+p)?")


def build_spec(keras, cfg, norm=None):
    layers = keras.layers
    x = inputs = keras.Input(shape=model_lib.INPUT_SHAPE, name="image")
    for tok in cfg.extra["layers"]:
        m = TOKEN.fullmatch(tok)
        if m:
            f, k, s, valid, nobn, pool = m.groups()
            conv = dict(strides=int(s[1:]) if s else 1, padding="valid" if valid else "same")
            if nobn:
                x = layers.Conv2D(int(f), int(k), activation="relu", **conv)(x)
                x = layers.MaxPooling2D()(x) if pool else x
                continue
            x = layers.Conv2D(int(f), int(k), use_bias=False, **conv)(x)
            x = layers.MaxPooling2D()(x) if pool else x
            x = layers.ReLU()(layers.BatchNormalization()(x))
        elif tok == "p":
            x = layers.MaxPooling2D()(x)
        elif tok == "f":
            x = layers.Flatten()(x)
        elif tok == "g":
            x = layers.GlobalAveragePooling2D()(x)
        elif tok.startswith("d"):
            x = layers.Dropout(float(tok[1:]))(x)
        else:
            raise ValueError(f"bad layer token {tok!r}")
    outputs = layers.Dense(model_lib.NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="spec")


model_lib.ARCHITECTURES.setdefault("spec", build_spec)

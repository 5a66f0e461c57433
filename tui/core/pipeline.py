"""Input pipelines: uint8 MNIST arrays to batched float tensors, with cheap augmentation on each batch."""

from __future__ import annotations

import os

import numpy as np

from tui.core.config import TrainConfig
from tui.core.tf import import_tf


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or float [0, 1] images to float32 (N, 28, 28, 1) in [0, 1]."""
    x = np.asarray(images)
    x = x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")
    return x.reshape((-1, 28, 28, 1))


def train_dataset(x: np.ndarray, y: np.ndarray, cfg: TrainConfig, one_hot: bool = False, gate=None):
    """Shuffled, batched training data, augmented on each batch as ``cfg`` asks: continental 1s and 7s
    (``augment_glyphs``), rotation and zoom, thinner or heavier strokes, small-scan round trips, and
    random shifts of up to ``cfg.augment_shift`` pixels, and cutout (``augment_erase``).

    ``gate`` (from ``augmentation_gate``) is a variable read as each batch is made: at 0 the batches
    come as they are, without augmentation; ``extra.augment_clean_shift`` keeps the shifts then.
    """
    tf, _ = import_tf()
    glyphs = float(cfg.extra.get("augment_glyphs", 0.0))  # share of 1s flagged and 7s crossed
    columns = (x.reshape((-1, 28, 28, 1)), y.astype("int32"))
    if glyphs:
        from tui.core.glyphs import glyph_variants  # noqa: PLC0415

        columns += (glyph_variants(x.reshape((-1, 28, 28)), y, cfg.seed).reshape((-1, 28, 28, 1)),)
    # Shuffle indices and gather each batch, rather than shuffle image slices: the shuffle buffer
    # holds 54,000 integers instead of copies of the images, and a pass costs about half (0.16
    # against 0.29 s an epoch, measured without the augmentation).
    columns = tuple(tf.constant(c) for c in columns)
    ds = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=cfg.seed, reshuffle_each_iteration=True)
    ds = ds.batch(cfg.batch_size)
    shift = int(cfg.augment_shift)
    rotate = float(cfg.extra.get("augment_rotate", 0.0))  # degrees, either way
    zoom = float(cfg.extra.get("augment_zoom", 0.0))  # relative, either way
    stroke = float(cfg.extra.get("augment_stroke", 0.0))  # share of images thinned or thickened
    lowres = float(cfg.extra.get("augment_lowres", 0.0))  # share of images sent through a small scan
    keep_shift = bool(cfg.extra.get("augment_clean_shift", False))
    erase = float(cfg.extra.get("augment_erase", 0.0))  # share of images with a square set to paper
    erase_side = int(cfg.extra.get("augment_erase_side", 8))

    def prepare(images, labels, variants=None):
        # Without a gate the shares are plain numbers, so the graph (and its random streams) is the
        # one every recorded run used.
        on = None if gate is None else tf.cast(gate.read_value() > 0.5, tf.float32)

        def gated(share):
            return share if on is None else share * on

        if variants is not None:  # a continental 1 or 7 instead of the MNIST one, for a share of them
            images = tf.where(_pick(tf, tf.shape(images)[0], gated(glyphs)) > 0, variants, images)
        images = tf.cast(images, tf.float32) / 255.0
        if rotate or zoom:
            images = _rotate_zoom(tf, images, gated(rotate), gated(zoom))
        if stroke:
            images = _stroke_width(tf, images, gated(stroke))
        if lowres:
            images = _low_resolution(tf, images, gated(lowres))
        if shift:
            images = _shift(tf, images, shift, None if keep_shift else on)
        if erase:
            images = _erase(tf, images, gated(erase), erase_side)
        if one_hot:
            labels = tf.one_hot(labels, 10)
        return images, labels

    def gather_and_prepare(indices):
        return prepare(*(tf.gather(c, indices) for c in columns))

    return ds.map(gather_and_prepare, num_parallel_calls=_workers()).prefetch(2).with_options(_fixed_options(tf))


def _shift(tf, images, shift: int, on=None):
    """Move each image by its own random offset of up to ``shift`` pixels each way (zero fill);
    not at all while the tensor ``on`` is 0.

    The crop of the zero-padded batch at each image's offset, written as two batched products with
    one-hot row and column selectors: exact (one 1 per selector row), and on a 2-core CPU about a
    third cheaper than gathering the rows and columns (0.7 against 1.1 ms a 256-image batch).
    """
    n = tf.shape(images)[0]
    size = 28 + 2 * shift
    dx = tf.random.uniform([n], 0, 2 * shift + 1, dtype=tf.int32)
    dy = tf.random.uniform([n], 0, 2 * shift + 1, dtype=tf.int32)
    if on is not None:  # offset ``shift`` leaves an image where it is
        dx, dy = (tf.where(on > 0.5, d, shift) for d in (dx, dy))
    padded = tf.pad(images[..., 0], [[0, 0], [shift, shift], [shift, shift]])
    rows = tf.one_hot(dy[:, None] + tf.range(28)[None, :], size)  # (n, 28, size): output row -> padded row
    cols = tf.one_hot(dx[:, None] + tf.range(28)[None, :], size)
    return tf.matmul(tf.matmul(rows, padded), cols, transpose_b=True)[..., None]


def _erase(tf, images, share, side: int):
    """Cutout: a ``side`` x ``side`` square of a random ``share`` of the batch set to paper (0).

    Each square's centre is anywhere in the image and the square is clipped at the edges, so the
    net learns to read a digit from what is left of it. One outer product of a row and a column
    mask per image; no gather.
    """
    n = tf.shape(images)[0]
    top = tf.random.uniform([n], 0, 28, dtype=tf.int32) - side // 2
    left = tf.random.uniform([n], 0, 28, dtype=tf.int32) - side // 2
    at = tf.range(28)[None, :]
    rows = tf.cast((at >= top[:, None]) & (at < top[:, None] + side), tf.float32)  # (n, 28)
    cols = tf.cast((at >= left[:, None]) & (at < left[:, None] + side), tf.float32)
    chosen = tf.cast(tf.random.uniform([n]) < share, tf.float32)
    square = rows[:, :, None] * cols[:, None, :] * chosen[:, None, None]  # (n, 28, 28)
    return images * (1.0 - square[..., None])


def augmentation_gate(cfg: TrainConfig):
    """``(gate, callbacks)`` for runs whose last ``extra.augment_clean_epochs`` epochs train on the
    images as they are (the augmentations switched off, the shifts too unless
    ``extra.augment_clean_shift``), or ``(None, [])``. Pass the gate to ``train_dataset`` and the
    callbacks to ``fit``: one closes the gate as each of those epochs begins, before Keras makes the
    epoch's batches (a resumed run too, since it goes by the epoch's number)."""
    clean = int(cfg.extra.get("augment_clean_epochs", 0))
    if clean <= 0:
        return None, []
    tf, keras = import_tf()
    gate = tf.Variable(1.0, trainable=False, dtype=tf.float32)
    first_clean = max(0, cfg.epochs - clean)

    class CleanFinalEpochs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            gate.assign(0.0 if epoch >= first_clean else 1.0)

    return gate, [CleanFinalEpochs()]


def _rotate_zoom(tf, images, degrees: float, zoom: float):
    """Rotate each image by up to ``degrees`` and scale it by up to ``zoom`` about its centre.

    One bilinear resampling pass (ImageProjectiveTransformV3) on the batch in the input
    pipeline, so the model graph keeps only standard layers and costs nothing extra to run.
    """
    n = tf.shape(images)[0]
    theta = tf.random.uniform([n], -degrees, degrees) * (3.141592653589793 / 180.0)
    scale = tf.random.uniform([n], 1.0 - zoom, 1.0 + zoom)
    # The transform maps output pixel (x, y) to the input pixel it samples from.
    cos, sin = tf.cos(theta) / scale, tf.sin(theta) / scale
    c = 13.5
    zeros = tf.zeros([n])
    transforms = tf.stack(
        [cos, -sin, c - cos * c + sin * c, sin, cos, c - sin * c - cos * c, zeros, zeros], axis=1
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.constant([28, 28]),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="CONSTANT",
    )


def _pick(tf, n, share: float):
    """A (n, 1, 1, 1) mask choosing a random ``share`` of the batch."""
    return tf.cast(tf.random.uniform([n, 1, 1, 1]) < share, tf.float32)


def _on_share(tf, images, share: float, change):
    """``images`` with ``change`` applied to a random ``share`` of them, and only to those: the
    chosen images are gathered, changed and scattered back, so a transform meant for a fifth of
    the batch costs a fifth of one on the whole batch."""
    chosen = tf.where(tf.random.uniform([tf.shape(images)[0]]) < share)
    return tf.tensor_scatter_nd_update(images, chosen, change(tf.gather_nd(images, chosen)))


def _stroke_width(tf, images, share: float):
    """Thin (grey erosion) or thicken (grey dilation) the strokes of a random ``share`` of the batch,
    half each, with a 2x2 window: pens from a fine liner to a marker, as people's own images have.
    """

    def change(some):
        # Pooled with the images as channels, (1, 28, 28, n): the CPU kernels vectorise over
        # channels, and a stack of 1-channel images is their slowest case (same result, a third less time).
        planes = tf.transpose(some, [3, 1, 2, 0])
        thick = tf.transpose(tf.nn.max_pool2d(planes, 2, 1, "SAME"), [3, 1, 2, 0])
        thin = tf.transpose(-tf.nn.max_pool2d(-planes, 2, 1, "SAME"), [3, 1, 2, 0])
        return tf.where(_pick(tf, tf.shape(some)[0], 0.5) > 0, thick, thin)

    return _on_share(tf, images, share, change)


def _low_resolution(tf, images, share: float):
    """A random ``share`` of the batch through a small scan: down to 12-20 px (area; one size per
    batch, drawn afresh for each) and back up to 28 (bilinear), as a blurry 16x16 crop arrives."""

    def change(some):
        side = tf.random.uniform([], 12, 21, dtype=tf.int32)
        small = tf.image.resize(some, tf.stack([side, side]), method="area")
        return tf.image.resize(small, [28, 28], method="bilinear")

    return _on_share(tf, images, share, change)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 512, one_hot: bool = False):
    tf, _ = import_tf()
    labels = np.eye(10, dtype="float32")[y] if one_hot else y.astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((to_model_input(x), labels)).batch(batch_size).prefetch(2)
    return ds.with_options(_fixed_options(tf))


def _workers() -> int:
    """Threads for the augmentation map: one per core, up to eight (a batch of MNIST is small; a
    GPU machine's many cores keep its faster steps fed)."""
    return max(1, min(8, os.cpu_count() or 1))


def _fixed_options(tf):
    """tf.data options with autotuning off.

    Destroying an iterator waits for its autotuning thread, which sleeps for up to a minute
    between rounds, and Keras drops an iterator at every epoch's start: measured here, training
    stood still for 5-26 s at one epoch in two. Fixed parallelism and a prefetch of two batches
    keep the two cores busy all the same (BENCHMARKS.md, issue 13).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options

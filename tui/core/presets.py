"""Named training presets. ``classic`` is the Keras MNIST example; the others are tuned here."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # The classic Keras MNIST convnet: conv32-pool-conv64-pool-flatten-dropout 0.5-dense 10,
    # Adam, batch 128, 15 epochs, validation split 0.1.
    "classic": dict(arch="classic", epochs=15, batch_size=128, learning_rate=1e-3, validation_split=0.1),
    # Placeholders until the performance issue tunes them (see BENCHMARKS.md).
    "fast": dict(arch="classic", epochs=3, batch_size=128, learning_rate=2e-3, lr_schedule="cosine"),
    "default": dict(arch="classic", epochs=15, batch_size=128, learning_rate=1e-3, augment_shift=2,
                    lr_schedule="cosine"),
    "best": dict(arch="classic", epochs=30, batch_size=128, learning_rate=1e-3, augment_shift=2,
                 lr_schedule="cosine"),
}

DEFAULT_PRESET = "default"

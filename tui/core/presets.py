"""Named training presets. ``classic`` is the Keras MNIST example; the others are tuned here.

The tuned presets share one design (``compact`` in tui/core/model.py: three conv layers with
batch norm, none at full resolution) trained with a one-cycle learning rate, random shifts,
label smoothing and an exponential moving average of the weights. They were chosen on the
validation split only; BENCHMARKS.md has the measurements and what did not help.
"""

from __future__ import annotations

from typing import Any

_TUNED = dict(arch="compact", batch_size=128, lr_schedule="onecycle", label_smoothing=0.1, ema=True)

PRESETS: dict[str, dict[str, Any]] = {
    # The classic Keras MNIST convnet: conv32-pool-conv64-pool-flatten-dropout 0.5-dense 10,
    # Adam, batch 128, 15 epochs, validation split 0.1.
    "classic": dict(arch="classic", epochs=15, batch_size=128, learning_rate=1e-3, validation_split=0.1),
    # Two epochs at a high peak rate: about 99.2% validation accuracy in a tenth of classic's time.
    # Batches of 256 at twice the peak rate, in mixed bfloat16 where the CPU multiplies it natively
    # (float32 elsewhere): within 0.04 points of batch 128 in float32 on a 10,000-image validation
    # split (99.18 against 99.22 %, three seeds) for about two thirds of the time (BENCHMARKS.md,
    # issue 13 round 6).
    "fast": dict(_TUNED, epochs=2, batch_size=256, learning_rate=8e-3, augment_shift=1, precision="auto"),
    # Fourteen epochs of the compact net (its last conv 160 wide) in batches of 256, in mixed
    # bfloat16 where the CPU has it natively (float32 elsewhere): 0.7-0.8x classic's training
    # time on the 2-core machine it was measured on. One-cycle to a peak of 6e-3 with AdamW weight
    # decay 0.05: on 10,000-image validation splits +0.055 points over peak 4e-3 without decay and
    # the last conv 128 wide, ahead on each of six paired seeds (three of them fresh), for a step
    # about 7 % dearer (BENCHMARKS.md, issue 13 rounds 7-8). Dropout 0.3, decay 0.1, label
    # smoothing 0.05, peak 8e-3, batch 512 and 16-20 epochs validated no better.
    # A third of the images get thinner or heavier strokes and a fifth go through a 12-20 px scan:
    # people's own pens and small crops. Same validation accuracy, and on the real development set
    # 8 and 8 misses for two seeds against 12 and 14 without (elastic distortion did worse: 19, 19).
    # Three in ten 1s carry a flag (some a foot too) and three in ten 7s a crossbar, as much of the
    # world writes them (tui/core/glyphs.py): 9 of 10 models without read a flagged 1 as 7.
    "default": dict(_TUNED, epochs=14, batch_size=256, learning_rate=6e-3, weight_decay=0.05, augment_shift=2,
                    precision="auto",
                    extra={"widths": [32, 64, 160], "augment_stroke": 0.3, "augment_lowres": 0.2,
                           "augment_glyphs": 0.3}),
    # A deeper (two convs in each of the first two stages) and twice as wide version of the same
    # net, trained longer, with small random rotations and zooms as well as shifts. (Forty epochs
    # in mixed bfloat16 batches of 256 with weight decay validated one image worse over three
    # seeds and was not adopted: BENCHMARKS.md, issue 13 round 9.)
    "best": dict(_TUNED, epochs=30, learning_rate=3e-3, augment_shift=2,
                 extra={"widths": [64, 128, 256], "dropout": 0.4, "double": True,
                        "augment_rotate": 10, "augment_zoom": 0.1}),
    # best's net trained on default's real-handwriting augmentations (strokes, small scans, flagged
    # 1s and crossed 7s) and no rotation or zoom: the shipped model. On the real development set,
    # three runs missed 4, 6 and 4 of 603 against 7 for default and 11 for best with rotation/zoom
    # and the same augmentations; narrower copies did worse (48/96/192: 8, 32/64/128: 9). It costs
    # about 6x default's compute per image (BENCHMARKS.md, issue 10 rounds 6-7).
    "robust": dict(_TUNED, epochs=30, learning_rate=3e-3, augment_shift=2,
                   extra={"widths": [64, 128, 256], "dropout": 0.4, "double": True,
                          "augment_stroke": 0.3, "augment_lowres": 0.2, "augment_glyphs": 0.3}),
    # The number reader (tui/core/reader_model.py): a line of digits read whole by a small CNN, a
    # bidirectional LSTM and CTC, trained on synthetic numbers from MNIST training digits plus the
    # real labelled lines named by $DIGITREC_NUMBERS_TRAIN, if any. Its output is
    # models/number_reader.h5; validation is whole numbers read right on held-out real lines.
    # (Two more epochs on the real lines alone, extra.real_finish_epochs, read 87.6 % of the
    # development set against 87.2 % but real single digits 95.7 % against 96.5 %: not adopted.)
    "reader": dict(arch="reader", epochs=8, batch_size=128, learning_rate=2e-3, validation_split=0.1,
                   extra={"synthetic": 32000, "real_repeats": 28}),
}

DEFAULT_PRESET = "default"

# Below its model's threshold a best guess is called uncertain (tui/core/inference.py). Each is
# chosen by one rule on the 2,400 failure-class and style images rendered from MNIST *validation*
# digits (robust_trial.py, bench/calibrate.py): the highest threshold that flags at most 3 % of the
# correct answers there. `robust`'s is for calibrated probabilities (tui/core/calibration.py): 0.99,
# in steps of 0.01, flags 2.6 % there, the same answers 0.80 flagged before calibration (BENCHMARKS.md,
# Calibration). 0.65, for the compact `default` net, was chosen in steps of 0.05 on its probabilities
# before calibration and has not been re-derived for calibrated ones.
CONFIDENCE_THRESHOLDS: dict[str, float] = {"robust": 0.99}

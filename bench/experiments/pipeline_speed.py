"""CPU seconds the input pipeline alone spends per epoch (shift augmentation on vs off)."""
import time

from tui.core import pipeline
from tui.core.config import TrainConfig
from tui.core.data import load_mnist
from tui.core.tf import import_tf

tf, _ = import_tf()
m = load_mnist("/work/shared/data/mnist.npz")
for shift in (0, 2):
    for bs in (128, 256):
        ds = pipeline.train_dataset(m.x_train[:54000], m.y_train[:54000], TrainConfig(augment_shift=shift, batch_size=bs))
        t, c = time.perf_counter(), time.process_time()
        for _ in ds:
            pass
        print(f"shift {shift} bs {bs}: wall {time.perf_counter() - t:.2f}s cpu {time.process_time() - c:.2f}s per epoch")

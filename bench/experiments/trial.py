"""One training trial on real MNIST, judged on the validation split only (never the test set).

Usage: trial.py '{"arch": "bn_pool", "epochs": 8, ...}' [label]
Prints per-epoch seconds and validation accuracy; appends a JSON line to bench/results/trials.jsonl.
With DIGITREC_TRIAL_SAVE=DIR the kept (float32) model is saved as DIR/<label>.h5, e.g. for
``robust_trial.py '{}' LABEL --model DIR/LABEL.h5`` on the real development set.
"""
import json
import os
import resource
import sys
import time
from pathlib import Path

from tui.core.config import TrainConfig
from tui.core.data import load_mnist, split_validation
from tui.core import model as model_lib, pipeline
from tui.core.tf import import_tf
import spec_arch  # noqa: F401 - registers the "spec" architecture

overrides = json.loads(sys.argv[1])
label = sys.argv[2] if len(sys.argv) > 2 else ""
cfg = TrainConfig(preset="trial", **overrides)
cfg.validate()
tf, keras = import_tf()
mnist = load_mnist(os.environ.get("DIGITREC_MNIST", "/work/shared/data/mnist.npz"))
x, y = mnist.x_train, mnist.y_train
if cfg.train_subset:
    x, y = x[: cfg.train_subset], y[: cfg.train_subset]
(x_tr, y_tr), (x_val, y_val) = split_validation(x, y, cfg.validation_split, cfg.seed)
steps = -(-len(x_tr) // cfg.batch_size)
one_hot = model_lib.uses_one_hot(cfg)
precision = model_lib.training_precision(cfg)  # as digitrec train: mixed bfloat16 where native
with model_lib.dtype_policy(precision):
    model = model_lib.build_model(cfg, for_training=True)
model_lib.compile_model(model, cfg, steps)


class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(f"  ep {epoch + 1:2d} {time.perf_counter() - self.t:5.1f}s loss {logs['loss']:.4f} "
              f"val_acc {logs['val_accuracy']:.4f} val_loss {logs['val_loss']:.4f}", flush=True)


t0 = time.perf_counter()
gate, schedule = pipeline.augmentation_gate(cfg)  # clean final epochs, where cfg asks for them
hist = model.fit(pipeline.train_dataset(x_tr, y_tr, cfg, one_hot, gate=gate), epochs=cfg.epochs,
                 validation_data=pipeline.eval_dataset(x_val, y_val, one_hot=one_hot),
                 callbacks=[Timer(), *schedule], verbose=0)
train_s = time.perf_counter() - t0
# With EMA, fit swaps the averaged weights in at the end: re-evaluate validation on what is kept,
# in float32, as the model is saved.
model = model_lib.compile_model(model_lib.plain_twin(model, cfg), cfg, steps)
recalibrate = model_lib.recalibration_size(cfg, cfg.epochs * steps)  # batch-norm statistics, as digitrec train
if recalibrate:
    model_lib.recalibrate_batch_norm(model, pipeline.to_model_input(x_tr[:recalibrate]))
val_loss, val_acc = model.evaluate(pipeline.eval_dataset(x_val, y_val, one_hot=one_hot), verbose=0)
if os.environ.get("DIGITREC_TRIAL_SAVE"):
    from tui.core.modelfile import save_model
    save_model(model, Path(os.environ["DIGITREC_TRIAL_SAVE"]) / f"{label or 'trial'}.h5", {"preset": "trial", "trial": label})
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
row = dict(label=label, cfg=overrides, precision=precision, val_size=len(x_val), train_s=round(train_s, 1), final_val_acc=round(val_acc, 5),
           val_loss=round(val_loss, 5), params=model.count_params(), rss_mb=round(rss_mb),
           time=time.strftime("%Y-%m-%d %H:%M:%S"))
print(json.dumps(row), flush=True)
Path("bench/results").mkdir(parents=True, exist_ok=True)
with open("bench/results/trials.jsonl", "a") as fh:
    fh.write(json.dumps(row) + "\n")

"""Training throughput of architectures from tui.core.model on this CPU, relative to classic.

Usage: arch_speed.py 'bn_stride' 'bn_stride:{"widths":[32,48,96]}' ... [--bs 128]
Each is timed on random data (no accuracy), interleaved with classic so contention shows as ratio noise.
"""
import argparse
import json
import time

import numpy as np

from tui.core import model as model_lib
from tui.core.config import TrainConfig
from tui.core.tf import import_tf
import spec_arch  # noqa: F401 - registers the "spec" architecture

ap = argparse.ArgumentParser()
ap.add_argument("specs", nargs="+")
ap.add_argument("--bs", type=int, default=128)
ap.add_argument("--images", type=int, default=8000)
ap.add_argument("--threads", type=int, default=0, help="intra-op threads (1 makes CPU time a stable cost measure)")
ap.add_argument("--policy", default="", help="e.g. mixed_bfloat16 for the candidate (classic stays float32)")
args = ap.parse_args()
tf, keras = import_tf()
if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
rng = np.random.default_rng(0)
bs = args.bs
x = rng.random((bs * 40, 28, 28, 1), dtype=np.float32)
y = rng.integers(0, 10, bs * 40).astype("int32")
ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(bs).cache().repeat()


def speed(spec):
    arch, _, extra = spec.partition(":")
    cfg = TrainConfig(arch=arch, batch_size=bs, extra=json.loads(extra) if extra else {})
    keras.mixed_precision.set_global_policy(args.policy if args.policy and arch != "classic" else "float32")
    m = model_lib.build_model(cfg)
    model_lib.compile_model(m, cfg, 100)
    m.fit(ds, steps_per_epoch=5, epochs=1, verbose=0)
    steps = max(10, args.images // bs)
    t, c = time.perf_counter(), time.process_time()
    m.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    n = steps * bs
    return n / (time.perf_counter() - t), n / (time.process_time() - c), m.count_params()


for spec in args.specs:
    ref, cref, _ = speed("classic")
    ips, cips, params = speed(spec)
    ref2, cref2, _ = speed("classic")
    r, cr = (ref + ref2) / 2, (cref + cref2) / 2
    print(f"{spec:50s} bs={bs} params={params:7d} {ips:6.0f} img/s  x classic: wall {r / ips:4.2f} "
          f"cpu {cr / cips:4.2f}  (classic {54000 / r:.1f}s/epoch, cpu {54000 / cr:.1f}s)", flush=True)

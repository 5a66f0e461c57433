"""Issue 15 figures: explaining a prediction, teaching the model a style of 7, reading plain words.

- explain: time for one occlusion map against one prediction of the same input, same model, same
  process (a ratio, so the machine's load cancels out);
- teach: a real fine-tune of a copy of the shipped model on constructed looped 7s (which it reads
  as 9s), default settings: held-out accuracy and MNIST test accuracy before and after, seconds;
- plain words: mean time to interpret a request, over the test table.

    DIGITREC_MNIST=/path/to/mnist.npz .venv/bin/python bench/teach_explain.py [--sevens 24]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def time_explain(model: Path, images: int = 20) -> dict:
    from tui.core.data import load_mnist
    from tui.core.explain import explain_input
    from tui.core.inference import Predictor

    predictor = Predictor(model)
    x = load_mnist().x_test[:images].astype(np.float32) / 255
    predictor.predict_arrays(x[:1])
    explain_input(predictor, x[0])  # warm both paths up
    one, full = [], []
    for image in x:
        start = time.perf_counter()
        predictor.predict_arrays(image[None])
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        explain_input(predictor, image)
        full.append(time.perf_counter() - start)
    return {"images": images, "predict_ms": round(1000 * statistics.median(one), 2),
            "explain_ms": round(1000 * statistics.median(full), 1),
            "ratio": round(statistics.median(full) / statistics.median(one), 1)}


def teach(model: Path, sevens: int) -> dict:
    from tui.core.finetune import FinetuneSettings, run_finetune
    from tui.core.synth import looped_seven

    work = Path(tempfile.mkdtemp(prefix="digitrec-teach-"))
    try:
        os.environ["DIGITREC_RUNS"] = str(work / "runs")
        folder = work / "my_digits"
        folder.mkdir()
        rng = np.random.default_rng(1)
        for i in range(sevens):
            looped_seven(rng).save(folder / f"7_loop_{i:02d}.png")
        base = work / "digit_recognizer.h5"
        shutil.copy(model, base)
        events: list[dict] = []
        start = time.perf_counter()
        run_finetune(FinetuneSettings(folder=str(folder), base_model=str(base)), base, reporter=events.append)
        done = events[-1]
        return {"sevens": sevens, "held_out": done.get("held_out"), "held_out_before": done.get("held_out_before"),
                "held_out_after": done.get("held_out_after"), "mnist_before": done.get("test_accuracy_before"),
                "mnist_after": done.get("test_accuracy"), "kept": not done.get("refused"),
                "seconds": round(time.perf_counter() - start, 1), "status": done.get("type"),
                "reason": done.get("reason")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def time_intent() -> dict:
    from test_intent import MODELS, PHRASINGS

    from tui.core.intent import interpret

    start = time.perf_counter()
    rounds = 200
    for _ in range(rounds):
        for text, _ in PHRASINGS:
            interpret(text, MODELS)
    per = (time.perf_counter() - start) / (rounds * len(PHRASINGS))
    return {"phrasings": len(PHRASINGS), "mean_us": round(per * 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "digit_recognizer.h5"))
    parser.add_argument("--sevens", type=int, default=24)
    args = parser.parse_args()
    results = {"explain": time_explain(Path(args.model)), "intent": time_intent(),
               "teach": teach(Path(args.model), args.sevens)}
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results" / "teach_explain.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

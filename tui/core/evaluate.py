"""Test-set evaluation: accuracy, loss, per-class precision and recall, confusion, worst mistakes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tui.core.data import load_mnist
from tui.core.errors import DigitrecError


class EvaluationCancelled(DigitrecError):
    """The caller asked an evaluation to stop (``cancelled``) before it reached the end."""


@dataclass
class Mistake:
    index: int  # position in the MNIST test set
    true: int
    predicted: int
    confidence: float
    probabilities: list[float]
    image28: np.ndarray  # float [0, 1], white on black


@dataclass
class EvalReport:
    model_path: str
    n: int
    accuracy: float
    loss: float
    per_class: list[dict[str, Any]]
    confusion: list[list[int]]
    mistakes: list[Mistake] = field(default_factory=list)
    runtime: str = ""  # which runtime computed the probabilities: LiteRT or TensorFlow

    def to_json(self, mistakes: int = 10) -> dict[str, Any]:
        return {
            "model": self.model_path,
            "runtime": self.runtime,
            "n": self.n,
            "accuracy": round(self.accuracy, 6),
            "loss": round(self.loss, 6),
            "errors": self.n - int(round(self.accuracy * self.n)),
            "per_class": self.per_class,
            "confusion": self.confusion,
            "worst": [
                {"index": m.index, "true": m.true, "predicted": m.predicted, "confidence": round(m.confidence, 6)}
                for m in self.mistakes[:mistakes]
            ],
        }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """Rows are true classes, columns predicted ones."""
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (y_true.astype(int), y_pred.astype(int)), 1)
    return m


def per_class_stats(confusion: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for d in range(confusion.shape[0]):
        tp = int(confusion[d, d])
        support = int(confusion[d].sum())
        predicted = int(confusion[:, d].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"digit": d, "precision": round(precision, 6), "recall": round(recall, 6),
                     "f1": round(f1, 6), "support": support})
    return rows


def report_from_probabilities(model_path: str, probs: np.ndarray, y: np.ndarray, images: np.ndarray,
                              keep_mistakes: int = 100) -> EvalReport:
    """Build the report from predicted probabilities; pure numpy, so it is easy to test."""
    pred = probs.argmax(axis=1)
    eps = 1e-7
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y.astype(int)], eps, 1.0))))
    cm = confusion_matrix(y, pred)
    wrong = np.flatnonzero(pred != y)
    # Worst first: the mistakes the model was most sure about.
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:keep_mistakes]
    mistakes = [
        Mistake(index=int(i), true=int(y[i]), predicted=int(pred[i]), confidence=float(probs[i, pred[i]]),
                probabilities=[float(p) for p in probs[i]], image28=images[i].astype("float32") / 255.0)
        for i in wrong
    ]
    return EvalReport(
        model_path=model_path, n=len(y), accuracy=float(np.mean(pred == y)) if len(y) else 0.0, loss=loss,
        per_class=per_class_stats(cm), confusion=cm.tolist(), mistakes=mistakes,
    )


def evaluate(model_path: str | os.PathLike | None = None, data_path: str | None = None,
             progress: Callable[[int, int], None] | None = None, limit: int | None = None,
             predictor=None, chunk: int = 1000, runtime: str | None = None,
             notify: Callable[[str], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> EvalReport:
    """Evaluate a model on the MNIST test set; ``progress(done, total)`` after each chunk.

    ``cancelled()`` is asked before each chunk; once it is true, :class:`EvaluationCancelled` is raised.

    ``runtime`` and ``notify`` are the :class:`Predictor`'s: LiteRT unless ``tensorflow`` is asked for.
    """
    from tui.core.inference import Predictor  # noqa: PLC0415

    mnist = load_mnist(data_path)
    predictor = predictor or Predictor(model_path, runtime=runtime, notify=notify)
    x, y = mnist.x_test, mnist.y_test
    if limit:
        x, y = x[:limit], y[:limit]
    parts = []
    for start in range(0, len(x), chunk):
        if cancelled is not None and cancelled():
            raise EvaluationCancelled("the evaluation was stopped before the end")
        parts.append(predictor.predict_arrays(x[start : start + chunk]))
        if progress:
            progress(min(start + chunk, len(x)), len(x))
    probs = np.concatenate(parts) if parts else np.zeros((0, 10))
    report = report_from_probabilities(str(predictor.model_path), probs, y, x)
    report.runtime = getattr(predictor, "runtime", "")
    return report


def cross_check(model_path: str | os.PathLike | None = None, data_path: str | None = None,
                runtime: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """How far the chosen runtime's probabilities are from the Keras model's in TensorFlow, on the test set."""
    from tui.core.inference import Predictor  # noqa: PLC0415

    mnist = load_mnist(data_path)
    x = mnist.x_test[:limit] if limit else mnist.x_test
    first = Predictor(model_path, runtime=runtime)
    reference = first if first.runtime == "TensorFlow" else Predictor(model_path, runtime="tensorflow")
    other = Predictor(model_path, runtime="litert") if first is reference else first
    a, b = other.predict_arrays(x), reference.predict_arrays(x)
    return {"runtime": other.runtime, "other": reference.runtime, "n": len(x),
            "max_abs_difference": float(np.max(np.abs(a - b))) if len(x) else 0.0,
            "digits_differ": int(np.sum(a.argmax(axis=1) != b.argmax(axis=1)))}

"""Confidence calibration: one temperature, fitted on held-out data, that makes a shown 90 % mean
right about 90 % of the time.

Label smoothing trains a model never to be sure (its softmax tops out near 0.91), so its raw
probabilities understate how often it is right. Dividing the log-probabilities by one temperature
T and taking the softmax again (``T < 1`` sharpens, ``T > 1`` softens) fixes the scale without
changing any answer: the order of the ten probabilities, and so the argmax, stays the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The search range for T: far wider than any fit seen (0.2-0.4 for label-smoothed models), narrow
# enough that a degenerate held-out set (all right, all one class) cannot drive it to 0 or infinity.
BOUNDS = (0.05, 20.0)
_FLOOR = 1e-12  # log(0) guard: a probability the engine rounds to 0 is taken as 1e-12


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)`` row by row; ``probs`` itself when the temperature is 1."""
    probs = np.asarray(probs)
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs.astype(np.float64), _FLOOR, None)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return (out / out.sum(axis=-1, keepdims=True)).astype(probs.dtype if probs.dtype.kind == "f" else np.float32)


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` under
    ``apply_temperature(probs, T)``: a bounded 1-D search over log T (scipy's Brent method)."""
    from scipy.optimize import minimize_scalar  # noqa: PLC0415 - only training and calibration need scipy

    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), _FLOOR, None))
    labels = np.asarray(labels, dtype=np.int64)

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), labels]))

    found = minimize_scalar(nll, bounds=np.log(BOUNDS), method="bounded", options={"xatol": 1e-4})
    return round(float(np.exp(found.x)), 4)


def model_temperature(metadata: dict[str, Any]) -> float:
    """The temperature a model's metadata stores, or 1 (raw probabilities) for a model without one."""
    value = metadata.get("temperature")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and BOUNDS[0] <= value <= BOUNDS[1]:
        return float(value)
    return 1.0


def reliability_table(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins of shown confidence (the top probability): count, mean confidence, accuracy."""
    conf, right = np.asarray(probs).max(1), np.asarray(probs).argmax(1) == np.asarray(labels)
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            rows.append({"low": float(lo), "high": float(hi), "count": int(inside.sum()),
                         "confidence": float(conf[inside].mean()), "accuracy": float(right[inside].mean())})
    return rows


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the bin's share."""
    rows = reliability_table(probs, labels, bins)
    total = sum(r["count"] for r in rows)
    return float(sum(r["count"] / total * abs(r["accuracy"] - r["confidence"]) for r in rows)) if total else 0.0

"""Decoding the number reader's output: per-column probabilities over ten digits and a blank.

Pure numpy, no TensorFlow: the reader runs on LiteRT and its output is decoded here.

* :func:`greedy_decode` takes the likeliest symbol in each column, merges repeats and drops
  blanks (CTC's best path). Each digit keeps the columns it came from, its probability (the
  highest it reaches there) and its ten-way distribution at that column.
* :func:`sequence_probability` is CTC's forward algorithm: the probability of a whole digit string
  summed over every way of laying it out over the columns. For the decoded string it is the
  whole-number confidence, which says how likely the number is right as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BLANK = 10


@dataclass
class DigitRead:
    """One digit of a decoded number: which columns (start, end exclusive) it was read from."""

    digit: int
    confidence: float
    probabilities: list[float]
    columns: tuple[int, int]


@dataclass
class Decoded:
    """A decoded number: its digit string, its digits, and the string's probability."""

    digits: list[DigitRead] = field(default_factory=list)
    probability: float = 0.0

    @property
    def text(self) -> str:
        return "".join(str(d.digit) for d in self.digits)


def greedy_decode(probs: np.ndarray) -> Decoded:
    """Best-path decoding of (T, 11) column probabilities (blank last)."""
    probs = np.asarray(probs, dtype=np.float64)
    best = probs.argmax(axis=1)
    digits: list[DigitRead] = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        symbol = int(best[start])
        if symbol != BLANK:
            peak = start + int(np.argmax(probs[start:t, symbol]))
            ten = probs[peak, :BLANK] / max(probs[peak, :BLANK].sum(), 1e-12)
            digits.append(DigitRead(symbol, float(probs[peak, symbol]), [float(p) for p in ten], (start, t)))
        start = t
    decoded = Decoded(digits)
    decoded.probability = sequence_probability(probs, [d.digit for d in digits])
    return decoded


def sequence_probability(probs: np.ndarray, label: list[int]) -> float:
    """P(label | columns) under CTC: the sum over all alignments, by the forward algorithm
    (rescaled each column, so long lines do not underflow)."""
    probs = np.asarray(probs, dtype=np.float64)
    frames = len(probs)
    ext = [BLANK]
    for d in label:
        ext += [int(d), BLANK]
    states = len(ext)
    if frames == 0:
        return 1.0 if not label else 0.0
    alpha = np.zeros(states)
    alpha[0] = probs[0, BLANK]
    if states > 1:
        alpha[1] = probs[0, ext[1]]
    log_scale = 0.0
    # A state may come from itself, the one before, or (a digit differing from the one two back)
    # skip the blank between them.
    skip = np.array([s >= 2 and ext[s] != BLANK and ext[s] != ext[s - 2] for s in range(states)])
    emit_index = np.array(ext)
    for t in range(1, frames):
        total = alpha.sum()
        if total <= 0:
            return 0.0
        alpha = alpha / total
        log_scale += np.log(total)
        prev = alpha.copy()
        new = prev.copy()
        new[1:] += prev[:-1]
        new[2:] += np.where(skip[2:], prev[:-2], 0.0)
        alpha = new * probs[t, emit_index]
    end = alpha[-1] + (alpha[-2] if states > 1 else 0.0)
    if end <= 0:
        return 0.0
    return float(np.exp(np.log(end) + log_scale))


def beam_decode(probs: np.ndarray, width: int = 8) -> Decoded:
    """CTC prefix beam search over (T, 11) column probabilities: the likeliest digit string summed
    over its alignments, which best-path decoding can miss when a digit's probability is spread over
    several columns; the best path's string is kept where pruning left a less likely one. The
    digits keep their columns from the best path when the two strings agree;
    otherwise each digit is placed at the column where it is likeliest after the one before."""
    probs = np.asarray(probs, dtype=np.float64)
    # prefix -> (P(prefix, ending in blank), P(prefix, ending in its last digit))
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (1.0, 0.0)}
    for t in range(len(probs)):
        p = probs[t]
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix, blank=0.0, digit=0.0):
            entry = nxt.setdefault(prefix, [0.0, 0.0])
            entry[0] += blank
            entry[1] += digit

        candidates = [d for d in range(BLANK) if p[d] > 1e-4]
        for prefix, (pb, pd) in beams.items():
            total = pb + pd
            add(prefix, blank=total * p[BLANK])
            if prefix:
                add(prefix, digit=pd * p[prefix[-1]])  # the last digit goes on
            for d in candidates:
                if prefix and d == prefix[-1]:
                    add(prefix + (d,), digit=pb * p[d])  # a repeat needs a blank between
                else:
                    add(prefix + (d,), digit=total * p[d])
        ranked = sorted(nxt.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:width]
        scale = sum(b + d for _, (b, d) in ranked) or 1.0
        beams = {k: (b / scale, d / scale) for k, (b, d) in ranked}
    best = max(beams, key=lambda k: beams[k][0] + beams[k][1])
    greedy = greedy_decode(probs)
    if [d.digit for d in greedy.digits] == list(best):
        return greedy
    probability = sequence_probability(probs, list(best))
    if probability <= greedy.probability:  # pruning lost the better string: the best path stands
        return greedy
    digits, column = [], 0
    for d in best:
        if column >= len(probs):
            column = len(probs) - 1
        peak = column + int(np.argmax(probs[column:, d]))
        ten = probs[peak, :BLANK] / max(probs[peak, :BLANK].sum(), 1e-12)
        digits.append(DigitRead(int(d), float(probs[peak, d]), [float(x) for x in ten], (peak, peak + 1)))
        column = peak + 1
    return Decoded(digits, probability)


def consensus_decode(columns: list[np.ndarray], width: int = 8) -> tuple[Decoded, int]:
    """One number from several readings of the same line (the line at a few widths): each reading
    proposes its beam-search answer, and the answer with the highest probability averaged over
    all readings wins. Returns it, decoded in the reading that likes it best, and that reading's index."""
    proposals = {}
    for i, probs in enumerate(columns):
        decoded = beam_decode(probs, width)
        proposals.setdefault(decoded.text, (i, decoded))
    best_text, best_score, best = "", -1.0, (0, None)
    for text, (i, decoded) in proposals.items():
        label = [int(c) for c in text]
        scores = [sequence_probability(p, label) for p in columns]
        score = float(np.mean(scores))
        if score > best_score:
            where = int(np.argmax(scores))
            best_text, best_score, best = text, score, (where, decoded if where == i else None)
    where, decoded = best
    if decoded is None:
        decoded = beam_decode(columns[where], width)
        if decoded.text != best_text:  # the answer is another reading's: lay it on this one's best path
            decoded = proposals[best_text][1]
            where = proposals[best_text][0]
    decoded = Decoded(decoded.digits, best_score)
    return decoded, where

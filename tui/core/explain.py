"""Why a digit was read as it was: occlusion sensitivity over the 28x28 input the model saw.

A blank square is slid over the input; for each place the model predicts the occluded copy. Where
hiding the square lowers the predicted class most is the evidence *for* the answer; where it raises
the runner-up most is what rules the runner-up out (what tells the two apart). Only forward passes through
``Predictor.predict_arrays``, so it works on whichever runtime predicts. Pure numpy otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tui.core.render import ascii_digit

PATCH = 6  # side of the hidden square, in input pixels: about a stroke's length of a digit
STRIDE = 2
# A cell is marked when its effect is at least this share of the strongest effect in the map ...
MARK_SHARE = 0.4
# ... and at least this much in log-odds (a factor of about 1.6 in the odds): smaller is noise.
MIN_EFFECT = 0.5
SUPPORT, AGAINST = "S", "A"
REGIONS = (("top", "middle", "bottom"), ("left", "centre", "right"))


@dataclass
class Explanation:
    """The model's answer for one input and what each part of the input did to it."""

    input28: np.ndarray
    probabilities: np.ndarray
    digit: int
    runner_up: int
    support: np.ndarray  # 28x28: how much hiding each pixel's neighbourhood lowers the digit's log-odds
    against: np.ndarray  # 28x28: how much hiding it raises the runner-up's log-odds: what rules it out
    lowest: float  # P(digit) with the most important square hidden
    highest: float  # P(runner_up) with the most telling square hidden
    path: str | None = None

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "digit": self.digit, "confidence": round(self.confidence, 6),
            "runner_up": self.runner_up, "runner_up_probability": round(float(self.probabilities[self.runner_up]), 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "lowest_with_occlusion": round(self.lowest, 6), "highest_runner_up_with_occlusion": round(self.highest, 6),
            "support": np.round(self.support, 4).tolist(), "against": np.round(self.against, 4).tolist(),
            "patch": PATCH, "stride": STRIDE,
        }


def log_odds(p: np.ndarray | float) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` kept off 0 and 1 (float32 softmax outputs reach 1.0)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def occlusions(input28: np.ndarray, patch: int = PATCH, stride: int = STRIDE) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Copies of ``input28`` with one ``patch`` square set to background each, and the squares' corners.

    Squares start half a patch outside the image so the border gets as many looks as the centre.
    """
    x = np.asarray(input28, dtype=np.float32)
    side = x.shape[0]
    starts = range(-(patch // 2), side - patch // 2 + 1, stride)
    corners = [(r, c) for r in starts for c in starts]
    batch = np.repeat(x[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        batch[k, max(0, r) : r + patch, max(0, c) : c + patch] = 0.0
    return batch, corners


def explain_input(predictor: Any, input28: np.ndarray, path: str | None = None,
                  patch: int = PATCH, stride: int = STRIDE) -> Explanation:
    """Occlusion sensitivity of ``predictor`` (anything with ``predict_arrays``) on one 28x28 input."""
    x = np.asarray(input28, dtype=np.float32)
    batch, corners = occlusions(x, patch, stride)
    probs = predictor.predict_arrays(np.concatenate([x[None], batch]))
    base, hidden = probs[0], probs[1:]
    digit = int(np.argmax(base))
    runner_up = int(np.argsort(-base, kind="stable")[1])
    # Effects in log-odds, not probability: a confident model's 99.99 % that hiding a stroke turns
    # into 99 % is a hundredfold change in odds, which a probability difference would call nothing.
    drop = log_odds(base[digit]) - log_odds(hidden[:, digit])
    rise = log_odds(hidden[:, runner_up]) - log_odds(base[runner_up])
    support, against, cover = (np.zeros(x.shape, dtype=np.float64) for _ in range(3))
    for (r, c), d, u in zip(corners, drop, rise):
        window = (slice(max(0, r), r + patch), slice(max(0, c), c + patch))
        support[window] += d
        against[window] += u
        cover[window] += 1
    cover = np.maximum(cover, 1)
    return Explanation(
        input28=x, probabilities=base, digit=digit, runner_up=runner_up,
        support=np.clip(support / cover, 0, None), against=np.clip(against / cover, 0, None),
        lowest=float(hidden[:, digit].min()), highest=float(hidden[:, runner_up].max()), path=path,
    )


def marks(expl: Explanation) -> np.ndarray:
    """Per pixel: "S" (evidence for the answer), "A" (rules the runner-up out) or "" (neither).

    A pixel is marked where its effect is at least ``MARK_SHARE`` of the map's strongest and at
    least ``MIN_EFFECT``; where both apply, the evidence for the answer wins.
    """
    out = np.full(expl.support.shape, "", dtype="<U1")
    for tag, values in ((AGAINST, expl.against), (SUPPORT, expl.support)):
        peak = float(values.max())
        if peak >= MIN_EFFECT:
            out[(values >= MARK_SHARE * peak) & (values >= MIN_EFFECT)] = tag
    return out


def map_lines(expl: Explanation, mode: str = "ascii") -> tuple[list[str], list[str]]:
    """The sensitivity map over the digit, one character per pixel column and two pixel rows, and its tags.

    ASCII: the digit's ink is ``#`` where it is evidence for the answer, ``=`` where it rules the
    runner-up out and ``.`` elsewhere; ``+`` and ``-`` mark the background of those regions.
    Half blocks: the ink of the evidence for the answer keeps its shape (``█▀▄``) on ``░``; the
    runner-up's region is ``▓`` (ink) and ``▒``. The tags ("S", "A" or " " per cell) let a colour
    display tint the same cells.
    """
    m = marks(expl)
    ink = expl.input28 >= 0.3
    if m.shape[0] % 2:
        m, ink = np.vstack([m, np.full((1, m.shape[1]), "")]), np.vstack([ink, np.zeros((1, ink.shape[1]), bool)])
    lines, tags = [], []
    for row in range(0, m.shape[0], 2):
        chars, cell_tags = [], []
        for t, b, it, ib in zip(m[row], m[row + 1], ink[row], ink[row + 1]):
            tag = SUPPORT if SUPPORT in (t, b) else AGAINST if AGAINST in (t, b) else ""
            cell_tags.append(tag or " ")
            chars.append(_cell_char(mode, tag, bool(it), bool(ib)))
        lines.append("".join(chars))
        tags.append("".join(cell_tags))
    return lines, tags


def _cell_char(mode: str, tag: str, ink_top: bool, ink_bottom: bool) -> str:
    inked = ink_top or ink_bottom
    if mode == "blocks":
        if tag == SUPPORT:
            return {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): "░"}[(ink_top, ink_bottom)]
        if tag == AGAINST:
            return "▓" if inked else "▒"
        return "·" if inked else " "
    return {SUPPORT: "#+", AGAINST: "=-", "": ". "}[tag][0 if inked else 1]


def region(values: np.ndarray) -> str:
    """Where in the image the mass of ``values`` lies, in words: "the top left", "the middle"."""
    total = float(values.sum())
    if total <= 0:
        return "nowhere in particular"
    rows, cols = np.indices(values.shape)
    r = float((rows * values).sum() / total) / values.shape[0]
    c = float((cols * values).sum() / total) / values.shape[1]
    vertical = REGIONS[0][min(2, int(r * 3))]
    horizontal = REGIONS[1][min(2, int(c * 3))]
    if vertical == "middle" and horizontal == "centre":
        return "the middle"
    if horizontal == "centre":
        return f"the {vertical}"
    if vertical == "middle":
        return f"the {horizontal} side"
    return f"the {vertical} {horizontal}"


def _strongest(values: np.ndarray) -> np.ndarray:
    """The part of a map that is marked (at least ``MARK_SHARE`` of its peak), zero elsewhere."""
    return np.where(values >= MARK_SHARE * float(values.max()), values, 0.0)


def summary(expl: Explanation) -> list[str]:
    """The answer and runner-up, then what most supports the answer and what most rules the runner-up out."""
    d, u = expl.digit, expl.runner_up
    p_u = float(expl.probabilities[u])
    lines = [f"read as {d} ({expl.confidence:.1%}); runner-up {u} ({p_u:.1%})"]
    if float(expl.support.max()) >= MIN_EFFECT:
        lines.append(f"evidence for {d}: {region(_strongest(expl.support))}; hiding it drops {d} "
                     f"to {expl.lowest:.1%}")
    else:
        lines.append(f"no single part decides it: hiding any {PATCH}x{PATCH} square keeps {d} above {expl.lowest:.1%}")
    if float(expl.against.max()) >= MIN_EFFECT:
        lines.append(f"what rules out {u}: {region(_strongest(expl.against))}; hiding it raises {u} "
                     f"to {expl.highest:.1%}")
    else:
        lines.append(f"nothing hidden makes {u} likely (at most {expl.highest:.1%})")
    return lines


LEGEND = {  # at most 72 columns: the width of the app's log in an 80-column terminal
    "ascii": "#+ for {d} (hiding lowers {d})  =- rules out {u} (hiding raises {u})  . ink",
    "blocks": "█░ for {d} (hiding lowers {d})  ▓▒ rules out {u} (hiding raises {u})  · ink",
}


def rows_in_use(*columns: list[str]) -> slice:
    """The rows from the first to the last that hold anything in any column: blank margins cost lines."""
    used = [i for i, row in enumerate(zip(*columns)) if any(line.strip() for line in row)]
    return slice(used[0], used[-1] + 1) if used else slice(0, 0)


def format_explanation(expl: Explanation, mode: str = "ascii") -> str:
    """The CLI's block: a summary, then the digit as the model saw it beside its sensitivity map."""
    digit = ascii_digit(expl.input28, mode)
    overlay, _ = map_lines(expl, mode)
    rows = rows_in_use(digit, overlay)
    digit, overlay = digit[rows], overlay[rows]
    width = len(digit[0]) if digit else 28
    head = "as the model saw it".ljust(width) + "   " + "what the answer rests on"
    body = [f"{a}   {b}".rstrip() for a, b in zip(digit, overlay)]
    name = f"{expl.path}: " if expl.path else ""
    first, *rest = summary(expl)
    legend = LEGEND[mode].format(d=expl.digit, u=expl.runner_up)
    return "\n".join([name + first, *rest, head, *body, legend])

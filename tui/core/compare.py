"""Comparing runs: their validation curves per epoch, the settings that differ, and the results.

Pure reading of run folders (no TensorFlow, no Textual): the CLI prints :func:`format_comparison`
or :meth:`Comparison.to_json`; the app draws the curves and shows :func:`comparison_rows`.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core import runs
from tui.core.errors import RunError

MIN_RUNS, MAX_RUNS = 2, 6
TEXT_WIDTH, MAX_LABEL = 80, 16  # the CLI table fits a standard terminal for up to six runs
# Short names for the settings people change most; the others keep their config name.
SETTING_LABELS = {
    "learning_rate": "lr", "lr_schedule": "lr schedule", "batch_size": "batch size", "train_subset": "subset",
    "validation_split": "val split", "augment_shift": "shift", "label_smoothing": "smoothing",
    "weight_decay": "weight decay",
}


@dataclass
class ComparedRun:
    """One run in a comparison: its record, settings and per-epoch validation curves."""

    label: str  # "#1".."#6": the run's column and its marker in the plots
    summary: runs.RunSummary
    settings: dict[str, Any]
    epochs: list[int] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    train_seconds: float | None = None  # the epochs' own time, comparable across finished and stopped runs
    images_per_sec: float | None = None  # median of the run's progress records

    @property
    def run_id(self) -> str:
        return self.summary.run_id

    @property
    def preset(self) -> str:
        return self.summary.preset

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "label": self.label, "run_id": s.run_id, "path": str(s.path), "status": s.status, "preset": s.preset,
            "settings": self.settings, "epochs_run": s.finished_epochs, "epochs": s.epochs,
            "best_val_accuracy": s.best_val_accuracy, "test_accuracy": s.test_accuracy,
            "train_seconds": self.train_seconds, "images_per_sec": self.images_per_sec,
            "size_bytes": s.size_bytes,
            "history": [{"epoch": e, "val_accuracy": a, "val_loss": v}
                        for e, a, v in zip(self.epochs, self.val_accuracy, self.val_loss)],
        }


@dataclass
class Comparison:
    runs: list[ComparedRun]
    differing: list[str]  # setting keys whose values are not the same in every run

    def to_json(self) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in self.runs], "differing_settings": self.differing}


def resolve_runs(refs: list[str], base: Path | None = None) -> list[Path]:
    """Run folders for ids, unique prefixes or ``latest``; 2 to 6 different runs."""
    if not MIN_RUNS <= len(refs) <= MAX_RUNS:
        raise RunError(f"compare takes {MIN_RUNS} to {MAX_RUNS} runs, not {len(refs)}; "
                       "give run ids, unique prefixes or 'latest'")
    paths: list[Path] = []
    for ref in refs:
        path = runs.find_run(ref, base)
        if any(_same(path, p) for p in paths):
            raise RunError(f"{ref!r} names run {path.name} twice; compare different runs")
        paths.append(path)
    return paths


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def compare_runs(paths: list[Path]) -> Comparison:
    """Read each run's config and events; note which settings differ."""
    compared = []
    for i, path in enumerate(paths, 1):
        path = Path(path)
        events = runs.read_events(path)
        summary = runs.summarise(path, events)
        summary.size_bytes = runs.disk_usage(path)
        run = ComparedRun(label=f"#{i}", summary=summary, settings=_settings(path))
        by_epoch: dict[int, dict[str, Any]] = {}
        for ev in summary.history:  # a resumed run may repeat an epoch: the later record counts
            epoch = runs._int(ev.get("epoch"), None)
            if epoch is not None:
                by_epoch[epoch] = ev
        for epoch in sorted(by_epoch):
            run.epochs.append(epoch)
            run.val_accuracy.append(runs._float(by_epoch[epoch].get("val_accuracy")))
            run.val_loss.append(runs._float(by_epoch[epoch].get("val_loss")))
        seconds = [s for ev in by_epoch.values() if (s := runs._float(ev.get("seconds"))) is not None]
        run.train_seconds = round(sum(seconds), 2) if seconds else None
        speeds = [v for ev in events if ev.get("type") == "batch" and (v := runs._float(ev.get("images_per_sec")))]
        run.images_per_sec = round(statistics.median(speeds), 1) if speeds else None
        compared.append(run)
    keys = sorted({k for r in compared for k in r.settings})
    differing = [k for k in keys if len({json.dumps(r.settings.get(k), sort_keys=True) for r in compared}) > 1]
    return Comparison(compared, differing)


def _settings(run_dir: Path) -> dict[str, Any]:
    """The run's training settings, ``extra`` knobs flattened as ``extra.NAME``; {} when unreadable."""
    try:
        stored = json.loads((run_dir / runs.CONFIG).read_text(encoding="utf-8"))
        train = stored.get("train", stored)
        if not isinstance(train, dict):
            return {}
    except (OSError, ValueError, AttributeError):
        return {}
    flat = {k: v for k, v in train.items() if k != "extra"}
    if isinstance(train.get("extra"), dict):
        flat.update({f"extra.{k}": v for k, v in train["extra"].items()})
    return flat


def setting_label(key: str) -> str:
    return SETTING_LABELS.get(key, key.replace("_", " "))


def format_setting(key: str, value: Any) -> str:
    if value is None:
        return "all" if key == "train_subset" else "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _pct(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "–"


def comparison_rows(comparison: Comparison) -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """(settings that differ, results) as ``(label, one cell per run)`` rows, for any table."""
    settings = [(setting_label(k), [format_setting(k, r.settings.get(k)) for r in comparison.runs])
                for k in comparison.differing]
    results = [
        ("status", [r.summary.status for r in comparison.runs]),
        ("epochs", [f"{r.summary.finished_epochs}/{r.summary.epochs}" if r.summary.epochs else "–"
                    for r in comparison.runs]),
        ("best val", [_pct(r.summary.best_val_accuracy) for r in comparison.runs]),
        ("test acc", [_pct(r.summary.test_accuracy) for r in comparison.runs]),
        ("train time", [format_duration(r.train_seconds) for r in comparison.runs]),
        ("images/s", [f"{r.images_per_sec:,.0f}" if r.images_per_sec else "–" for r in comparison.runs]),
    ]
    return settings, results


def format_comparison(comparison: Comparison) -> str:
    """The comparison as plain text that fits 80 columns for up to six runs."""
    lines = [f"{r.label:3} {r.run_id}  {r.preset}" for r in comparison.runs]
    settings, results = comparison_rows(comparison)
    rows = settings + results
    label_width = min(MAX_LABEL, max(len(label) for label, _ in rows)) + 1
    longest = max(len(c) for _, row in rows for c in row)
    width = min(max(9, longest) + 1, (TEXT_WIDTH - label_width) // len(comparison.runs))

    def line(label: str, row: list[str]) -> str:
        return f"{_fit(label, label_width - 1):<{label_width}}" + "".join(f"{_fit(c, width - 1):>{width}}" for c in row)

    lines += ["", " " * label_width + "".join(f"{r.label:>{width}}" for r in comparison.runs)]
    if settings:
        lines.append("settings that differ")
        lines += [line(label, row) for label, row in settings]
    else:
        lines.append("settings: the same in every run")
    lines.append("results")
    lines += [line(label, row) for label, row in results]
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"

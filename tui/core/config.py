"""Training hyperparameters in one typed config, with named presets and command-line overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from tui.core.errors import DigitrecError


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a model is trained; stored in each run's ``config.json``."""

    preset: str = "default"
    arch: str = "classic"  # architecture name understood by tui.core.model.build_model
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine | onecycle
    validation_split: float = 0.1
    seed: int = 0
    augment_shift: int = 0  # random shifts of up to this many pixels (0: off)
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    ema: bool = False  # keep an exponential moving average of the weights
    train_subset: int | None = None  # use only the first N training images (tests, quick trials)
    # Compute precision while training: "auto" trains in mixed bfloat16 on a CPU with native bf16
    # instructions (AVX512-BF16 or AMX) and in float32 elsewhere; the saved model is float32 either way.
    # Opt-in: measured about 10 % less training time for 0.01-0.06 points less accuracy (BENCHMARKS.md).
    precision: str = "float32"
    steps_per_execution: int = 1  # optimizer steps per call into TensorFlow (less per-step overhead)
    extra: dict[str, Any] = field(default_factory=dict)  # preset-specific knobs for the model

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_overrides(self, **overrides: Any) -> "TrainConfig":
        """Return a copy with the given fields replaced; ``None`` values are ignored."""
        values = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(values) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown setting {sorted(unknown)[0]!r}; known: {', '.join(OVERRIDABLE)}")
        cfg = dataclasses.replace(self, **values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.learning_rate > 0, "learning rate must be positive"),
            (0.0 <= self.validation_split < 0.5, "validation split must be in [0, 0.5)"),
            (self.augment_shift >= 0, "augment shift must be 0 or more pixels"),
            (0.0 <= self.label_smoothing < 0.5, "label smoothing must be in [0, 0.5)"),
            (self.lr_schedule in SCHEDULES, f"lr schedule must be one of {', '.join(SCHEDULES)}"),
            (self.train_subset is None or self.train_subset >= 20, "train subset must be at least 20 images"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.steps_per_execution >= 1, "steps per execution must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"{message}; check the value you gave")


class ConfigError(DigitrecError):
    """A preset name or a hyperparameter value is not valid."""


SCHEDULES = ("constant", "cosine", "onecycle")
PRECISIONS = ("auto", "float32", "bfloat16")

# Settings a user may override from the command line or the app's train form, with their types.
OVERRIDABLE: dict[str, type] = {
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "lr_schedule": str,
    "validation_split": float,
    "seed": int,
    "augment_shift": int,
    "label_smoothing": float,
    "train_subset": int,
    "precision": str,
}


def parse_override(name: str, text: str) -> Any:
    """Turn ``text`` into the typed value of setting ``name`` or raise ConfigError."""
    key = name.replace("-", "_")
    if key == "lr":
        key = "learning_rate"
    if key == "subset":
        key = "train_subset"
    kind = OVERRIDABLE.get(key)
    if kind is None:
        raise ConfigError(f"unknown setting {name!r}; known: {', '.join(OVERRIDABLE)}")
    try:
        return key, kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be {'a whole number' if kind is int else 'a number' if kind is float else 'text'}, not {text!r}") from None


def preset_config(name: str) -> TrainConfig:
    """The config of preset ``name``; raises ConfigError naming the presets that exist."""
    from tui.core.presets import PRESETS  # noqa: PLC0415 - keeps the table in its own module

    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    cfg = TrainConfig(preset=name, **PRESETS[name])
    cfg.validate()
    return cfg

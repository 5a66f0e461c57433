"""Presets and typed overrides."""

import pytest

from tui.core.config import ConfigError, TrainConfig, parse_override, preset_config
from tui.core.presets import PRESETS


def test_classic_preset_is_the_keras_example():
    cfg = preset_config("classic")
    assert (cfg.arch, cfg.epochs, cfg.batch_size, cfg.validation_split) == ("classic", 15, 128, 0.1)
    assert cfg.augment_shift == 0 and cfg.lr_schedule == "constant"


def test_every_preset_is_valid():
    for name in PRESETS:
        assert preset_config(name).preset == name


def test_overrides_are_typed_and_validated():
    cfg = preset_config("fast").with_overrides(epochs=2, learning_rate=None)
    assert cfg.epochs == 2 and cfg.learning_rate == preset_config("fast").learning_rate
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        cfg.with_overrides(epochs=0)
    with pytest.raises(ConfigError, match="unknown preset 'x'; choose one of"):
        preset_config("x")


@pytest.mark.parametrize("name, text, expected", [("epochs", "3", ("epochs", 3)), ("lr", "0.01", ("learning_rate", 0.01)),
                                                   ("subset", "500", ("train_subset", 500))])
def test_parse_override(name, text, expected):
    assert parse_override(name, text) == expected


def test_parse_override_errors_are_one_line():
    with pytest.raises(ConfigError, match="epochs must be a whole number, not 'three'"):
        parse_override("epochs", "three")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        parse_override("colour", "red")


def test_round_trip_through_dict():
    cfg = preset_config("default")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg

"""The prompt's command language and completions: pure functions, no Textual app needed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.app.commands import COMMANDS, Command, CommandError, parse_command
from tui.app.completion import complete, complete_path
from tui.core.presets import DEFAULT_PRESET


def test_blank_line_is_no_command():
    assert parse_command("") is None
    assert parse_command("   \t ") is None


def test_train_defaults_to_the_default_preset():
    assert parse_command("train") == Command("train", (), {"preset": DEFAULT_PRESET})


def test_train_takes_a_preset_and_typed_overrides_with_short_names():
    cmd = parse_command("train fast epochs=2 lr=0.01 subset=500 batch-size=64")
    assert cmd.name == "train"
    assert cmd.options == {"preset": "fast", "epochs": 2, "learning_rate": 0.01, "train_subset": 500, "batch_size": 64}


def test_train_preset_as_option():
    assert parse_command("train preset=best").options["preset"] == "best"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("train epochs=0", "epochs must be at least 1"),
        ("train epochs=two", "epochs must be a whole number"),
        ("train turbo", "unknown preset 'turbo'"),
        ("train fast best", "one preset only"),
        ("train colour=red", "unknown setting"),
        ("train epochs=", "needs a value"),
        ("train subset=5", "at least 20"),
        ("trian", "did you mean `train`"),
        ("predict", "at least one image path"),
        ("use", "exactly one argument"),
        ("use a b", "exactly one argument"),
        ("models extra", "takes no arguments"),
        ("evaluate limit=x", "whole number"),
        ("evaluate size=3", "only limit=N"),
        ("render sideways", "`ascii` or `blocks`"),
        ("help nothing", "no command 'nothing'"),
        ("predict 'unclosed", "close the quote"),
    ],
)
def test_mistakes_get_one_line_that_says_what_to_do(line, fragment):
    with pytest.raises(CommandError) as err:
        parse_command(line)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_aliases_and_case():
    assert parse_command("EXIT").name == "quit"
    assert parse_command("eval limit=100") == Command("evaluate", (), {"limit": 100})
    assert parse_command("?").name == "help"


def test_paths_with_spaces_can_be_quoted():
    assert parse_command("predict 'my digits/seven.png' two.png").args == ("my digits/seven.png", "two.png")


def test_canonical_text_reparses_to_the_same_command():
    for line in ("train fast epochs=2 lr=0.5", "predict 'a b.png' c.png", "evaluate limit=10", "attach latest"):
        cmd = parse_command(line)
        assert parse_command(cmd.text) == cmd


def test_every_command_has_usage_and_summary():
    for spec in COMMANDS.values():
        assert spec.usage.startswith(spec.name)
        assert spec.summary


def _parses_or_one_line_error(text: str) -> None:
    try:
        result = parse_command(text)
    except CommandError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result is None or result.name in COMMANDS


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_gives_a_one_line_error(text):
    _parses_or_one_line_error(text)


words = st.sampled_from([*COMMANDS, "train", "preset=fast", "epochs=", "lr=1e-3", "subset=100", "=", "'", '"',
                         "limit=0", "ascii", "x=y=z", "--", "epochs=1e9", "lr=nan", "lr=inf", "batch_size=-1"])


@settings(max_examples=400, deadline=None)
@given(st.lists(words, max_size=6))
def test_command_like_garbage_parses_or_gives_a_one_line_error(parts):
    _parses_or_one_line_error(" ".join(parts))


def test_completes_command_names():
    assert complete("pre") == "predict"
    assert complete("ev") == "evaluate"
    assert complete("predict") is None  # already complete


def test_completes_train_settings_and_presets():
    assert complete("train pr") == "train preset="
    assert complete("train preset=fa") == "train preset=fast"
    assert complete("train ep") == "train epochs="
    assert complete("train fa") == "train fast"


def test_completes_paths(tmp_path):
    (tmp_path / "sample_images").mkdir()
    (tmp_path / "sample_images" / "seven.png").write_bytes(b"")
    (tmp_path / ".hidden").mkdir()
    assert complete("predict sam", cwd=tmp_path) == "predict sample_images/"
    assert complete("predict sample_images/s", cwd=tmp_path) == "predict sample_images/seven.png"
    assert complete_path("nothing-here/x", tmp_path) is None
    assert complete_path(".h", tmp_path) == ".hidden/"
    assert complete_path("", tmp_path) == "sample_images/"


def test_completes_run_ids():
    assert complete("attach 2024", run_ids=["20240101-fast-ab12"]) == "attach 20240101-fast-ab12"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_completion_extends_what_was_typed_or_returns_none(text):
    result = complete(text)
    assert result is None or (result.startswith(text) and len(result) > len(text))


def test_compare_takes_none_or_two_to_six_runs_and_delete_one():
    assert parse_command("compare") == Command("compare")  # the runs marked in the table
    assert parse_command("compare 2026 latest").args == ("2026", "latest")
    assert parse_command("delete 20260101").args == ("20260101",)
    for line, fragment in (("compare latest", "2 to 6 runs, not 1"), ("compare " + "a " * 7, "2 to 6 runs, not 7"),
                           ("delete", "exactly one argument"), ("delete a b", "exactly one argument")):
        with pytest.raises(CommandError, match=fragment):
            parse_command(line)
    assert complete("compare 2026", run_ids=["20260101-000000-fast-aaaa"]) == "compare 20260101-000000-fast-aaaa"
    assert complete("delete 2", run_ids=["20260101-000000-fast-aaaa"]) == "delete 20260101-000000-fast-aaaa"

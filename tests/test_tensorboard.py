"""A real run's TensorBoard event files, read back with TensorFlow's own record reader, hold the
values its events.jsonl records."""

from __future__ import annotations

import pytest

from tui.core import runs
from tui.core.tensorboard import BATCH_SCALARS, EPOCH_SCALARS, TENSORBOARD_DIR


def read_scalars(run_dir) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """``{(writer, tag): [(step, value), ...]}`` from every event file, via tf.data.TFRecordDataset."""
    import tensorflow as tf

    found: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for which in ("train", "validation"):
        files = sorted((run_dir / TENSORBOARD_DIR / which).glob("events.out.tfevents.*"))
        assert files, f"no event file in {TENSORBOARD_DIR}/{which}"
        for path in files:
            for record in tf.data.TFRecordDataset(str(path)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                for value in event.summary.value:
                    assert value.metadata.plugin_data.plugin_name == "scalars"  # what TensorBoard charts
                    found.setdefault((which, value.tag), []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return found


def same_points(got, expected, tag) -> None:
    assert expected, tag
    assert [step for step, _ in got] == [step for step, _ in expected], tag
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6), tag  # float32 in the file


@pytest.mark.slow
def test_event_files_match_events_jsonl(trained_run):
    run_dir = trained_run.run_dir
    scalars = read_scalars(run_dir)
    events = runs.read_events(run_dir)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert len(epochs) == 2
    for key, (which, tag) in EPOCH_SCALARS.items():
        same_points(scalars[(which, tag)], [(e["epoch"], e[key]) for e in epochs], tag)
    batches = [e for e in events if e["type"] == "batch"]
    assert len(batches) >= 2
    for key, (which, tag) in BATCH_SCALARS.items():
        expected = [((e["epoch"] - 1) * e["steps"] + e["step"], e[key]) for e in batches if e.get(key) is not None]
        same_points(scalars[(which, tag)], expected, tag)
    # Training and validation share tag names, so TensorBoard draws them in one chart per metric.
    assert ("train", "epoch_accuracy") in scalars and ("validation", "epoch_accuracy") in scalars

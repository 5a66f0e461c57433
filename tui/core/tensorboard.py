"""TensorBoard event files for a run, written by TensorFlow itself (``tf.summary``), so
``tensorboard --logdir runs`` shows the curves that ``events.jsonl`` records.

A run writes ``tensorboard/train`` and ``tensorboard/validation`` in its folder with Keras's tag
names (``epoch_loss``, ``epoch_accuracy``, ...): TensorBoard then draws training and validation
in one chart per metric. Epoch values are at step ``epoch`` (1-based, as in ``events.jsonl``),
batch values at the global step ``(epoch - 1) * steps + step``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TENSORBOARD_DIR = "tensorboard"
TRAIN, VALIDATION = "train", "validation"
# events.jsonl field -> (writer, tag)
EPOCH_SCALARS = {
    "loss": (TRAIN, "epoch_loss"),
    "accuracy": (TRAIN, "epoch_accuracy"),
    "learning_rate": (TRAIN, "epoch_learning_rate"),
    "val_loss": (VALIDATION, "epoch_loss"),
    "val_accuracy": (VALIDATION, "epoch_accuracy"),
}
BATCH_SCALARS = {
    "loss": (TRAIN, "batch_loss"),
    "accuracy": (TRAIN, "batch_accuracy"),
    "images_per_sec": (TRAIN, "batch_images_per_sec"),
}


class SummaryLog:
    """Mirrors a run's ``batch`` and ``epoch`` events as TensorBoard scalars.

    TensorFlow 2.16+ ships ``tf.summary.scalar`` only with the ``tensorboard`` package installed;
    ``tf.summary.write`` with the scalars plugin's metadata is the same record without it. A
    failure to write (a full disk) turns the log off and never stops the training.
    """

    def __init__(self, run_dir: Path) -> None:
        from tensorflow.core.framework import summary_pb2  # noqa: PLC0415 - TensorFlow is loaded by now

        from tui.core.tf import import_tf  # noqa: PLC0415

        self.tf, _ = import_tf()
        self.dir = Path(run_dir) / TENSORBOARD_DIR
        self.metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        )
        self.writers: dict[str, Any] = {}
        self.error: str | None = None

    def record(self, event: dict[str, Any]) -> None:
        """Write the scalars of one ``batch`` or ``epoch`` event; other events are ignored."""
        kind = event.get("type")
        if self.error or kind not in ("batch", "epoch"):
            return
        try:
            if kind == "epoch":
                self._write(EPOCH_SCALARS, event, int(event["epoch"]))
                self.flush()
            else:
                step = (int(event["epoch"]) - 1) * int(event["steps"]) + int(event["step"])
                self._write(BATCH_SCALARS, event, step)
        except (KeyError, TypeError, ValueError):
            pass  # an event without its position cannot be placed on the x axis
        except Exception as exc:  # noqa: BLE001 - TensorBoard files are a copy; training goes on
            self.error = f"TensorBoard files not written: {' '.join(str(exc).split())[:200]}"

    def _write(self, scalars: dict[str, tuple[str, str]], event: dict[str, Any], step: int) -> None:
        tf = self.tf
        for key, (which, tag) in scalars.items():
            value = event.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                with self._writer(which).as_default(step=step):
                    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=self.metadata)

    def _writer(self, which: str) -> Any:
        writer = self.writers.get(which)
        if writer is None:
            writer = self.writers[which] = self.tf.summary.create_file_writer(str(self.dir / which))
        return writer

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a copy must not turn a finished run into an error
                pass
        self.writers.clear()


"""The app on a big folder: answers stream into the log batch by batch, and quitting stops the work.

Real images (MNIST test digits written as PNGs) and the shipped model on LiteRT; nothing here times
anything (bench/app_big_folder.py measures).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from PIL import Image

from textual.widgets import Static

from test_app import make_app, settle, type_command
from tui.app.widgets.conversation import plain_text
from tui.app.widgets.folder_results import FolderResults
from tui.core import batch

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "digit_recognizer.h5"


def write_digits(folder: Path, mnist, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        Image.fromarray(255 - mnist.x_test[i]).save(folder / f"{i:04d}_{int(mnist.y_test[i])}.png")
    return folder


@pytest.fixture
def spied_stream(monkeypatch):
    """``stream_predictions`` as the app calls it, counting the answers it yields and noting when it is closed."""
    seen = {"yielded": 0, "closed": False}
    real = batch.stream_predictions

    def spy(*args, **kwargs):
        try:
            for p in real(*args, **kwargs):
                seen["yielded"] += 1
                yield p
        finally:
            seen["closed"] = True

    monkeypatch.setattr(batch, "stream_predictions", spy)
    return seen


@pytest.fixture
def batches_shown(monkeypatch):
    """What the folder's answer showed after each batch of answers reached it: (answers so far, finished, text)."""
    shown = []
    real = FolderResults.on_folder_results_batch

    def snapshot(view, message):
        real(view, message)
        shown.append((view.tally.done, view.finished, "\n".join(plain_text(s.content) for s in view.query(Static))))

    monkeypatch.setattr(FolderResults, "on_folder_results_batch", snapshot)
    return shown


async def test_a_big_folder_streams_its_answers_into_the_log(tmp_path, monkeypatch, mnist, batches_shown):
    monkeypatch.chdir(tmp_path)
    folder = write_digits(tmp_path / "digits", mnist, 200)
    app = make_app(model=MODEL)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, f"predict {folder}")
        await settle(pilot, lambda: bool(batches_shown) and batches_shown[-1][1], timeout=60)
        text = app.conversation.last_turn.text
    # Part-way: the first answers listed under a progress line, the rest still to come.
    done, finished, partial = batches_shown[0]
    assert 0 < done < 200 and not finished
    assert f"predicting… {done:,} of 200 images" in partial
    assert f"0000_{mnist.y_test[0]}.png" in partial and "file" in partial and "confidence" in partial
    # At the end: a tally instead of the progress line; the first hundred answers are all listed.
    assert batches_shown[-1][0] == 200
    assert "of 200 images recognised" in text and "predicting…" not in text
    assert "the first 100 answers, then only failed or uncertain ones" in text
    assert "0099_" in text


async def test_quitting_mid_folder_stops_the_worker_at_the_next_batch(tmp_path, monkeypatch, mnist, spied_stream):
    monkeypatch.chdir(tmp_path)
    folder = write_digits(tmp_path / "digits", mnist, 1000)
    app = make_app(model=MODEL)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, f"predict {folder}")
        await settle(pilot, lambda: spied_stream["yielded"] > 0, timeout=60)
        await pilot.press("ctrl+q")
    assert app.return_code == 0
    for _ in range(100):  # the worker thread notices at its next batch (of 64)
        if spied_stream["closed"]:
            break
        await asyncio.sleep(0.05)
    # The stream is closed, not left running; whether it got through every image first depends on
    # the machine's speed (bench/app_big_folder.py times the quit instead).
    assert spied_stream["closed"]


async def test_predict_names_what_it_skipped_in_the_turn(tmp_path, monkeypatch, mnist):
    monkeypatch.chdir(tmp_path)
    folder = write_digits(tmp_path / "digits", mnist, 2)
    os.symlink("missing.png", folder / "dangling.png")
    (folder / "album.png").mkdir()
    app = make_app(model=MODEL)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, f"predict {folder}")
        await settle(pilot, lambda: "0001_" in app.conversation.last_turn.text, timeout=60)
        text = app.conversation.last_turn.text
    assert text.count("skipped") == 2
    assert f"skipped {folder}/album.png: a folder named like an image" in text
    assert f"skipped {folder}/dangling.png: a symbolic link to missing.png, which does not exist" in text

"""SVG snapshots of whole views, kept deterministic: an empty project folder, no model loading,
no runs, synthetic sample images. Update with ``pytest --snapshot-update`` after a deliberate
change, and look at the SVGs before committing them."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw
from textual.widgets import Static

from test_app import make_app, settle
from tui.core.presets import PRESETS


@pytest.fixture
def project(tmp_path, monkeypatch):
    # The Train form shows the default preset's values; pin them so tuning the presets leaves these views alone.
    monkeypatch.setitem(PRESETS, "default", dict(arch="classic", epochs=15, batch_size=128, learning_rate=1e-3))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DIGITREC_MODEL", raising=False)
    samples = tmp_path / "sample_images"
    samples.mkdir()
    for name, shape in (("one.png", [(60, 20), (60, 100)]), ("seven.png", [(30, 20), (90, 20), (50, 100)])):
        img = Image.new("L", (120, 120), 255)
        ImageDraw.Draw(img).line(shape, fill=0, width=12)
        img.save(samples / name)
    return tmp_path


def test_help_screen(project, snap_compare):
    assert snap_compare(make_app(), press=["f1"], terminal_size=(100, 34))


def test_main_screen_at_80x24(project, snap_compare):
    async def run_before(pilot):
        app = pilot.app
        app.prompt.value = "train fast epochs=0"
        await pilot.press("enter")
        await settle(pilot, lambda: "epochs must be" in app.conversation.last_turn.text)

    assert snap_compare(make_app(), run_before=run_before, terminal_size=(80, 24))


def test_samples_panel_previews_the_highlighted_image(project, snap_compare):
    async def run_before(pilot):
        app = pilot.app
        await pilot.press("f4")
        tree = app.query_one("#sample-tree")
        await settle(pilot, lambda: app.focused is tree and len(tree.root.children) == 2)
        await pilot.press("down", "down")
        preview = app.query_one("#sample-preview", Static)
        await settle(pilot, lambda: "seven.png" in str(tree.cursor_node.label)
                     and "as the model sees it" in str(preview.render()), timeout=10)
        await pilot.pause(0.2)

    assert snap_compare(make_app(), run_before=run_before, terminal_size=(140, 44))

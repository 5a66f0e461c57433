"""The app: explaining a prediction, correcting it, teaching the model, and plain-words requests."""

from __future__ import annotations

import re

import pytest
from test_app import last_text, make_app, settle, type_command, workdir  # noqa: F401 - workdir is a fixture
from test_app_engine import project  # noqa: F401 - a fixture: a trained model and sample images
from test_finetune import make_sevens

from tui.app.screens.confirm import ConfirmScreen
from tui.app.widgets.evaluate_panel import MistakeBrowser
from tui.app.widgets.explanation import ExplanationView
from tui.app.widgets.prediction import PredictionView
from tui.core import runs


def explanation_shown(app) -> bool:
    return bool(app.conversation.last_turn.query(ExplanationView))


# -- plain words, without a model --------------------------------------------------------------


async def test_plain_requests_show_the_command_they_ran(workdir):  # noqa: F811
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_command(pilot, "what digit is nothing.png?")
        await settle(pilot, lambda: "no model at" in last_text(app), timeout=30)
        assert app.conversation.last_turn.command == "what digit is nothing.png?\n→ predict nothing.png"

        await type_command(pilot, "how do I train?")
        assert last_text(app).startswith("› how do I train?\n→ help train") and "train [PRESET]" in last_text(app)

        await type_command(pilot, "list my runs")
        await settle(pilot, lambda: "no runs yet" in last_text(app))
        assert "→ runs" in last_text(app)

        await type_command(pilot, "compare the last two runs")  # `compare` arrives with issue 14
        assert "→ compare latest~1 latest" in last_text(app)

        await type_command(pilot, "the weather is nice today")  # unsure: it asks, with suggestions
        assert "not sure" in last_text(app) and "did you mean" in last_text(app)
        assert not app.conversation.last_turn.has_class("-error")


async def test_exact_commands_and_their_errors_are_unchanged(workdir):  # noqa: F811
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_command(pilot, "train turbo")
        assert "unknown preset 'turbo'" in last_text(app) and "→" not in last_text(app)
        await type_command(pilot, "evaluate limit=x")
        assert "limit must be a whole number" in last_text(app)
        await type_command(pilot, "bogus")
        assert "unknown command 'bogus'" in last_text(app)
        await type_command(pilot, "help explain")
        assert "explain [PATH|drawing|mistake [N]]" in last_text(app)
        await type_command(pilot, "correct 12")
        assert "needs the true digit, 0 to 9" in last_text(app)
        await type_command(pilot, "correct 4")  # nothing predicted yet
        assert "nothing predicted yet to correct" in last_text(app)
        await type_command(pilot, "explain")
        assert "nothing predicted yet to explain" in last_text(app)


# -- on the real engine -------------------------------------------------------------------------


@pytest.mark.slow
async def test_plain_question_predicts_then_explain_and_correct_act_on_that_image(project, mnist):  # noqa: F811
    digit = int(mnist.y_test[0])
    name = f"sample_images/digit_{digit}.png"
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_command(pilot, f"what digit is {name}?")
        await settle(pilot, lambda: bool(app.conversation.last_turn.query(PredictionView)), timeout=90)
        assert app.conversation.last_turn.command.endswith(f"→ predict {name}")

        await type_command(pilot, "why?")  # the last prediction, explained
        await settle(pilot, lambda: explanation_shown(app), timeout=60)
        view = app.conversation.last_turn.query_one(ExplanationView)
        assert view.explanation.path == name and view.explanation.digit == digit
        text = last_text(app)
        assert "what the answer rests on" in text and f"evidence for {digit}" in text
        assert all(len(line) <= view.content_size.width for line in text.splitlines())  # nothing wraps at 80x24
        await pilot.press("ctrl+g")  # half blocks
        await settle(pilot, lambda: "█" in str(view.render()))

        await type_command(pilot, "correct 4")
        await settle(pilot, lambda: "saved" in last_text(app), timeout=30)
        await type_command(pilot, "it's actually a 4")  # plain words, and never over the first file
        await settle(pilot, lambda: "saved" in last_text(app), timeout=30)
        saved = {p.name for p in (project / "my_digits").iterdir()}
        assert saved == {f"4_digit_{digit}.png", f"4_digit_{digit}-2.png"}  # labelled for `teach`


@pytest.mark.slow
async def test_explain_from_the_mistakes_browser_and_the_draw_panel(project):  # noqa: F811
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await type_command(pilot, "evaluate limit=1000")
        browser = app.query_one("#mistakes", MistakeBrowser)
        await settle(pilot, lambda: bool(browser.mistakes), timeout=120)
        browser.focus()
        await pilot.press("right", "x")
        await settle(pilot, lambda: explanation_shown(app), timeout=60)
        assert app.conversation.last_turn.command == "explain mistake 2"
        shown = app.conversation.last_turn.query_one(ExplanationView).explanation
        assert shown.path == f"test image #{browser.mistakes[1].index} (true {browser.mistakes[1].true})"
        assert shown.digit == browser.mistakes[1].predicted

        await pilot.press("f6")
        canvas = app.draw_panel.canvas
        await settle(pilot, lambda: app.focused is canvas)
        canvas.sketch.line(14.5, 4.5, 14.5, 23.5)  # a 1
        await pilot.press("w")
        await settle(pilot, lambda: explanation_shown(app), timeout=60)
        assert app.conversation.last_turn.command == "explain drawing"
        assert app.conversation.last_turn.query_one(ExplanationView).explanation.path == "the drawing"


@pytest.mark.slow
async def test_teach_fine_tunes_in_a_followed_run_and_reports_before_and_after(project):  # noqa: F811
    make_sevens(project / "my_digits", n=12)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_command(pilot, "teach my own handwriting")  # plain words for `teach my_digits`
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # it replaces the model: Enter first
        await pilot.press("enter")
        await settle(pilot, lambda: "fine-tunes the model" in last_text(app) or app.conversation.last_turn.has_class(
            "-error"), timeout=60)
        assert "teaching with 12 of your digits" in last_text(app), last_text(app)
        panel = app.train_panel
        await settle(pilot, lambda: panel.state is not None and not panel.is_running, timeout=300)
        assert panel.state.status == "done", panel.state.reason
        (run,) = runs.list_runs()
        assert run.preset == "finetune" and run.status == "done"
        await settle(pilot, lambda: "held-out digits" in last_text(app), timeout=30)
        assert re.search(r"MNIST test \(10,000\) [\d.]+% -> [\d.]+%", last_text(app))


async def test_teach_refuses_a_folder_that_cannot_teach_at_once(project):  # noqa: F811
    (project / "few").mkdir()
    make_sevens(project / "few", n=2)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await type_command(pilot, "teach few")
        await settle(pilot, lambda: app.conversation.last_turn.has_class("-error"), timeout=30)
        assert "need at least 4 labelled digit images" in last_text(app)
        assert runs.list_runs() == []

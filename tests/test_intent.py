"""Plain words to commands: a table of phrasings, and hypothesis for never crashing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.app.commands import CommandError, parse_command
from tui.core.intent import MAX_TEXT, Context, interpret, sentence_like

MODELS = Context(models=(("models/digit_recognizer.h5", 0.9963), ("models/best.h5", 0.9971), ("models/x.h5", None)))

PHRASINGS = [
    # what digit is it
    ("what digit is sample_images/4_photo_01.jpg?", "predict sample_images/4_photo_01.jpg"),
    ("What digit is in photo.png", "predict photo.png"),
    ("what's in scan.jpeg?", "predict scan.jpeg"),
    ("which digit is this: ~/Pictures/d.png", "predict '~/Pictures/d.png'"),
    ("recognise a.png and b.png please", "predict a.png b.png"),
    ("can you classify my_digit.bmp", "predict my_digit.bmp"),
    ("sample_images/7_mnist_01.png", "predict sample_images/7_mnist_01.png"),
    ("guess the digit in 'my photo.jpg'", "predict 'my photo.jpg'"),
    ("predict every image in sample_images/", "predict sample_images/"),
    # read a number
    ("read the number in sample_images/2026_paper.png", "read sample_images/2026_paper.png"),
    ("what number is written in year.jpg?", "read year.jpg"),
    ("read the digits in cheque.png", "read cheque.png"),
    # train
    ("train the fast preset for 3 epochs", "train fast epochs=3"),
    ("train with 3 epochs", "train epochs=3"),
    ("please train a model", "train"),
    ("train the best model for twenty epochs", "train best epochs=20"),
    ("train quickly", "train fast"),
    ("start training with batch size 64 and lr 0.002", "train batch_size=64 lr=0.002"),
    ("train classic on 5000 images for one epoch", "train classic epochs=1 subset=5000"),
    ("retrain and save it to models/mine.h5", "train output=models/mine.h5"),
    ("train with 1 epochs subset=2000 output=models/tiny.h5", "train epochs=1 subset=2000 output=models/tiny.h5"),
    # stop
    ("stop training", "stop"),
    ("cancel the run", "stop"),
    # evaluate and mistakes
    ("how accurate is the model?", "evaluate"),
    ("what's the accuracy", "evaluate"),
    ("how good is it", "evaluate"),
    ("show me its mistakes", "evaluate"),
    ("what does it get wrong?", "evaluate"),
    ("test the model on 500 images", "evaluate limit=500"),
    # runs and compare
    ("compare the last two runs", "compare latest~1 latest"),
    ("compare the last three runs", "compare latest~2 latest~1 latest"),
    ("list my runs", "runs"),
    ("show the training history", "runs"),
    ("follow the run", "attach"),
    # models
    ("use the best model", "use models/best.h5"),
    ("switch to models/x.h5", "use models/x.h5"),
    ("which models do I have?", "models"),
    # explain, correct, teach
    ("why was sample_images/9_drawn_01.png read as 9?", "explain sample_images/9_drawn_01.png"),
    ("why?", "explain"),
    ("explain the mistake", "explain mistake"),
    ("explain my drawing", "explain drawing"),
    ("that was a 4", "correct 4"),
    ("no, it's actually a seven", "correct 7"),
    ("it should be 2", "correct 2"),
    ("teach it my handwriting", "teach my_digits"),
    ("fine-tune on my_sevens/", "teach my_sevens/"),
    # the rest
    ("let me draw a digit", "draw digit"),
    ("let me draw a number", "draw number"),
    ("draw number", "draw number"),
    ("draw a picture", "draw"),
    ("clear the drawing", "draw clear"),
    ("predict all the samples", "samples"),
    ("use half blocks", "render blocks"),
    ("switch to ascii", "render ascii"),
    ("clear the screen", "clear"),
    ("what can you do?", "help"),
    ("how do I train?", "help train"),
    ("bye", "quit"),
]


def test_the_table_has_at_least_forty_phrasings():
    assert len(PHRASINGS) >= 40


@pytest.mark.parametrize(("text", "command"), PHRASINGS)
def test_plain_requests_map_to_commands(text, command):
    intent = interpret(text, MODELS)
    assert intent.command == command, intent
    assert parse_command(command) is not None


@pytest.mark.parametrize(("text", "hint"), [
    ("what digit is this?", "which image?"),
    ("read the number", "which image?"),
    ("asdf qwerty", "not sure"),
    ("the weather is nice", "not sure"),
    ("", "say what you would like"),
])
def test_unsure_requests_ask_with_suggestions(text, hint):
    intent = interpret(text, MODELS)
    assert intent.command is None and hint in intent.question and intent.suggestions


def test_the_best_model_needs_a_model_with_an_accuracy():
    assert interpret("use the best model", Context()).command is None
    assert "models" in interpret("use the best model", Context()).suggestions


# Words the command cannot carry: it asks, showing the command the rest would run, and runs nothing.
UNMAPPED = [
    ("train classic for 1 epoch on 3000 images without replacing the model", "'without'",
     "train classic epochs=1 subset=3000"),
    ("don't train the model", "'not'", "train"),
    ("train fast if the last run was worse", "the condition 'if'", "train fast"),
    ("train unless a run is going", "the condition 'unless'", "train"),
    ("train with -3 epochs", "the negative number -3", "train epochs=3"),
    ("that was a -1", "the negative number -1", "correct 1"),
    ("train for 3 epochs and then 5 epochs", "the number 5", "train epochs=3"),
    ("train with 3 epochs epochs=4", "both epochs=3 and epochs=4", "train epochs=3"),
    ("teach it my handwriting for 5 epochs", "the number 5", "teach my_digits"),
    ("what digit is x.png limit=3", "limit=3", "predict x.png"),
]


@pytest.mark.parametrize(("text", "unmapped", "command"), UNMAPPED)
def test_words_the_command_cannot_carry_ask_instead_of_being_dropped(text, unmapped, command):
    intent = interpret(text, MODELS)
    assert intent.command is None and intent.firm, intent
    assert f"I can't act on {unmapped} in that request" in intent.question
    assert f"`{command}`" in intent.question and "\n" not in intent.question
    assert intent.suggestions == (command,)


@pytest.mark.parametrize(("text", "command"), [
    ("train fast with subset=500 epochs=1", "train fast subset=500 epochs=1"),
    ("train fast epochs=1 subset=500 please", "train fast epochs=1 subset=500"),
    ("train with 3 epochs epochs=3", "train epochs=3"),
    ("train with lr 2e-3", "train lr=2e-3"),
])
def test_settings_and_numbers_are_mapped_exactly_as_written(text, command):
    assert interpret(text, MODELS).command == command


def test_a_request_over_the_limit_is_refused_not_cut_into_another_request():
    head = "please tell me what digit is in the picture at "
    text = head + "very " * ((MAX_TEXT - len(head) - len("sample_images/")) // 5)
    text = text + " " * (MAX_TEXT - len(text) - len("sample_images/")) + "sample_images/7_mnist_01.png"
    assert interpret(text[:MAX_TEXT]).command == "predict sample_images/"  # the cut would predict the whole folder
    intent = interpret(text, MODELS)
    assert intent.command is None and intent.firm and f"more than the {MAX_TEXT} I read" in intent.question


@pytest.mark.parametrize(("text", "sentence"), [
    ("train with 3 epochs", True), ("use the best model", True), ("draw a digit", True),
    ("train with 1 epochs subset=2000", True), ("compare the last two runs", True),
    ("train turbo", False), ("train epochs=0", False), ("evaluate limit=x", False), ("use missing.h5", False),
    ("compare latest", False), ("compare 20261124 latest", False),
])
def test_a_command_with_a_wrong_argument_is_not_a_sentence(text, sentence):
    assert sentence_like(text) is sentence


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_command_that_parses_or_a_question(text):
    sentence_like(text)
    intent = interpret(text, MODELS)
    assert (intent.command is None) != (intent.question is None)
    if intent.command:
        try:
            parse_command(intent.command)
        except CommandError as exc:  # a number the user gave may be out of range: its own clear error
            assert str(exc) and "unknown command" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["what", "digit", "is", "train", "the", "fast", "3", "epochs", "x.png", "a", "why",
                                 "compare", "runs", "use", "best", "model", "it's", "7", "folder/", "?", "teach"]),
                max_size=12))
def test_sentences_of_known_words_never_crash(words):
    intent = interpret(" ".join(words), MODELS)
    assert intent.command or intent.question

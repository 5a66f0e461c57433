"""Plain requests to exact commands: "what digit is x.png?" becomes ``predict x.png``.

Rules and a small vocabulary, no network and no model: the words of a request decide which
command it means, and the paths, numbers and preset names in it fill the command's arguments.
Pure (no Textual, no TensorFlow), so it is easy to test and never slows the prompt down.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePath

PRESETS = ("classic", "fast", "default", "best", "robust")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "zero": 0, "a": 1, "an": 1,
}
DIGIT_WORDS = {k: v for k, v in NUMBER_WORDS.items() if v <= 9 and k not in ("a", "an")}
CONTRACTIONS = {"what's": ["what", "is"], "it's": ["it", "is"], "that's": ["that", "is"], "i'd": ["i", "would"],
                "let's": ["let", "us"], "how's": ["how", "is"], "which's": ["which", "is"], "who's": ["who", "is"],
                "don't": ["do", "not"], "isn't": ["is", "not"], "wasn't": ["was", "not"], "i'm": ["i", "am"]}
MAX_TEXT = 500  # longer input is refused, never cut (a cut path names its folder): a request is a sentence
# Words the rules cannot map to a command: a request holding one asks rather than drop it.
NEGATIONS = {"not", "without", "never", "nor", "neither", "except", "instead", "cannot", "dont", "no"}
CONDITIONS = {"if", "unless", "until", "when", "whenever", "provided", "otherwise", "but"}
NUMERIC_COMMANDS = ("train", "teach", "correct", "evaluate")  # each number in the request must reach the command
# Words that carry no meaning for choosing a command.
FILLER = {"please", "pls", "could", "would", "can", "you", "hey", "hi", "ok", "okay", "now", "just", "me", "for",
          "i", "want", "to", "like", "the", "a", "an", "my", "let", "lets", "us", "kindly", "go", "ahead", "and"}


@dataclass(frozen=True)
class Context:
    """What the app knows that plain words may refer to: the models on disk and their accuracy."""

    models: tuple[tuple[str, float | None], ...] = ()


@dataclass(frozen=True)
class Intent:
    """What a request means: ``command`` to run, or a ``question`` with ``suggestions`` when unsure."""

    command: str | None = None
    question: str | None = None
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    firm: bool = False  # the words were read but cannot all be acted on: ask, even over an exact command's error


@dataclass
class _Request:
    raw: str
    words: list[str]  # lower-case words, punctuation stripped
    paths: list[str]  # tokens that look like files or folders, as typed
    settings: list[tuple[str, str]] = field(default_factory=list)  # key=value, exactly as typed
    negatives: list[str] = field(default_factory=list)  # -3: a minus is not a word character, so 3 would remain

    def has(self, *phrases: str) -> bool:
        text = " " + " ".join(self.words) + " "
        return any(f" {p} " in text for p in phrases)

    def number_before(self, *units: str) -> int | None:
        """The number written just before one of ``units`` ("3 epochs", "three epochs")."""
        for i, word in enumerate(self.words):
            if word in units and i > 0:
                value = _number(self.words[i - 1])
                if value is not None:
                    return value
        return None

    def number_after(self, *keys: str) -> str | None:
        """The value written after one of ``keys`` ("batch size 64", "lr of 0.002")."""
        for i, word in enumerate(self.words):
            if word in keys:
                for nxt in self.words[i + 1 : i + 4]:
                    if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", nxt):
                        return nxt
        return None


def _number(word: str) -> int | None:
    if word.isdigit() and len(word) <= 6:
        return int(word)
    return NUMBER_WORDS.get(word)


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an apostrophe ("what's") or an unclosed quote: plain words are fine
        return text.split()


def _looks_like_path(token: str) -> bool:
    if "/" in token or token.startswith(("~", ".")) and len(token) > 1:
        return True
    suffix = PurePath(token).suffix.lower() if token else ""
    return suffix in IMAGE_SUFFIXES or suffix == ".h5"


def _request(text: str) -> _Request:
    paths, words, settings, negatives = [], [], [], []
    for token in _tokens(text):
        setting = re.fullmatch(r"([a-z_]+)=(.+)", token)
        if setting:  # subset=500: a setting the command takes as written
            settings.append((setting.group(1), setting.group(2).rstrip("?!,;")))
            continue
        stripped = token.rstrip("?!,;:)\"'")
        if re.fullmatch(r"[-−–]\d+(\.\d+)?", stripped):
            negatives.append(stripped)
        if stripped.endswith(".") and _looks_like_path(stripped[:-1]):  # the full stop ending a sentence
            stripped = stripped[:-1]
        if stripped and _looks_like_path(stripped):
            paths.append(stripped)
            continue
        for word in re.findall(r"\d+(?:\.\d+)?e-?\d+|[a-z0-9]+(?:['’.][a-z0-9]+)*", token.lower()):
            words.extend(CONTRACTIONS.get(word.replace("’", "'"), [word]))
    return _Request(text, words, paths, settings, negatives)


def _quote(arg: str) -> str:
    return shlex.quote(arg) if arg else "''"


def _images(req: _Request) -> list[str]:
    return [p for p in req.paths if PurePath(p).suffix.lower() != ".h5"]


def _models(req: _Request) -> list[str]:
    return [p for p in req.paths if PurePath(p).suffix.lower() == ".h5"]


def _need_image(command: str, example: str) -> Intent:
    return Intent(question=f"which image? give its path, e.g. `{command} {example}`",
                  suggestions=(f"{command} {example}", "samples"))


# -- the rules, most specific first -----------------------------------------------------------


def _teach(req: _Request, ctx: Context) -> Intent | None:
    if not req.has("teach", "finetune", "fine", "fine-tune", "learn", "adapt"):
        return None
    if req.has("fine") and not req.has("fine tune", "fine tuning"):
        return None
    folders = [p for p in req.paths if not PurePath(p).suffix]
    if folders:
        return Intent(f"teach {_quote(folders[0])}")
    if req.has("handwriting", "my digits", "my writing", "my own", "teach", "fine tune", "finetune"):
        return Intent("teach my_digits")
    return None


def _correct(req: _Request, ctx: Context) -> Intent | None:
    patterns = ("actually", "really", "should be", "was a", "is a", "its a", "correct", "wrong", "not a")
    if not req.has(*patterns) or req.has("how", "what", "which", "accuracy", "accurate"):
        return None
    digit = None
    for i, word in enumerate(req.words):
        if word in ("actually", "really", "be", "correct", "a", "is", "its", "was", "label") and i + 1 < len(req.words):
            nxt = req.words[i + 1]
            value = int(nxt) if nxt.isdigit() and len(nxt) == 1 else DIGIT_WORDS.get(nxt)
            if value is not None:
                digit = value
    if digit is None:
        return None
    return Intent(f"correct {digit}")


def _explain(req: _Request, ctx: Context) -> Intent | None:
    if not req.has("why", "explain", "explanation", "reason", "evidence", "saliency", "occlusion", "how come"):
        return None
    images = _images(req)
    if images:
        return Intent(f"explain {_quote(images[0])}")
    if req.has("mistake", "error", "misclassified"):
        return Intent("explain mistake")
    if req.has("drawing", "drawn", "sketch"):
        return Intent("explain drawing")
    return Intent("explain")


def _read(req: _Request, ctx: Context) -> Intent | None:
    multi = req.has("number", "digits", "numbers", "several", "year", "sequence", "multi", "multiple")
    if not (multi and req.has("read", "what", "which", "recognise", "recognize", "say", "says", "written", "in", "is")):
        return None
    if req.has("epoch", "epochs", "run", "runs", "model", "models"):
        return None
    images = _images(req)
    if not images:
        return _need_image("read", "sample_images/2026_paper.png")
    return Intent(f"read {_quote(images[0])}")


def _predict(req: _Request, ctx: Context) -> Intent | None:
    asks = req.has("what", "which", "predict", "recognise", "recognize", "classify", "identify", "guess", "read",
                   "tell", "check", "is", "digit", "see", "look", "scan", "label")
    images = _images(req)
    if images and (asks or not req.words):
        return Intent("predict " + " ".join(_quote(p) for p in images))
    if asks and req.has("digit", "image", "picture", "photo", "this", "file") and not req.has(
            "accurate", "accuracy", "model", "models", "runs", "run"):
        folders = [p for p in req.paths if not PurePath(p).suffix]
        if folders:
            return Intent(f"predict {_quote(folders[0])}")
        return _need_image("predict", "sample_images/7_mnist_01.png")
    return None


def _samples(req: _Request, ctx: Context) -> Intent | None:
    if not req.has("sample", "samples", "examples", "example"):
        return None
    folders = [p for p in req.paths if not PurePath(p).suffix]
    return Intent(f"samples {_quote(folders[0])}" if folders else "samples")


def _compare(req: _Request, ctx: Context) -> Intent | None:
    if not req.has("compare", "comparison", "versus", "vs", "difference", "diff"):
        return None
    named = [w for w in req.words if re.fullmatch(r"\d{8}-\d{6}.*|\d{8}-\d+", w)]
    if len(named) >= 2:
        return Intent("compare " + " ".join(named))
    count = next((n for w in req.words if (n := _number(w)) is not None and 2 <= n <= 10), 2)
    if req.has("last", "latest", "recent", "newest", "two", "runs", "both"):
        refs = [f"latest~{k}" for k in range(count - 1, 0, -1)] + ["latest"]
        return Intent("compare " + " ".join(refs))
    return Intent("compare latest~1 latest")


def _train(req: _Request, ctx: Context) -> Intent | None:
    if not req.has("train", "training", "retrain", "fit", "learn"):
        return None
    if req.has("stop", "cancel", "abort", "halt", "kill"):
        return None
    if req.has("runs", "history") and not req.has("start", "new"):
        return None
    parts = ["train"]
    presets = [w for w in req.words if w in PRESETS]
    if req.has("quick", "quickly", "fastest") and not presets:
        presets = ["fast"]
    if req.has("most accurate", "best accuracy", "highest accuracy") and not presets:
        presets = ["best"]
    if presets:
        parts.append(presets[0])
    epochs = req.number_before("epoch", "epochs", "pass", "passes")
    if epochs is not None:
        parts.append(f"epochs={epochs}")
    batch = req.number_after("batch", "batch_size", "batchsize")
    if batch is not None and "." not in batch:
        parts.append(f"batch_size={batch}")
    lr = req.number_after("lr", "rate")
    if lr is not None:
        parts.append(f"lr={lr}")
    subset = req.number_before("images", "examples", "samples") or req.number_after("subset")
    if subset is not None:
        parts.append(f"subset={subset}")
    outputs = _models(req)
    if outputs:
        parts.append(f"output={_quote(outputs[0])}")
    return _with_settings(parts, req)


def _with_settings(parts: list[str], req: _Request) -> Intent:
    """``parts`` with the request's key=value settings as written; one the words set otherwise asks."""
    read = {p.split("=", 1)[0]: p for p in parts[1:] if "=" in p}
    for key, value in req.settings:
        written = f"{key}={_quote(value)}"
        if key in read and read[key] != written:
            return _ask(f"both {read[key]} and {written}", " ".join(parts))
        if key in read:
            parts.remove(read[key])
        parts.append(written)
        read[key] = written
    return Intent(" ".join(parts))


def _stop(req: _Request, ctx: Context) -> Intent | None:
    if req.has("stop", "cancel", "abort", "halt", "kill", "interrupt") and req.has(
            "training", "train", "run", "it", "this", "that", "stop", "cancel", "abort", "halt"):
        if req.has("app", "program", "digitrec"):
            return None
        return Intent("stop")
    return None


def _use(req: _Request, ctx: Context) -> Intent | None:
    if not req.has("use", "switch", "load", "pick", "choose", "select", "activate"):
        return None
    if req.has("ascii", "blocks", "block", "half"):
        return None
    models = _models(req)
    if models:
        return Intent(f"use {_quote(models[0])}")
    if req.has("best", "most accurate", "highest", "top", "strongest"):
        rated = [(acc, path) for path, acc in ctx.models if isinstance(acc, (int, float))]
        if not rated:
            return Intent(question="which model? no model here has a test accuracy yet; `models` lists them",
                          suggestions=("models",))
        return Intent(f"use {_quote(max(rated)[1])}")
    if req.has("model", "models"):
        return Intent(question="which model? give its path, e.g. `use models/digit_recognizer.h5`; `models` lists them",
                      suggestions=("models",))
    return None


def _evaluate(req: _Request, ctx: Context) -> Intent | None:
    mistakes = req.has("mistake", "mistakes", "errors", "wrong", "misclassified", "confusion", "confuse", "confused")
    accuracy = req.has("accurate", "accuracy", "evaluate", "evaluation", "eval", "score", "good", "well", "test",
                       "performance", "precision", "recall")
    if not (mistakes or accuracy):
        return None
    if req.has("run", "runs") and req.has("list", "show", "all"):
        return None
    limit = req.number_before("images", "test", "digits")
    return Intent(f"evaluate limit={limit}" if limit and limit >= 1 else "evaluate")


def _runs(req: _Request, ctx: Context) -> Intent | None:
    if req.has("attach", "follow", "watch", "monitor", "track"):
        named = [w for w in req.words if re.fullmatch(r"\d{8}-\d{6}.*", w)]
        return Intent(f"attach {named[0]}" if named else "attach")
    if req.has("runs", "history", "past", "previous", "experiments", "training runs"):
        return Intent("runs")
    return None


def _models_list(req: _Request, ctx: Context) -> Intent | None:
    if req.has("models", "model") and req.has("list", "show", "which", "what", "all", "have", "available", "models"):
        return Intent("models")
    return None


def _draw(req: _Request, ctx: Context) -> Intent | None:
    if req.has("draw", "drawing", "sketch", "paint", "doodle", "canvas"):
        if req.has("clear", "erase", "wipe", "reset"):
            return Intent("draw clear")
        if req.has("save", "keep", "store"):
            return Intent("draw save")
        if req.has("number", "numbers", "year", "amount"):
            return Intent("draw number")
        if req.has("digit", "one digit", "single digit"):
            return Intent("draw digit")
        return Intent("draw")
    return None


def _render(req: _Request, ctx: Context) -> Intent | None:
    if req.has("blocks", "block", "half", "finer", "unicode"):
        return Intent("render blocks")
    if req.has("ascii", "characters", "plain text"):
        return Intent("render ascii")
    return None


def _small_talk(req: _Request, ctx: Context) -> Intent | None:
    if req.has("clear", "clean", "wipe") and not req.has("drawing", "canvas", "sketch") and req.has(
            "screen", "log", "conversation", "chat", "history", "clear"):
        return Intent("clear")
    if req.has("quit", "exit", "bye", "goodbye", "leave", "close"):
        return Intent("quit")
    if req.has("help", "commands", "what can you do", "how do i", "how to", "usage", "options", "manual"):
        topic = next((w for w in req.words if w in _COMMAND_WORDS and w != "help"), None)
        return Intent(f"help {topic}" if topic else "help")
    return None


_COMMAND_WORDS = {"help", "train", "stop", "evaluate", "predict", "read", "draw", "samples", "models", "use", "runs",
                  "attach", "render", "clear", "quit", "explain", "teach", "correct"}

RULES = (_small_talk, _teach, _correct, _explain, _compare, _stop, _train, _use, _read, _draw, _predict, _samples,
         _evaluate, _runs, _models_list, _render)

# Words that hint at a command, for suggestions when no rule is sure.
VOCABULARY = {
    "predict PATH": ("digit", "image", "picture", "photo", "recognise", "recognize", "what", "number"),
    "read PATH": ("number", "digits", "read", "year"),
    "train": ("train", "learn", "epochs", "preset", "model", "fit"),
    "evaluate": ("accuracy", "accurate", "test", "mistakes", "errors", "score", "model"),
    "runs": ("runs", "history", "run", "training"),
    "compare latest~1 latest": ("compare", "runs", "last", "two"),
    "models": ("models", "model", "files"),
    "draw": ("draw", "mouse", "canvas"),
    "explain PATH": ("why", "explain", "reason"),
    "teach FOLDER": ("teach", "handwriting", "finetune", "my"),
    "samples": ("samples", "examples", "images"),
    "help": ("help", "how", "commands"),
}


# Words that make a line a sentence rather than a command with a wrong argument ("train turbo").
SENTENCE_WORDS = FILLER | {"with", "in", "of", "on", "is", "it", "its", "this", "that", "all", "last", "two", "model",
                           "preset", "epochs", "epoch", "runs", "run", "training", "number", "digit", "what", "why",
                           "how", "was", "best", "latest", "from", "using", "mistakes", "mode", "image", "some", "up"}


ARGUMENT_WORDS = frozenset({"latest", "last", "best"})


def sentence_like(text: str) -> bool:
    """Whether a line starting with a command name reads as a sentence ("train with 3 epochs",
    "compare the last two runs", which parses as `compare` of runs named "the", "last", ...), not as
    that command with a wrong argument ("train turbo", "compare latest"), whose own error is the
    answer. Words that can be real arguments (``latest``, ``last``, ``best``) do not count."""
    # key=value settings are the command's own words ("evaluate limit=x" stays exact), but they
    # do not make the rest of a sentence exact: "train with 1 epochs subset=2000".
    words = _request(" ".join(t for t in text[:MAX_TEXT].split() if "=" not in t)).words[1:]
    return any(word in SENTENCE_WORDS - ARGUMENT_WORDS for word in words)


def interpret(text: str, context: Context | None = None) -> Intent:
    """What the plain request ``text`` asks for; never raises."""
    ctx = context or Context()
    if len(text) > MAX_TEXT:
        return Intent(question=f"that request is {len(text)} characters long, more than the {MAX_TEXT} I read; "
                               "say it shorter, or type the exact command (`help` lists them)",
                      suggestions=("help",), firm=True)
    try:
        req = _request(text)
    except Exception:  # noqa: BLE001 - odd input must give a question, never a crash
        return _unsure(text, [])
    if not req.words and not req.paths:
        return Intent(question="say what you would like to do, e.g. `what digit is sample_images/7_mnist_01.png?`",
                      suggestions=("help",))
    for rule in RULES:
        intent = rule(req, ctx)
        if intent is not None:
            return _checked(intent, req)
    return _unsure(text, req.words)


def _checked(intent: Intent, req: _Request) -> Intent:
    """``intent``, or a question where the request says more than its command does."""
    if intent.command is None:
        return intent
    words = req.words
    negation = next((w for i, w in enumerate(words) if (w in NEGATIONS and (w != "no" or i > 0))
                     or w.endswith(("n't", "n’t"))), None)
    if negation:
        return _ask(f"{negation!r}", intent.command)
    condition = next((w for w in words if w in CONDITIONS), None)
    if condition:
        return _ask(f"the condition {condition!r}", intent.command)
    if req.negatives:
        return _ask(f"the negative number {req.negatives[0]}", intent.command)
    command_words = intent.command.split()
    missing = [f"{k}={_quote(v)}" for k, v in req.settings if f"{k}={_quote(v)}" not in command_words]
    if missing:
        return _ask(missing[0], intent.command)
    if intent.command.split()[0] in NUMERIC_COMMANDS:
        used = {float(n) for n in re.findall(r"(?:(?<=\s)|(?<==))(\d+(?:\.\d+)?(?:e-?\d+)?)(?=\s|$)", intent.command)}
        for word in words:
            value = _value(word)
            if value is not None and value not in used:
                return _ask(f"the number {word}", intent.command)
    return intent


def _value(word: str) -> float | None:
    """The number ``word`` writes ("3", "0.002", "2e-3", "three"); "a" and "an" are not counted."""
    if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", word):
        return float(word)
    return float(NUMBER_WORDS[word]) if word in NUMBER_WORDS and word not in ("a", "an") else None


def _ask(unmapped: str, command: str) -> Intent:
    """A one-line question: ``unmapped`` has no place in ``command``, which is shown, not run."""
    return Intent(question=f"I can't act on {unmapped} in that request, so I ran nothing; the rest reads "
                           f"`{command}` (type that to run it, or say it another way)",
                  suggestions=(command,), firm=True)


def _unsure(text: str, words: list[str]) -> Intent:
    meaningful = set(words) - FILLER
    scored = sorted(((sum(w in meaningful for w in vocab), name) for name, vocab in VOCABULARY.items()), reverse=True)
    suggestions = tuple(name for score, name in scored if score > 0)[:3] or ("help", "predict PATH", "train")
    shown = " ".join(text.split())
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return Intent(question=f"I'm not sure what {shown!r} asks for; did you mean "
                           + ", ".join(f"`{s}`" for s in suggestions) + "? (`help` lists every command)",
                  suggestions=suggestions)

"""Errors the user can act on: each carries a one-line message saying what is wrong and what to do."""


class DigitrecError(Exception):
    """Base class: ``str(err)`` is a single line fit to show the user as it is."""


class DataError(DigitrecError):
    """MNIST could not be found, read or validated."""


class ModelFileError(DigitrecError):
    """A model file is missing, unreadable, unsafe or not a digit model."""


class ImageError(DigitrecError):
    """An image could not be read or turned into a digit."""


class RunError(DigitrecError):
    """A training run could not be started, found or resumed."""

"""digitrec: train, watch, test and use a handwritten-digit recogniser from the terminal."""

__version__ = "0.1.0"

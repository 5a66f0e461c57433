"""The digitrec terminal app (Textual). Imports the engine in ``tui.core``, never the reverse."""

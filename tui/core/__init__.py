"""The digitrec engine: data, model, runs, evaluation, preprocessing, inference, model files.

Nothing in this package imports Textual, and nothing imports TensorFlow at module import time:
modules that need it call :func:`tui.core.tf.import_tf` inside the function that needs it.
"""

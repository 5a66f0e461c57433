"""Widgets of the digitrec app."""

"""Modal screens of the digitrec app."""

"""File names written out: escaped for one line of text, valid UTF-8 for JSON.

A name on Linux is bytes: Python hands back the bytes that are not UTF-8 as lone surrogates
(``surrogateescape``), and a name may hold a newline or other control characters. Printed as they
are, the first become ``?`` or an encoding error and the second split a line of output in two.
"""

from __future__ import annotations

from typing import Any

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\a": "\\a"}


def for_text(text: str) -> str:
    """``text`` fit for one line of output: control characters and bytes that are not UTF-8 written
    as backslash escapes, as ``ls -b`` does (``\\n``, ``\\x1b``, ``\\xff``); backslashes stay as they are."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def for_json(text: str) -> str:
    """``text`` as valid Unicode: bytes of a name that are not UTF-8 become ``\\xNN`` (Python's
    ``backslashreplace``) instead of lone surrogates that strict JSON readers refuse."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name can hold: keep its code as text
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def json_safe(value: Any) -> Any:
    """``value`` (JSON-ready dicts, lists, strings, numbers) with every string through :func:`for_json`."""
    if isinstance(value, str):
        return for_json(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value

"""Checks on text that users type or import, shared by the question box and teaching sets.

Imports nothing of ours, so every layer (pipeline included) may use it.
"""

from __future__ import annotations

import unicodedata

_CONTROL_CATEGORIES = ("Cc", "Cs", "Co")


def has_control_characters(text: str) -> bool:
    """True when `text` holds control, surrogate or private-use characters other than tab and
    line breaks: such text is binary pasted by mistake and would corrupt exports."""
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES and c not in "\t\n\r" for c in text)


def terminal_safe(text: str) -> str:
    """`text` with control characters (C0 but tab and newline, DEL, C1) shown as `\\xNN`:
    an imported abstract may carry bytes that a terminal would run as escape sequences."""
    return "".join(
        c if c in "\t\n" or unicodedata.category(c) != "Cc" else f"\\x{ord(c):02x}" for c in text
    )


def json_terminal_safe(line: str) -> str:
    """A JSON text with C1 and DEL characters escaped as `\\u00NN` (json.dumps escapes only
    C0 when `ensure_ascii=False`); those characters only occur inside JSON strings."""
    return "".join(c if not 0x7F <= ord(c) <= 0x9F else f"\\u{ord(c):04x}" for c in line)

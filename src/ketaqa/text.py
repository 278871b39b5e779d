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

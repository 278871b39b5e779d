"""Progress messages: long-running steps take a `Progress` callback; `quiet` is the silent one.

Front ends decide where messages go (the CLI prints them to stderr, the UI to its progress bar);
library code only calls the callback it was given.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(message: str) -> None:
    """The default callback: say nothing."""

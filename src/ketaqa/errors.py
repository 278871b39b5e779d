"""One error family, so every front end can turn failures into a one-line message."""


class KetaqaError(Exception):
    """A problem the user can act on; the message says what was wrong and what to do."""


class InputError(KetaqaError):
    """A question, file or option the user gave is not usable."""


class CorpusError(KetaqaError):
    """A corpus file cannot be read (corrupt, encrypted, not text)."""


class IndexStateError(KetaqaError):
    """The saved index is missing, stale or damaged."""

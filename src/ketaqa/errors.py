"""One error family, so every front end can turn failures into a one-line message."""


class KetaqaError(Exception):
    """A problem the user can act on; the message says what was wrong and what to do."""


class InputError(KetaqaError):
    """A question, file or option the user gave is not usable."""


class CorpusError(KetaqaError):
    """A corpus file cannot be read (corrupt, encrypted, not text)."""


class IndexStateError(KetaqaError):
    """The saved index is missing, stale or damaged."""


class ReadOnlyError(KetaqaError):
    """A folder or file that must be written is read-only."""


def os_error_message(exc: OSError, what: str = "", setting: str = "") -> str:
    """One line for an OS failure: which path, what went wrong, and what to do.

    `what` names the thing ("the data folder"); `setting` is the KETAQA_* variable that
    chooses it, so the message can say how to point ketaqa somewhere else."""
    import errno

    path = exc.filename or ""
    thing = f"{what} {path}".strip() if what else (str(path) or "a file")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        msg = f"{thing} is read-only ({exc.strerror})"
        fix = f"set {setting} to a writable folder" if setting else "make it writable"
    elif exc.errno == errno.ENOENT:
        msg, fix = (
            f"{thing} does not exist",
            (f"set {setting} to an existing folder" if setting else ""),
        )
    elif exc.errno in (errno.EEXIST, errno.ENOTDIR):
        msg = f"{thing} is a file, not a folder"
        fix = f"set {setting} to a folder" if setting else "give a folder"
    elif exc.errno == errno.ENOSPC:
        msg, fix = f"no space left for {thing}", "free some disk space"
    else:
        msg, fix = f"cannot use {thing}: {exc.strerror or exc}", ""
    return f"{msg}; {fix}" if fix else msg

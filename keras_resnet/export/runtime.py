"""What every format's `load(path, *, threads=None)` checks the same way."""


def check_threads(threads):
    """Validates `threads` (None or a positive int); returns it."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads={threads!r} must be None or a positive int.")
    return threads

"""One user-facing error base for the whole science layer, and one way to make a message one line.

Every error a *user* can act on (a broken checkpoint, an unreadable image, a missing data set, an
uncalibrated model, a bad training option) derives from :class:`LatentExplorerError`.  The app and
the CLI show such an error's message as it is (one printable line) and log nothing; anything else is
a bug and is logged with its traceback (``explorer.errors``).  Deciding "expected or not" is one
``isinstance`` check against this class -- never a match on a type's name or module.

Why a common base and not ``ValueError``: library code raises ``ValueError`` for programming errors
too (a wrong tensor shape passed by a caller), and those are bugs the log must keep.
"""
from __future__ import annotations

#: Longest message a status bar or a CLI line shows; longer ones end in "…".
MAX_MESSAGE_CHARS = 300


class LatentExplorerError(Exception):
    """An error whose message is meant for the user: it says what happened and what to do."""


def one_line(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one printable line of at most ``limit`` characters.

    Whitespace runs (newlines included) become one space; control and other unprintable characters
    are shown escaped (``\\x1b``), so a file name cannot move the cursor or fake a second line."""
    text = " ".join(str(text).split())
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "…"


def printable_name(name: object, limit: int = 120) -> str:
    """A file or tensor name as one printable line that still shows the name exactly: every
    unprintable character (a newline included) is escaped (``\\n``), never collapsed to a space."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name))
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "…"


def first_line(exc: BaseException, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The first line of ``exc``'s message, cleaned with :func:`one_line` (the type name if empty)."""
    text = str(exc).strip()
    return one_line(text.splitlines()[0] if text else type(exc).__name__, limit)


class Cancelled(LatentExplorerError):
    """Long work (scoring a queue, inversion, encoding a data set) was cancelled by its caller.

    Library functions that take a ``cancel`` callable check it between batches or stages and raise
    this; the app treats it as a quiet end, not a failure."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)

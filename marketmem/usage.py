"""What the user or operator must fix, printed as one line without a traceback.

``UsageError``: a command-line mistake (exit 2). ``Refused``: the command cannot do its work
as things are (no database yet, a database it cannot open, an unreachable server); exit 1.
``CannotStart`` is the refusal of a command that starts a service (``run``, ``serve``,
``demo``: a database written by a newer marketmem, tables that do not match the code, a port
already taken), printed ``cannot start: ...``; exit 1.
"""

from __future__ import annotations


class UsageError(Exception):
    """A command-line mistake the user can fix; printed as one line, exit 2."""


class Refused(Exception):
    """The command cannot do its work as things are; printed as one line, exit 1."""

    prefix = ""


class CannotStart(Refused):
    """The service cannot start as things are; printed as one line, exit 1."""

    prefix = "cannot start: "

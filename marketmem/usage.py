"""What the user or operator must fix, printed as one line without a traceback.

``UsageError``: a command-line mistake (exit 2). ``CannotStart``: the service cannot start
as things are (a database written by a newer marketmem, tables that do not match the code);
exit 1.
"""

from __future__ import annotations


class UsageError(Exception):
    """A command-line mistake the user can fix; printed as one line, exit 2."""


class CannotStart(Exception):
    """The service cannot start as things are; printed as one line, exit 1."""

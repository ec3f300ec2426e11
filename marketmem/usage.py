"""``UsageError``: a command-line mistake the user can fix (printed as one line, exit 2)."""

from __future__ import annotations


class UsageError(Exception):
    """A command-line mistake the user can fix; printed as one line, exit 2."""

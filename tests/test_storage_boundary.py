"""No ``import apsw`` and no SQL text outside the storage, checked on the source's AST.

Every module of marketmem outside ``marketmem/storage/`` (and the fake venues of
``marketmem/venues/``) must neither import apsw (any form, anywhere in the file) nor hold a
string constant that starts, after whitespace, with an SQL keyword (``SELECT``, ``INSERT``,
``UPDATE``, ``DELETE``, ``WITH``, ``PRAGMA``, in capitals: prose in docstrings says "Delete
about ..."); the literal parts of an f-string count. The modules that still do are listed in
``PENDING`` with what they still need and why; an entry a module no longer needs fails the
test, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "marketmem"
EXEMPT = ("marketmem/storage/", "marketmem/venues/")

SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|PRAGMA)\b")

# module -> (what it still has: "apsw" and/or "sql", why)
PENDING: dict[str, tuple[frozenset[str], str]] = {}


def storage_talk(source: str) -> dict[str, list[int]]:
    """Lines of ``source`` that import apsw ("apsw") and that hold SQL text ("sql")."""
    found: dict[str, list[int]] = {"apsw": [], "sql": []}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(a.name == "apsw" or a.name.startswith("apsw.") for a in node.names):
                found["apsw"].append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if not node.level and (module == "apsw" or module.startswith("apsw.")):
                found["apsw"].append(node.lineno)
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
        ):
            found["sql"].append(node.lineno)
    return {kind: lines for kind, lines in found.items() if lines}


def checked_modules() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(EXEMPT):
            out[rel] = path.read_text(encoding="utf-8")
    return out


def test_no_apsw_and_no_sql_outside_the_storage() -> None:
    problems = []
    for rel, source in checked_modules().items():
        allowed = PENDING.get(rel, (frozenset(), ""))[0]
        for kind, lines in storage_talk(source).items():
            if kind not in allowed:
                what = "imports apsw" if kind == "apsw" else "holds SQL"
                problems.append(f"{rel}:{lines[0]} {what}: read through marketmem.storage")
    assert problems == []


def test_the_pending_list_only_shrinks() -> None:
    modules = checked_modules()
    stale = []
    for rel, (allowed, why) in PENDING.items():
        assert why, rel
        if rel not in modules:
            stale.append(f"{rel} is gone: drop its entry")
            continue
        for kind in sorted(allowed - set(storage_talk(modules[rel]))):
            stale.append(f"{rel} no longer needs {kind!r}: drop it from its entry")
    assert stale == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import apsw\n", {"apsw"}),
        ("import apsw.ext as e\n", {"apsw"}),
        ("from apsw import Connection\n", {"apsw"}),
        ("def f():\n    import apsw\n", {"apsw"}),
        ("if TYPE_CHECKING:\n    from apsw import Connection\n", {"apsw"}),
        ("import apswx\n", set()),
        ("from .apsw import x\n", set()),  # a module of its own package, not apsw
        ('q = "SELECT 1"\n', {"sql"}),
        ('q = """\n    WITH r AS (SELECT 1) SELECT * FROM r"""\n', {"sql"}),
        ('q = "PRAGMA page_count"\n', {"sql"}),
        ('q = f"DELETE FROM {table} WHERE t < ?"\n', {"sql"}),
        ('q = "INSERT INTO t VALUES (?)" if a else "UPDATE t SET a = 1"\n', {"sql"}),
        ('"""Delete about ``limit`` rows."""\n', set()),
        ('label = f"delete {table}"\n', set()),
        ('x = "SELECTED markets"\n', set()),
        ('x = "a SELECT b"\n', set()),
    ],
)
def test_the_checker_sees_apsw_and_sql_in_every_form(source: str, found: set[str]) -> None:
    assert set(storage_talk(source)) == found

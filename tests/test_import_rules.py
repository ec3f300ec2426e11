"""Which modules of marketmem may import which: a table of rules, checked on the source's AST.

Each rule is (importer glob, forbidden module prefix, reason). The glob is matched (fnmatch:
``*`` also crosses ``/``) against each module's path relative to the repository root; a glob
starting with ``!`` selects every module that does NOT match the rest. A module breaks a rule
when it imports the forbidden module or anything under it, by any form of import statement
(``import a.b``, ``from a import b``, ``from a.b import c``, relative ``from .b import c``),
wherever the statement is (a function body, ``if TYPE_CHECKING:``). Dynamic imports by name
(``importlib.import_module("...")``) are not statements and are not checked.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "marketmem"

HYPERLIQUID_INSIDE = "!marketmem/sources/hyperliquid/*"
Rule = tuple[str, str, str]
RULES: list[Rule] = [
    (
        HYPERLIQUID_INSIDE,
        "marketmem.sources.hyperliquid.info",
        "the info client and its weight budget are the Hyperliquid source's own: other areas "
        "get Hyperliquid data from the bus (the context poller's events)",
    ),
    (
        HYPERLIQUID_INSIDE,
        "marketmem.sources.hyperliquid.wire",
        "wire types stop at the source boundary: other areas see the typed events",
    ),
    (
        HYPERLIQUID_INSIDE,
        "marketmem.sources.hyperliquid.tables",
        "the source's tables are written by the storage writer from its events",
    ),
    (
        "marketmem/wslink.py",
        "marketmem.sources",
        "the WebSocket link is venue-neutral: a venue supplies its protocol, not the reverse",
    ),
    (
        "marketmem/budget.py",
        "marketmem.sources",
        "rate budgets are venue-neutral: a venue's weights stay in its own package",
    ),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an import statement of ``module``'s source may import.

    ``from a import b`` names both ``a`` and ``a.b`` (b may be a submodule)."""
    out: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return out


def selects(glob: str, rel_path: str) -> bool:
    if glob.startswith("!"):
        return not fnmatchcase(rel_path, glob[1:])
    return fnmatchcase(rel_path, glob)


def forbidden(imported: str, prefix: str) -> bool:
    return imported == prefix or imported.startswith(prefix + ".")


def violations(rules: list[Rule], modules: dict[str, tuple[str, str, bool]]) -> list[str]:
    """``modules``: path -> (module name, source, is package); one line per broken rule."""
    out: list[str] = []
    for rel_path, (name, source, is_package) in sorted(modules.items()):
        imports = imported_modules(source, name, is_package=is_package)
        for glob, prefix, reason in rules:
            if not selects(glob, rel_path):
                continue
            for imp in sorted(i for i in imports if forbidden(i, prefix)):
                out.append(f"{rel_path} imports {imp}: {reason}")
    return out


def package_modules() -> dict[str, tuple[str, str, bool]]:
    return {
        path.relative_to(ROOT).as_posix(): (
            module_name(path),
            path.read_text(encoding="utf-8"),
            path.name == "__init__.py",
        )
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_marketmem_keeps_the_import_rules() -> None:
    modules = package_modules()
    for glob, prefix, _ in RULES:
        # A rule that selects nothing, or forbids a module that is not there, checks nothing.
        assert any(selects(glob, p) for p in modules), glob
        assert any(name == prefix for name, _, _ in modules.values()), prefix
    assert violations(RULES, modules) == []


@pytest.mark.parametrize(
    ("source", "broken"),
    [
        ("from marketmem.sources.hyperliquid import wire\n", True),
        ("from marketmem.sources.hyperliquid.info import InfoClient\n", True),
        ("import marketmem.sources.hyperliquid.tables as t\n", True),
        ("def f():\n    from marketmem.sources.hyperliquid.wire import L2Book\n", True),
        ("from ..sources.hyperliquid import info\n", True),  # relative, from marketmem.features
        ("from marketmem.sources.hyperliquid import build, reads\n", False),
        ("from marketmem.sources.hyperliquid.wirex import A\n", False),  # a prefix, not a module
        ("from marketmem.events import L2Book\n", False),
    ],
)
def test_the_checker_sees_every_form_of_import(source: str, broken: bool) -> None:
    modules = {"marketmem/features/x.py": ("marketmem.features.x", source, False)}
    assert bool(violations(RULES, modules)) is broken
    # The same imports inside the Hyperliquid source package are allowed.
    own = source.replace("..sources.hyperliquid", ".")
    inside = {"marketmem/sources/hyperliquid/x.py": ("marketmem.sources.hyperliquid.x", own, False)}
    assert violations(RULES, inside) == []


def test_relative_imports_resolve_from_modules_and_packages() -> None:
    assert "marketmem.sources.hyperliquid.wire" in imported_modules(
        "from .wire import L2Book\n", "marketmem.sources.hyperliquid.context"
    )
    assert "marketmem.sources.hyperliquid.wire" in imported_modules(
        "from . import wire\n", "marketmem.sources.hyperliquid", is_package=True
    )
    assert "marketmem.sources.hyperliquid.wire" in imported_modules(
        "from ..hyperliquid import wire\n", "marketmem.sources.defillama", is_package=True
    )

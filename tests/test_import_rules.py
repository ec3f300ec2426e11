"""Which modules of marketmem may import which: a table of rules, checked on the source's AST.

Each rule is (importer glob, forbidden module prefix, reason). The glob is matched (fnmatch:
``*`` also crosses ``/``) against each module's path relative to the repository root; ``a|b``
selects modules matching either, and a glob starting with ``!`` selects every module that
matches none of the rest. A module breaks a rule
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
# Sources (and the derived feature source) publish events and read through the storage
# helpers; the writer, the schema, the core tables and the engines' dialects are the storage's
# own (a source declares its tables, an engine renders them), and serving HTTP or supervising
# is not a source's business.
SOURCE_AREAS = ("marketmem/sources/*", "marketmem/features/*")
STORAGE_INTERNALS = (
    "marketmem.storage.writer",
    "marketmem.storage.schema",
    "marketmem.storage.core_tables",
    "marketmem.storage.access_tables",
    "marketmem.storage.backup",
    "marketmem.storage.sqlite",
    "marketmem.storage.postgres",
)
for area in SOURCE_AREAS:
    RULES += [
        (area, internal, "storage internals: a source publishes events, the writer stores them")
        for internal in STORAGE_INTERNALS
    ]
    RULES += [
        (area, "marketmem.http", "a source declares read routes; the HTTP layer serves them"),
        (area, "marketmem.supervisor", "the supervisor runs sources, never the reverse"),
        (area, "marketmem.plugins", "a source is listed in plugins, it does not read the list"),
    ]
# The storage is below every area: it stores their events and answers their reads, and knows
# their tables only by name.
RULES += [
    ("marketmem/storage/*", area, "the storage is below the areas; they call it, never the reverse")
    for area in (
        "marketmem.sources",
        "marketmem.features",
        "marketmem.retention",
        "marketmem.http",
        "marketmem.supervisor",
        "marketmem.plugins",
    )
]
RULES += [
    (
        "!marketmem/venues/*|marketmem/demo.py",
        "marketmem.venues",
        "the local venues are fakes for tests and the demo; only marketmem.demo uses them",
    ),
    (
        "!marketmem/commands/demo.py",
        "marketmem.demo",
        "only the demo command loads the demo (and through it the venues)",
    ),
    (
        "marketmem/http/*",
        "marketmem.supervisor",
        "the supervisor serves HTTP; HTTP never reaches back into the supervisor",
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
    """``a|b`` matches either; ``!a|b`` matches neither."""
    negated = glob.startswith("!")
    hit = any(fnmatchcase(rel_path, g) for g in glob.lstrip("!").split("|"))
    return hit != negated


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


@pytest.mark.parametrize(
    ("path", "source", "broken"),
    [
        ("marketmem/sources/polymarket/x.py", "from marketmem.storage.writer import W\n", True),
        ("marketmem/features/x.py", "from marketmem.storage import schema\n", True),
        ("marketmem/sources/defillama/x.py", "from marketmem.http.app import make_app\n", True),
        (
            "marketmem/sources/defillama/x.py",
            "from marketmem.storage.tables import Upsert\n",
            False,
        ),
        ("marketmem/http/x.py", "from marketmem.supervisor import run_service\n", True),
        ("marketmem/storage/reads/x.py", "from marketmem.sources.polymarket import a\n", True),
        ("marketmem/storage/x.py", "from marketmem.features.tables import IMPACTS\n", True),
        ("marketmem/storage/x.py", "from marketmem.http.errors import ApiError\n", True),
        ("marketmem/storage/x.py", "from marketmem.events import Candle\n", False),
        ("marketmem/cli.py", "from marketmem.venues import hyperliquid\n", True),
        ("marketmem/demo.py", "from marketmem.venues import hyperliquid\n", False),
        ("marketmem/venues/x.py", "from marketmem.venues.hyperliquid import X\n", False),
        ("marketmem/commands/core.py", "import marketmem.demo\n", True),
        ("marketmem/commands/demo.py", "import marketmem.demo\n", False),
    ],
)
def test_the_rules_of_each_area(path: str, source: str, broken: bool) -> None:
    name = path.removesuffix(".py").replace("/", ".")
    assert bool(violations(RULES, {path: (name, source, False)})) is broken


def test_a_glob_selects_alternatives_and_their_complement() -> None:
    assert selects("a/*|b.py", "a/x.py") and selects("a/*|b.py", "b.py")
    assert not selects("a/*|b.py", "c.py")
    assert selects("!a/*|b.py", "c.py") and not selects("!a/*|b.py", "b.py")

"""The lock files agree with pyproject.toml (bin/lock rewrites them; see README, Install)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ \\]+)")


def pins(lock: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / lock).read_text().splitlines():
        if m := PIN.match(line):
            out[canonicalize_name(m[1])] = m[2]
    return out


def test_every_pin_has_hashes() -> None:
    for lock in ("requirements.lock", "requirements-test.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
        pinned = [b for b in blocks if PIN.match(b)]
        assert len(pinned) == len(pins(lock)) > 0
        for block in pinned:
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_locks_satisfy_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    cases = [
        ("requirements.lock", project["dependencies"]),
        (
            "requirements-test.lock",
            project["dependencies"] + project["optional-dependencies"]["test"],
        ),
    ]
    for lock, reqs in cases:
        pinned = pins(lock)
        for spec in reqs:
            req = Requirement(spec)
            name = canonicalize_name(req.name)
            assert name in pinned, f"{lock} lacks {req.name}: run bin/lock"
            assert req.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {name}=={pinned[name]}, pyproject wants {req.specifier}: run bin/lock"
            )


def test_test_lock_pins_the_runtime_packages_alike() -> None:
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert {n: test.get(n) for n in runtime} == runtime

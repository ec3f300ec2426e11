"""The fakes stay out of the production path: the local venues, their simulators and the demo
are loaded by the demo (and tests) only, never by the CLI of any other command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from marketmem import cli
from marketmem.plugins import load_config
parser = cli.build_parser()
args = parser.parse_args(["status"])
config = load_config()
fakes = sorted(m for m in sys.modules if m.startswith("marketmem.venues") or m == "marketmem.demo")
print(",".join(fakes))
"""


def test_no_command_but_the_demo_imports_a_venue() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""

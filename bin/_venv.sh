# Sourced by bin/marketmem and bin/test: make sure .venv exists and is not older than
# pyproject.toml, installing the project (and, with MARKETMEM_EXTRAS, its extras) into it.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-${MARKETMEM_EXTRAS:-base}"
PY="${PYTHON:-python3}"

needs_install() {
    [ ! -x "$VENV/bin/python" ] && return 0
    [ ! -f "$STAMP" ] && return 0
    [ "$ROOT/pyproject.toml" -nt "$STAMP" ] && return 0
    return 1
}

if needs_install; then
    if [ ! -x "$VENV/bin/python" ]; then
        echo "marketmem: creating $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    spec="$ROOT"
    [ -n "${MARKETMEM_EXTRAS:-}" ] && spec="$ROOT[${MARKETMEM_EXTRAS}]"
    echo "marketmem: installing $spec into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
    touch "$STAMP"
    # A test install also satisfies the base install.
    touch "$VENV/.installed-base"
fi

# Sourced by bin/marketmem and bin/test: make sure .venv exists and was installed from the
# current pyproject.toml, installing the project (and, with MARKETMEM_EXTRAS, its extras) into it.
# The stamp holds the SHA-256 of the pyproject.toml it was installed from, so any change to it
# (a new dependency, pulled or checked out, whatever the file times say) reinstalls; a stamp
# from before this scheme holds no hash and so reinstalls once too.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-${MARKETMEM_EXTRAS:-base}"
PY="${PYTHON:-python3}"
PYPROJECT_HASH="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"

needs_install() {
    [ ! -x "$VENV/bin/python" ] && return 0
    [ ! -f "$STAMP" ] && return 0
    [ "$(cat "$STAMP")" != "$PYPROJECT_HASH" ] && return 0
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
    echo "$PYPROJECT_HASH" >"$STAMP"
    # A test install also satisfies the base install.
    echo "$PYPROJECT_HASH" >"$VENV/.installed-base"
fi

# Sourced by bin/marketmem and bin/test: make sure .venv exists and holds exactly the pinned
# packages of the lock file (requirements.lock; requirements-test.lock with MARKETMEM_EXTRAS=test),
# installed with their hashes checked, and the source tree on its import path.
# The stamp holds the SHA-256 of the lock it was installed from (and of this tree's path), so
# any change to the lock (pulled, checked out or rewritten by bin/lock, whatever the file times
# say) reinstalls; a stamp from before this scheme holds another hash and so reinstalls once too.
# The project itself is not built: marketmem.pth in site-packages puts the source tree on
# sys.path, which is what an editable install of this flat layout amounts to, without running a
# build backend (no setuptools fetched unpinned into an isolated build, no warnings, seconds
# saved). bin/marketmem is the entry point; pyproject's [project.scripts] serves a wheel build.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-${MARKETMEM_EXTRAS:-base}"
PY="${PYTHON:-python3}"
LOCK="$ROOT/requirements.lock"
case "${MARKETMEM_EXTRAS:-}" in
"") ;;
test) LOCK="$ROOT/requirements-test.lock" ;;
*)
    echo "marketmem: MARKETMEM_EXTRAS=${MARKETMEM_EXTRAS}: only 'test' has a lock file" >&2
    exit 2
    ;;
esac
stamp_of() { printf '%s %s\n' "$(sha256sum "$1" | cut -d' ' -f1)" "$ROOT"; }
LOCK_HASH="$(stamp_of "$LOCK")"

needs_install() {
    [ ! -x "$VENV/bin/python" ] && return 0
    [ ! -f "$STAMP" ] && return 0
    [ "$(cat "$STAMP")" != "$LOCK_HASH" ] && return 0
    return 1
}

if needs_install; then
    if [ ! -x "$VENV/bin/python" ]; then
        echo "marketmem: creating $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    echo "marketmem: installing ${LOCK#"$ROOT/"} into $VENV" >&2
    start=$SECONDS
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-hashes -r "$LOCK" >&2
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    echo "$ROOT" >"$site/marketmem.pth"
    echo "marketmem: installed in $((SECONDS - start)) s" >&2
    echo "$LOCK_HASH" >"$STAMP"
    # The test lock pins every runtime package at the same version (tests/test_lock.py checks),
    # so a test install also satisfies the base install.
    if [ "${MARKETMEM_EXTRAS:-}" = "test" ]; then
        stamp_of "$ROOT/requirements.lock" >"$VENV/.installed-base"
    fi
fi

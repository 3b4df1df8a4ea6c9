#!/usr/bin/env bash
# Provision the Python virtualenv used by the echorpc interop tests.
#
# Usage:  tests/interop/setup_venv.sh
#
# Environment:
#   ECHORPC_INTEROP_VENV     where the venv lives (default: <repo>/target/interop-venv)
#   ECHORPC_INTEROP_PYTHON   interpreter used to create it (default: python3; needs >= 3.10)
#
# What it does (idempotent):
#   1. creates the venv with `python -m venv` if it does not exist,
#   2. pip-installs the pinned reference package and its websockets dependency,
#   3. imports echorpc and checks the installed versions,
#   4. writes a stamp file holding the pins; when the stamp matches and the
#      venv's python still runs, the script is a fast no-op.
#
# Output: progress on stderr; the LAST line on stdout is the absolute path of
# the venv's python interpreter (the only thing a caller needs to parse).
# Exit status: 0 on success, non-zero with an "setup_venv.sh: error: ..." line
# on stderr on any failure.
#
# Concurrent callers (e.g. several cargo test threads) are serialised with
# flock on "<venv>.lock" when flock(1) is available.

set -euo pipefail

# Pinned versions. echorpc 1.0.0 requires websockets>=16.0; we pin the exact
# websockets release the suite was verified with so runs are reproducible.
ECHORPC_PIN="echorpc==1.0.0"
WEBSOCKETS_PIN="websockets==17.4"

die() {
    echo "setup_venv.sh: error: $*" >&2
    exit 1
}
log() {
    echo "setup_venv.sh: $*" >&2
}

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
venv="${ECHORPC_INTEROP_VENV:-$repo_root/target/interop-venv}"
base_python="${ECHORPC_INTEROP_PYTHON:-python3}"
venv_python="$venv/bin/python"
stamp="$venv/.echorpc-interop-stamp"
stamp_text="$ECHORPC_PIN $WEBSOCKETS_PIN"

mkdir -p "$(dirname "$venv")" || die "cannot create parent directory of $venv"

# Serialise concurrent runs.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock" || die "cannot open lock file $venv.lock"
    flock -w 600 9 || die "timed out waiting for lock $venv.lock"
fi

is_provisioned() {
    [[ -x "$venv_python" && -f "$stamp" ]] || return 1
    [[ "$(cat "$stamp")" == "$stamp_text" ]] || return 1
    "$venv_python" -c "import echorpc, websockets" >/dev/null 2>&1
}

if is_provisioned; then
    echo "$venv_python"
    exit 0
fi

log "provisioning $venv ($stamp_text)"

command -v "$base_python" >/dev/null 2>&1 || die "interpreter '$base_python' not found (set ECHORPC_INTEROP_PYTHON)"
"$base_python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$base_python is $("$base_python" -V 2>&1); echorpc needs Python >= 3.10"

if [[ ! -x "$venv_python" ]]; then
    rm -rf "$venv"
    "$base_python" -m venv "$venv" >&2 \
        || die "'$base_python -m venv $venv' failed (on Debian: apt-get install python3-venv)"
fi

rm -f "$stamp"
"$venv_python" -m pip install --disable-pip-version-check --no-input --quiet \
    "$ECHORPC_PIN" "$WEBSOCKETS_PIN" >&2 \
    || die "pip install $ECHORPC_PIN $WEBSOCKETS_PIN failed (is PyPI reachable?)"

"$venv_python" - "$ECHORPC_PIN" "$WEBSOCKETS_PIN" >&2 <<'EOF' || die "installed packages failed verification"
import sys
from importlib.metadata import version

import echorpc  # noqa: F401  (the import itself is part of the check)
import websockets  # noqa: F401

for pin in sys.argv[1:]:
    name, want = pin.split("==")
    got = version(name)
    if got != want:
        sys.exit(f"{name}: installed {got}, expected {want}")
print("verified:", ", ".join(f"{p.split('==')[0]} {version(p.split('==')[0])}" for p in sys.argv[1:]))
EOF

printf '%s' "$stamp_text" >"$stamp" || die "cannot write stamp $stamp"
log "done"
echo "$venv_python"

#!/usr/bin/env bash
# Builds the benchmark harness and runs the whole suite against every server binary present.
# Arguments go to the runner, e.g. `bench/run.sh --repeat 5` or `bench/run.sh --quick`.
# The table goes to stdout, progress to stderr. Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"
# Scenarios e and f open up to 10,001 sockets in the runner and as many in the server, which
# inherits this limit: raise the soft limit to the hard one (the runner skips what still does
# not fit, and says so).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release -j 2
exec ./target/release/runner "$@"

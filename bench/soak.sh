#!/usr/bin/env bash
# The soak scenario, run by hand (never by CI): builds the example server and the soak driver,
# then drives the server for a bounded time and samples its memory and file descriptors.
#
#   bash bench/soak.sh [--minutes M | --seconds S] [--clients N] [--every S]   (default 10 min, 16 clients)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$root" && cargo build --release --example server)
server="${CARGO_TARGET_DIR:-$root/target}/release/examples/server"
cd "$root/bench"
cargo run --release --bin soak -- --server "$server" "$@"

#!/usr/bin/env bash
# CI for the benchmark harness (called by .ci/run): format, lints, unit tests, then a run of
# about one second against one server (`runner --quick`). It proves the harness builds and
# measures correctly answered calls; it never asserts a speed.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --check
cargo build --release -j 2 --locked
cargo clippy --all-targets -j 2 --locked -- -D warnings
# Binaries' tests first, so the last test summary is the library's (the larger one).
cargo test --bins -j 2 --locked
cargo test --lib -j 2 --locked
./target/release/runner --quick

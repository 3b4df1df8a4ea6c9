#!/usr/bin/env bash
# Runs the fuzz targets under AFL++ (cargo-afl, stable Rust) for a bounded time each.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      default: 60 s each, all four targets
#
# Needs `cargo install cargo-afl` (it builds AFL++ from the sources shipped in the crate; only
# make and a C compiler are required). Findings go to fuzz/out/<target>/ (kept between runs:
# a new run resumes). Every crash or hang is copied to fuzz/regressions/<target>/, which
# `cargo test` in fuzz/ replays from then on, and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(router_frames http_upgrade params_decode client_frames)
fi

# No CPU governor, core-pattern or terminal UI changes on a shared machine or in CI.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_AUTORESUME=1
export AFL_NO_AFFINITY=1 AFL_QUIET=1

cargo afl build --release --features afl --bins
bin_dir="${CARGO_TARGET_DIR:-target}/release"

found=0
for target in "${targets[@]}"; do
  out="out/$target"
  mkdir -p "$out"
  printf '\n== fuzzing %s for %s s\n' "$target" "$seconds"
  # -V: stop after this many seconds; -t: a run slower than 2 s is a hang.
  cargo afl fuzz -i "corpus/$target" -o "$out" -V "$seconds" -t 2000 -- "$bin_dir/$target" \
    > "$out/afl.log" 2>&1 || { tail -20 "$out/afl.log"; exit 1; }
  stats="$out/default/fuzzer_stats"
  for key in execs_done execs_per_sec corpus_count bitmap_cvg edges_found total_edges saved_crashes saved_hangs; do
    printf '  %-14s %s\n' "$key" "$(awk -F' *: *' -v k="$key" '$1 == k { print $2 }' "$stats")"
  done
  for kind in crashes hangs; do
    for input in "$out/default/$kind"/id:*; do
      [ -e "$input" ] || continue
      mkdir -p "regressions/$target"
      name="$kind-$(sha1sum "$input" | cut -c1-12)"
      cp "$input" "regressions/$target/$name"
      printf '  FOUND %s: fuzz/regressions/%s/%s\n' "$kind" "$target" "$name"
      found=1
    done
  done
done

if [ "$found" -ne 0 ]; then
  echo "the fuzzers found failing inputs (copied to fuzz/regressions/); replay them with: cd fuzz && cargo test"
  exit 1
fi

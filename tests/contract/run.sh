#!/usr/bin/env bash
# The contract checks of issue 12, run by .ci/run (and by hand: bash tests/contract/run.sh):
#   1. `cargo run --example export -- DIR` writes openrpc.json and services.ts;
#   2. openrpc.json is valid against the OpenRPC meta-schema (npm @open-rpc/meta-schema) and
#      every schema in it compiles (ajv);
#   3. the committed examples/chat/services.ts is what export writes now;
#   4. samples/usage.ts type-checks against services.ts under `tsc --strict --noEmit`;
#   5. samples/wrong_param.ts fails to, with exactly the expected error;
#   6. the `Game` service of echorpc/tests/contract_openrpc.rs (every shape the TypeScript
#      mapping treats specially: trailing and middle `Option`, enums tagged each way serde tags
#      them, unit variants, whole-struct params, `()`) is exported by that test
#      (ECHORPC_CONTRACT_OUT=DIR);
#   7. its openrpc.json is valid like the examples';
#   8. samples/game_usage.ts, using every shape, type-checks against its services.ts;
#   9. samples/game_wrong.ts fails to, with exactly the errors its EXPECTED-ERROR markers name
#      (expect-errors.mjs);
#  10. the chat page's TypeScript compiles, and the committed examples/chat/dist is its output;
#  11. the chat page works in headless Chromium (chat.test.mjs), showing the method and
#      callback counts of the exported openrpc.json.
# Needs node/npm and chromium: with CI=true a missing one is a failure, otherwise a skip that
# says so. Ends with "contract checks: N passed, N failed".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
chromium_bin="${CHROMIUM:-/usr/bin/chromium}"

missing=()
command -v node >/dev/null 2>&1 || missing+=("node")
command -v npm >/dev/null 2>&1 || missing+=("npm")
[ -x "$chromium_bin" ] || missing+=("chromium ($chromium_bin)")
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "contract checks: missing ${missing[*]} (CI=true: failing, not skipping)" >&2
    exit 1
  fi
  echo "contract checks: SKIPPED, missing ${missing[*]} (install them, see .ci/run)" >&2
  exit 0
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
tsc=("$here/node_modules/.bin/tsc")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
target="${CARGO_TARGET_DIR:-$root/target}"

passed=0
failed=0
check() {
  local name="$1"
  shift
  if "$@" >"$out/log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     /' "$out/log"
  fi
}

(cd "$root" && cargo build --quiet -p echorpc-examples --example export --example chat)
check "export writes openrpc.json and services.ts" \
  "$target/debug/examples/export" "$out/gen"
check "openrpc.json is valid OpenRPC (meta-schema) with compiling schemas" \
  node validate-openrpc.mjs "$out/gen/openrpc.json" add whoami ask_double announce chat double
regenerate="(regenerate: bash tests/contract/regenerate-chat.sh)"
committed_services_are_current() {
  diff -u "$root/examples/chat/services.ts" "$out/gen/services.ts" || { echo "$regenerate"; return 1; }
}
check "examples/chat/services.ts is what export writes now" committed_services_are_current

strict=(--strict --noEmit --target ES2020 --lib ES2020 --module ES2020 --moduleResolution bundler --noUnusedLocals)
mkdir -p "$out/usage" "$out/wrong"
cp "$out/gen/services.ts" samples/usage.ts "$out/usage/"
cp "$out/gen/services.ts" samples/wrong_param.ts "$out/wrong/"
check "samples/usage.ts type-checks (tsc --strict --noEmit)" \
  "${tsc[@]}" "${strict[@]}" "$out/usage/usage.ts"
# A sample that must not compile: tsc must fail with exactly the errors its lines mark
# (`// EXPECTED-ERROR TSnnnn: fragment`, checked by expect-errors.mjs), and no others.
fails_with_marked_errors() {
  local sample="$1"
  if "${tsc[@]}" "${strict[@]}" "$sample" >"$sample.log" 2>&1; then
    echo "$(basename "$sample") compiled, but every marked line breaks the module's types"
    return 1
  fi
  cat "$sample.log"
  node expect-errors.mjs "$sample" "$sample.log"
}
check "samples/wrong_param.ts fails with exactly its marked error (TS2345)" \
  fails_with_marked_errors "$out/wrong/wrong_param.ts"

# The Game service: every shape of the mapping, through the same checks.
export_game() {
  (cd "$root" && ECHORPC_CONTRACT_OUT="$out/game" cargo test --quiet -p echorpc --features schema \
    --test contract_openrpc -- --exact game_contract_is_deterministic_and_exported)
  # A renamed test would run nothing and pass: the files must be there.
  test -s "$out/game/openrpc.json" && test -s "$out/game/services.ts"
}
check "game contract: the contract_openrpc test exports openrpc.json and services.ts" export_game
check "game openrpc.json is valid OpenRPC (meta-schema) with compiling schemas" \
  node validate-openrpc.mjs "$out/game/openrpc.json" game.place game.play game.reset_all game.put \
  game.moved game.mark game.configure game.finish game.finished
mkdir -p "$out/game-usage" "$out/game-wrong"
cp "$out/game/services.ts" samples/game_usage.ts "$out/game-usage/"
cp "$out/game/services.ts" samples/game_wrong.ts "$out/game-wrong/"
check "samples/game_usage.ts (every Option/enum/params shape) type-checks (tsc --strict --noEmit)" \
  "${tsc[@]}" "${strict[@]}" "$out/game-usage/game_usage.ts"
check "samples/game_wrong.ts fails with exactly its marked errors" \
  fails_with_marked_errors "$out/game-wrong/game_wrong.ts"

page_compiles_to_committed_dist() {
  mkdir -p "$out/page"
  cp "$out/gen/services.ts" "$root/examples/chat/chat.ts" "$out/page/"
  "${tsc[@]}" --strict --target ES2020 --lib ES2020,DOM --module ES2020 --moduleResolution bundler \
    --outDir "$out/page/dist" "$out/page/chat.ts" "$out/page/services.ts"
  diff -ru "$root/examples/chat/dist" "$out/page/dist" || { echo "$regenerate"; return 1; }
}
check "the chat page compiles; examples/chat/dist is its output" page_compiles_to_committed_dist
check "chat page in headless Chromium: two tabs chat, server calls the page back" \
  env CHAT_BIN="$target/debug/examples/chat" CHROMIUM="$chromium_bin" OPENRPC="$out/gen/openrpc.json" \
  node --test chat.test.mjs

echo "contract checks: $passed passed, $failed failed"
[ "$failed" = 0 ]

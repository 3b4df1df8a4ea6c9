#!/usr/bin/env bash
# Regenerates the chat page's committed, generated files after a change to the TypeScript
# generator (echorpc/src/contract/), to the examples' services or to examples/chat/chat.ts:
#   examples/chat/services.ts   what `cargo run --example export -- DIR` writes;
#   examples/chat/dist/         tsc's output for the page, with the flags run.sh checks.
# run.sh fails until these match. Usage: bash tests/contract/regenerate-chat.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$root" && cargo run --quiet -p echorpc-examples --example export -- "$out/gen" >/dev/null)
cp "$out/gen/services.ts" "$root/examples/chat/services.ts"
mkdir -p "$out/page"
cp "$root/examples/chat/services.ts" "$root/examples/chat/chat.ts" "$out/page/"
# The same flags as run.sh's page_compiles_to_committed_dist.
"$here/node_modules/.bin/tsc" --strict --target ES2020 --lib ES2020,DOM --module ES2020 \
  --moduleResolution bundler --outDir "$out/page/dist" "$out/page/chat.ts" "$out/page/services.ts"
rm -rf "$root/examples/chat/dist"
cp -r "$out/page/dist" "$root/examples/chat/dist"
echo "regenerated examples/chat/services.ts and examples/chat/dist"

#!/bin/sh
# Release artifacts from what `make build` built: the component, the agent (and the local
# runtime) for this machine's architecture, an aarch64 agent when that target and its linker
# are installed, and SHA256SUMS in `sha256sum` format. Usage: scripts/dist.sh [DIR] (default dist).
set -eu
cd "$(dirname "$0")/.."
out="${1:-dist}"
arch=$(uname -m)
rm -rf "$out"
mkdir -p "$out"
cp target/wasm32-wasip2/release/edgepedia.wasm "$out/edgepedia.wasm"
cp target/native/sync-agent "$out/sync-agent-linux-$arch"
cp target/native/edgepedia-host "$out/edgepedia-host-linux-$arch"
cp spin.toml "$out/spin.toml"
if [ -n "${DIST_AARCH64_AGENT:-}" ]; then
    cp "$DIST_AARCH64_AGENT" "$out/sync-agent-linux-aarch64"
fi
# spin.toml next to the .wasm: `spin registry push` and `spin up --from` take it as is.
sed -i 's#^source = "target/wasm32-wasip2/release/edgepedia.wasm"#source = "edgepedia.wasm"#' "$out/spin.toml"
(cd "$out" && sha256sum -- * > SHA256SUMS)
echo "dist: $(ls "$out" | tr '\n' ' ')"

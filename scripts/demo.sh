#!/usr/bin/env bash
# The demo on a fresh machine: install what is missing, build, bring up a
# throwaway veth lab (src ── dut ── dst), forward real traffic through
# xskfwd in dut for a few seconds, print the rates, tear everything down.
# Extra arguments go to `xskfwd demo` (see `xskfwd demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then exec sudo -E "$0" "$@"; fi
    echo "demo.sh: needs root (network namespaces, XDP, AF_XDP)" >&2
    exit 1
fi
scripts/install-deps.sh
cargo build --release --locked
exec target/release/xskfwd demo "$@"

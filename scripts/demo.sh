#!/usr/bin/env bash
# The demo on a fresh machine: install what is missing, build, bring up a
# throwaway veth lab (src ── dut ── dst) and put Linux forwarding, xskfwd
# L2 and xskfwd L3 side by side with the in-kernel generator: zero-loss and
# full-load rates, frames conserved, where the time goes; under a minute
# after the build, then everything is torn down. Progress on stderr, the
# result on stdout. Extra arguments go to `xskfwd demo` (see
# `xskfwd demo --help`: --mode l2|l3, --ipv6, --duration per trial, --steps).
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

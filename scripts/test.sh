#!/usr/bin/env bash
# The whole test suite, every crate of the workspace: unit tests (no root
# needed) and the end-to-end tests that run xskfwd between network
# namespaces (root; they skip, saying so, without it); then every fuzz
# target from its corpus and crash regressions for a bounded time, and
# the systemd unit through systemd-analyze. Installs missing system
# packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
    scripts/install-deps.sh
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo scripts/install-deps.sh
else
    echo "test.sh: not root: system packages not checked, end-to-end tests will skip" >&2
fi
# Benches first (criterion runs each once as a smoke test), so the closing
# lines are the test runner's summary.
cargo test --locked --workspace --benches "$@"
cargo test --locked --workspace --lib --bins --tests "$@"
scripts/check-unit.sh
scripts/fuzz.sh --time "${XSKFWD_FUZZ_SECONDS:-20}"

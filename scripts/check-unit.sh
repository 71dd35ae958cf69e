#!/usr/bin/env bash
# Checks packaging/xskfwd.service with systemd's own tools: `systemd-analyze
# verify` (syntax, directives, the ExecStart binary: a built xskfwd stands
# in for /usr/local/bin/xskfwd) and `systemd-analyze security --offline`
# (the exposure score, printed). Needs systemd-analyze (Debian: systemd).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null || { echo "check-unit: systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }
bin=${XSKFWD_BIN:-$PWD/target/debug/xskfwd}
[ -x "$bin" ] || cargo build --locked -p xskfwd --bin xskfwd >&2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/local/bin/xskfwd#$bin#" packaging/xskfwd.service >"$dir/xskfwd.service"
out=$(systemd-analyze verify "$dir/xskfwd.service" 2>&1) || { echo "$out" >&2; exit 1; }
# verify reports problems on stderr and may still exit 0: any line about
# our unit is a failure.
if echo "$out" | grep -q "xskfwd.service"; then
    echo "$out" >&2
    exit 1
fi
echo "check-unit: systemd-analyze verify: no findings"
systemd-analyze security --offline=true "$dir/xskfwd.service" 2>/dev/null | tail -1 | sed 's/^/check-unit: security: /'

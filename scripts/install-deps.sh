#!/usr/bin/env bash
# Installs what building and testing xskfwd needs on Debian/Ubuntu:
# clang/llvm and headers for the XDP program, libelf/zlib for libbpf,
# ethtool/iproute2/bpftool/ping/tcpdump for the lab and the tests;
# libpcap-dev because libxdp-sys builds xdp-tools, whose configure needs it;
# g++ for libFuzzer (fuzz/); systemd for `systemd-analyze verify` of the
# unit; util-linux for setpriv (the least-privilege tests); prometheus
# (server and promtool: the metrics tests scrape xskfwd with the real thing)
# and tshark (reads the trace pcapng files back); qemu-system-x86,
# busybox-static, cpio and xz-utils for the zero-copy VM lab (a guest
# kernel whose virtio-net does AF_XDP zero-copy; `xskfwd vm`). Package scripts are not
# allowed to start services (a policy-rc.d for the duration of the install):
# the tests start their own Prometheus, on loopback inside a namespace.
# Idempotent: when
# every package is already installed it changes nothing and touches no
# network.
set -euo pipefail

PACKAGES=(
    clang llvm libelf-dev zlib1g-dev libpcap-dev pkg-config m4 make gcc g++
    libc6-dev bpftool ethtool iproute2 iputils-ping tcpdump systemd util-linux
    prometheus tshark qemu-system-x86 busybox-static cpio xz-utils
)

die() {
    echo "install-deps: $*" >&2
    exit 1
}

if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo -- bash "$0" "$@"
    fi
    die "must run as root (and sudo is not available)"
fi

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian/Ubuntu only"

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
    echo "install-deps: installing ${missing[*]}"
    apt-get update
    # No service of these packages may start (exit 101 = "action forbidden").
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    if [[ -n $own_policy ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
fi

# cargo usually lives in the invoking user's ~/.cargo/bin, which sudo's
# PATH may lack; look there too before giving up.
cargo_found=""
if command -v cargo >/dev/null 2>&1; then
    cargo_found=$(command -v cargo)
else
    homes=("${HOME:-}")
    if [[ -n ${SUDO_USER:-} ]]; then
        homes+=("$(getent passwd "$SUDO_USER" | cut -d: -f6 || true)")
    fi
    for home in "${homes[@]}"; do
        if [[ -n $home && -x $home/.cargo/bin/cargo ]]; then
            cargo_found=$home/.cargo/bin/cargo
            break
        fi
    done
fi
if [[ -z $cargo_found ]]; then
    die "cargo not found: install Rust (>= 1.85) with rustup (https://rustup.rs), then rerun"
fi
echo "install-deps: cargo: $cargo_found ($("$cargo_found" --version))"

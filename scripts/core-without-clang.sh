#!/usr/bin/env bash
# Proves that the forwarding core (crates/core, package xskfwd-core) needs
# neither clang nor libbpf: its dependency tree has no BPF, libc or AF_XDP
# crate, and its tests build and pass in a separate target directory with
# clang, llc and bpftool made unfindable on PATH (a stub that fails loudly
# stands in for each).
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(libbpf-rs|libbpf-sys|libbpf-cargo|libxdp-sys|xsk-rs|libc) '
deps=$(cargo tree --locked -q -p xskfwd-core -e normal,build --prefix none | sort -u)
if grep -E "$forbidden" <<<"$deps"; then
    echo "core-without-clang: xskfwd-core depends on the crates above" >&2
    exit 1
fi
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
for tool in clang clang-14 clang-15 clang-16 llc llvm-strip bpftool; do
    printf '#!/bin/sh\necho "%s is hidden: the core must not need it" >&2\nexit 127\n' "$tool" >"$stubs/$tool"
    chmod +x "$stubs/$tool"
done
PATH="$stubs:$PATH" CARGO_TARGET_DIR=target/core-without-clang \
    cargo test --locked -p xskfwd-core "$@"

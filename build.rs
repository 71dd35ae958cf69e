//! Compiles the forwarder's XDP program, `bpf/xskfwd.bpf.c`, into a
//! libbpf-rs skeleton in `OUT_DIR` (`xskfwd.skel.rs`). The lab tools'
//! programs are built by the `xskfwd-lab` crate; the core crate needs no
//! build step at all.

include!("bpf/skeleton.rs");

fn main() {
    build_skeleton("bpf/xskfwd.bpf.c", "xskfwd.skel.rs", &[]);
    println!("cargo:rerun-if-changed=bpf/skeleton.rs");
}

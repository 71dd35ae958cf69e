//! Compiles the lab tools' XDP programs, `bpf/tools.bpf.c` (generator,
//! sink, drop and redirect), into a libbpf-rs skeleton in `OUT_DIR`
//! (`tools.skel.rs`).

include!("../../bpf/skeleton.rs");

fn main() {
    // The generator uses the value returned by an atomic add (BPF_FETCH),
    // which needs the v3 instruction set (kernel >= 5.12).
    build_skeleton("bpf/tools.bpf.c", "tools.skel.rs", &["-mcpu=v3"]);
    println!("cargo:rerun-if-changed=../../bpf/skeleton.rs");
}

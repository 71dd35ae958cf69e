//! Compiles the BPF programs into libbpf-rs skeletons in `OUT_DIR`:
//! `bpf/xskfwd.bpf.c` (the forwarder's steering program) into
//! `xskfwd.skel.rs` and `bpf/tools.bpf.c` (generator, sink, drop and
//! redirect programs of the benchmark tools) into `tools.skel.rs`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

/// (source, skeleton file, extra clang arguments)
const PROGRAMS: &[(&str, &str, &[&str])] = &[
    ("bpf/xskfwd.bpf.c", "xskfwd.skel.rs", &[]),
    // The generator uses the value returned by an atomic add (BPF_FETCH),
    // which needs the v3 instruction set (kernel >= 5.12).
    ("bpf/tools.bpf.c", "tools.skel.rs", &["-mcpu=v3"]),
];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Debian keeps <asm/types.h> under the multiarch include directory,
    // which clang's BPF target does not search by itself.
    let mut args = vec!["-O2".to_string(), "-Wall".to_string(), "-Ibpf".to_string()];
    if let Ok(o) = Command::new("gcc").arg("-dumpmachine").output() {
        let triple = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !triple.is_empty() {
            args.push(format!("-I/usr/include/{triple}"));
        }
    }
    for (src, skel, extra) in PROGRAMS {
        let mut args = args.clone();
        args.extend(extra.iter().map(|a| a.to_string()));
        if let Err(e) = SkeletonBuilder::new()
            .source(src)
            .clang_args(args)
            .build_and_generate(out.join(skel))
        {
            panic!(
                "building the XDP program {src} failed: {e:#}\n\
                 (it needs clang, llvm and the kernel/libc headers: run scripts/install-deps.sh)"
            );
        }
    }
    println!("cargo:rerun-if-changed=bpf");
}

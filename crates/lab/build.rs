//! Compiles the lab tools' XDP programs, `bpf/tools.bpf.c` (generator,
//! sink, drop and redirect), into a libbpf-rs skeleton in `OUT_DIR`
//! (`tools.skel.rs`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Debian keeps <asm/types.h> under the multiarch include directory,
    // which clang's BPF target does not search by itself. The generator
    // uses the value returned by an atomic add (BPF_FETCH), which needs the
    // v3 instruction set (kernel >= 5.12).
    let mut args = vec![
        "-O2".to_string(),
        "-Wall".to_string(),
        "-Ibpf".to_string(),
        "-mcpu=v3".to_string(),
    ];
    if let Ok(o) = Command::new("gcc").arg("-dumpmachine").output() {
        let triple = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !triple.is_empty() {
            args.push(format!("-I/usr/include/{triple}"));
        }
    }
    let src = "bpf/tools.bpf.c";
    if let Err(e) = SkeletonBuilder::new()
        .source(src)
        .clang_args(args)
        .build_and_generate(out.join("tools.skel.rs"))
    {
        panic!(
            "building the XDP program {src} failed: {e:#}\n\
             (it needs clang, llvm and the kernel/libc headers: run scripts/install-deps.sh)"
        );
    }
    println!("cargo:rerun-if-changed=bpf");
}

//! Compiles the forwarder's XDP program, `bpf/xskfwd.bpf.c`, into a
//! libbpf-rs skeleton in `OUT_DIR` (`xskfwd.skel.rs`). The lab tools'
//! programs are built by the `xskfwd-lab` crate; the core crate needs no
//! build step at all.

use std::env;
use std::path::PathBuf;
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

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
    let src = "bpf/xskfwd.bpf.c";
    if let Err(e) = SkeletonBuilder::new()
        .source(src)
        .clang_args(args)
        .build_and_generate(out.join("xskfwd.skel.rs"))
    {
        panic!(
            "building the XDP program {src} failed: {e:#}\n\
             (it needs clang, llvm and the kernel/libc headers: run scripts/install-deps.sh)"
        );
    }
    println!("cargo:rerun-if-changed=bpf");
}

// Shared by the build scripts of the xskfwd package (build.rs) and of the
// xskfwd-lab crate (crates/lab/build.rs), which `include!` it: compiles one
// XDP program into a libbpf-rs skeleton in OUT_DIR.

/// Compiles `src` (relative to the package) into `OUT_DIR/skel` with
/// `extra` clang arguments; stops the build with what to install if clang
/// or the headers are missing.
fn build_skeleton(src: &str, skel: &str, extra: &[&str]) {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut args = vec!["-O2".to_string(), "-Wall".to_string(), "-Ibpf".to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    // Debian keeps <asm/types.h> under the multiarch include directory,
    // which clang's BPF target does not search by itself.
    if let Ok(o) = std::process::Command::new("gcc").arg("-dumpmachine").output() {
        let triple = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !triple.is_empty() {
            args.push(format!("-I/usr/include/{triple}"));
        }
    }
    if let Err(e) = libbpf_cargo::SkeletonBuilder::new()
        .source(src)
        .clang_args(args)
        .build_and_generate(out.join(skel))
    {
        panic!(
            "building the XDP program {src} failed: {e:#}\n\
             (it needs clang, llvm and the kernel/libc headers: run scripts/install-deps.sh)"
        );
    }
    println!("cargo:rerun-if-changed=bpf");
}

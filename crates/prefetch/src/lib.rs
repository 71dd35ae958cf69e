//! A software prefetch hint, behind a safe function.
//!
//! The forwarding core is `#![forbid(unsafe_code)]`, and stable Rust has no
//! safe prefetch: `core::intrinsics::prefetch_read_data` is an unstable
//! intrinsic, and `_mm_prefetch` is an `unsafe fn` (as every
//! `#[target_feature]` function is). The hint itself cannot break anything:
//! it names an address the caller holds a reference to, never faults, and
//! changes no value the program can observe, only what is in the caches.
//! So the one `unsafe` block lives here, and the core calls [`prefetch`].
//!
//! What it buys is measured in `crates/core` (`l3_process` benches): the
//! IPv4 root entry of each frame of a batch requested while the batch is
//! parsed, before the first decision needs it.
#![no_std]

/// Asks the CPU to bring the cache line holding `value` into every cache
/// level (x86-64 `prefetcht0`). A hint only: it does not wait, never
/// faults, and leaves every value as it was. A no-op on other
/// architectures.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = (value as *const T).cast::<i8>();
        // SAFETY: SSE is part of the x86-64 baseline, so the instruction
        // exists on every CPU this code runs on; `p` comes from a live
        // reference, and a prefetch neither reads into the program nor
        // writes anything (it cannot fault even on a bad address).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    #[test]
    fn prefetch_changes_nothing() {
        let table = [7u32, 8, 9, 10];
        for v in &table {
            prefetch(v);
        }
        prefetch(&table);
        prefetch(&());
        assert_eq!(table, [7, 8, 9, 10]);
    }
}

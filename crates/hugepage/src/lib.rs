//! Huge pages for the big lookup tables.
//!
//! A full IPv4 table is ~50 MiB of LPM chunks, and lookups for destinations
//! spread over it miss the TLB on nearly every level with 4 KiB pages. After
//! a table is built (on the control thread, before it is published), its
//! arrays are collapsed into 2 MiB transparent huge pages with
//! `MADV_COLLAPSE` (Linux 6.1+; it works whether THP is set to `always` or
//! `madvise`). Where that is refused (older kernel, THP `never`, no memory
//! to compact) `MADV_HUGEPAGE` is tried, which lets khugepaged do it later;
//! either way a failure only costs speed, never correctness.

/// Huge page size on x86-64 and arm64 with 4 KiB base pages.
const HUGE: usize = 2 << 20;

/// What [`advise`] achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Advice {
    /// Bytes collapsed into huge pages now.
    pub collapsed: usize,
    /// Bytes only marked for khugepaged (collapse refused).
    pub marked: usize,
}

/// Asks for huge pages under every whole 2 MiB page inside `regions`
/// (address, length). Regions smaller than one huge page are left alone.
///
/// The regions must be live heap allocations of the caller (the tables'
/// arrays). `madvise` with these advices never changes their contents.
pub fn advise(regions: impl IntoIterator<Item = (usize, usize)>) -> Advice {
    let mut out = Advice::default();
    for (addr, len) in regions {
        let start = addr.next_multiple_of(HUGE);
        let end = (addr + len) / HUGE * HUGE;
        if end <= start {
            continue;
        }
        let ptr = start as *mut libc::c_void;
        // SAFETY: [start, end) lies inside an allocation the caller owns and
        // keeps alive for the call; MADV_COLLAPSE and MADV_HUGEPAGE only
        // change how the range is backed, never what it contains.
        if unsafe { libc::madvise(ptr, end - start, libc::MADV_COLLAPSE) } == 0 {
            out.collapsed += end - start;
        // SAFETY: as above.
        } else if unsafe { libc::madvise(ptr, end - start, libc::MADV_HUGEPAGE) } == 0 {
            out.marked += end - start;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_regions_are_left_alone() {
        let v = vec![0u8; 4096];
        assert_eq!(advise([(v.as_ptr() as usize, v.len())]), Advice::default());
    }

    #[test]
    fn a_big_region_keeps_its_contents() {
        let mut v: Vec<u32> = (0..(8 << 20) / 4).collect();
        let a = advise([(v.as_ptr() as usize, v.len() * 4)]);
        // Whether the kernel agreed depends on the machine; the contents
        // must not change either way.
        assert!(a.collapsed + a.marked <= v.len() * 4);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
        v[0] = 7;
        assert_eq!(v[0], 7);
    }
}

//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Never: allocate, panic (for any input, of any length), or use RFC 1141's
//! `HC' = HC + m + ~m'`, which can store 0xFFFF (−0) where a full recompute
//! stores 0x0000.
//!
//! Words are 16-bit big-endian; ones'-complement addition is byte-order
//! independent (RFC 1071 §2), so all values here are in host order as read
//! with `u16::from_be_bytes`.
//!
//! ## Why `update` is bit-exact with a recompute
//!
//! Let `S` be the folded ones'-complement sum of every header word except the
//! checksum. Folding with end-around carry maps a sum to `1..=0xFFFF` unless
//! every word is zero, so for any header that is not all zeros (an IPv4 header
//! always has version 4) `S != 0` and a recompute stores `!S` in
//! `0x0000..=0xFFFE`: it never stores 0xFFFF.
//!
//! [`update`] computes `S' = fold(~HC + ~m + m')`. With `~HC = S >= 1`, the
//! folded sum is again in `1..=0xFFFF` and congruent (mod 0xFFFF) to the new
//! true sum, which is also in `1..=0xFFFF`; two such values are equal, so
//! `!S'` is exactly what a recompute gives, including 0x0000 when `S' = 0xFFFF`.
//!
//! A header may also carry 0xFFFF, the other representation of zero: it still
//! verifies (when `S = 0xFFFF`) though no recompute writes it. Then `~HC = 0`
//! and `S'` can only come out as +0 if also `~m = 0` and `m' = 0`; [`update`]
//! then returns 0x0000 instead of 0xFFFF, which is again what a recompute gives
//! for any data that is not all zeros. So [`update`] never returns 0xFFFF and
//! always agrees with a recompute over a valid IPv4 header. This is the same
//! result as the Linux kernel's `ip_decrease_ttl` (`check += 0x0100; check +=
//! check >= 0xFFFF`), which the tests check for all 65536 checksum values.

/// Bytes summed before the running 64-bit total is folded back to 32 bits.
///
/// Each block adds at most `BLOCK / 4` values below 2^32 to a total below
/// 2^32, so the total stays below 2^47 and can never overflow a `u64`.
const BLOCK: usize = 64 * 1024;

/// Folds a 64-bit partial sum to 32 bits, keeping it congruent mod 0xFFFF
/// (2^32 ≡ 1) and keeping zero and non-zero apart.
fn fold64(s: u64) -> u64 {
    let s = (s & 0xFFFF_FFFF) + (s >> 32);
    (s & 0xFFFF_FFFF) + (s >> 32)
}

/// Adds `data` to the ones'-complement running sum `initial`.
///
/// `data` is read as 16-bit big-endian words; an odd trailing byte is padded
/// with a zero byte on the right (RFC 1071 §4.1). The result is not folded to
/// 16 bits, but it is congruent to the true sum mod 0xFFFF and is zero only if
/// `initial` is zero and every byte is zero; pass it to [`fold`] or feed it back
/// in as `initial` for the next piece. Sums are kept in a `u64` and folded every
/// 64 KiB, so no length of `data` and no value of `initial` can overflow.
///
/// Only chain pieces whose lengths are even except for the last one: an odd
/// piece in the middle would shift the byte pairing of the rest.
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut acc = u64::from(initial);
    for block in data.chunks(BLOCK) {
        let mut words = block.chunks_exact(4);
        // A big-endian 32-bit word is hi * 2^16 + lo ≡ hi + lo (mod 0xFFFF).
        for w in &mut words {
            acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
        }
        let rest = words.remainder();
        let mut pairs = rest.chunks_exact(2);
        for w in &mut pairs {
            acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = pairs.remainder() {
            acc += u64::from(*last) << 8;
        }
        acc = fold64(acc);
    }
    // fold64 of any u64 is at most 2^32 - 1, so this cast is lossless.
    fold64(acc) as u32
}

/// [`sum`] of exactly 20 bytes (an IPv4 header without options), unrolled:
/// the L3 fast path verifies every header it forwards.
#[inline]
pub fn sum20(h: &[u8; 20]) -> u32 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    // Five words stay below 2^35; fold64 brings it under 2^32.
    fold64(w(0) + w(4) + w(8) + w(12) + w(16)) as u32
}

/// Whether a 20-byte IPv4 header verifies: `fold(sum20(h)) == 0xFFFF`,
/// computed on the words as the CPU loads them, without swapping bytes.
///
/// Why that is the same test: a sum of byte-swapped words is the
/// byte-swapped sum (RFC 1071 §2), and for a 16-bit `v`, `swap(v) ≡ 256·v
/// (mod 0xFFFF)` with 256 invertible mod 0xFFFF; so one sum is ≡ 0 exactly
/// when the other is, and either is zero only when every byte is. Hence
/// either folds to 0xFFFF exactly when the other does.
#[inline]
pub fn verify20(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    fold(fold64(w(0) + w(4) + w(8) + w(12) + w(16)) as u32) == 0xFFFF
}

/// Folds the carries of a ones'-complement sum into 16 bits (end-around carry).
///
/// Returns 0 only for a sum of 0; every other sum folds into `1..=0xFFFF`.
pub fn fold(sum: u32) -> u16 {
    let s = (sum & 0xFFFF) + (sum >> 16);
    let s = (s & 0xFFFF) + (s >> 16);
    // After two rounds `s` <= 0xFFFF.
    s as u16
}

/// The Internet checksum of `data`: the value to store in a header whose
/// checksum field was zero while summing.
///
/// A buffer that verifies sums (with [`sum`] and [`fold`]) to 0xFFFF.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// Ones'-complement sum of `!hc` and the given terms, with the −0 result
/// mapped to +0 (see the module docs).
fn update_terms(hc: u16, terms: u32) -> u16 {
    let s = fold(u32::from(!hc) + terms);
    if s == 0 {
        // Only when !hc and every term are zero: a recompute over any data
        // that is not all zeros gives 0x0000, never 0xFFFF.
        0
    } else {
        !s
    }
}

/// Incrementally updates the checksum `hc` after the 16-bit word `old` in the
/// covered data became `new` (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
///
/// For every valid IPv4 header the result equals a full recompute, bit for
/// bit; it never returns 0xFFFF (see the module docs for the proof).
pub fn update(hc: u16, old: u16, new: u16) -> u16 {
    update_terms(hc, u32::from(!old) + u32::from(new))
}

/// [`update`] for a 32-bit field (such as an IPv4 address) that changed from
/// `old` to `new`, both read big-endian from the packet.
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let hi = |v: u32| (v >> 16) as u16;
    let lo = |v: u32| v as u16;
    let terms = u32::from(!hi(old)) + u32::from(!lo(old)) + u32::from(hi(new)) + u32::from(lo(new));
    update_terms(hc, terms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference: the straightforward RFC 1071 loop over 16-bit words.
    fn naive_sum(data: &[u8]) -> u32 {
        let mut s: u64 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            s += u64::from(w);
        }
        while s > 0xFFFF {
            s = (s & 0xFFFF) + (s >> 16);
        }
        s as u32
    }

    /// Linux `ip_decrease_ttl` on the checksum, in big-endian value terms.
    fn kernel_decrease_ttl(hc: u16) -> u16 {
        let c = u32::from(hc) + 0x0100;
        (c + u32::from(c >= 0xFFFF)) as u16
    }

    /// A 20-byte IPv4 header with the given fields and a recomputed checksum.
    fn header(ident: u16, ttl: u8, proto: u8, src: [u8; 4], dst: [u8; 4]) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&60u16.to_be_bytes());
        h[4..6].copy_from_slice(&ident.to_be_bytes());
        h[6] = 0x40;
        h[8] = ttl;
        h[9] = proto;
        h[12..16].copy_from_slice(&src);
        h[16..20].copy_from_slice(&dst);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    fn stored(h: &[u8]) -> u16 {
        u16::from_be_bytes([h[10], h[11]])
    }

    fn recomputed(h: &[u8]) -> u16 {
        let mut c = [0u8; 60];
        let c = &mut c[..h.len()];
        c.copy_from_slice(h);
        c[10] = 0;
        c[11] = 0;
        checksum(c)
    }

    /// Decrements the TTL of `h` with [`update`] and returns the new checksum.
    fn decrement(h: &mut [u8]) -> u16 {
        let old = u16::from_be_bytes([h[8], h[9]]);
        h[8] -= 1;
        let new = u16::from_be_bytes([h[8], h[9]]);
        let c = update(stored(h), old, new);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        c
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        // Byte-swapped data gives the byte-swapped sum (§2 (B)).
        let swapped = [0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6];
        assert_eq!(fold(sum(&swapped, 0)), 0xf2dd);
    }

    #[test]
    fn known_ipv4_header() {
        // The classic example header; its checksum is b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(fold(sum(&h, 0)), 0xFFFF, "a correct header verifies");
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(sum(&[], 0), 0);
        assert_eq!(sum(&[0xab], 0), 0xab00);
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56], 0)), 0x1234 + 0x5600);
        assert_eq!(checksum(&[0xff]), 0x00ff);
        for n in 0..=9 {
            let data: [u8; 9] = [0xf1, 0x02, 0xe3, 0x04, 0xd5, 0x06, 0xc7, 0x08, 0xb9];
            assert_eq!(
                fold(sum(&data[..n], 0)),
                naive_sum(&data[..n]) as u16,
                "{n}"
            );
        }
    }

    #[test]
    fn initial_and_chaining() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data[4..], sum(&data[..4], 0))), 0xddf2);
        assert_eq!(fold(sum(&[], 0x1_2345)), 0x2346);
        assert_eq!(fold(sum(&[0xff; 2], u32::MAX)), 0xFFFF);
    }

    #[test]
    fn fold_end_around() {
        assert_eq!(fold(0), 0);
        assert_eq!(fold(0xFFFF), 0xFFFF);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0x1_FFFE), 0xFFFF);
        assert_eq!(fold(u32::MAX), 0xFFFF);
        assert_eq!(fold(0xFFFF_0000), 0xFFFF);
    }

    #[test]
    fn large_buffers_do_not_overflow() {
        let data = vec![0xFFu8; 3 * BLOCK + 6];
        assert_eq!(fold(sum(&data, u32::MAX)), 0xFFFF);
        assert_eq!(checksum(&data), 0);
        // An odd trailing 0xFF is the word 0xFF00.
        let data = vec![0xFFu8; 3 * BLOCK + 7];
        assert_eq!(fold(sum(&data, 0)), 0xFF00);
        assert_eq!(fold(sum(&data, 0)), naive_sum(&data) as u16);
        let data: Vec<u8> = (0..200_001u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(fold(sum(&data, 0)), naive_sum(&data) as u16);
    }

    #[test]
    fn update_rfc1624_example() {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285; HC' = 0x0000.
        assert_eq!(update(0xDD2F, 0x5555, 0x3285), 0x0000);
        // RFC 1141's HC + m + ~m' gives 0xFFFF (−0) here, which eqn. 3 avoids.
        let rfc1141 = fold(0xDD2F + 0x5555 + u32::from(!0x3285u16));
        assert_eq!(rfc1141, 0xFFFF);
    }

    #[test]
    fn update_negative_zero_corner() {
        // The only inputs where eqn. 3 yields -0: !hc, !old and new all zero.
        assert_eq!(update(0xFFFF, 0xFFFF, 0x0000), 0x0000);
        assert_eq!(update32(0xFFFF, u32::MAX, 0), 0x0000);
        // An unchanged word leaves a recomputed checksum unchanged.
        for hc in [0x0000, 0x1234, 0xFFFE] {
            for w in [0x0000, 0x4011, 0xFFFF] {
                assert_eq!(update(hc, w, w), hc);
            }
        }
    }

    #[test]
    fn update_matches_kernel_for_every_checksum() {
        for hc in 0..=u16::MAX {
            for (ttl, proto) in [(1u8, 17u8), (2, 6), (64, 1), (128, 0), (255, 255)] {
                let old = u16::from_be_bytes([ttl, proto]);
                let new = u16::from_be_bytes([ttl - 1, proto]);
                assert_eq!(
                    update(hc, old, new),
                    kernel_decrease_ttl(hc),
                    "hc={hc:#06x}"
                );
            }
        }
    }

    /// For every one of the 65536 checksum values, build a header that
    /// carries it (via the ident field), decrement its TTL and compare with a
    /// full recompute. 0xFFFF cannot come from a recompute; it is covered as
    /// the −0 form of a header whose recomputed checksum is 0x0000.
    #[test]
    fn update_matches_recompute_for_every_checksum() {
        let (src, dst) = ([10, 1, 2, 3], [192, 168, 77, 9]);
        let mut saw_zero_result = false;
        for ttl in [1u8, 2, 64, 128, 255] {
            let base = header(0, ttl, 17, src, dst);
            // Sum of every word but the checksum, with ident = 0.
            let s0 = !stored(&base);
            for target in 0..=u16::MAX {
                // 0xFFFF is built as the −0 form of a header whose
                // recompute is 0x0000.
                let negative_zero = target == 0xFFFF;
                let want = if negative_zero { 0xFFFF } else { !target };
                // Need fold(s0 + ident) == want (1..=0xFFFF): ident = want - s0.
                let ident = fold(u32::from(want) + u32::from(!s0));
                let mut h = header(ident, ttl, 17, src, dst);
                assert_eq!(stored(&h), !want, "construction");
                if negative_zero {
                    h[10..12].copy_from_slice(&0xFFFFu16.to_be_bytes());
                }
                assert_eq!(fold(sum(&h, 0)), 0xFFFF, "header verifies");
                let got = decrement(&mut h);
                assert_eq!(got, recomputed(&h), "target={target:#06x} ttl={ttl}");
                assert_ne!(got, 0xFFFF);
                assert_eq!(fold(sum(&h, 0)), 0xFFFF);
                saw_zero_result |= got == 0;
            }
        }
        assert!(saw_zero_result, "a 0x0000 result was exercised");
    }

    #[test]
    fn update32_matches_recompute() {
        let mut h = header(0x1c46, 64, 6, [10, 0, 0, 1], [10, 0, 0, 2]);
        for (i, new) in [0u32, 0xFFFF_FFFF, 0xC0A8_0001, 0x0A00_0001]
            .iter()
            .enumerate()
        {
            let old = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
            h[12..16].copy_from_slice(&new.to_be_bytes());
            let c = update32(stored(&h), old, *new);
            assert_eq!(c, recomputed(&h), "step {i}");
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
    }

    prop_compose! {
        /// A valid IPv4 header (IHL 5..=15, random fields and options)
        /// with a correct checksum.
        fn valid_header()(
            ihl in 5usize..=15,
            bytes in proptest::collection::vec(any::<u8>(), 60),
        ) -> Vec<u8> {
            let mut h = bytes;
            h.truncate(ihl * 4);
            h[0] = 0x40 | ihl as u8;
            h[10] = 0;
            h[11] = 0;
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        }
    }

    #[test]
    fn sum20_extremes() {
        for h in [[0u8; 20], [0xff; 20]] {
            assert_eq!(fold(sum20(&h)), fold(sum(&h, 0)));
            assert_eq!(verify20(&h), fold(sum20(&h)) == 0xFFFF);
        }
        assert!(!verify20(&[0u8; 20]));
        assert!(verify20(&[0xff; 20]));
    }

    #[test]
    fn verify20_agrees_with_sum20_for_every_checksum() {
        for base in [
            header(0x1c46, 64, 17, [172, 16, 10, 99], [172, 16, 10, 12]),
            header(0, 0, 0, [0, 0, 0, 0], [0, 0, 0, 0]),
            header(0xffff, 255, 255, [255; 4], [255; 4]),
        ] {
            let mut h: [u8; 20] = base[..20].try_into().unwrap();
            let mut ok = 0;
            for c in 0..=u16::MAX {
                h[10..12].copy_from_slice(&c.to_be_bytes());
                let want = fold(sum20(&h)) == 0xFFFF;
                assert_eq!(verify20(&h), want, "checksum {c:#06x}");
                ok += usize::from(want);
            }
            assert!(ok >= 1, "some checksum verifies");
        }
    }

    proptest! {
        #[test]
        fn verify20_agrees_with_sum20(
            h in proptest::array::uniform20(any::<u8>()),
            fix in any::<bool>(),
        ) {
            let mut h = h;
            if fix {
                h[10] = 0;
                h[11] = 0;
                let c = checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
            }
            prop_assert_eq!(verify20(&h), fold(sum20(&h)) == 0xFFFF);
            if fix && h.iter().any(|&b| b != 0) {
                prop_assert!(verify20(&h));
            }
        }

        #[test]
        fn sum20_agrees_with_sum(h in proptest::array::uniform20(any::<u8>())) {
            prop_assert_eq!(fold(sum20(&h)), fold(sum(&h, 0)));
        }

        #[test]
        fn decrement_ttl_matches_recompute_for_every_ttl(h in valid_header()) {
            for ttl in 2..=255u8 {
                let mut h = h.clone();
                h[8] = ttl;
                let c = recomputed(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
                let got = decrement(&mut h);
                prop_assert_eq!(got, recomputed(&h));
                prop_assert_eq!(h[8], ttl - 1);
            }
        }

        #[test]
        fn update_matches_recompute_for_any_word(
            h in valid_header(),
            at in 0usize..30,
            new in any::<u16>(),
        ) {
            let mut h = h;
            let at = (at % (h.len() / 2)) * 2;
            prop_assume!(at != 10);
            let old = u16::from_be_bytes([h[at], h[at + 1]]);
            h[at..at + 2].copy_from_slice(&new.to_be_bytes());
            prop_assume!(h.iter().any(|&b| b != 0));
            prop_assert_eq!(update(stored(&h), old, new), recomputed(&h));
        }

        #[test]
        fn sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            prop_assert_eq!(fold(sum(&data, 0)), naive_sum(&data) as u16);
        }
    }
}

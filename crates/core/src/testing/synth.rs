//! Synthetic but realistic route tables for benchmarks and tests: about
//! 1,000,000 IPv4 and 200,000 IPv6 prefixes with the BGP length mix,
//! clustered inside RIR-like allocations the way real tables are, from a
//! fixed-seed xorshift PRNG so runs compare.
//!
//! Not used by the forwarder itself.

use std::collections::HashSet;
use std::hash::Hash;

/// Lookup addresses [`addresses`] returns.
pub const POOL: usize = 64 * 1024;

/// xorshift64: small, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// One of `choices`, with probability proportional to its weight.
    pub fn pick<T: Copy>(&mut self, choices: &[(T, u32)]) -> T {
        let total: u32 = choices.iter().map(|c| c.1).sum();
        let mut r = self.below(total as usize) as u32;
        for &(t, w) in choices {
            if r < w {
                return t;
            }
            r -= w;
        }
        choices[choices.len() - 1].0
    }
}

/// The address part of the generators, for both address widths.
pub trait Addr: Copy + Eq + Hash {
    fn mask(len: u8) -> Self;
    fn random(r: &mut Rng) -> Self;
    /// `base` (a /`alen`) narrowed to a /`len` more-specific, or widened to
    /// its covering /`len` if `len <= alen`. More-specifics crowd the start
    /// of the allocation (operators number from the bottom): the sub-index
    /// has a uniformly random number of significant bits.
    fn within(self, alen: u8, len: u8, r: &mut Rng) -> Self;
    /// `self | (random & !mask(len))`: a random address inside the prefix.
    fn inside(self, len: u8, r: &mut Rng) -> Self;
}

impl Addr for u32 {
    fn mask(len: u8) -> Self {
        u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }
    fn random(r: &mut Rng) -> Self {
        r.next_u64() as u32
    }
    fn within(self, alen: u8, len: u8, r: &mut Rng) -> Self {
        if len <= alen {
            return self & Self::mask(len);
        }
        let bits = r.below(usize::from(len - alen) + 1) as u32;
        let sub = (r.next_u64() as u32).checked_shr(32 - bits).unwrap_or(0);
        self | (sub << (32 - u32::from(len)))
    }
    fn inside(self, len: u8, r: &mut Rng) -> Self {
        self | (Self::random(r) & !Self::mask(len))
    }
}

impl Addr for u128 {
    fn mask(len: u8) -> Self {
        u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
    }
    fn random(r: &mut Rng) -> Self {
        r.u128()
    }
    fn within(self, alen: u8, len: u8, r: &mut Rng) -> Self {
        if len <= alen {
            return self & Self::mask(len);
        }
        let bits = r.below(usize::from(len - alen).min(64) + 1) as u32;
        let sub = u128::from(r.next_u64())
            .checked_shr(128 - bits)
            .unwrap_or(0);
        self | (sub << (128 - u32::from(len)))
    }
    fn inside(self, len: u8, r: &mut Rng) -> Self {
        self | (Self::random(r) & !Self::mask(len))
    }
}

/// `n` distinct prefixes: lengths from `mix`, each a more-specific (or the
/// cover) of a random allocation; value = index.
pub fn table<A: Addr>(
    n: usize,
    allocs: &[(A, u8)],
    mix: &[(u8, u32)],
    r: &mut Rng,
) -> Vec<(A, u8, u32)> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = r.pick(mix);
        let (base, alen) = allocs[r.below(allocs.len())];
        let addr = base.within(alen, len, r);
        if seen.insert((addr, len)) {
            out.push((addr, len, out.len() as u32));
        }
    }
    out
}

/// IPv4 BGP length mix (per 10,000): /24 60.5%, /23 10%, /22 10.5%,
/// /20-/21 8.5%, /16-/19 9.5%, /8-/15 0.9%, /25-/32 0.1%.
pub const V4_MIX: &[(u8, u32)] = &[
    (24, 6050),
    (23, 1000),
    (22, 1050),
    (21, 470),
    (20, 380),
    (19, 320),
    (18, 260),
    (17, 190),
    (16, 180),
    (15, 40),
    (14, 25),
    (13, 13),
    (12, 7),
    (11, 3),
    (10, 1),
    (9, 1),
    (8, 1),
    (25, 3),
    (26, 2),
    (27, 1),
    (28, 1),
    (29, 1),
    (30, 1),
    (32, 1),
];

pub fn gen4(n: usize, seed: u64) -> Vec<(u32, u8, u32)> {
    let mut r = Rng(seed);
    // RIR-delegation-like blocks in 1.0.0.0-223.255.255.255, not 10/8 or 127/8.
    let sizes: &[(u8, u32)] = &[
        (8, 2),
        (12, 20),
        (14, 40),
        (16, 150),
        (18, 150),
        (19, 150),
        (20, 200),
        (21, 150),
        (22, 250),
        (24, 50),
    ];
    let allocs: Vec<(u32, u8)> = (0..(n / 8).max(16))
        .map(|_| {
            let len = r.pick(sizes);
            let first = loop {
                let o = 1 + r.below(223) as u32;
                if o != 10 && o != 127 {
                    break o;
                }
            };
            (
                ((first << 24) | (r.next_u64() as u32 & 0x00ff_ffff)) & u32::mask(len),
                len,
            )
        })
        .collect();
    table(n, &allocs, V4_MIX, &mut r)
}

/// IPv6 length mix (per 10,000): /48 ~50%, /32 ~15%, /44 ~8%, /40 ~7%,
/// /36 ~5%, /29 ~5%, /56 + /64 ~5%, the rest spread from /24 to /128.
pub const V6_MIX: &[(u8, u32)] = &[
    (48, 4950),
    (32, 1500),
    (44, 800),
    (40, 700),
    (36, 500),
    (29, 500),
    (56, 250),
    (64, 250),
    (24, 10),
    (28, 40),
    (30, 30),
    (31, 20),
    (33, 40),
    (34, 40),
    (35, 30),
    (37, 20),
    (38, 30),
    (39, 20),
    (41, 20),
    (42, 30),
    (43, 20),
    (45, 20),
    (46, 40),
    (47, 40),
    (49, 10),
    (52, 20),
    (60, 20),
    (62, 10),
    (80, 2),
    (96, 2),
    (112, 2),
    (126, 2),
    (127, 2),
    (128, 10),
];

pub fn gen6(n: usize, seed: u64) -> Vec<(u128, u8, u32)> {
    let mut r = Rng(seed);
    // RIR blocks inside 2000::/3 (prefix, length, weight), PI pools (/29s
    // where /48 assignments are packed), then LIR/PI allocations.
    let rirs: &[((u128, u8), u32)] = &[
        ((0x2001 << 112, 16), 3),
        ((0x2400 << 112, 12), 25),
        ((0x2600 << 112, 12), 20),
        ((0x2800 << 112, 12), 10),
        ((0x2a00 << 112, 12), 40),
        ((0x2c00 << 112, 12), 2),
    ];
    let in_rir = |r: &mut Rng, len: u8| {
        let (base, blen) = r.pick(rirs);
        (base | (r.u128() & !u128::mask(blen))) & u128::mask(len)
    };
    let pools: Vec<u128> = (0..32).map(|_| in_rir(&mut r, 29)).collect();
    let sizes: &[(u8, u32)] = &[(32, 600), (29, 200), (48, 150), (26, 30), (28, 20)];
    let allocs: Vec<(u128, u8)> = (0..(n / 5).max(16))
        .map(|_| match r.pick(sizes) {
            48 => (pools[r.below(pools.len())].within(29, 48, &mut r), 48),
            len => (in_rir(&mut r, len), len),
        })
        .collect();
    table(n, &allocs, V6_MIX, &mut r)
}

/// `POOL` lookup addresses: even ones inside a random prefix of `table`,
/// odd ones uniformly random.
pub fn addresses<A: Addr>(table: &[(A, u8, u32)], r: &mut Rng) -> Vec<A> {
    (0..POOL)
        .map(|i| {
            if i % 2 == 0 && !table.is_empty() {
                let (a, len, _) = table[r.below(table.len())];
                a.inside(len, r)
            } else {
                A::random(r)
            }
        })
        .collect()
}

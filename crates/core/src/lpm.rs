//! Longest-prefix-match tables for the L3 fast path: [`Lpm4`] and [`Lpm6`].
//!
//! A table is built once from a complete prefix set and is then immutable.
//! Updates rebuild a new table from the authoritative prefix set and swap it
//! in atomically (both done elsewhere), so workers only ever read.
//!
//! # What this module must never do
//!
//! - `lookup` never allocates, never panics, never locks and never loops
//!   without a bound (at most one step per 8 address bits).
//! - No I/O, no syscalls, no clock, no `unsafe`, no global state (the
//!   prefetch hint is a safe function of `xskfwd-prefetch`).
//! - A table never changes after `build`: there is no insert or delete.
//!
//! # Design: a 16- or 24-bit root, 8-bit chunks, and singles
//!
//! Both tables share one generic multibit trie with controlled prefix
//! expansion (DIR-16-8-8 or DIR-24-8 for IPv4, DIR-16-8-…-8 or
//! DIR-24-8-…-8 for IPv6):
//!
//! - The **root** is a direct array indexed by the top 16 address bits
//!   (2^16 entries, 256 KiB), or by the top 24 bits (2^24 entries,
//!   64 MiB) in a table of at least 65,536 prefixes. A **chunk** is an
//!   array of 256 entries indexed by the next 8 bits. Every entry is a `u32`: a route value (bit 31 clear), "no
//!   route", a chunk index, or a single index (below).
//! - Prefixes are expanded to the stride boundary (a /20 fills 16 entries of
//!   its chunk), and values are pushed down: a chunk starts as 256 copies of
//!   the entry it replaces, so every entry already holds the answer for its
//!   whole range and lookup never backtracks.
//! - A subtree that holds exactly **one** route gets no chunks: its entry
//!   points to a *single* `{key, mask, value, fallback}`, and lookup answers
//!   `value` if the address is inside the route, else `fallback` (the pushed
//!   down value of the enclosing routes). This is path compression for the
//!   common sparse case (a lone /48 in its /40, a host route), which would
//!   otherwise cost a 1 KiB chunk per 8 bits for one route.
//!
//! Build sorts the prefixes by (address, length), so a prefix always comes
//! before the prefixes nested inside it, and builds each subtree from the
//! contiguous run of prefixes inside it: expansions are written in that
//! order, so a longer prefix overwrites the ranges of the shorter ones that
//! contain it. Cost: one sort (linear when the input is already in order,
//! as from a `BTreeMap` keyed by (address, length)) plus O(prefixes × depth).
//!
//! # Lookup cost bound
//!
//! Dependent memory loads per lookup: one root entry, then one chunk entry
//! per 8 bits below the root, or one single, which ends the walk. With the
//! 16-bit root:
//!
//! - IPv4: at most **3** (root, chunk, chunk or single).
//! - IPv6: at most **15** (root and 14 chunks, the last possibly a single).
//!   An address whose longest match is at most a /48 takes at most **5**,
//!   at most a /64 at most **7**.
//!
//! The wide root takes one load less in each case: a /24 or shorter route
//! of a full IPv4 table is **one** load. It pays in a large table only:
//! there a lookup misses the caches anyway, and the chunk level it
//! replaces is one more dependent load; a small table would pay 64 MiB and
//! a 64 MiB fill per build for nothing. Measured (criterion `l3_process`,
//! 1M IPv4 + 200k IPv6 routes, two interleaved rounds): IPv4 21.0–21.7 →
//! 19.0–19.2 ns per packet, IPv6 39.3–41.1 → 38.5–39.5 ns.
//!
//! # Alternatives measured (synthetic full tables of `benches/lpm.rs`:
//! 1M IPv4, 200k IPv6 prefixes)
//!
//! - Plain 8-bit chunks, no singles: no faster, IPv4 52 MiB (vs 49), IPv6
//!   120 MiB (vs 84).
//! - Groups of up to 8 routes instead of singles (scanned without
//!   branches): IPv6 14 MiB and IPv4 42 MiB, but lookups about 40% slower
//!   (more bytes and compares at the end of the walk).
//! - Poptrie (popcount-compressed 6- or 8-bit nodes): IPv6 ~20 MiB but
//!   about 2× slower: one more dependent load (the leaf array), more levels
//!   for 6-bit nodes, and a software popcount (the default x86-64 target
//!   has no `popcnt`; selecting it at run time would need `unsafe`).
//! - A hash table per prefix length probed longest-first costs up to one
//!   probe per distinct length (~40 in an IPv6 table); binary search on
//!   lengths (Waldvogel) still needs ~6 dependent hash probes plus markers.
//!   Both exceed the ≤ 5 loads above for realistic IPv6 routes.
//! - Compressed chunks (a 256-bit bitmap of where runs of equal entries
//!   start, per-word counts and the runs, popcount to find an entry;
//!   cache-line aligned): IPv4 8.2 MiB (vs 50) and IPv6 6.9 MiB (vs 85),
//!   but every level becomes two dependent loads (the bitmap, then the
//!   run) plus a popcount: lookups 1.9–2.9× slower for small and full
//!   tables alike (1.6–2.4× with the `popcnt` instruction enabled), and
//!   `l3_process` IPv6 full 41 → 53 ns.
//! - 16-bit range nodes (a subtree with at most 11 runs over its next 16
//!   bits stored as 10 sorted bounds and 11 entries in one cache line,
//!   counted without branches; chunks elsewhere): IPv6 7.1 MiB (vs 85) and
//!   one level fewer for a /48, but no faster. With the table in cache
//!   (64 addresses) a lookup cost 13.8 ns against 9.3 for chunks, and the
//!   spread lookups gained only what the compute lost (29 vs 24 ns per
//!   hit). A smaller table alone does not make misses cheap here.
//! - Walking only the lanes still at a chunk from the first level on (an
//!   index list kept per round) instead of every lane without branches:
//!   IPv6 lookups 1.1× (spread) to 1.5× (in cache) slower; kept in the
//!   same loop as the loads, 2× slower (each lane's store waited on the
//!   previous load). What is kept instead: the last few walks of a batch
//!   one by one (see `lookup_many`).
//! - Software prefetch (`Lpm4::prefetch`, from `xskfwd-prefetch`): kept
//!   for IPv4, where the L3 forwarder hints every frame's root entry while
//!   it parses the batch and then looks up inline (see
//!   `l3::LOOKAHEAD_MIN_ROUTES`). For IPv6 it bought nothing: the root
//!   entries hinted before `lookup_many` measured 2.18–2.30 against
//!   2.21–2.23 µs per batch of 64 (`l3_process`, full tables), since that
//!   round already has all 64 root loads in flight. Walking IPv6 lookups
//!   as per-frame lanes advanced one level between decisions (software
//!   pipelining, 3 or 4 stages, prefetching each lane's next line, with
//!   and without branches) was slower everywhere: IPv6 full 2.24–2.30 →
//!   2.64–2.83 µs, small 1.36–1.48 → 1.98–2.09 µs, and IPv4 paid for the
//!   extra bookkeeping too. The decision is too short for a lane's miss to
//!   hide behind it, and the per-lane state costs more than the round.
//! - A hash of the /48 nodes (those holding a route of 48 bits or more:
//!   33,836 in the 200k table), probed alongside the root to skip bits
//!   24–48 in one load, the lanes it answered rejoining the rounds at 48
//!   bits: only 32 % of spread destinations are in such a /48, so most
//!   lookups paid one more miss, and `l3_process` IPv6 full went 2.06 →
//!   2.87–3.07 µs per batch, small 1.30 → 1.64–1.70 µs. (Its bucket
//!   compare, written as selects, first compiled to branches: small 2.5–2.7
//!   µs, full 3.2–3.4 µs. A mispredicted branch on a missing load throws
//!   away the loads behind it.)
//! - Unchecked indexing (`get_unchecked`) measured no faster than the
//!   bounds-checked `get` used here, whose failure is also what turns "no
//!   route" into `None`; hence no `unsafe`.
//!
//! # Values
//!
//! Values are opaque `u32` route ids from `0` to [`MAX_VALUE`]; bit 31 of an
//! entry is the tag that marks a child.

use std::fmt;
use std::mem::{size_of, size_of_val};
use std::ops::{BitAnd, BitXor};

use xskfwd_prefetch::prefetch;

/// Largest storable value: `2^31 - 1`. Bit 31 of a table entry tags a child.
pub const MAX_VALUE: u32 = (1 << 31) - 1;

/// Why a table could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpmError {
    /// A prefix length was greater than 32 (IPv4) or 128 (IPv6).
    PrefixLen,
    /// A value was greater than [`MAX_VALUE`].
    Value,
    /// The table would need 2^30 - 1 or more chunks (1 TiB) or singles,
    /// or the input holds more than 2^32 prefixes.
    Capacity,
}

impl fmt::Display for LpmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LpmError::PrefixLen => "prefix length longer than the address",
            LpmError::Value => "route value greater than MAX_VALUE",
            LpmError::Capacity => "LPM table index space exhausted",
        })
    }
}

impl std::error::Error for LpmError {}

/// Address bits resolved by the root array of a table with fewer than
/// [`WIDE_ROOT_MIN`] prefixes.
const ROOT_BITS: u32 = 16;
/// Address bits resolved by the root array of a large table.
const WIDE_ROOT_BITS: u32 = 24;
/// Tables with at least this many prefixes get the wide root.
const WIDE_ROOT_MIN: usize = 1 << 16;
/// Address bits resolved by each chunk.
const STRIDE: u32 = 8;
const CHUNK_LEN: usize = 1 << STRIDE;

/// Entry tag: the entry is a child (a chunk or a single), not a value.
const CHILD: u32 = 1 << 31;
/// With [`CHILD`]: the child is a single, not a chunk.
const SINGLE: u32 = 1 << 30;
/// With [`CHILD`]: the index of the chunk or single.
const INDEX: u32 = SINGLE - 1;
/// "No route". It reads as the single with index [`INDEX`], which is never
/// allocated (build fails with [`LpmError::Capacity`] first), so lookup needs
/// no special case for it: following it finds no single and returns `None`.
const NONE: u32 = u32::MAX;

type Chunk = [u32; CHUNK_LEN];

/// An address type: `u32` for IPv4, `u128` for IPv6 (numeric value,
/// most significant bit first).
trait Key: Copy + Ord + BitAnd<Output = Self> + BitXor<Output = Self> {
    const BITS: u32;
    /// Whether a walk can be long enough for [`Table::lookup_many`] to
    /// finish the last few walks one by one (IPv6; an IPv4 walk is at
    /// most two chunks below the root).
    const LONG_WALKS: bool;
    const ZERO: Self;
    /// The network mask of a prefix of length `len` (`len <= BITS`).
    fn mask(len: u8) -> Self;
    /// The top `bits` bits (`bits` is [`ROOT_BITS`] or [`WIDE_ROOT_BITS`]).
    fn root_slot(self, bits: u32) -> usize;
    /// The 8 bits starting `d` bits from the top (`d < BITS`).
    fn byte(self, d: u32) -> u8;
    /// The address bytes, most significant first, zero-padded to 16.
    fn bytes(self) -> [u8; 16];
}

/// Whether entry `e` is a chunk (a child that is not a single).
#[inline(always)]
fn is_chunk(e: u32) -> bool {
    e & (CHILD | SINGLE) == CHILD
}

impl Key for u32 {
    const BITS: u32 = u32::BITS;
    const LONG_WALKS: bool = false;
    const ZERO: Self = 0;
    #[inline(always)]
    fn mask(len: u8) -> Self {
        u32::MAX
            .checked_shl(Self::BITS - u32::from(len))
            .unwrap_or(0)
    }
    #[inline(always)]
    fn root_slot(self, bits: u32) -> usize {
        (self >> (Self::BITS - bits)) as usize
    }
    #[inline(always)]
    fn byte(self, d: u32) -> u8 {
        (self.wrapping_shl(d) >> (Self::BITS - STRIDE)) as u8
    }
    #[inline(always)]
    fn bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&self.to_be_bytes());
        b
    }
}

impl Key for u128 {
    const BITS: u32 = u128::BITS;
    const LONG_WALKS: bool = true;
    const ZERO: Self = 0;
    #[inline(always)]
    fn mask(len: u8) -> Self {
        u128::MAX
            .checked_shl(Self::BITS - u32::from(len))
            .unwrap_or(0)
    }
    #[inline(always)]
    fn root_slot(self, bits: u32) -> usize {
        (self >> (Self::BITS - bits)) as usize
    }
    #[inline(always)]
    fn byte(self, d: u32) -> u8 {
        (self.wrapping_shl(d) >> (Self::BITS - STRIDE)) as u8
    }
    #[inline(always)]
    fn bytes(self) -> [u8; 16] {
        self.to_be_bytes()
    }
}

/// A subtree holding exactly one route.
#[derive(Debug, Clone, Copy)]
struct Single<K> {
    /// The route's network address (host bits zero).
    key: K,
    /// The route's network mask.
    mask: K,
    /// The route's value.
    value: u32,
    /// The answer for the rest of the subtree: the value of the longest
    /// enclosing route, or [`NONE`].
    fallback: u32,
}

/// The root array: one entry per value of the top [`ROOT_BITS`] or
/// [`WIDE_ROOT_BITS`] address bits.
#[derive(Clone)]
enum Root {
    Narrow(Box<[u32; 1 << ROOT_BITS]>),
    Wide(Box<[u32; 1 << WIDE_ROOT_BITS]>),
}

impl Root {
    /// A root of `bits` bits ([`WIDE_ROOT_BITS`] or else [`ROOT_BITS`])
    /// that says "no route" everywhere.
    fn new(bits: u32) -> Root {
        let wide = bits == WIDE_ROOT_BITS;
        let len = 1 << if wide { WIDE_ROOT_BITS } else { ROOT_BITS };
        let all = vec![NONE; len].into_boxed_slice();
        if wide {
            Root::Wide(all.try_into().expect("the wide root's length"))
        } else {
            Root::Narrow(all.try_into().expect("the root's length"))
        }
    }

    /// Address bits it resolves.
    fn bits(&self) -> u32 {
        match self {
            Root::Narrow(_) => ROOT_BITS,
            Root::Wide(_) => WIDE_ROOT_BITS,
        }
    }

    fn entries(&self) -> &[u32] {
        match self {
            Root::Narrow(r) => &r[..],
            Root::Wide(r) => &r[..],
        }
    }

    fn entries_mut(&mut self) -> &mut [u32] {
        match self {
            Root::Narrow(r) => &mut r[..],
            Root::Wide(r) => &mut r[..],
        }
    }
}

/// A route being built: (network address, prefix length, value, input
/// position).
#[derive(Clone, Copy)]
struct Route<K> {
    addr: K,
    len: u8,
    value: u32,
    seq: u32,
}

/// The trie shared by [`Lpm4`] and [`Lpm6`].
#[derive(Clone)]
struct Table<K> {
    root: Root,
    chunks: Vec<Chunk>,
    singles: Vec<Single<K>>,
    len: usize,
}

impl<K: Key> Table<K> {
    fn empty() -> Self {
        Self::with_root(ROOT_BITS)
    }

    fn with_root(root_bits: u32) -> Self {
        Table {
            root: Root::new(root_bits),
            chunks: Vec::new(),
            singles: Vec::new(),
            len: 0,
        }
    }

    fn build<I: IntoIterator<Item = (K, u8, u32)>>(prefixes: I) -> Result<Self, LpmError> {
        Self::build_with(prefixes, None)
    }

    /// [`Table::build`] with the root width chosen by the table's size,
    /// or `root_bits` (tests).
    fn build_with<I: IntoIterator<Item = (K, u8, u32)>>(
        prefixes: I,
        root_bits: Option<u32>,
    ) -> Result<Self, LpmError> {
        let iter = prefixes.into_iter();
        let mut routes: Vec<Route<K>> = Vec::with_capacity(iter.size_hint().0);
        for (i, (addr, len, value)) in iter.enumerate() {
            if u32::from(len) > K::BITS {
                return Err(LpmError::PrefixLen);
            }
            if value > MAX_VALUE {
                return Err(LpmError::Value);
            }
            let seq = u32::try_from(i).map_err(|_| LpmError::Capacity)?;
            let addr = addr & K::mask(len);
            routes.push(Route {
                addr,
                len,
                value,
                seq,
            });
        }
        // By prefix, then input order, so the last of equal prefixes wins.
        routes.sort_unstable_by_key(|r| (r.addr, r.len, r.seq));
        routes.dedup_by(|later, kept| {
            let same = (later.addr, later.len) == (kept.addr, kept.len);
            if same {
                kept.value = later.value;
            }
            same
        });

        let bits = root_bits.unwrap_or(if routes.len() >= WIDE_ROOT_MIN {
            WIDE_ROOT_BITS
        } else {
            ROOT_BITS
        });
        let mut t = Self::with_root(bits);
        t.len = routes.len();
        let mut i = 0;
        while i < routes.len() {
            let r = routes[i];
            let slot = r.addr.root_slot(bits);
            if u32::from(r.len) <= bits {
                let n = 1 << (bits - u32::from(r.len));
                t.root.entries_mut()[slot..slot + n].fill(r.value);
                i += 1;
                continue;
            }
            // The routes of this root slot that are shorter than the root
            // sort first (their address is the slot's lowest), so from here
            // on every route of the slot is longer.
            let n = routes[i..]
                .iter()
                .take_while(|r| r.addr.root_slot(bits) == slot)
                .count();
            let below = t.root.entries()[slot];
            t.root.entries_mut()[slot] = t.subtree(&routes[i..i + n], bits, below)?;
            i += n;
        }
        t.chunks.shrink_to_fit();
        t.singles.shrink_to_fit();
        Ok(t)
    }

    /// Builds the subtree for `routes`, which are sorted, all longer than
    /// `depth` and all inside one entry at `depth`; `fallback` is that
    /// entry's current (pushed-down) value. Returns the entry to store.
    fn subtree(&mut self, routes: &[Route<K>], depth: u32, fallback: u32) -> Result<u32, LpmError> {
        if let [r] = *routes {
            let idx = self.singles.len();
            if idx >= INDEX as usize {
                return Err(LpmError::Capacity);
            }
            self.singles.push(Single {
                key: r.addr,
                mask: K::mask(r.len),
                value: r.value,
                fallback,
            });
            return Ok(CHILD | SINGLE | idx as u32);
        }
        let idx = self.chunks.len();
        if idx >= INDEX as usize {
            return Err(LpmError::Capacity);
        }
        self.chunks.push([fallback; CHUNK_LEN]);
        let end = depth + STRIDE;
        let mut i = 0;
        while i < routes.len() {
            let r = routes[i];
            let slot = usize::from(r.addr.byte(depth));
            if u32::from(r.len) <= end {
                let n = 1 << (end - u32::from(r.len));
                self.chunks[idx][slot..slot + n].fill(r.value);
                i += 1;
                continue;
            }
            let n = routes[i..]
                .iter()
                .take_while(|r| usize::from(r.addr.byte(depth)) == slot)
                .count();
            let below = self.chunks[idx][slot];
            self.chunks[idx][slot] = self.subtree(&routes[i..i + n], end, below)?;
            i += n;
        }
        Ok(CHILD | idx as u32)
    }

    /// One step down from entry `e` (which has `CHILD` set) at `depth`:
    /// `Ok` with the next entry and depth, or `Err` with the answer.
    #[inline]
    fn step(&self, addr: K, e: u32, depth: u32) -> Result<(u32, u32), Option<u32>> {
        let idx = (e & INDEX) as usize;
        if e & SINGLE != 0 {
            let v = match self.singles.get(idx) {
                Some(s) if (addr ^ s.key) & s.mask == K::ZERO => s.value,
                Some(s) => s.fallback,
                None => NONE,
            };
            return Err((v & CHILD == 0).then_some(v));
        }
        match self.chunks.get(idx) {
            Some(chunk) if depth < K::BITS => {
                Ok((chunk[usize::from(addr.byte(depth))], depth + STRIDE))
            }
            _ => Err(None),
        }
    }

    /// Where `addr`'s root entry is.
    #[inline(always)]
    fn root_ref(&self, addr: K) -> Option<&u32> {
        // A constant shift and an index the compiler sees is in bounds,
        // behind a branch that never changes for a table: a shift by
        // `root_bits` cost small tables 1-2 ns a packet.
        match &self.root {
            Root::Narrow(r) => r.get(addr.root_slot(ROOT_BITS)),
            Root::Wide(r) => r.get(addr.root_slot(WIDE_ROOT_BITS)),
        }
    }

    /// Asks for the cache line of `addr`'s root entry (a hint: no load
    /// waits for it, nothing changes).
    #[inline(always)]
    fn prefetch_root(&self, addr: K) {
        if let Some(e) = self.root_ref(addr) {
            prefetch(e);
        }
    }

    /// The root entry for `addr`.
    #[inline(always)]
    fn root_entry(&self, addr: K) -> u32 {
        self.root_ref(addr).copied().unwrap_or(NONE)
    }

    #[inline]
    fn lookup(&self, addr: K) -> Option<u32> {
        let mut e = self.root_entry(addr);
        let mut depth = self.root.bits();
        while e & CHILD != 0 {
            match self.step(addr, e, depth) {
                Ok((next, d)) => (e, depth) = (next, d),
                Err(answer) => return answer,
            }
        }
        Some(e)
    }

    /// [`Table::lookup`] of every address of `addrs` into `out`, walked
    /// level by level across the addresses: each level's loads are
    /// independent of each other, so their cache misses overlap instead of
    /// each lookup's chain of misses running on its own.
    ///
    /// A level is a step without branches on the data: every lane loads
    /// (one not at a chunk reads chunk 0 and keeps its entry), so no
    /// mispredicted branch throws away the loads in flight, and the body
    /// is short enough that the loads of a whole batch are outstanding
    /// together. Singles, which end a walk, are resolved in one last pass.
    ///
    /// IPv6: once at most a quarter of the lanes are still at a chunk (a
    /// batch nearly always holds a few /56 or /64 walks, which would keep
    /// every lane stepping for two or three more levels), those few walk
    /// on one by one. Measured (criterion, interleaved with the code
    /// without it): `lpm6_lookup/full_hits_hot_many` 8.2 → 6.5 ns a
    /// lookup, `l3_process` IPv6 full 38.6–39.7 → 35.0–36.5 ns a packet.
    fn lookup_many(&self, addrs: &[K], out: &mut [Option<u32>]) {
        const LANES: usize = 64;
        for (a, o) in addrs.chunks(LANES).zip(out.chunks_mut(LANES)) {
            let n = a.len().min(o.len());
            let (a, o) = (&a[..n], &mut o[..n]);
            let mut e = [NONE; LANES];
            let mut bytes = [[0u8; 16]; LANES];
            let mut more = false;
            for ((e, b), &addr) in e.iter_mut().zip(bytes.iter_mut()).zip(a) {
                *e = self.root_entry(addr);
                *b = addr.bytes();
                more |= is_chunk(*e);
            }
            // Each round takes every lane that is at a chunk one level down;
            // all of them are at the same depth.
            let mut depth = self.root.bits();
            while more && depth < K::BITS {
                let at = (depth / 8) as usize;
                let mut active = 0usize;
                for (e, b) in e[..n].iter_mut().zip(&bytes[..n]) {
                    let x = *e;
                    let down = is_chunk(x);
                    let chunk = if down { (x & INDEX) as usize } else { 0 };
                    let slot = usize::from(b.get(at).copied().unwrap_or(0));
                    let v = self.chunks.get(chunk).map_or(NONE, |c| c[slot]);
                    let next = if down { v } else { x };
                    *e = next;
                    active += usize::from(is_chunk(next));
                }
                depth += STRIDE;
                more = active > 0;
                // A few long walks left: each goes on alone (their loads
                // still overlap), instead of every lane taking part in
                // every round.
                if K::LONG_WALKS && more && active * 4 <= n {
                    for (e, &addr) in e[..n].iter_mut().zip(a) {
                        let mut d = depth;
                        while is_chunk(*e) && d < K::BITS {
                            *e = self
                                .chunks
                                .get((*e & INDEX) as usize)
                                .map_or(NONE, |c| c[usize::from(addr.byte(d))]);
                            d += STRIDE;
                        }
                    }
                    break;
                }
            }
            for ((o, &x), &addr) in o.iter_mut().zip(&e[..n]).zip(a) {
                let single = x & (CHILD | SINGLE) == CHILD | SINGLE;
                let v = if single {
                    match self.singles.get((x & INDEX) as usize) {
                        Some(s) if (addr ^ s.key) & s.mask == K::ZERO => s.value,
                        Some(s) => s.fallback,
                        None => NONE,
                    }
                } else {
                    x
                };
                // A chunk left at the last bit (never built) is no answer,
                // as in `lookup`.
                *o = (v & CHILD == 0).then_some(v);
            }
        }
    }

    fn memory_bytes(&self) -> usize {
        size_of_val::<[u32]>(self.root.entries())
            + self.chunks.capacity() * size_of::<Chunk>()
            + self.singles.capacity() * size_of::<Single<K>>()
    }

    /// The big arrays (address, bytes), for a huge-page hint by the I/O
    /// side (`xskfwd_hugepage`).
    fn regions(&self) -> [(usize, usize); 3] {
        [
            (
                self.root.entries().as_ptr() as usize,
                size_of_val::<[u32]>(self.root.entries()),
            ),
            (
                self.chunks.as_ptr() as usize,
                self.chunks.len() * size_of::<Chunk>(),
            ),
            (
                self.singles.as_ptr() as usize,
                self.singles.len() * size_of::<Single<K>>(),
            ),
        ]
    }

    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("len", &self.len)
            .field("root_bits", &self.root.bits())
            .field("chunks", &self.chunks.len())
            .field("singles", &self.singles.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish_non_exhaustive()
    }
}

/// An immutable IPv4 longest-prefix-match table (DIR-16-8-8 with singles,
/// DIR-24-8 from 65,536 prefixes; at most 3 dependent loads per lookup).
///
/// `Default` is the empty table (256 KiB for the root array).
#[derive(Clone)]
pub struct Lpm4(Table<u32>);

impl Lpm4 {
    /// Builds a table from `(address, prefix length, value)` triples.
    ///
    /// Addresses are in host byte order; host bits beyond the prefix length
    /// are ignored. Of duplicate prefixes, the last one wins.
    ///
    /// # Errors
    ///
    /// [`LpmError::PrefixLen`] if a length is over 32, [`LpmError::Value`]
    /// if a value is over [`MAX_VALUE`], [`LpmError::Capacity`] if the
    /// index space is exhausted (see [`LpmError::Capacity`]).
    pub fn build<I: IntoIterator<Item = (u32, u8, u32)>>(prefixes: I) -> Result<Lpm4, LpmError> {
        Table::build(prefixes).map(Lpm4)
    }

    /// The value of the longest prefix containing `addr` (host byte order),
    /// or `None` if no prefix contains it. Never allocates or panics.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        self.0.lookup(addr)
    }

    /// Asks the CPU for the cache line [`Lpm4::lookup`] of `addr` reads
    /// first (its root entry), so that a lookup issued a little later
    /// finds it there. A hint only: it never waits and changes nothing.
    #[inline(always)]
    pub fn prefetch(&self, addr: u32) {
        self.0.prefetch_root(addr)
    }

    /// [`Lpm4::lookup`] for many addresses at once (faster for tables
    /// that do not fit the caches: the misses of independent lookups
    /// overlap). `out[i]` is the answer for `addrs[i]`; extra entries of
    /// either slice are left alone.
    pub fn lookup_many(&self, addrs: &[u32], out: &mut [Option<u32>]) {
        self.0.lookup_many(addrs, out)
    }

    /// The number of distinct prefixes stored.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// Address and length of each big array of the table (for
    /// `xskfwd_hugepage::advise`).
    pub fn regions(&self) -> [(usize, usize); 3] {
        self.0.regions()
    }

    /// Heap bytes owned by the table.
    pub fn memory_bytes(&self) -> usize {
        self.0.memory_bytes()
    }
}

impl Default for Lpm4 {
    fn default() -> Self {
        Lpm4(Table::empty())
    }
}

impl fmt::Debug for Lpm4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("Lpm4", f)
    }
}

/// An immutable IPv6 longest-prefix-match table (16-bit root, 24-bit from
/// 65,536 prefixes, 8-bit chunks, singles; at most 15 dependent loads per
/// lookup, at most 5 when the longest match is at most a /48).
///
/// `Default` is the empty table (256 KiB for the root array).
#[derive(Clone)]
pub struct Lpm6(Table<u128>);

impl Lpm6 {
    /// Builds a table from `(address, prefix length, value)` triples.
    ///
    /// An address is the big-endian numeric value of the IPv6 address
    /// (`u128::from(Ipv6Addr)`); host bits beyond the prefix length are
    /// ignored. Of duplicate prefixes, the last one wins.
    ///
    /// # Errors
    ///
    /// [`LpmError::PrefixLen`] if a length is over 128, [`LpmError::Value`]
    /// if a value is over [`MAX_VALUE`], [`LpmError::Capacity`] if the
    /// index space is exhausted (see [`LpmError::Capacity`]).
    pub fn build<I: IntoIterator<Item = (u128, u8, u32)>>(prefixes: I) -> Result<Lpm6, LpmError> {
        Table::build(prefixes).map(Lpm6)
    }

    /// The value of the longest prefix containing `addr`, or `None` if no
    /// prefix contains it. Never allocates or panics.
    #[inline]
    pub fn lookup(&self, addr: u128) -> Option<u32> {
        self.0.lookup(addr)
    }

    /// [`Lpm6::lookup`] for many addresses at once (faster for tables
    /// that do not fit the caches: the misses of independent lookups
    /// overlap). `out[i]` is the answer for `addrs[i]`; extra entries of
    /// either slice are left alone.
    pub fn lookup_many(&self, addrs: &[u128], out: &mut [Option<u32>]) {
        self.0.lookup_many(addrs, out)
    }

    /// The number of distinct prefixes stored.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// Address and length of each big array of the table (for
    /// `xskfwd_hugepage::advise`).
    pub fn regions(&self) -> [(usize, usize); 3] {
        self.0.regions()
    }

    /// Heap bytes owned by the table.
    pub fn memory_bytes(&self) -> usize {
        self.0.memory_bytes()
    }
}

impl Default for Lpm6 {
    fn default() -> Self {
        Lpm6(Table::empty())
    }
}

impl fmt::Debug for Lpm6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug("Lpm6", f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().expect("test address").into()
    }

    fn v6(s: &str) -> u128 {
        s.parse::<Ipv6Addr>().expect("test address").into()
    }

    fn build4(p: &[(&str, u8, u32)]) -> Lpm4 {
        Lpm4::build(p.iter().map(|&(a, l, v)| (v4(a), l, v))).expect("valid table")
    }

    fn build6(p: &[(&str, u8, u32)]) -> Lpm6 {
        Lpm6::build(p.iter().map(|&(a, l, v)| (v6(a), l, v))).expect("valid table")
    }

    /// The reference: scan every prefix, keep the longest match, and of
    /// equal prefixes the last one.
    fn naive<K: Key>(prefixes: &[(K, u8, u32)], addr: K) -> Option<u32> {
        let mut best: Option<(u8, u32)> = None;
        for &(a, len, v) in prefixes {
            let m = K::mask(len);
            if (a ^ addr) & m == K::ZERO && best.is_none_or(|(l, _)| len >= l) {
                best = Some((len, v));
            }
        }
        best.map(|(_, v)| v)
    }

    const NESTED4: [(&str, u8, u32); 5] = [
        ("0.0.0.0", 0, 1),
        ("10.0.0.0", 8, 2),
        ("10.1.0.0", 16, 3),
        ("10.1.2.0", 24, 4),
        ("10.1.2.3", 32, 5),
    ];

    /// (address, expected value) inside each range of [`NESTED4`] and on
    /// both sides of every boundary.
    const NESTED4_CHECKS: [(&str, Option<u32>); 18] = [
        ("0.0.0.0", Some(1)),
        ("255.255.255.255", Some(1)),
        ("9.255.255.255", Some(1)),
        ("10.0.0.0", Some(2)),
        ("10.255.255.255", Some(2)),
        ("11.0.0.0", Some(1)),
        ("10.0.255.255", Some(2)),
        ("10.1.0.0", Some(3)),
        ("10.1.255.255", Some(3)),
        ("10.2.0.0", Some(2)),
        ("10.1.1.255", Some(3)),
        ("10.1.2.0", Some(4)),
        ("10.1.2.255", Some(4)),
        ("10.1.3.0", Some(3)),
        ("10.1.2.2", Some(4)),
        ("10.1.2.3", Some(5)),
        ("10.1.2.4", Some(4)),
        ("10.1.2.128", Some(4)),
    ];

    #[test]
    fn v4_nested_longest_wins_inside_and_at_boundaries() {
        let t = build4(&NESTED4);
        let mut reversed = NESTED4;
        reversed.reverse();
        let r = build4(&reversed);
        assert_eq!(t.len(), 5);
        for (a, want) in NESTED4_CHECKS {
            assert_eq!(t.lookup(v4(a)), want, "{a}");
            assert_eq!(r.lookup(v4(a)), want, "{a} (reversed input)");
        }
    }

    #[test]
    fn v4_delete_falls_back_to_next_longest() {
        // Rebuild without the longest prefix, again and again.
        let a = v4("10.1.2.3");
        let want = [None, Some(1), Some(2), Some(3), Some(4), Some(5)];
        for n in 0..=NESTED4.len() {
            let t = build4(&NESTED4[..n]);
            assert_eq!(t.lookup(a), want[n], "first {n} prefixes");
            assert_eq!(t.len(), n);
        }
        // Without a middle one (the /16), its range falls back to the /8
        // while the /24 and /32 inside it still win.
        let t = build4(&[NESTED4[0], NESTED4[1], NESTED4[3], NESTED4[4]]);
        assert_eq!(t.lookup(v4("10.1.5.5")), Some(2));
        assert_eq!(t.lookup(v4("10.1.2.9")), Some(4));
        assert_eq!(t.lookup(v4("10.1.2.3")), Some(5));
    }

    const NESTED6: [(&str, u8, u32); 7] = [
        ("::", 0, 1),
        ("2001::", 16, 2),
        ("2001:db8::", 32, 3),
        ("2001:db8:1::", 48, 4),
        ("2001:db8:1:2::", 64, 5),
        ("2001:db8:1:2::", 127, 6),
        ("2001:db8:1:2::1", 128, 7),
    ];

    const NESTED6_CHECKS: [(&str, Option<u32>); 20] = [
        ("::", Some(1)),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(1)),
        ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(1)),
        ("2001::", Some(2)),
        ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some(2)),
        ("2002::", Some(1)),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", Some(2)),
        ("2001:db8::", Some(3)),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Some(3)),
        ("2001:db9::", Some(2)),
        ("2001:db8:1::", Some(4)),
        ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", Some(4)),
        ("2001:db8:2::", Some(3)),
        ("2001:db8:1:1:ffff:ffff:ffff:ffff", Some(4)),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", Some(5)),
        ("2001:db8:1:3::", Some(4)),
        ("2001:db8:1:2::", Some(6)),
        ("2001:db8:1:2::1", Some(7)),
        ("2001:db8:1:2::2", Some(5)),
        ("2001:db8:1:1:ffff:ffff:ffff:fffe", Some(4)),
    ];

    #[test]
    fn v6_nested_longest_wins_inside_and_at_boundaries() {
        let t = build6(&NESTED6);
        let mut reversed = NESTED6;
        reversed.reverse();
        let r = build6(&reversed);
        assert_eq!(t.len(), 7);
        for (a, want) in NESTED6_CHECKS {
            assert_eq!(t.lookup(v6(a)), want, "{a}");
            assert_eq!(r.lookup(v6(a)), want, "{a} (reversed input)");
        }
    }

    #[test]
    fn v6_delete_falls_back_to_next_longest() {
        let a = v6("2001:db8:1:2::1");
        let want = [
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(7),
        ];
        for n in 0..=NESTED6.len() {
            let t = build6(&NESTED6[..n]);
            assert_eq!(t.lookup(a), want[n], "first {n} prefixes");
        }
        // Without the /48: the /64 inside it still wins, the rest of the /48
        // falls back to the /32.
        let mut p = NESTED6.to_vec();
        p.remove(3);
        let t = build6(&p);
        assert_eq!(t.lookup(v6("2001:db8:1:9::")), Some(3));
        assert_eq!(t.lookup(v6("2001:db8:1:2::9")), Some(5));
    }

    #[test]
    fn host_bits_are_ignored() {
        let t = build4(&[("10.99.99.99", 8, 1), ("192.168.1.77", 24, 2)]);
        assert_eq!(t.lookup(v4("10.0.0.0")), Some(1));
        assert_eq!(t.lookup(v4("10.255.0.1")), Some(1));
        assert_eq!(t.lookup(v4("192.168.1.0")), Some(2));
        assert_eq!(t.lookup(v4("192.168.2.0")), None);
        let t = build4(&[("255.255.255.255", 0, 7)]);
        assert_eq!(t.lookup(0), Some(7));
        let t = build6(&[("2001:db8:ffff::1", 32, 1), ("ffff::", 0, 2)]);
        assert_eq!(t.lookup(v6("2001:db8::")), Some(1));
        assert_eq!(t.lookup(v6("::1")), Some(2));
    }

    #[test]
    fn duplicates_last_wins() {
        // Same prefix, also spelled with different host bits.
        let t = build4(&[
            ("10.0.0.0", 8, 1),
            ("10.1.2.3", 32, 5),
            ("10.0.0.0", 8, 2),
            ("10.7.7.7", 8, 3),
            ("10.1.2.3", 32, 6),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(v4("10.200.0.0")), Some(3));
        assert_eq!(t.lookup(v4("10.1.2.3")), Some(6));
        let t = build6(&[("2001:db8::", 32, 1), ("2001:db8::1", 32, 2)]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(v6("2001:db8::42")), Some(2));
        // Many copies among other prefixes, so the sort does real work.
        let p = (0..2000u32).map(|i| match i % 2 {
            0 => (v4("192.0.2.0"), 24, i),
            _ => (i << 12, 20, i),
        });
        let t = Lpm4::build(p).expect("valid");
        assert_eq!(t.len(), 1001);
        assert_eq!(t.lookup(v4("192.0.2.1")), Some(1998));
    }

    #[test]
    fn empty_tables_match_nothing() {
        for t in [Lpm4::default(), Lpm4::build([]).expect("empty")] {
            assert!(t.is_empty());
            assert_eq!(t.len(), 0);
            assert_eq!(t.memory_bytes(), (1 << ROOT_BITS) * 4);
            for a in [0, 1, 0x0a01_0203, u32::MAX] {
                assert_eq!(t.lookup(a), None);
            }
        }
        for t in [Lpm6::default(), Lpm6::build([]).expect("empty")] {
            assert!(t.is_empty());
            assert_eq!(t.len(), 0);
            for a in [0, 1, v6("2001:db8::1"), u128::MAX] {
                assert_eq!(t.lookup(a), None);
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(Lpm4::build([(0, 33, 1)]).unwrap_err(), LpmError::PrefixLen);
        assert_eq!(Lpm6::build([(0, 129, 1)]).unwrap_err(), LpmError::PrefixLen);
        assert_eq!(
            Lpm4::build([(0, 8, MAX_VALUE + 1)]).unwrap_err(),
            LpmError::Value
        );
        assert_eq!(
            Lpm6::build([(0, 8, u32::MAX)]).unwrap_err(),
            LpmError::Value
        );
        // The limits themselves are fine.
        let t = Lpm4::build([(0, 32, MAX_VALUE), (1, 32, 0)]).expect("valid");
        assert_eq!(t.lookup(0), Some(MAX_VALUE));
        assert_eq!(t.lookup(1), Some(0));
        assert_eq!(t.lookup(2), None);
        let t = Lpm6::build([(0, 128, MAX_VALUE)]).expect("valid");
        assert_eq!(t.lookup(0), Some(MAX_VALUE));
        assert_eq!(t.lookup(1), None);
    }

    #[test]
    fn lone_long_route_falls_back_to_its_cover() {
        // One route below a root entry (a single), then two (a chunk).
        let t = build4(&[("10.0.0.0", 8, 1), ("10.1.2.3", 32, 2)]);
        assert_eq!(t.lookup(v4("10.1.2.3")), Some(2));
        assert_eq!(t.lookup(v4("10.1.2.4")), Some(1));
        assert_eq!(t.lookup(v4("10.1.0.0")), Some(1));
        assert_eq!(t.lookup(v4("11.1.2.3")), None);
        let t = build4(&[("10.0.0.0", 8, 1), ("10.1.2.3", 32, 2), ("10.1.2.0", 31, 3)]);
        assert_eq!(t.lookup(v4("10.1.2.3")), Some(2));
        assert_eq!(t.lookup(v4("10.1.2.2")), Some(1));
        assert_eq!(t.lookup(v4("10.1.2.1")), Some(3));
        let t = build6(&[("2001:db8:1::", 48, 1)]);
        assert_eq!(t.lookup(v6("2001:db8:1:ffff::")), Some(1));
        assert_eq!(t.lookup(v6("2001:db8:2::")), None);
    }

    #[test]
    fn dense_subtrees_use_chunks_down_to_the_last_bits() {
        // Twenty /24s in one /16 and eight /32s in one of them: a chunk for
        // the /16 and one for the /24, no singles.
        let mut p: Vec<(u32, u8, u32)> = (0..20)
            .map(|x| (v4("10.1.0.0") | (x << 8), 24, x))
            .collect();
        p.extend((0..8).map(|y| (v4("10.1.3.0") | (y * 2), 32, 100 + y)));
        let t = Lpm4::build(p.iter().copied()).expect("valid");
        assert_eq!((t.0.chunks.len(), t.0.singles.len()), (2, 0));
        assert_eq!(t.lookup(v4("10.1.19.200")), Some(19));
        assert_eq!(t.lookup(v4("10.1.20.0")), None);
        assert_eq!(t.lookup(v4("10.1.3.14")), Some(107));
        assert_eq!(t.lookup(v4("10.1.3.15")), Some(3));
        assert_eq!(t.lookup(v4("10.1.3.0")), Some(100));
        // Four /128s that differ only in the last bits: a chunk per 8 bits
        // below the root, the last one resolving bits 120..128.
        let base = v6("2001:db8::");
        let t = Lpm6::build((0..4).map(|x| (base | x, 128, x as u32))).expect("valid");
        assert_eq!((t.0.chunks.len(), t.0.singles.len()), (14, 0));
        for x in 0..4 {
            assert_eq!(t.lookup(base | x), Some(x as u32));
        }
        assert_eq!(t.lookup(base | 4), None);
        assert_eq!(t.lookup(base | 1 << 8), None);
    }

    #[test]
    fn large_tables_get_the_wide_root_and_the_same_answers() {
        let small = crate::testing::synth::gen4(WIDE_ROOT_MIN - 1, 7);
        let t = Lpm4::build(small.iter().copied()).expect("valid");
        assert_eq!(t.0.root.bits(), ROOT_BITS);
        let large = crate::testing::synth::gen4(WIDE_ROOT_MIN, 7);
        let wide = Lpm4::build(large.iter().copied()).expect("valid");
        let narrow = Table::build_with(large.iter().copied(), Some(ROOT_BITS)).expect("valid");
        assert_eq!(
            (wide.0.root.bits(), narrow.root.bits()),
            (WIDE_ROOT_BITS, ROOT_BITS)
        );
        assert_eq!(
            (wide.0.root.entries().len(), narrow.root.entries().len()),
            (1 << 24, 1 << 16)
        );
        let mut r = crate::testing::synth::Rng(11);
        let addrs = crate::testing::synth::addresses(&large, &mut r);
        let mut a = vec![None; addrs.len()];
        let mut b = vec![Some(0); addrs.len()];
        wide.lookup_many(&addrs, &mut a);
        narrow.lookup_many(&addrs, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().filter(|x| x.is_some()).count() >= addrs.len() / 2);
        for &x in addrs.iter().step_by(97) {
            assert_eq!(wide.lookup(x), narrow.lookup(x));
        }
        let t6 = Lpm6::build(crate::testing::synth::gen6(WIDE_ROOT_MIN, 8)).expect("valid");
        assert_eq!(t6.0.root.bits(), WIDE_ROOT_BITS);
    }

    #[test]
    fn debug_is_a_summary() {
        let s = format!("{:?}", build4(&NESTED4));
        assert!(s.starts_with("Lpm4 { len: 5,"), "{s}");
        assert!(s.len() < 120, "{s}");
        let s = format!("{:?}", Lpm6::default());
        assert!(s.starts_with("Lpm6 { len: 0,"), "{s}");
    }

    /// Addresses to probe a prefix set with: the first and last address of
    /// every prefix and their outside neighbours, one address inside every
    /// prefix, and the random ones.
    fn probes<K: Key>(
        p: &[(K, u8, u32)],
        noise: &[K],
        random: &[K],
        add: fn(K, i8) -> K,
    ) -> Vec<K> {
        let mut out = random.to_vec();
        for (i, &(a, len, _)) in p.iter().enumerate() {
            let m = K::mask(len);
            let first = a & m;
            let last = first ^ (m ^ K::mask(K::BITS as u8));
            out.extend([first, last, add(first, -1), add(last, 1)]);
            if let Some(&n) = noise.get(i % noise.len().max(1)) {
                out.push(first ^ (n & (m ^ K::mask(K::BITS as u8))));
            }
        }
        out
    }

    fn len4() -> impl Strategy<Value = u8> {
        prop_oneof![1 => 0u8..=7, 3 => 8u8..=24, 2 => 25u8..=32]
    }

    fn len6() -> impl Strategy<Value = u8> {
        prop_oneof![1 => 0u8..=15, 3 => 16u8..=64, 1 => 65u8..=120, 1 => 121u8..=128]
    }

    fn value() -> impl Strategy<Value = u32> {
        prop_oneof![0..=MAX_VALUE, Just(MAX_VALUE), 0u32..4]
    }

    /// A prefix near one of a few base addresses: `bits` low bits of the
    /// base are flipped, so prefixes nest, share chunks and collide.
    fn near<K: Key>(bases: &[K], (b, noise, bits): (usize, K, u32)) -> K {
        let keep = K::mask((K::BITS - bits) as u8);
        bases[b % bases.len()] ^ (noise & (keep ^ K::mask(K::BITS as u8)))
    }

    proptest! {
        #[test]
        fn v4_matches_linear_scan(
            bases in prop::array::uniform3(any::<u32>()),
            raw in prop::collection::vec(((0usize..3, any::<u32>(), 0u32..=32), len4(), value()), 0..150),
            noise in prop::collection::vec(any::<u32>(), 1..32),
            random in prop::collection::vec(any::<u32>(), 0..64),
        ) {
            let p: Vec<(u32, u8, u32)> = raw.into_iter().map(|(n, l, v)| (near(&bases, n), l, v)).collect();
            let t = Lpm4::build(p.iter().copied()).expect("valid");
            let mut distinct: Vec<(u32, u8)> = p.iter().map(|&(a, l, _)| (a & u32::mask(l), l)).collect();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(t.len(), distinct.len());
            let all: Vec<u32> = probes(&p, &noise, &random, |k, d| k.wrapping_add_signed(d.into()));
            for &a in &all {
                prop_assert_eq!(t.lookup(a), naive(&p, a), "addr {:#010x}", a);
            }
            let mut many = vec![Some(u32::MAX - 1); all.len()];
            t.lookup_many(&all, &mut many);
            let one: Vec<Option<u32>> = all.iter().map(|&a| t.lookup(a)).collect();
            prop_assert_eq!(many, one);
        }

        #[test]
        fn v6_matches_linear_scan(
            bases in prop::array::uniform3(any::<u128>()),
            raw in prop::collection::vec(((0usize..3, any::<u128>(), 0u32..=128), len6(), value()), 0..150),
            noise in prop::collection::vec(any::<u128>(), 1..32),
            random in prop::collection::vec(any::<u128>(), 0..64),
        ) {
            let p: Vec<(u128, u8, u32)> = raw.into_iter().map(|(n, l, v)| (near(&bases, n), l, v)).collect();
            let t = Lpm6::build(p.iter().copied()).expect("valid");
            let mut distinct: Vec<(u128, u8)> = p.iter().map(|&(a, l, _)| (a & u128::mask(l), l)).collect();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(t.len(), distinct.len());
            let all: Vec<u128> = probes(&p, &noise, &random, |k, d| k.wrapping_add_signed(d.into()));
            for &a in &all {
                prop_assert_eq!(t.lookup(a), naive(&p, a), "addr {:#034x}", a);
            }
            let mut many = vec![Some(u32::MAX - 1); all.len()];
            t.lookup_many(&all, &mut many);
            let one: Vec<Option<u32>> = all.iter().map(|&a| t.lookup(a)).collect();
            prop_assert_eq!(many, one);
        }
    }

    /// A table of `p` built with the wide root answers as a linear scan,
    /// one lookup at a time and many at once.
    fn wide_matches_linear_scan<K: Key + fmt::LowerHex>(
        p: &[(K, u8, u32)],
        noise: &[K],
        add: fn(K, i8) -> K,
    ) -> Result<(), TestCaseError> {
        let t = Table::build_with(p.iter().copied(), Some(WIDE_ROOT_BITS)).expect("valid");
        let all = probes(p, noise, &[], add);
        let mut many = vec![Some(u32::MAX - 1); all.len()];
        t.lookup_many(&all, &mut many);
        for (&a, &m) in all.iter().zip(&many) {
            let want = naive(p, a);
            prop_assert_eq!((t.lookup(a), m), (want, want), "addr {:#x}", a);
        }
        Ok(())
    }

    proptest! {
        // Each case fills a 64 MiB root, slow in a debug build.
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn wide_roots_match_linear_scan(
            bases4 in prop::array::uniform3(any::<u32>()),
            raw4 in prop::collection::vec(((0usize..3, any::<u32>(), 0u32..=32), len4(), value()), 0..150),
            bases6 in prop::array::uniform3(any::<u128>()),
            raw6 in prop::collection::vec(((0usize..3, any::<u128>(), 0u32..=128), len6(), value()), 0..150),
            noise4 in prop::collection::vec(any::<u32>(), 1..32),
            noise6 in prop::collection::vec(any::<u128>(), 1..32),
        ) {
            let p: Vec<(u32, u8, u32)> = raw4.into_iter().map(|(n, l, v)| (near(&bases4, n), l, v)).collect();
            wide_matches_linear_scan(&p, &noise4, |k, d| k.wrapping_add_signed(d.into()))?;
            let p: Vec<(u128, u8, u32)> = raw6.into_iter().map(|(n, l, v)| (near(&bases6, n), l, v)).collect();
            wide_matches_linear_scan(&p, &noise6, |k, d| k.wrapping_add_signed(d.into()))?;
        }
    }
}

//! What the kernel counts for us (AF_XDP socket statistics, the XDP
//! program's per-reason counters) and how rates are printed. The workers'
//! own counters are the core's (`xskfwd_core::counters`).

/// Kernel-side AF_XDP statistics of one socket (`XDP_STATISTICS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskStats {
    /// Dropped for reasons other than invalid descriptors.
    pub rx_dropped: u64,
    /// Dropped because of invalid rx descriptors.
    pub rx_invalid: u64,
    /// Dropped because the rx ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when the kernel needed a frame.
    pub fill_ring_empty: u64,
    /// Invalid tx descriptors.
    pub tx_invalid: u64,
    /// Times the tx ring was empty when the kernel looked.
    pub tx_ring_empty: u64,
}

impl XskStats {
    /// Adds `other` into `self` (summing sockets).
    pub fn add(&mut self, other: &XskStats) {
        self.rx_dropped += other.rx_dropped;
        self.rx_invalid += other.rx_invalid;
        self.rx_ring_full += other.rx_ring_full;
        self.fill_ring_empty += other.fill_ring_empty;
        self.tx_invalid += other.tx_invalid;
        self.tx_ring_empty += other.tx_ring_empty;
    }
}

/// Names of the XDP program's counters, in the order of
/// `enum xskfwd_counter` in `bpf/xskfwd.h` (JSON keys).
pub const XDP_COUNTERS: [&str; 20] = [
    "redirect",
    "pass_no_socket",
    "pass_short",
    "pass_queue",
    "pass_not_ip",
    "pass_l2_dst",
    "pass_options",
    "pass_ttl",
    "pass_mcast",
    "pass_link_local",
    "pass_local",
    "pass_no_route",
    "pass_no_neigh",
    "pass_mtu",
    "pass_not_ours",
    "pass_fwd_off",
    "pass_rpf",
    "pass_special",
    "pass_local_src",
    "pass_padded",
];

/// What one port's XDP program counted, summed over CPUs: index `i` is
/// [`XDP_COUNTERS`]`[i]`. Index 0 is frames redirected to xskfwd; every
/// other counter is a reason a frame went to the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpProgStats {
    /// The counters.
    pub counts: [u64; XDP_COUNTERS.len()],
}

impl XdpProgStats {
    /// Redirected into an AF_XDP socket.
    pub fn redirect(&self) -> u64 {
        self.counts[0]
    }

    /// Everything passed to the kernel, whatever the reason.
    pub fn passed(&self) -> u64 {
        self.counts[1..].iter().sum()
    }

    /// `(name, count)` of every counter.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        XDP_COUNTERS
            .iter()
            .copied()
            .zip(self.counts.iter().copied())
    }
}

/// Packets per second over `secs`, as f64.
pub fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// Formats a rate compactly: `1.23M`, `45.6k`, `789`.
pub fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_rates() {
        assert_eq!(human(1_234_567.0), "1.23M");
        assert_eq!(human(45_600.0), "45.6k");
        assert_eq!(human(789.0), "789");
        assert_eq!(rate(10, 0.0), 0.0);
        assert_eq!(rate(10, 2.0), 5.0);
    }

    /// The names follow `enum xskfwd_counter` in bpf/xskfwd.h, in order.
    #[test]
    fn counter_names_follow_the_xdp_program() {
        let h = include_str!("../bpf/xskfwd.h");
        let names: Vec<String> = h
            .lines()
            .filter_map(|l| l.trim().strip_prefix("XSKFWD_CNT_"))
            .map(|l| l.split([' ', ',', '=']).next().unwrap().to_lowercase())
            .filter(|n| n != "max")
            .collect();
        assert_eq!(names, XDP_COUNTERS);
    }
}

//! The ports of a run, resolved against the network namespace: index, MAC,
//! MTU (checked against the UMEM frame), queues.

use anyhow::{bail, Context, Result};
use xskfwd_core::l2::L2Port;
use xskfwd_core::route::L3Port;

use crate::config::{Config, Mac, XDP_PACKET_HEADROOM};
use crate::netns;

pub use xskfwd_core::limits::L2_OVERHEAD;

/// A port as found in the namespace.
#[derive(Debug, Clone)]
pub struct Port {
    /// Interface name.
    pub ifname: String,
    /// Interface index.
    pub ifindex: u32,
    /// Its MAC.
    pub mac: Mac,
    /// Largest frame it sends (MTU + [`L2_OVERHEAD`]), within the UMEM
    /// frame.
    pub max_len: u32,
    /// L2 cross-connect: the next hop's MAC behind it.
    pub next_hop: Option<Mac>,
}

impl Port {
    /// What the L2 forwarder needs of it.
    pub fn l2(&self) -> L2Port {
        L2Port {
            mac: self.mac,
            max_len: self.max_len,
            next_hop: self.next_hop,
        }
    }

    /// What the L3 forwarder needs of it: the largest IP packet is the
    /// frame minus Ethernet + VLAN.
    pub fn l3(&self) -> L3Port {
        L3Port {
            mac: self.mac.0,
            mtu: self.max_len - L2_OVERHEAD,
        }
    }
}

/// Finds every configured port in the current namespace and checks that
/// its MTU fits a UMEM frame and the configured queues exist.
pub fn resolve(config: &Config) -> Result<Vec<Port>> {
    let ports = config
        .ports()
        .iter()
        .map(|p| {
            let ifname = p.ifname();
            let ifindex = netns::ifindex(ifname).with_context(|| {
                format!(
                    "interface {ifname} not found in this network namespace (check `ip link`, or use --netns)"
                )
            })?;
            let mac = Mac(netns::mac_of(ifname)?);
            let mtu = netns::mtu_of(ifname)?;
            let frame = mtu + L2_OVERHEAD;
            if let Some(why) = too_big(ifname, mtu, config.rings().frame_size, netns::page_size()) {
                bail!(why);
            }
            Ok(Port {
                ifname: ifname.to_string(),
                ifindex,
                mac,
                max_len: frame,
                next_hop: p.next_hop(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    for p in &ports {
        if let Ok(n) = netns::num_rx_queues(&p.ifname) {
            if let Some(q) = config.queues().iter().find(|q| **q >= n) {
                bail!(
                    "{} has {n} rx queue(s) (0..{}), so queue {q} does not exist (see `ethtool -l {}`)",
                    p.ifname,
                    n.saturating_sub(1),
                    p.ifname
                );
            }
        }
    }
    Ok(ports)
}

/// Why an MTU does not fit a UMEM frame of `frame_size` bytes, advising
/// only what works: a frame is at most a page (`page`).
fn too_big(ifname: &str, mtu: u32, frame_size: u32, page: u32) -> Option<String> {
    let frame = mtu + L2_OVERHEAD;
    let max_len = frame_size - XDP_PACKET_HEADROOM;
    if frame <= max_len {
        return None;
    }
    let need = (frame + XDP_PACKET_HEADROOM).next_power_of_two();
    let fix = if need <= page {
        format!("use --frame-size {need} or lower the MTU")
    } else {
        format!(
            "AF_XDP frames are at most one page ({page} bytes) here, and jumbo frames need AF_XDP \
             multi-buffer, which xskfwd does not support yet: lower the MTU of {ifname} to at \
             most {} (and use --frame-size {page})",
            page - XDP_PACKET_HEADROOM - L2_OVERHEAD
        )
    };
    Some(format!(
        "the MTU of {ifname} is {mtu}, but a {frame_size}-byte UMEM frame holds at most {max_len} bytes \
         of packet ({XDP_PACKET_HEADROOM} are XDP headroom): {fix}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtu_advice_suggests_only_what_works() {
        assert_eq!(too_big("eth1", 1500, 2048, 4096), None);
        let a = too_big("eth1", 3000, 2048, 4096).unwrap();
        assert!(a.ends_with("use --frame-size 4096 or lower the MTU"), "{a}");
        let j = too_big("eth1", 9000, 4096, 4096).unwrap();
        assert!(j.contains("multi-buffer"), "{j}");
        assert!(j.contains("lower the MTU of eth1 to at most 3822"), "{j}");
        assert!(
            !j.contains("--frame-size 16384"),
            "never advise what fails: {j}"
        );
        // The largest MTU it advises fits.
        assert_eq!(too_big("eth1", 3822, 4096, 4096), None);
        assert!(too_big("eth1", 3823, 4096, 4096).is_some());
        // With 16 KiB pages (arm64), bigger frames are fine.
        let k = too_big("eth1", 9000, 4096, 16384).unwrap();
        assert!(
            k.ends_with("use --frame-size 16384 or lower the MTU"),
            "{k}"
        );
    }
}

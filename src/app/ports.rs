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
    let max_len = config.rings().max_packet();
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
            if frame > max_len {
                bail!(
                    "the MTU of {ifname} is {mtu}, but a {}-byte UMEM frame holds at most {max_len} bytes of packet \
                     ({XDP_PACKET_HEADROOM} are XDP headroom): use --frame-size {} or lower the MTU",
                    config.rings().frame_size,
                    (frame + XDP_PACKET_HEADROOM).next_power_of_two()
                );
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

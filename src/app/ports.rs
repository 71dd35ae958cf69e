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
    /// Largest frame it sends (MTU + [`L2_OVERHEAD`]); more than one UMEM
    /// frame holds makes the datapath use multi-buffer.
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
/// its MTU is one an IP packet can use and the configured queues exist.
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
            if frame > MAX_MULTI_BUFFER_FRAME {
                bail!(
                    "the MTU of {ifname} is {mtu}, more than any IP packet needs (65535): lower it"
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

/// Largest frame a multi-buffer port carries: the largest IP packet
/// (65535 bytes) with Ethernet and a VLAN tag.
pub const MAX_MULTI_BUFFER_FRAME: u32 = 65_535 + L2_OVERHEAD;

/// Whether the ports need AF_XDP multi-buffer: why, if a port's largest
/// frame is more than one UMEM frame of `frame_size` bytes holds.
pub fn multi_buffer_reason(ports: &[Port], frame_size: u32) -> Option<String> {
    let max_len = frame_size - XDP_PACKET_HEADROOM;
    let p = ports.iter().max_by_key(|p| p.max_len)?;
    (p.max_len > max_len).then(|| {
        format!(
            "the MTU of {} is {}: frames of up to {} bytes are more than one {frame_size}-byte UMEM \
             frame holds ({max_len} bytes of packet; {XDP_PACKET_HEADROOM} are XDP headroom)",
            p.ifname,
            p.max_len - L2_OVERHEAD,
            p.max_len
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_buffer_only_where_a_frame_is_too_small() {
        let port = |name: &str, mtu: u32| Port {
            ifname: name.into(),
            ifindex: 1,
            mac: Mac([2, 0, 0, 0, 0, 1]),
            max_len: mtu + L2_OVERHEAD,
            next_hop: None,
        };
        assert_eq!(
            multi_buffer_reason(&[port("a", 1500), port("b", 1500)], 2048),
            None
        );
        // 3822 + 18 = 3840: exactly one 4 KiB frame.
        assert_eq!(multi_buffer_reason(&[port("a", 3822)], 4096), None);
        let why = multi_buffer_reason(&[port("a", 1500), port("b", 9000)], 4096).unwrap();
        assert!(
            why.starts_with("the MTU of b is 9000: frames of up to 9018 bytes"),
            "{why}"
        );
        assert!(multi_buffer_reason(&[port("a", 3823)], 4096).is_some());
        assert!(multi_buffer_reason(&[port("a", 2000)], 2048).is_some());
    }
}

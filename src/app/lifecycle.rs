//! Ports that come and go: the link thread follows the run's ports through
//! rtnetlink link events (both modes) and publishes what it sees into the
//! [`Links`] every worker reads between batches.
//!
//! - Down (admin down or no carrier) and up: one log line each; frames for
//!   a down port are dropped as `port_down` by the workers, which make no
//!   syscall for it until it is up again.
//! - MTU: followed live, both ways (the workers' length limit; in L3 mode
//!   the control plane moves the XDP program's limit with it).
//! - Deleted (also when its namespace or veth peer goes): one log line;
//!   the workers close its sockets and take back every frame its rings
//!   held. With `--on-port-loss exit` the run ends with an error; with
//!   `wait` the others keep forwarding, and when an interface of the same
//!   name appears the run ends with [`Ending::PortBack`], and `app::run`
//!   builds the datapath again around it.
//!
//! Must never: block a worker, or miss a change (a monitor overrun is
//! followed by a fresh dump).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use xskfwd_core::limits::L2_OVERHEAD;
use xskfwd_core::links::{LinkState, Links, PortLink};

use super::ports::Port;
use crate::config::OnPortLoss;
use crate::netlink::{self, Event, KernelLink, Monitor};

/// How a run's forwarding ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A signal or `--duration`.
    Stopped,
    /// A port's interface disappeared and `--on-port-loss exit` was given.
    PortLost(String),
    /// A port that had disappeared is back (`--on-port-loss wait`): the
    /// datapath must be built again to bind it.
    PortBack(String),
}

/// One port as the link thread tracks it.
#[derive(Debug, Clone)]
struct Watched {
    ifname: String,
    ifindex: u32,
    state: LinkState,
    mtu: u32,
}

/// The link thread's state.
#[derive(Debug)]
pub(super) struct PortWatch {
    ports: Vec<Watched>,
    links: Arc<Links>,
    monitor: Monitor,
    /// Largest frame a UMEM frame holds.
    frame_max: u32,
    policy: OnPortLoss,
}

impl PortWatch {
    /// Subscribes to link events; call before the ports are resolved, so
    /// no change falls between the two.
    pub(super) fn subscribe() -> Result<Monitor> {
        Monitor::new().context("subscribing to rtnetlink link events")
    }

    /// Watches `ports` (as resolved) with `monitor`.
    pub(super) fn new(
        monitor: Monitor,
        ports: &[Port],
        links: Arc<Links>,
        frame_max: u32,
        policy: OnPortLoss,
    ) -> PortWatch {
        PortWatch {
            ports: ports
                .iter()
                .map(|p| Watched {
                    ifname: p.ifname.clone(),
                    ifindex: p.ifindex,
                    state: LinkState::Up,
                    mtu: p.l3().mtu,
                })
                .collect(),
            links,
            monitor,
            frame_max,
            policy,
        }
    }

    /// Follows the links until `stop` is set, or a port's loss or return
    /// ends the run (then sets `stop` itself).
    pub(super) fn run(mut self, stop: &AtomicBool) -> Ending {
        // What changed between resolving the ports and now.
        let mut ending = self.resync();
        let mut events = Vec::new();
        while ending.is_none() && !stop.load(Ordering::Relaxed) {
            events.clear();
            if let Err(e) = self.monitor.recv(Duration::from_millis(100), &mut events) {
                crate::warn!("port", "link monitor: {e}; retrying");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            for ev in &events {
                ending = match ev {
                    Event::NewLink(l) => self.link(l),
                    Event::DelLink(ifindex) => self.deleted(*ifindex),
                    Event::Overrun => self.resync(),
                    _ => None,
                };
                if ending.is_some() {
                    break;
                }
            }
        }
        if ending.is_some() {
            stop.store(true, Ordering::Relaxed);
        }
        ending.unwrap_or(Ending::Stopped)
    }

    /// Re-reads every link (at start and after a monitor overrun).
    fn resync(&mut self) -> Option<Ending> {
        let snap = match netlink::dump() {
            Ok(s) => s,
            Err(e) => {
                crate::warn!("port", "link monitor: dumping links: {e}");
                return None;
            }
        };
        for i in 0..self.ports.len() {
            let p = &self.ports[i];
            // A lost port is looked for by name, the others by index.
            let gone = p.state == LinkState::Gone;
            let found = snap
                .links
                .iter()
                .find(|l| {
                    if gone {
                        l.name == p.ifname
                    } else {
                        l.ifindex == p.ifindex
                    }
                })
                .cloned();
            let ending = match found {
                Some(l) => self.link(&l),
                None if !gone => self.deleted(p.ifindex),
                None => None,
            };
            if ending.is_some() {
                return ending;
            }
        }
        None
    }

    /// A link appeared or changed.
    fn link(&mut self, l: &KernelLink) -> Option<Ending> {
        if let Some(i) = self.ports.iter().position(|p| p.ifindex == l.ifindex) {
            let state = if l.up && l.running {
                LinkState::Up
            } else {
                LinkState::Down
            };
            let p = &mut self.ports[i];
            if p.state == LinkState::Gone {
                // The same index again: a new interface only if named so.
                return (p.ifname == l.name).then(|| back(l));
            }
            if p.mtu != l.mtu {
                let frame = l.mtu.saturating_add(L2_OVERHEAD);
                crate::info!(
                    "port",
                    "port {}: mtu {} -> {}{}",
                    p.ifname,
                    p.mtu,
                    l.mtu,
                    if frame > self.frame_max {
                        format!(
                            " (a UMEM frame holds {} bytes and multi-buffer is off: longer frames are not forwarded until xskfwd restarts, which turns multi-buffer on for jumbo frames)",
                            self.frame_max
                        )
                    } else {
                        String::new()
                    }
                );
                p.mtu = l.mtu;
            }
            if p.state != state {
                crate::info!(
                    "port",
                    "port {}: link {}{}",
                    p.ifname,
                    state.name(),
                    match (state, l.up) {
                        (LinkState::Down, false) =>
                            " (administratively down): frames for it are dropped as port_down",
                        (LinkState::Down, true) =>
                            " (no carrier): frames for it are dropped as port_down",
                        _ => "",
                    }
                );
                p.state = state;
            }
            let mtu = p.mtu;
            let max_len = self.max_len(mtu);
            self.links.set(i, PortLink { state, max_len });
            return None;
        }
        // An interface of a lost port's name is back.
        self.ports
            .iter()
            .any(|p| p.state == LinkState::Gone && p.ifname == l.name)
            .then(|| back(l))
    }

    /// The largest frame a port of MTU `mtu` sends, within a UMEM frame.
    fn max_len(&self, mtu: u32) -> u32 {
        mtu.saturating_add(L2_OVERHEAD).min(self.frame_max)
    }

    /// A link is gone.
    fn deleted(&mut self, ifindex: u32) -> Option<Ending> {
        let i = self
            .ports
            .iter()
            .position(|p| p.ifindex == ifindex && p.state != LinkState::Gone)?;
        let max_len = self.max_len(self.ports[i].mtu);
        let p = &mut self.ports[i];
        p.state = LinkState::Gone;
        self.links.set(
            i,
            PortLink {
                state: LinkState::Gone,
                max_len,
            },
        );
        match self.policy {
            OnPortLoss::Exit => {
                crate::warn!(
                    "port",
                    "port {}: interface deleted: stopping (--on-port-loss exit)",
                    p.ifname
                );
                Some(Ending::PortLost(p.ifname.clone()))
            }
            OnPortLoss::Wait => {
                crate::warn!("port", 
                    "port {}: interface deleted: its sockets are closed and their frames reclaimed; \
                     the other ports keep forwarding; waiting for {} to come back (--on-port-loss wait)",
                    p.ifname, p.ifname
                );
                None
            }
        }
    }
}

/// A lost port's interface is back as `l`: says so, and ends the run so
/// that the datapath is built again around it.
fn back(l: &KernelLink) -> Ending {
    crate::info!(
        "port",
        "port {}: back (ifindex {}): building the datapath again to bind it",
        l.name,
        l.ifindex
    );
    Ending::PortBack(l.name.clone())
}

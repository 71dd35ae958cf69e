//! Test support for this and the other crates: in-memory rings that stand
//! in for AF_XDP sockets, and synthetic route tables. Built only with the
//! `testing` feature, which only dev-dependencies turn on: nothing here is
//! in a release build.

use std::collections::VecDeque;

use crate::rings::{Batch, Completed, Rings};

pub mod router;
pub mod synth;

/// A frame of the in-memory port: an id (for conservation checks) and its
/// own buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct MemFrame {
    /// Identity of the frame, unique in one [`MemRings`].
    pub id: u32,
    /// Buffer (capacity = the frame size).
    buf: Box<[u8]>,
    len: usize,
    /// Not the last frame of its packet (multi-buffer).
    more: bool,
}

impl MemFrame {
    /// The valid bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// In-memory rings: what a test pushes into a port's "wire" shows up on its
/// rx ring once a fill-ring frame is available; what is transmitted lands in
/// the port's `sent` list and its frame returns through the completion ring.
#[derive(Debug)]
pub struct MemRings {
    ports: Vec<MemPort>,
    frame_size: usize,
    frames: u32,
    /// Frames the tx ring of a port accepts per `tx` call (to test the
    /// ring-full path); `usize::MAX` = unlimited.
    pub tx_room: usize,
    /// Count of kicks.
    pub kicks: u64,
    /// Keep a copy of every transmitted frame (for [`MemRings::take_sent`]).
    /// Off, only [`MemRings::sent_count`] counts, and the rings never
    /// allocate after creation (the zero-allocation test relies on it).
    pub record: bool,
    /// Models a zero-copy driver: it takes up to this many frames per port
    /// off the fill ring into its own receive ring (as virtio-net posts
    /// buffers), freeing the fill ring for more; packets land in those
    /// first. 0: no driver ring (copy mode).
    pub driver_ring: usize,
    /// Models AF_XDP multi-buffer: a packet longer than a frame arrives
    /// as a chain of frames (every one but the last says
    /// [`Rings::more`]), if the fill ring has frames for all of it.
    /// Off, longer packets are cut to one frame.
    pub multi_buffer: bool,
}

#[derive(Debug, Default)]
struct MemPort {
    /// Packets waiting "on the wire" to be received.
    wire: VecDeque<Vec<u8>>,
    fill: VecDeque<MemFrame>,
    /// Frames a zero-copy driver took off the fill ring.
    driver: VecDeque<MemFrame>,
    rx: VecDeque<MemFrame>,
    /// Queued for transmission (the kernel takes them while the link is up).
    tx: VecDeque<MemFrame>,
    comp: VecDeque<MemFrame>,
    /// Link down: nothing is received, the tx ring is not drained.
    down: bool,
    /// Closed ([`Rings::close`]): the rings are gone.
    closed: bool,
    /// Copies of what was transmitted.
    sent: Vec<Vec<u8>>,
    /// Packets transmitted.
    sent_count: u64,
    /// The last frame sent was not its packet's last.
    joining: bool,
    fill_cap: usize,
    dropped_no_frame: u64,
}

impl MemRings {
    /// `ports` ports whose fill rings hold up to `fill_cap` frames; returns
    /// the rings and the `frames` frames (ids 0..frames) to seed a pool.
    pub fn new(
        ports: usize,
        fill_cap: usize,
        frames: u32,
        frame_size: usize,
    ) -> (Self, Vec<MemFrame>) {
        let pool = (0..frames)
            .map(|id| MemFrame {
                id,
                buf: vec![0; frame_size].into_boxed_slice(),
                len: 0,
                more: false,
            })
            .collect();
        // Every queue can hold every frame, so no ring ever reallocates.
        let cap = frames as usize;
        let rings = MemRings {
            ports: (0..ports)
                .map(|_| MemPort {
                    fill_cap,
                    fill: VecDeque::with_capacity(cap),
                    driver: VecDeque::with_capacity(cap),
                    rx: VecDeque::with_capacity(cap),
                    tx: VecDeque::with_capacity(cap),
                    comp: VecDeque::with_capacity(cap),
                    ..Default::default()
                })
                .collect(),
            frame_size,
            frames,
            tx_room: usize::MAX,
            kicks: 0,
            record: true,
            driver_ring: 0,
            multi_buffer: false,
        };
        (rings, pool)
    }

    /// Puts a packet on `port`'s wire.
    pub fn inject(&mut self, port: usize, packet: &[u8]) {
        self.ports[port].wire.push_back(packet.to_vec());
    }

    /// Simulates the kernel: moves wire packets into fill-ring frames and
    /// onto the rx ring. Returns how many packets were received.
    pub fn deliver(&mut self) -> usize {
        let fs = self.frame_size;
        let mb = self.multi_buffer;
        let mut n = 0;
        for p in self.ports.iter_mut().filter(|p| !p.down && !p.closed) {
            while let Some(pkt) = p.wire.pop_front() {
                let parts = if mb { pkt.len().div_ceil(fs).max(1) } else { 1 };
                if p.driver.len() + p.fill.len() < parts {
                    p.dropped_no_frame += 1;
                    continue;
                }
                let chunks: Vec<&[u8]> = if mb && !pkt.is_empty() {
                    pkt.chunks(fs).collect()
                } else {
                    vec![&pkt[..pkt.len().min(fs)]]
                };
                let last = chunks.len() - 1;
                for (i, c) in chunks.into_iter().enumerate() {
                    let mut f = p
                        .driver
                        .pop_front()
                        .or_else(|| p.fill.pop_front())
                        .expect("counted above");
                    f.buf[..c.len()].copy_from_slice(c);
                    f.len = c.len();
                    f.more = i < last;
                    p.rx.push_back(f);
                }
                n += 1;
            }
        }
        n
    }

    /// Receives up to `max` copies of `packet` on `port` straight into
    /// fill-ring frames (no allocation). Returns how many.
    pub fn deliver_copies(&mut self, port: usize, packet: &[u8], max: usize) -> usize {
        let fs = self.frame_size;
        let p = &mut self.ports[port];
        let mut n = 0;
        while n < max {
            let Some(mut f) = p.fill.pop_front() else {
                break;
            };
            let len = packet.len().min(fs);
            f.buf[..len].copy_from_slice(&packet[..len]);
            f.len = len;
            f.more = false;
            p.rx.push_back(f);
            n += 1;
        }
        n
    }

    /// Takes `port`'s link down (nothing arrives, its tx ring is not
    /// drained) or up again.
    pub fn set_down(&mut self, port: usize, down: bool) {
        self.ports[port].down = down;
    }

    /// Frames waiting on `port`'s tx ring.
    pub fn tx_queued(&self, port: usize) -> usize {
        self.ports[port].tx.len()
    }

    /// Whether `port`'s rings were closed.
    pub fn closed(&self, port: usize) -> bool {
        self.ports[port].closed
    }

    /// Frames `port` transmitted so far.
    pub fn sent_count(&self, port: usize) -> u64 {
        self.ports[port].sent_count
    }

    /// Takes what `port` transmitted so far.
    pub fn take_sent(&mut self, port: usize) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.ports[port].sent)
    }

    /// Packets lost on `port` because its fill ring was empty.
    pub fn dropped_no_frame(&self, port: usize) -> u64 {
        self.ports[port].dropped_no_frame
    }

    /// Frames `port`'s receive side holds: fill ring, driver ring, rx ring.
    pub fn lent(&self, port: usize) -> usize {
        let p = &self.ports[port];
        p.fill.len() + p.driver.len() + p.rx.len()
    }

    /// Ids of every frame held by the rings (fill, rx, completion).
    pub fn held_ids(&self) -> Vec<u32> {
        self.ports
            .iter()
            .flat_map(|p| {
                p.fill
                    .iter()
                    .chain(&p.driver)
                    .chain(&p.rx)
                    .chain(&p.tx)
                    .chain(&p.comp)
                    .map(|f| f.id)
            })
            .collect()
    }

    /// Total frames created.
    pub fn frames(&self) -> u32 {
        self.frames
    }
}

impl Rings for MemRings {
    type Frame = MemFrame;

    fn ports(&self) -> usize {
        self.ports.len()
    }

    fn rx(&mut self, port: usize, out: &mut Batch<MemFrame>, max: usize) -> usize {
        let p = &mut self.ports[port];
        assert!(!p.closed, "rx on a closed port");
        let mut n = 0;
        // Whole packets only, as the AF_XDP rings hand them over.
        while n < max {
            let Some(k) = p.rx.iter().position(|f| !f.more).map(|i| i + 1) else {
                break;
            };
            if k > out.remaining_capacity() {
                break;
            }
            out.extend(p.rx.drain(..k));
            n += k;
        }
        n
    }

    fn more(&self, frame: &MemFrame) -> bool {
        frame.more
    }

    fn data<'a>(&'a self, frame: &'a mut MemFrame) -> &'a mut [u8] {
        &mut frame.buf[..frame.len]
    }

    fn set_len(&self, frame: &mut MemFrame, len: u32) {
        frame.len = (len as usize).min(frame.buf.len());
    }

    fn tx(&mut self, port: usize, batch: &mut Batch<MemFrame>) -> usize {
        let mut n = batch.len().min(self.tx_room);
        // Whole packets only.
        while n > 0 && batch[n - 1].more {
            n -= 1;
        }
        let p = &mut self.ports[port];
        assert!(!p.closed, "tx on a closed port");
        p.tx.extend(batch.drain(..n));
        n
    }

    fn kick_tx(&mut self, _port: usize) -> bool {
        self.kicks += 1;
        true
    }

    fn complete(&mut self, port: usize, pool: &mut Vec<MemFrame>) -> Completed {
        let record = self.record;
        let p = &mut self.ports[port];
        assert!(!p.closed, "completion on a closed port");
        // The "kernel" sends what the tx ring holds while the link is up,
        // a packet at a time (a chain's frames joined).
        while !p.down {
            let Some(f) = p.tx.pop_front() else { break };
            if record {
                if p.joining {
                    p.sent
                        .last_mut()
                        .expect("joining")
                        .extend_from_slice(f.bytes());
                } else {
                    p.sent.push(f.bytes().to_vec());
                }
            }
            p.joining = f.more;
            if !f.more {
                p.sent_count += 1;
            }
            p.comp.push_back(f);
        }
        let mut done = Completed::default();
        for f in p.comp.drain(..) {
            done.frames += 1;
            done.packets += usize::from(!f.more);
            done.bytes += f.len as u64;
            pool.push(f);
        }
        done
    }

    fn close(&mut self, port: usize, pool: &mut Vec<MemFrame>) -> usize {
        let p = &mut self.ports[port];
        p.closed = true;
        p.wire.clear();
        let before = pool.len();
        pool.extend(p.fill.drain(..));
        pool.extend(p.driver.drain(..));
        pool.extend(p.rx.drain(..));
        pool.extend(p.tx.drain(..));
        pool.extend(p.comp.drain(..));
        pool.len() - before
    }

    fn fill(&mut self, port: usize, pool: &mut Vec<MemFrame>, max: usize) -> usize {
        let driver_ring = self.driver_ring;
        let p = &mut self.ports[port];
        assert!(!p.closed, "fill on a closed port");
        let room = if driver_ring > 0 {
            // The fill ring alone: what the driver took is off it.
            p.fill_cap.saturating_sub(p.fill.len())
        } else {
            p.fill_cap.saturating_sub(p.fill.len() + p.rx.len())
        };
        let n = room.min(pool.len()).min(max);
        let start = pool.len() - n;
        p.fill.extend(pool.drain(start..));
        // The driver posts what it can take.
        while p.driver.len() < driver_ring {
            let Some(f) = p.fill.pop_front() else { break };
            p.driver.push_back(f);
        }
        n
    }

    fn fill_capacity(&self, port: usize) -> usize {
        self.ports[port].fill_cap
    }

    fn kick_fill(&mut self, _port: usize) -> bool {
        false
    }

    fn wait(&mut self, _timeout_ms: i32) {}
}

//! The xskfwd datapath: everything between the forwarding core
//! (`xskfwd_core`, pure) and the kernel.
//!
//! - [`cli`] → [`config`]: command-line words become a typed, validated
//!   [`config::Config`] once (parse, don't validate).
//! - [`app`]: `xskfwd run` as stages (ports, programs, control plane,
//!   UMEM, sockets, steering, attach, workers) with one teardown that
//!   undoes any prefix of them; `xskfwd routes`.
//! - [`xsk`]: AF_XDP sockets over one shared UMEM (umem, socket, fallback,
//!   rings), the real implementation of the core's `Rings` trait.
//! - [`bpf`]: the XDP program (load, rodata, the one attach-with-fallback,
//!   bpf_link lifetime, steering maps, counters).
//! - [`control`] + [`netlink`]: the L3 control plane mirroring the kernel's
//!   routes, addresses and neighbours through rtnetlink, publishing frozen
//!   tables to the workers.
//! - [`netns`], [`privileges`]: namespaces, interface queries, who we run as.
//! - [`stats`]: kernel-side statistics and rate formatting.
//!
//! `unsafe` lives only in the OS-edge modules [`xsk`], [`bpf`], [`netns`],
//! [`netlink`] and [`privileges`], and the compiler holds us to it: the
//! crate denies `unsafe_code` and only those modules allow it. Every block
//! says why it holds. The lab and benchmark tools are the `xskfwd-lab`
//! crate: this crate never depends on them.

#![deny(unsafe_code)]

pub mod app;
#[allow(unsafe_code)]
pub mod bpf;
pub mod cli;
pub mod config;
pub mod control;
pub mod log;
#[allow(unsafe_code)]
pub mod netlink;
#[allow(unsafe_code)]
pub mod netns;
pub mod ops;
#[allow(unsafe_code)]
pub mod privileges;
pub mod stats;
#[allow(unsafe_code)]
pub mod xsk;

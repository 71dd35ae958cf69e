//! xskfwd — an AF_XDP userspace packet forwarder.
//!
//! The crate is split the way `shared/STYLE.md` asks: a pure core that decides
//! every packet's fate from bytes alone ([`wire`], [`forward`], [`config`],
//! [`stats`], [`port`], [`worker`]) and a thin I/O edge that owns every syscall
//! and every `unsafe` block ([`xsk`], [`bpf`], [`bpf_tools`], [`netns`], [`hugepage`]).

pub mod app;
pub mod bench;
pub mod bpf;
pub mod bpf_tools;
pub mod cli;
pub mod config;
pub mod control;
pub mod demo;
pub mod forward;
pub mod gen;
pub mod hugepage;
pub mod l3;
pub mod lab;
pub mod lpm;
pub mod netlink;
pub mod netns;
pub mod port;
pub mod route;
pub mod sink;
pub mod stats;
pub mod synth;
pub mod traffic;
pub mod wire;
pub mod worker;
pub mod xsk;

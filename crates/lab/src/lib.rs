//! The tools that test and measure xskfwd: the veth + network-namespace
//! lab ([`lab`]), an AF_PACKET sender/receiver that checks every byte
//! ([`traffic`]), an in-kernel live-frames generator and an AF_XDP/XDP
//! sink ([`gen`], [`sink`], with their XDP programs in [`bpf_tools`]), the
//! benchmark ([`bench`](mod@bench)), the soak ([`soak`]), the demo
//! ([`demo`]) and the zero-copy VM lab ([`vm`]), with their progress on stderr ([`progress`]).
//!
//! The forwarder (`xskfwd`, `xskfwd-core`) never depends on this crate;
//! this crate drives the forwarder as a child process (`xskfwd run`) and
//! uses its library for namespaces, XDP attachment and AF_XDP sockets.
//! `unsafe` here is limited to [`traffic`] (AF_PACKET sockets),
//! [`bpf_tools`] (BPF_PROG_RUN of live frames), [`demo`] (signalling the
//! forwarder child it started, `ChildGuard::signal`) and [`bench`](mod@bench)
//! (pinning a NAPI thread) and [`vm`] (tap devices handed to QEMU), each
//! block with its SAFETY note; the crate
//! denies `unsafe_code` everywhere else. Every traffic loop is bounded in packets and time.

#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod bench;
#[allow(unsafe_code)]
pub mod bpf_tools;
pub mod cli;
#[allow(unsafe_code)]
pub mod demo;
pub mod gen;
#[cfg(feature = "harness")]
pub mod harness;
pub mod lab;
pub mod progress;
pub mod sink;
pub mod soak;
#[allow(unsafe_code)]
pub mod traffic;
#[allow(unsafe_code)]
pub mod vm;

//! Benchmark harness for echorpc-rs.
//!
//! The library holds what the binaries share:
//! - [`loadgen`], [`memory`], [`broadcast`] and [`connect`]: the scenarios, driven over raw JSON-RPC on
//!   WebSocket so every server is measured by the same client code;
//! - [`client_driver`]: the closed loop used by the client-library binaries (scenario g);
//! - [`api`] and [`wire`]: the `add`/`broadcast` contract and its JSON frames;
//! - [`process`], [`stats`], [`hist`] and [`report`]: child processes, numbers, the table.
//!
//! The binaries are `runner` (runs everything, prints the table), the servers
//! `bench-server-jsonrpsee` and `bench-server-bound`, and the client `bench-client-jsonrpsee`.
//! The slots `bench-server-ours` and `bench-client-ours` are described in `bench/README.md`.

pub mod api;
pub mod broadcast;
pub mod client_driver;
pub mod cluster;
pub mod connect;
pub mod hist;
pub mod loadgen;
pub mod memory;
pub mod process;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod wire;
pub mod ws;

//! # echorpc
//!
//! Bidirectional JSON-RPC 2.0 over WebSocket, wire-compatible with the `echorpc` TypeScript and
//! Python packages. Servers and clients call each other's methods, publish events to each other,
//! send batches, authenticate during the HTTP upgrade, keep connections alive with a JSON
//! ping/pong heartbeat, and clients reconnect with exponential backoff keeping their handlers
//! and subscriptions.
//!
//! ## Quickstart
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), echorpc::Error> {
//! use echorpc::{Client, Server};
//! use serde_json::{json, Value};
//!
//! let server = Server::builder()
//!     .host("127.0.0.1")
//!     .port(0)
//!     .auth(|req| req.token == "secret")
//!     .build();
//! server.register("add", |p: Value, _conn| async move {
//!     let sum = p["a"].as_i64().unwrap_or(0) + p["b"].as_i64().unwrap_or(0);
//!     Ok::<_, echorpc::Error>(json!({ "sum": sum }))
//! })?;
//! let addr = server.start().await?;
//!
//! let client = Client::builder(format!("ws://{addr}")).token("secret").build();
//! client.connect().await?;
//! assert_eq!(client.request("add", json!({ "a": 1, "b": 2 })).await?, json!({ "sum": 3 }));
//! client.disconnect().await;
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! ## Features
//! | feature | where |
//! |---|---|
//! | calls both ways, results or error objects | [`Client::request`], [`Connection::request`], [`Server::register`], [`Client::register`] |
//! | events (notifications) in sent order | [`Client::publish`], [`Client::subscribe`], [`Server::subscribe`] |
//! | batches, results in call order | [`Client::batch_request`], [`Batch`] |
//! | cancellation: a dropped call stops the peer's handler (`$/cancelRequest`), handler deadlines | [`ClientBuilder::send_cancellations`], [`ServerBuilder::handler_timeout`], [`handler::CancelGuard`] |
//! | auth during the upgrade, HTTP 401 on reject | [`ServerBuilder::auth`], [`ServerBuilder::auth_async`] |
//! | JSON ping/pong heartbeat | [`ServerBuilder::ping_interval`], [`ClientBuilder::ping_interval`] |
//! | reconnect with backoff | [`ClientBuilder::reconnect`], [`Backoff`] |
//! | broadcast to all, a role, all but one | [`Server::broadcast`], [`Server::broadcast_to_role`], [`Server::broadcast_except`] |
//! | several nodes as one server: broadcasts, calls to a client on any node, presence | [`ServerBuilder::cluster`], [`Server::client`], [`Server::presence`], [`cluster`] (Redis: feature `redis`) |
//! | bounded resources | [`Limits`] |
//! | the peer's error told apart from local failures | [`Error`], [`ErrorObject`] |
//! | services tested in-process, any transport | [`Server::connect_in_memory`], [`transport`] |
//!
//! The library logs through `tracing` and never prints.
//!
//! ## How it is built
//! One request, from the socket to the handler and back:
//!
//! 1. the server's listener serves the HTTP upgrade with hyper, runs auth and opens a
//!    connection (`server/listener.rs`, `server/upgrade.rs`, `server/session.rs`);
//! 2. the WebSocket becomes a [`transport::Transport`] (`ws/transport.rs`), and the
//!    connection's control loop (`connection/driver.rs`) reads its frames, keeps the heartbeat
//!    (`heartbeat.rs`) and owns the tasks of handlers still running;
//! 3. the router (`router.rs`) classifies each message (`message.rs`), finds the method
//!    (`registry.rs`), checks the in-flight cap and polls the handler once inline;
//! 4. the handler, registered through the one registration surface of both ends
//!    (`registration.rs`) and adapted by [`handler`], parses its params and runs;
//! 5. the answer is queued on the connection (`connection/outbound.rs`) and written by its
//!    writer; on the caller's side the router completes the waiting call (`pending.rs`).
//!
//! `ARCHITECTURE.md` in the repository has the full map: which file owns which protocol
//! behaviour, and the layers no module crosses upward.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod backoff;
mod batch;
mod call_trace;
mod client;
pub mod cluster;
mod config;
mod connection;
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub mod contract;
mod contract_gate;
mod error;
mod frame;
pub mod handler;
mod heartbeat;
mod hooks;
mod message;
mod net;
mod observe;
mod pending;
mod raw;
mod registration;
mod registry;
mod router;
mod running;
mod server;
mod service;
mod settings_surface;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
pub mod transport;
mod ws;

pub use auth::{AuthDecision, AuthRequest, Headers};
pub use backoff::Backoff;
pub use batch::{Batch, BatchResults, BatchSlot};
pub use client::{Client, ClientBuilder};
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BATCH_LEN, DEFAULT_PING_INTERVAL, DEFAULT_PONG_TIMEOUT,
    DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT, Limits,
};
pub use connection::{Connection, ConnectionId, Metadata};
pub use error::{Error, ErrorCode, ErrorObject, Result};
pub use observe::ServerStats;
pub use raw::{Params, RawJson};
pub use registry::SubscriptionId;
pub use server::{Server, ServerBuilder};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use server::{UpgradeBody, UpgradeService};
pub use service::{Handlers, Peer, Service};

#[doc(inline)]
pub use echorpc_macros::service;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

//! The contract every benchmarked server implements, as Rust types.
//!
//! - request `add` with params `{"a": i64, "b": i64}` returns `{"sum": a + b}`;
//! - request `broadcast` with params `{"seq": u64}` sends the notification
//!   `tick` with params `{"seq": seq}` to every open connection, and returns anything;
//! - a server that delivers events only to subscribers (jsonrpsee) also has `subscribe_tick`,
//!   and then wraps the payload as `{"subscription": ID, "result": {"seq": seq}}`.
//!
//! A server process listens on `127.0.0.1:0` and prints [`LISTENING_PREFIX`] followed by its
//! address (`127.0.0.1:PORT`, or a full `ws://` URL) as one line on stdout.

use serde::{Deserialize, Serialize};

/// The line a server prints on stdout once it accepts connections, before the address.
pub const LISTENING_PREFIX: &str = "listening ";

/// Name of the notification a broadcast sends.
pub const TICK: &str = "tick";

/// Parameters of `add`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct AddParams {
    /// First addend.
    pub a: i64,
    /// Second addend.
    pub b: i64,
}

/// Result of `add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sum {
    /// `a + b`.
    pub sum: i64,
}

/// Parameters of `broadcast` and payload of the `tick` notification.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Tick {
    /// Round number, chosen by the trigger.
    pub seq: u64,
}

/// The operands the load generator sends for request `id`, so a response can be checked
/// from its id alone.
pub fn operands(id: u64) -> (i64, i64) {
    let a = (id % 100_000) as i64;
    let b = ((id.wrapping_mul(31)) % 1_000) as i64 - 500;
    (a, b)
}

/// Prints the listening line for `addr` and flushes stdout, as the runner expects.
pub fn announce(addr: std::net::SocketAddr) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    // A runner that went away is not an error worth dying for: the server keeps serving.
    let _ = writeln!(out, "{LISTENING_PREFIX}{addr}");
    let _ = out.flush();
}

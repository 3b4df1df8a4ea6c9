//! The services the example server and client share: one trait per direction, written once.
//!
//! `cargo run --example server` implements [`App`] and calls the client's [`Callbacks`];
//! `cargo run --example client` implements [`Callbacks`] and calls [`App`].

pub mod app;
#[cfg(feature = "contract")]
pub mod contract;

use echorpc::{Connection, Error};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The result of `add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sum {
    /// `a + b`.
    pub sum: i64,
}

/// The result of `slow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Slept {
    /// How long it slept, in milliseconds.
    pub slept: u64,
}

/// Who the server sees calling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Who {
    /// The caller's role.
    pub role: String,
    /// The caller's client id.
    pub client_id: String,
}

/// A chat message: the `chat` event's data, `{"text": "..."}` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Chat {
    /// What was said.
    pub text: String,
}

/// What the example server offers.
#[echorpc::service]
pub trait App {
    /// `add` {a, b} → {"sum": a + b}.
    async fn add(&self, a: i64, b: i64) -> Sum;

    /// `whoami` → the caller's role and client id.
    async fn whoami(&self, conn: &Connection) -> Who;

    /// `ask_double` {x} → asks the caller's `double` {x} and returns its answer unchanged.
    /// Both `x` and the answer may be any JSON value: the server relays them as they are.
    async fn ask_double(&self, conn: &Connection, x: Value) -> Result<Value, Error>;

    /// `ask_double_of` {client_id, x} → asks `double` {x} of the client with that client_id, on
    /// whichever node of the cluster it is connected (its most recent connection), and returns
    /// its answer unchanged; `-32001` when no node has such a client.
    async fn ask_double_of(&self, client_id: String, x: Value) -> Result<Value, Error>;

    /// `online` {role} → the sorted `client_id`s of every connection of that role, across the
    /// cluster (one per connection).
    async fn online(&self, role: String) -> Result<Vec<String>, Error>;

    /// `announce` {role, text} → broadcasts `chat` {text} to every connection of that role.
    async fn announce(&self, role: String, text: String) -> Result<(), Error>;

    /// The `chat` event from a client, rebroadcast to every other connection.
    #[echorpc(event)]
    async fn chat(&self, conn: &Connection, msg: Chat);

    /// `slow` {ms} → sleeps `ms` milliseconds, then answers {"slept": ms}. A cancelled call
    /// (`$/cancelRequest`, or its connection closed) stops at once.
    async fn slow(&self, ms: u64) -> Slept;

    /// `running` → how many `slow` calls are running right now on the whole server.
    async fn running(&self) -> usize;
}

/// What the example client offers the server.
#[echorpc::service]
pub trait Callbacks {
    /// `double` {x} → x * 2. Typed as any JSON value, so the server relays whatever a client's
    /// `double` answers (other clients may answer strings, arrays or `null`).
    async fn double(&self, x: Value) -> Result<Value, Error>;

    /// The `chat` event from the server.
    #[echorpc(event)]
    async fn chat(&self, msg: Chat);
}

//! Typed batches: calls collected one by one, sent as one frame, each result decoded into the
//! type its call was made with.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::connection::decode;
use crate::error::Error;
use crate::pending::Outcome;
use crate::service::Peer;

/// Calls collected to be sent as one JSON-RPC batch; each [`call`](Self::call) returns the
/// [`BatchSlot`] its typed result is taken from once the batch is answered. Generated stubs
/// offer the same with their own method names (`CalcClient::batch`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), echorpc::Error> {
/// use echorpc::{Batch, Client, Server};
/// use serde_json::{json, Value};
///
/// let server = Server::builder().host("127.0.0.1").port(0).build();
/// server.register("add", |p: Value, _conn| async move {
///     Ok::<_, echorpc::Error>(p["a"].as_i64().unwrap_or(0) + p["b"].as_i64().unwrap_or(0))
/// })?;
/// let addr = server.start().await?;
/// let client = Client::builder(format!("ws://{addr}")).build();
/// client.connect().await?;
///
/// let mut batch = Batch::new(&client);
/// let three = batch.call::<i64, _>("add", &json!({ "a": 1, "b": 2 }));
/// let missing = batch.call::<i64, _>("nope", &());
/// let mut results = batch.send().await?;
/// assert_eq!(results.take(three)?, 3);
/// assert_eq!(results.take(missing).unwrap_err().code(), Some(echorpc::ErrorCode::METHOD_NOT_FOUND));
/// # Ok(()) }
/// ```
pub struct Batch<P> {
    peer: P,
    calls: Vec<(String, Box<RawValue>)>,
    /// The first params that could not be encoded; `send` fails with it.
    invalid: Option<Error>,
}

impl<P> fmt::Debug for Batch<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

/// Where one call's result will be in the [`BatchResults`] of its batch.
#[must_use = "the slot is needed to take the call's result"]
pub struct BatchSlot<R> {
    index: usize,
    _result: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for BatchSlot<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchSlot({})", self.index)
    }
}

impl<P: Peer> Batch<P> {
    /// An empty batch to be sent through `peer`: a `Client`, a server-side `Connection`, or a
    /// reference or `Arc` to one.
    pub fn new(peer: P) -> Self {
        Self {
            peer,
            calls: Vec::new(),
            invalid: None,
        }
    }

    /// Adds a call of `method` whose result decodes into `R` (checked when it is taken, with
    /// [`BatchResults::take`]); params as for [`Connection::request`](crate::Connection::request).
    pub fn call<R, Q: Serialize + ?Sized>(&mut self, method: &str, params: &Q) -> BatchSlot<R> {
        let params = serde_json::value::to_raw_value(params).unwrap_or_else(|err| {
            self.invalid.get_or_insert(Error::internal(format!(
                "params of {method} could not be encoded: {err}"
            )));
            RawValue::NULL.to_owned()
        });
        self.calls.push((method.to_owned(), params));
        BatchSlot {
            index: self.calls.len() - 1,
            _result: PhantomData,
        }
    }

    /// How many calls the batch holds.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether the batch holds no call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Sends every call in one frame and waits for all the answers (an empty batch sends
    /// nothing).
    ///
    /// # Errors
    /// `-32603` when some params could not be encoded (nothing is sent); `-32002` when not every
    /// answer came within the request timeout; `-32001` when not connected. A failed call is
    /// not an error here: it is in its own slot.
    pub async fn send(self) -> Result<BatchResults, Error> {
        if let Some(err) = self.invalid {
            return Err(err);
        }
        let outcomes = match self.peer.remote() {
            // Through the cluster when the connection may be on another node.
            Some(remote) => remote.batch_raw(&self.calls).await?,
            None => {
                let calls = self.calls.iter().map(|(method, params)| (method, params));
                self.peer.connection()?.batch_raw(calls).await?
            }
        };
        Ok(BatchResults {
            outcomes: outcomes.into_iter().map(Some).collect(),
        })
    }
}

/// The answers to a sent [`Batch`], in call order.
#[derive(Debug)]
pub struct BatchResults {
    outcomes: Vec<Option<Outcome>>,
}

impl BatchResults {
    /// Takes one call's result, decoded into the type the call was made with.
    ///
    /// # Errors
    /// The peer's error for that call; `-32603` when the result does not decode, or when the slot
    /// was already taken or belongs to another batch.
    pub fn take<R: DeserializeOwned>(&mut self, slot: BatchSlot<R>) -> Result<R, Error> {
        self.outcomes
            .get_mut(slot.index)
            .and_then(Option::take)
            .ok_or_else(|| Error::internal("batch slot already taken or from another batch"))?
            .and_then(decode)
    }

    /// How many answers there are.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the batch was empty.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }
}

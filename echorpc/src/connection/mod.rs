//! One connection to a peer: the [`Connection`] handle that handlers and users hold (its
//! metadata, and calls, batches and events sent through it), and the control loop that runs it
//! over a transport ([`driver`]).

pub(crate) mod driver;
mod metadata;
mod outbound;

pub(crate) use metadata::REDACTED;
pub use metadata::{ConnectionId, Metadata};

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::join_all;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::error::Error;
use crate::frame::Frame;
use crate::message::{encode_batch, encode_cancel, encode_notification, encode_request};
use crate::pending::{Abandon, Outcome, PendingCalls, PendingGuard};
use crate::raw::RawJson;
use crate::transport::Close;
use outbound::{Outbound, Refused};

/// A handle to one open connection: the server's view of a client, or a client's current
/// connection to its server. Cheap to clone; every clone drives the same connection.
///
/// Handlers receive the calling connection, so they can read its [`Metadata`] and call back into
/// the same peer while their own call is still being answered.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    id: ConnectionId,
    meta: Metadata,
    settings: Settings,
    outbound: Outbound,
    pending: PendingCalls,
    in_flight: AtomicUsize,
    close_request: Notify,
    close_reason: Mutex<Option<Close>>,
    /// Set once the connection is closed; `closed_signal` wakes whoever waits for it.
    closed: std::sync::atomic::AtomicBool,
    closed_signal: Notify,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.shared.id)
            .field("meta", &self.shared.meta)
            .field("open", &self.is_open())
            .finish()
    }
}

impl Connection {
    /// A new open connection; its control loop drains [`outbound`](Self::outbound).
    pub(crate) fn new(meta: Metadata, settings: Settings) -> Self {
        let shared = Shared {
            id: ConnectionId::next(),
            meta,
            settings,
            outbound: Outbound::new(settings.limits.outbound_queue()),
            pending: PendingCalls::default(),
            in_flight: AtomicUsize::new(0),
            close_request: Notify::new(),
            close_reason: Mutex::new(None),
            closed: std::sync::atomic::AtomicBool::new(false),
            closed_signal: Notify::new(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// This connection's id.
    pub fn id(&self) -> ConnectionId {
        self.shared.id
    }

    /// What is known of the peer (see [`Metadata`]).
    pub fn meta(&self) -> &Metadata {
        &self.shared.meta
    }

    /// Whether the connection is still open.
    pub fn is_open(&self) -> bool {
        !self.shared.closed.load(Ordering::Acquire)
    }

    /// How many of this side's calls on the connection wait for their answers now.
    pub fn pending_calls(&self) -> usize {
        self.shared.pending.len()
    }

    /// How many of the peer's requests this side's handlers are still working on (those that
    /// did not finish at once); at most [`Limits::max_in_flight`](crate::Limits::max_in_flight).
    pub fn requests_in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Whether two handles drive the same connection.
    pub fn same_as(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Calls `method` on the peer and waits for its result, up to the request timeout.
    ///
    /// `params` is any serialisable value, by convention an object of named fields; `null`
    /// (or `()`) leaves the `params` member out.
    ///
    /// # Errors
    /// [`Error::Rpc`] with the peer's error object unchanged; [`Error::Timeout`] after the
    /// request timeout; [`Error::NotConnected`] when the connection is or becomes closed.
    pub async fn request(&self, method: &str, params: impl Serialize) -> Result<Value, Error> {
        self.call(method, &params).await
    }

    /// [`request`](Self::request) with its own timeout instead of the configured one.
    ///
    /// # Errors
    /// As for [`request`](Self::request).
    pub async fn request_with_timeout(
        &self,
        method: &str,
        params: impl Serialize,
        timeout: Duration,
    ) -> Result<Value, Error> {
        decode(self.call_raw(method, &params, timeout).await?)
    }

    /// Calls `method` and decodes its result as `R`: the typed form of
    /// [`request`](Self::request), used by generated service stubs.
    ///
    /// # Errors
    /// As for [`request`](Self::request), and [`Error::UnexpectedResult`] when the result does
    /// not fit `R`.
    pub async fn call<R: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, Error> {
        decode(
            self.call_raw(method, params, self.shared.settings.request_timeout)
                .await?,
        )
    }

    /// Sends one request and returns its raw result.
    pub(crate) async fn call_raw<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<RawJson, Error> {
        let (id, response) = self.shared.pending.register()?;
        let guard = PendingGuard::new(&self.shared.pending, id, &*self.shared);
        let frame = encode_request(id, method, params)?;
        let exchange = async {
            self.enqueue(Frame::from(frame)).await?;
            guard.mark_sent();
            response.await.unwrap_or(Err(Error::NotConnected))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(Error::Timeout(timeout)))
    }

    /// Sends several calls in one frame and returns their outcomes in call order; one failed
    /// call is an error in its own slot. An empty list sends nothing.
    ///
    /// # Errors
    /// [`Error::Timeout`] when not every answer came within the request timeout;
    /// [`Error::NotConnected`] when the connection is closed before the batch is sent. Calls
    /// still unanswered when it closes afterwards fail in their own slots with
    /// [`Error::NotConnected`].
    pub async fn batch_request<I, M, P>(&self, calls: I) -> Result<Vec<Result<Value, Error>>, Error>
    where
        I: IntoIterator<Item = (M, P)>,
        M: AsRef<str>,
        P: Serialize,
    {
        let outcomes = self.batch_raw(calls).await?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.and_then(decode))
            .collect())
    }

    /// Sends several calls in one frame and returns their raw outcomes in call order.
    pub(crate) async fn batch_raw<I, M, P>(&self, calls: I) -> Result<Vec<Outcome>, Error>
    where
        I: IntoIterator<Item = (M, P)>,
        M: AsRef<str>,
        P: Serialize,
    {
        let pending = &self.shared.pending;
        let mut guards = Vec::new();
        let mut receivers = Vec::new();
        let mut parts = Vec::new();
        for (method, params) in calls {
            let (id, rx) = pending.register()?;
            guards.push(PendingGuard::new(pending, id, &*self.shared));
            receivers.push(rx);
            parts.push(encode_request(id, method.as_ref(), &params)?);
        }
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        let exchange = async {
            self.enqueue(Frame::from(encode_batch(&parts))).await?;
            guards.iter().for_each(PendingGuard::mark_sent);
            let outcomes = join_all(receivers).await;
            Ok(outcomes
                .into_iter()
                .map(|o| o.unwrap_or(Err(Error::NotConnected)))
                .collect())
        };
        let timeout = self.shared.settings.request_timeout;
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(Error::Timeout(timeout)))
    }

    /// Sends an event (a notification) to the peer: fire and forget.
    ///
    /// # Errors
    /// [`Error::NotConnected`] when the connection is closed, or when the peer has not read its
    /// queued frames for a whole request timeout (it is then disconnected).
    pub async fn publish(&self, event: &str, data: impl Serialize) -> Result<(), Error> {
        let frame = Frame::from(encode_notification(event, &data)?);
        match tokio::time::timeout(self.shared.settings.request_timeout, self.enqueue(frame)).await
        {
            Ok(sent) => sent,
            Err(_) => {
                tracing::warn!(connection = %self.id(), "peer stopped reading; disconnecting");
                self.request_close(Close::new(1008, "outbound queue full"));
                Err(Error::NotConnected)
            }
        }
    }

    /// Closes the connection with a close handshake and waits until it is closed. Calls still
    /// waiting for answers fail with [`Error::NotConnected`].
    pub async fn close(&self) {
        self.request_close(Close::NORMAL);
        self.closed().await;
    }

    /// Waits until the connection is closed, by either side.
    pub async fn closed(&self) {
        let signal = self.shared.closed_signal.notified();
        tokio::pin!(signal);
        // Registered before the check, so a close in between still wakes this waiter.
        signal.as_mut().enable();
        if self.is_open() {
            signal.await;
        }
    }

    /// Queues a frame made by this side's API, waiting for room in the queue.
    async fn enqueue(&self, frame: Frame) -> Result<(), Error> {
        if !self.is_open() {
            return Err(Error::NotConnected);
        }
        self.shared
            .outbound
            .push(frame)
            .await
            .map_err(|_| Error::NotConnected)
    }

    /// Queues a frame the router owes the peer (a response, a pong, a broadcast). A peer whose
    /// queue is full is not reading: it is disconnected rather than buffered without bound.
    pub(crate) fn push(&self, frame: Frame) {
        match self.shared.outbound.try_push(frame) {
            Ok(()) => {}
            Err(Refused::Full) => {
                tracing::warn!(connection = %self.id(), "outbound queue full; disconnecting a peer that does not read");
                self.request_close(Close::new(1008, "outbound queue full"));
            }
            Err(Refused::Closed) => {}
        }
    }

    /// Asks the connection's driver to close; the first reason given wins.
    pub(crate) fn request_close(&self, reason: Close) {
        let mut slot = self
            .shared
            .close_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(reason);
            self.shared.close_request.notify_one();
        }
    }

    /// Completes once [`request_close`](Self::request_close) was called, with its reason.
    ///
    /// Cancel safe: a request made while nobody waits is kept for the next call.
    pub(crate) async fn close_requested(&self) -> Close {
        self.shared.close_request.notified().await;
        self.shared
            .close_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(Close::NORMAL)
    }

    /// Marks the connection closed and fails every call still waiting.
    pub(crate) fn mark_closed(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.closed_signal.notify_waiters();
        self.shared.outbound.close();
        self.shared.pending.close();
    }

    /// The frames waiting to be written, for the connection's writer.
    pub(crate) fn outbound(&self) -> &Outbound {
        &self.shared.outbound
    }

    pub(crate) fn pending(&self) -> &PendingCalls {
        &self.shared.pending
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// Whether as many requests as the limit allows are waiting on their handlers.
    pub(crate) fn in_flight_full(&self) -> bool {
        self.shared.in_flight.load(Ordering::Acquire) >= self.shared.settings.limits.max_in_flight()
    }

    /// Counts one more request waiting on its handler, until the returned guard is dropped.
    /// Only the connection's reader counts, after checking [`in_flight_full`](Self::in_flight_full).
    pub(crate) fn count_request(&self) -> InFlight {
        self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

impl Abandon for Shared {
    /// Sends `$/cancelRequest` for a call nobody waits for any more (unless turned off), so the
    /// peer stops its handler; queued even when the queue is full (see
    /// [`Outbound::push_control`]).
    fn abandon(&self, id: u64) {
        if !self.settings.send_cancellations || self.closed.load(Ordering::Acquire) {
            return;
        }
        let frame = Frame::from(encode_cancel(id));
        if self.outbound.push_control(frame).is_err() {
            tracing::debug!(connection = %self.id, id, "connection closed; cancellation not sent");
        }
    }
}

/// One request being handled; the count goes down when it is dropped.
pub(crate) struct InFlight(Connection);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) fn decode<R: DeserializeOwned>(raw: RawJson) -> Result<R, Error> {
    raw.parse()
        .map_err(|err| Error::UnexpectedResult(Arc::new(err)))
}

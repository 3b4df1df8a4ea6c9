//! Limits and timing shared by servers and clients, with the reference packages' defaults.

use std::time::Duration;

/// The protocol's default request timeout: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The protocol's default heartbeat interval: 30 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
/// The protocol's default time to wait for a pong: 5 s.
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(5);
/// The protocol's default client connect timeout: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The protocol's default port: 9100.
pub const DEFAULT_PORT: u16 = 9100;

/// The longest batch answered by default; see [`Limits::with_max_batch_len`].
pub const DEFAULT_MAX_BATCH_LEN: usize = 1000;

/// Bounds on what one peer can make this side hold. Every field has a documented default.
///
/// ```
/// use echorpc::Limits;
/// let limits = Limits::default().with_max_message_size(64 * 1024).with_max_in_flight(32);
/// assert_eq!(limits.max_message_size(), 64 * 1024);
/// assert_eq!(limits.max_batch_len(), echorpc::DEFAULT_MAX_BATCH_LEN);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_message_size: usize,
    max_in_flight: usize,
    outbound_queue: usize,
    max_connections: usize,
    max_batch_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 4 << 20,
            max_in_flight: 256,
            outbound_queue: 1024,
            max_connections: 10_000,
            max_batch_len: DEFAULT_MAX_BATCH_LEN,
        }
    }
}

impl Limits {
    /// Largest message (and frame) accepted, in bytes; default 4 MiB. A larger one closes the
    /// connection with WebSocket close code 1009.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1);
        self
    }

    /// Requests from one peer handled at the same time; default 256. Past it a request is
    /// answered at once with `-32004` instead of queueing work without bound.
    #[must_use]
    pub fn with_max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Frames waiting to be written to one peer; default 1024. A peer that stops reading until
    /// its queue is full is disconnected; local calls wait for room instead, up to their timeout.
    #[must_use]
    pub fn with_outbound_queue(mut self, frames: usize) -> Self {
        self.outbound_queue = frames.max(1);
        self
    }

    /// Connections a server holds at once, handshakes included; default 10,000. Past it an
    /// upgrade is answered with HTTP 503. Ignored by clients.
    #[must_use]
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Messages in one received batch, at most; default [`DEFAULT_MAX_BATCH_LEN`] (1000). A
    /// longer batch is not handled at all: it is answered with one error `-32600`, `id: null`.
    #[must_use]
    pub fn with_max_batch_len(mut self, messages: usize) -> Self {
        self.max_batch_len = messages.max(1);
        self
    }

    /// See [`with_max_message_size`](Self::with_max_message_size).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// See [`with_max_in_flight`](Self::with_max_in_flight).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// See [`with_outbound_queue`](Self::with_outbound_queue).
    pub fn outbound_queue(&self) -> usize {
        self.outbound_queue
    }

    /// See [`with_max_connections`](Self::with_max_connections).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// See [`with_max_batch_len`](Self::with_max_batch_len).
    pub fn max_batch_len(&self) -> usize {
        self.max_batch_len
    }
}

/// What every connection of one server or client runs with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) request_timeout: Duration,
    /// `Duration::ZERO` turns the heartbeat off.
    pub(crate) ping_interval: Duration,
    pub(crate) pong_timeout: Duration,
    pub(crate) limits: Limits,
    /// Whether a call abandoned before its answer sends `$/cancelRequest` to the peer.
    pub(crate) send_cancellations: bool,
    /// The time budget of every handler without one of its own; `None`: no budget.
    pub(crate) handler_timeout: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            ping_interval: DEFAULT_PING_INTERVAL,
            pong_timeout: DEFAULT_PONG_TIMEOUT,
            limits: Limits::default(),
            send_cancellations: true,
            handler_timeout: None,
        }
    }
}

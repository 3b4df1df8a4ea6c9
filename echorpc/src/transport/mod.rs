//! The seam between a connection and the bytes under it.
//!
//! A connection's control loop (read → route → heartbeat → write → close) runs over any
//! [`Transport`]: a stream of received text [`Frame`]s and a sink of [`Message`]s to send. The
//! WebSocket adapter is one implementation; [`memory::pair`] is another, which runs the very
//! same loop in-process, without sockets, for tests.

pub mod memory;

use std::borrow::Cow;
use std::fmt;

use futures::{Sink, Stream};

pub use crate::frame::Frame;

/// What the control loop writes to a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// One text frame.
    Text(Frame),
    /// The close handshake's first frame, with its code and reason.
    Close(Close),
}

/// A WebSocket close code and reason.
///
/// ```
/// use echorpc::transport::Close;
/// let close = Close::new(1001, "going away");
/// assert_eq!((close.code(), close.reason()), (1001, "going away"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    code: u16,
    reason: Cow<'static, str>,
}

impl Close {
    /// `1000`: a normal close.
    pub const NORMAL: Self = Self::new(1000, "closing");

    /// A close with this code and reason.
    pub const fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason: Cow::Borrowed(reason),
        }
    }

    /// The close code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reason text.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.reason)
    }
}

/// A transport failed. When the failure is the peer's fault (a frame too big, a binary frame,
/// invalid UTF-8), it carries the close this side answers with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    message: Cow<'static, str>,
    close: Option<Close>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl TransportError {
    /// The transport is gone (the socket failed, the other end was dropped): nothing more can
    /// be sent or received, and no close frame is owed.
    pub fn gone(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            close: None,
            source: None,
        }
    }

    /// The peer sent something the protocol does not allow; this side closes with `close`.
    pub fn violation(close: Close) -> Self {
        Self {
            message: Cow::Owned(format!("peer violated the protocol: {close}")),
            close: Some(close),
            source: None,
        }
    }

    /// Attaches the underlying failure.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The close this side answers with, when the peer is at fault.
    pub fn close(&self) -> Option<&Close> {
        self.close.as_ref()
    }
}

/// A bidirectional channel of text frames under one connection.
///
/// Reading yields the peer's frames in order; the stream ends when the peer closed (or the
/// transport is gone). Writing takes text frames and, last, a [`Message::Close`]. Implemented
/// for every type with these bounds, so a transport is any `Stream + Sink` of the right items.
pub trait Transport:
    Stream<Item = Result<Frame, TransportError>>
    + Sink<Message, Error = TransportError>
    + Send
    + Unpin
    + 'static
{
}

impl<T> Transport for T where
    T: Stream<Item = Result<Frame, TransportError>>
        + Sink<Message, Error = TransportError>
        + Send
        + Unpin
        + 'static
{
}

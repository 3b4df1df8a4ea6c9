//! [`Frame`]: the text of one WebSocket message, as the core reads and writes it.

use std::fmt;

// The text lives in tungstenite's `Utf8Bytes` (a `bytes::Bytes` known to hold UTF-8): frames
// then move between the socket and the router with no copy and no second UTF-8 check, and
// one serialised broadcast is shared by every peer. The type stays private to this file.
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The UTF-8 text of one message: a single JSON-RPC message or a batch. Cheap to clone (the
/// text is shared by reference count), so one encoded broadcast serves every peer.
///
/// ```
/// use echorpc::transport::Frame;
/// let frame = Frame::from(String::from(r#"{"jsonrpc":"2.0","method":"tick"}"#));
/// assert_eq!(frame.as_str(), r#"{"jsonrpc":"2.0","method":"tick"}"#);
/// assert_eq!(frame.len(), 33);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Frame(Utf8Bytes);

impl Frame {
    /// A frame of static text, without allocating.
    pub const fn from_static(text: &'static str) -> Self {
        Self(Utf8Bytes::from_static(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The length of the text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_utf8_bytes(self) -> Utf8Bytes {
        self.0
    }

    pub(crate) fn from_utf8_bytes(bytes: Utf8Bytes) -> Self {
        Self(bytes)
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self(Utf8Bytes::from(text))
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        Self(Utf8Bytes::from(text))
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! A text frame's payload: cheap to clone, so one serialised broadcast serves every peer.

use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The UTF-8 payload of one text frame, shared by reference count.
#[derive(Debug, Clone)]
pub(crate) struct Frame(Utf8Bytes);

impl Frame {
    pub(crate) const fn from_static(text: &'static str) -> Self {
        Self(Utf8Bytes::from_static(text))
    }

    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub(crate) fn into_inner(self) -> Utf8Bytes {
        self.0
    }

    pub(crate) fn from_utf8(bytes: Utf8Bytes) -> Self {
        Self(bytes)
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self(Utf8Bytes::from(text))
    }
}

//! `rpc.discover`: a server (or client) answering with its OpenRPC document, opt-in.

use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::service::{Handlers, Service};
use crate::{Connection, Error};

/// The method name OpenRPC reserves for service discovery.
pub const DISCOVER: &str = "rpc.discover";

/// A [`Service`] with one method, `rpc.discover`, answering with a fixed OpenRPC document.
/// Made by [`Api::discover`](super::Api::discover).
#[derive(Debug, Clone)]
pub struct Discover {
    document: Arc<RawValue>,
}

impl Discover {
    /// Answers with `document` (encoded once, here).
    pub fn new(document: Value) -> Self {
        let text = document.to_string();
        // A `Value` always prints as valid JSON, so this cannot fail; `null` would be a
        // harmless fallback.
        let raw = RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Self {
            document: Arc::from(raw),
        }
    }

    /// The document it answers with, as JSON text.
    pub fn document(&self) -> &str {
        self.document.get()
    }
}

impl Service for Discover {
    fn register(self, handlers: &mut Handlers<'_>) -> Result<(), Error> {
        let document = self.document;
        let handler = crate::handler::method(
            crate::__private::parse_none,
            move |(), _conn: Connection| {
                let document = Arc::clone(&document);
                async move { crate::handler::encode_result(&*document) }
            },
        );
        handlers.method(DISCOVER, handler)
    }
}

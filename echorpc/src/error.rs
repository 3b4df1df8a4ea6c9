//! The one error type of the crate, and the JSON-RPC error codes it carries.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A JSON-RPC error code.
///
/// The associated constants are the codes of the echorpc protocol; any other `i64` a peer or a
/// handler uses is carried unchanged.
///
/// ```
/// use echorpc::ErrorCode;
/// assert_eq!(ErrorCode::METHOD_NOT_FOUND.as_i64(), -32601);
/// assert_eq!(ErrorCode::from(-32002), ErrorCode::TIMEOUT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(i64);

impl ErrorCode {
    /// `-32700`: the frame is not valid JSON.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// `-32600`: not a valid request object, or an empty batch.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// `-32601`: no handler for the method.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// `-32602`: the params do not fit the handler's types.
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// `-32603`: the handler failed (or panicked), or a result could not be encoded or decoded.
    pub const INTERNAL_ERROR: Self = Self(-32603);
    /// `-32001`: no open connection; pending calls fail with it when the connection drops.
    pub const NOT_CONNECTED: Self = Self(-32001);
    /// `-32002`: no response within the request timeout.
    pub const TIMEOUT: Self = Self(-32002);
    /// `-32003`: the server rejected the upgrade (HTTP 401).
    pub const AUTH_FAILED: Self = Self(-32003);
    /// `-32004`: the peer already runs its maximum of concurrent requests for this connection.
    ///
    /// Not in the reference packages, which have no such limit.
    pub const SERVER_BUSY: Self = Self(-32004);

    /// The numeric code.
    pub const fn as_i64(self) -> i64 {
        self.0
    }
}

impl From<i64> for ErrorCode {
    fn from(code: i64) -> Self {
        Self(code)
    }
}

impl From<ErrorCode> for i64 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure of echorpc: a JSON-RPC error with a code, a message and optional data.
///
/// The same type travels both ways. A handler that returns `Err(Error)` sends exactly its code,
/// message and data to the caller, and a failed call on this side (a remote error, a timeout, a
/// dropped connection) comes back as one.
///
/// ```
/// use echorpc::{Error, ErrorCode};
/// use serde_json::json;
///
/// let err = Error::new(4001, "out of stock").with_data(json!({ "sku": "A-1" }));
/// assert_eq!(err.code(), ErrorCode::from(4001));
/// assert_eq!(err.message(), "out of stock");
/// assert_eq!(err.data(), Some(&json!({ "sku": "A-1" })));
/// assert_eq!(err.to_string(), "out of stock (code 4001)");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct Error {
    code: ErrorCode,
    message: Cow<'static, str>,
    data: Option<Value>,
    #[source]
    source: Option<Source>,
}

impl Error {
    /// An error with this code and message and no data.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            data: None,
            source: None,
        }
    }

    /// Attaches data (sent as the error object's `data` member).
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Attaches the local error that caused this one (never sent over the wire).
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// `-32602 Invalid params` with a message saying what did not fit.
    pub fn invalid_params(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::INVALID_PARAMS,
            format!("invalid params: {detail}"),
        )
    }

    /// `-32603 Internal error` with this message.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }

    /// `-32601 Method not found` for this method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    /// `-32001 Not connected`.
    pub fn not_connected() -> Self {
        Self::new(ErrorCode::NOT_CONNECTED, "not connected")
    }

    /// `-32002 Timeout`.
    pub fn timeout() -> Self {
        Self::new(ErrorCode::TIMEOUT, "timeout")
    }

    /// `-32003 Auth failed`.
    pub fn auth_failed() -> Self {
        Self::new(ErrorCode::AUTH_FAILED, "auth failed")
    }

    pub(crate) fn invalid_request(detail: &str) -> Self {
        Self::new(
            ErrorCode::INVALID_REQUEST,
            format!("invalid request: {detail}"),
        )
    }

    pub(crate) fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(ErrorCode::PARSE_ERROR, format!("parse error: {detail}"))
    }

    /// A local usage error, e.g. registering a reserved method name.
    pub(crate) fn usage(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::INVALID_REQUEST, message)
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The data, if any.
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }
}

impl From<serde_json::Error> for Error {
    /// A value that could not be encoded or decoded: `-32603`.
    fn from(err: serde_json::Error) -> Self {
        Self::internal(format!("json: {err}")).with_source(err)
    }
}

/// Short for `Result<T, echorpc::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

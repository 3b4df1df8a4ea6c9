//! The crate's error type: [`Error`] says what happened (the peer answered with an error
//! object, the connection is gone, a timeout, a local failure), and [`ErrorObject`] is the
//! JSON-RPC error object that travels on the wire.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(i64);

impl ErrorCode {
    /// `-32700`: the frame is not valid JSON.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// `-32600`: not a valid request object, an empty batch, or a batch over the length limit.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// `-32601`: no handler for the method.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// `-32602`: the params do not fit the handler's types.
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// `-32603`: the handler failed (or panicked), or a value could not be encoded or decoded.
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

    /// `-32800`: the request was cancelled by `$/cancelRequest` (LSP's code; not in the
    /// reference packages, which never send cancellations).
    pub const REQUEST_CANCELLED: Self = Self(-32800);

    /// The code with this number, in constant context.
    pub const fn from_i64(code: i64) -> Self {
        Self(code)
    }

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

/// A JSON-RPC error object: `{"code": …, "message": …, "data": …}` on the wire.
///
/// ```
/// use echorpc::{ErrorCode, ErrorObject};
/// use serde_json::json;
///
/// let obj = ErrorObject::new(4001, "out of stock").with_data(json!({ "sku": "A-1" }));
/// assert_eq!(obj.code(), ErrorCode::from(4001));
/// assert_eq!(obj.message(), "out of stock");
/// assert_eq!(obj.data(), Some(&json!({ "sku": "A-1" })));
/// assert_eq!(obj.to_string(), "out of stock (code 4001)");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorObject {
    code: ErrorCode,
    message: Cow<'static, str>,
    data: Option<Value>,
}

impl ErrorObject {
    /// An error object with this code and message and no data.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            data: None,
        }
    }

    /// Attaches data (the error object's `data` member).
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
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

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// A shared, type-erased cause, so [`Error`] stays `Clone`.
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure of echorpc, telling what happened: the peer's error answer
/// ([`Rpc`](Self::Rpc)) apart from this side's failures (no connection, a timeout, a refused
/// upgrade, a socket that could not be opened).
///
/// The same type is what handlers return. A handler's `Err(Error::Rpc(obj))` (made with
/// [`Error::new`]) reaches the caller exactly as `obj`; any other variant is sent as the error
/// object of [`to_object`](Self::to_object) (`NotConnected` as `-32001`, …). A user error type
/// converts with one `From` impl:
///
/// ```
/// use echorpc::{Error, ErrorCode};
/// use serde_json::json;
///
/// enum ShopError { OutOfStock(String) }
///
/// impl From<ShopError> for Error {
///     fn from(err: ShopError) -> Self {
///         match err {
///             ShopError::OutOfStock(sku) => Error::new(4001, "out of stock").with_data(json!({ "sku": sku })),
///         }
///     }
/// }
///
/// let err = Error::from(ShopError::OutOfStock("A-1".into()));
/// assert_eq!(err.code(), Some(ErrorCode::from(4001)));
/// assert_eq!(err.data(), Some(&json!({ "sku": "A-1" })));
///
/// // Telling the peer's answer from a local failure:
/// match err {
///     Error::Rpc(obj) => assert_eq!(obj.message(), "out of stock"),
///     Error::NotConnected | Error::Timeout(_) => unreachable!("local failures"),
///     other => panic!("{other}"),
/// }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSON-RPC error object: the peer's answer to a call, or what a handler answers with.
    #[error("{0}")]
    Rpc(ErrorObject),
    /// There is no open connection, or it closed before the answer came (`-32001`).
    #[error("not connected")]
    NotConnected,
    /// No answer came within this long (`-32002`).
    #[error("timeout: no answer within {0:?}")]
    Timeout(Duration),
    /// The server refused the upgrade with HTTP 401 (`-32003`); a client never retries it.
    #[error("auth failed: the server answered HTTP 401")]
    AuthRejected,
    /// The client could not open a connection to `url` (`-32001`).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// Where it dialled, without the query (which holds the token).
        url: String,
        /// What went wrong, in a few words.
        reason: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<Source>,
    },
    /// The server could not listen on `addr`.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address it tried.
        addr: String,
        /// Why it failed.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Another I/O failure on this side.
    #[error("i/o failure: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// A method or event name that cannot be used, e.g. a reserved one.
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it cannot be used.
        reason: Cow<'static, str>,
    },
    /// A value could not be encoded or decoded as JSON (`-32603`).
    #[error("json: {0}")]
    Json(#[source] Arc<serde_json::Error>),
    /// The peer's result did not fit the type the call expected (`-32603`).
    #[error("the result did not fit the expected type: {0}")]
    UnexpectedResult(#[source] Arc<serde_json::Error>),
    /// The server was stopped and does not start again.
    #[error("the server was stopped")]
    Stopped,
}

impl Error {
    /// An [`Rpc`](Self::Rpc) error with this code and message: what a handler returns to answer
    /// with its own error object.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Rpc(ErrorObject::new(code, message))
    }

    /// Attaches data, for the error object sent to a caller. Any other variant becomes the
    /// [`Rpc`](Self::Rpc) error of its [`to_object`](Self::to_object) first.
    #[must_use]
    pub fn with_data(self, data: Value) -> Self {
        Self::Rpc(self.into_object().with_data(data))
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

    pub(crate) fn invalid_request(detail: &str) -> Self {
        Self::new(
            ErrorCode::INVALID_REQUEST,
            format!("invalid request: {detail}"),
        )
    }

    pub(crate) fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(ErrorCode::PARSE_ERROR, format!("parse error: {detail}"))
    }

    pub(crate) fn connect(url: &str, reason: impl Into<String>) -> Self {
        Self::Connect {
            url: url.to_owned(),
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn connect_because(
        url: &str,
        reason: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Connect {
            url: url.to_owned(),
            reason: reason.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// The protocol code where one applies: the peer's own code for [`Rpc`](Self::Rpc),
    /// `-32001`, `-32002`, `-32003` and `-32603` for the failures the protocol names; `None` for
    /// purely local failures (bind, I/O, names, a stopped server).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Rpc(obj) => Some(obj.code()),
            Self::NotConnected | Self::Connect { .. } => Some(ErrorCode::NOT_CONNECTED),
            Self::Timeout(_) => Some(ErrorCode::TIMEOUT),
            Self::AuthRejected => Some(ErrorCode::AUTH_FAILED),
            Self::Json(_) | Self::UnexpectedResult(_) => Some(ErrorCode::INTERNAL_ERROR),
            Self::Bind { .. } | Self::Io(_) | Self::InvalidName { .. } | Self::Stopped => None,
        }
    }

    /// The message: the error object's for [`Rpc`](Self::Rpc), the description otherwise.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::Rpc(obj) => Cow::Borrowed(obj.message()),
            Self::NotConnected => Cow::Borrowed("not connected"),
            Self::Timeout(_) => Cow::Borrowed("timeout"),
            Self::AuthRejected => Cow::Borrowed("auth failed"),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// The error object's data, for [`Rpc`](Self::Rpc) errors that carry some.
    pub fn data(&self) -> Option<&Value> {
        match self {
            Self::Rpc(obj) => obj.data(),
            _ => None,
        }
    }

    /// The peer's error object, when this is one.
    pub fn as_rpc(&self) -> Option<&ErrorObject> {
        match self {
            Self::Rpc(obj) => Some(obj),
            _ => None,
        }
    }

    /// The error object this error is sent as when a handler returns it: an
    /// [`Rpc`](Self::Rpc) error unchanged, a failure with a protocol code as that code, any
    /// other as `-32603` with its description.
    pub fn to_object(&self) -> ErrorObject {
        match self {
            Self::Rpc(obj) => obj.clone(),
            other => ErrorObject::new(
                other.code().unwrap_or(ErrorCode::INTERNAL_ERROR),
                other.message().into_owned(),
            ),
        }
    }

    fn into_object(self) -> ErrorObject {
        match self {
            Self::Rpc(obj) => obj,
            other => other.to_object(),
        }
    }
}

impl From<ErrorObject> for Error {
    fn from(obj: ErrorObject) -> Self {
        Self::Rpc(obj)
    }
}

impl From<serde_json::Error> for Error {
    /// A value that could not be encoded or decoded: [`Error::Json`].
    fn from(err: serde_json::Error) -> Self {
        Self::Json(Arc::new(err))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::Io(Arc::new(err))
    }
}

/// Short for `Result<T, echorpc::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_failures_are_sent_with_their_protocol_code() {
        let obj = Error::Timeout(Duration::from_secs(1)).to_object();
        assert_eq!((obj.code(), obj.message()), (ErrorCode::TIMEOUT, "timeout"));
        let obj = Error::NotConnected.to_object();
        assert_eq!(obj.code(), ErrorCode::NOT_CONNECTED);
        let obj = Error::Stopped.to_object();
        assert_eq!(obj.code(), ErrorCode::INTERNAL_ERROR);
        assert_eq!(Error::Stopped.code(), None);
    }

    #[test]
    fn rpc_errors_pass_unchanged() {
        let err = Error::new(7, "seven").with_data(Value::from(1));
        assert_eq!(
            err.to_object(),
            ErrorObject::new(7, "seven").with_data(Value::from(1))
        );
        assert_eq!(err.to_string(), "seven (code 7)");
    }

    #[test]
    fn sources_are_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "in use");
        let err = Error::Bind {
            addr: "127.0.0.1:1".into(),
            source: Arc::new(io),
        };
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("in use"));
    }
}

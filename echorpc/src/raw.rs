//! JSON values kept raw inside the frame they arrived in, parsed only when a handler asks.

use std::fmt;

use serde::de::{Deserialize, DeserializeOwned};
use serde_json::Value;

use crate::error::Error;
use crate::frame::Frame;

/// One JSON value inside a received frame, not yet parsed.
///
/// It shares the frame's buffer instead of copying it, so handing params to a handler or a
/// result to a caller costs no allocation; parsing happens once, straight into the type wanted.
#[derive(Clone)]
pub struct RawJson {
    frame: Frame,
    start: usize,
    end: usize,
}

impl RawJson {
    /// `part` must be a slice of `frame`'s text; any other string is copied instead.
    pub(crate) fn within(frame: &Frame, part: &str) -> Self {
        let base = frame.as_str().as_ptr() as usize;
        let start = (part.as_ptr() as usize).wrapping_sub(base);
        let end = start.wrapping_add(part.len());
        if frame.as_str().get(start..end).map(str::as_ptr) == Some(part.as_ptr()) {
            Self {
                frame: frame.clone(),
                start,
                end,
            }
        } else {
            Self::from(part.to_owned())
        }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.frame.as_str()[self.start..self.end]
    }

    /// Parses the value into `T`, borrowing strings from the frame where `T` allows it.
    ///
    /// # Errors
    /// The serde error when the JSON does not fit `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.get())
    }

    /// Parses the value into a [`serde_json::Value`].
    pub fn to_value(&self) -> Value {
        // The text was validated as JSON when the frame was parsed.
        self.parse().unwrap_or(Value::Null)
    }
}

impl From<String> for RawJson {
    fn from(text: String) -> Self {
        let end = text.len();
        Self {
            frame: Frame::from(text),
            start: 0,
            end,
        }
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

/// The `params` of a received request or notification, raw until a handler parses them.
///
/// ```
/// use echorpc::Params;
/// use serde_json::json;
///
/// let params = Params::from_value(&json!({ "a": 1, "b": 2 }));
/// let (a, b): (i64, i64) = params.parse::<std::collections::BTreeMap<String, i64>>()
///     .map(|m| (m["a"], m["b"]))
///     .unwrap();
/// assert_eq!(a + b, 3);
/// assert!(Params::none().is_absent());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Params(Option<RawJson>);

impl Params {
    pub(crate) fn new(raw: Option<RawJson>) -> Self {
        Self(raw)
    }

    /// No params: the message had no `params` member.
    pub fn none() -> Self {
        Self(None)
    }

    /// Params holding this value (useful in tests of handlers).
    pub fn from_value(value: &Value) -> Self {
        Self(Some(RawJson::from(value.to_string())))
    }

    /// Whether the message had no `params` member.
    pub fn is_absent(&self) -> bool {
        self.0.is_none()
    }

    /// The raw JSON text, if present.
    pub fn get(&self) -> Option<&str> {
        self.0.as_ref().map(RawJson::get)
    }

    /// Parses the params into `T`; absent params parse as JSON `null`.
    ///
    /// # Errors
    /// `-32602 Invalid params`, with serde's description of what did not fit.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.get().unwrap_or("null")).map_err(Error::invalid_params)
    }

    /// The params as a [`serde_json::Value`]; `Null` when absent.
    pub fn to_value(&self) -> Value {
        self.0.as_ref().map_or(Value::Null, RawJson::to_value)
    }
}

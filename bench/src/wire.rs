//! JSON-RPC frames as the load generator writes and checks them.
//!
//! Requests are written by hand into a `String` (no serde on the hot path); incoming frames are
//! parsed into borrowed structs that keep `result` and `params` raw until they are checked.

use crate::api::{Sum, TICK, Tick, operands};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt::Write as _;

/// The heartbeat answer to an echorpc `ping` notification.
pub const PONG: &str = r#"{"jsonrpc":"2.0","method":"pong"}"#;

/// Appends the `add` request with id `id` to `buf`.
pub fn push_add(buf: &mut String, id: u64) {
    let (a, b) = operands(id);
    // Writing to a String cannot fail.
    let _ = write!(
        buf,
        r#"{{"jsonrpc":"2.0","id":{id},"method":"add","params":{{"a":{a},"b":{b}}}}}"#
    );
}

/// One frame of `add` calls: a single request when `batch` is 1, else an array of `batch`
/// requests with ids `first..first + batch`.
pub fn add_frame(first: u64, batch: usize) -> String {
    let mut buf = String::with_capacity(72 * batch + 2);
    if batch == 1 {
        push_add(&mut buf, first);
        return buf;
    }
    buf.push('[');
    for i in 0..batch as u64 {
        if i > 0 {
            buf.push(',');
        }
        push_add(&mut buf, first + i);
    }
    buf.push(']');
    buf
}

/// A `relay` request: the server calls `double` {"x": id} on the client `client_id`.
pub fn relay_frame(id: u64, client_id: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"relay","params":{{"client_id":"{client_id}","x":{id}}}}}"#
    )
}

/// The answer of a client to the server's `double` request `id` {"x": x}: `2x`.
pub fn double_answer(id: &RawValue, x: i64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#,
        id.get(),
        x.wrapping_mul(2)
    )
}

/// A request for `method` with raw JSON `params` (left out when `None`).
pub fn request_frame(id: u64, method: &str, params: Option<&str>) -> String {
    match params {
        Some(p) => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{p}}}"#),
        None => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}"}}"#),
    }
}

/// One JSON-RPC message as received, fields kept raw.
#[derive(Debug, Deserialize)]
pub struct Msg<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// An incoming text frame: one message or a batch.
#[derive(Debug)]
pub enum Frame<'a> {
    /// A batch (array) of messages.
    Batch(Vec<Msg<'a>>),
    /// A single message.
    Single(Msg<'a>),
}

/// Parses a text frame; `None` if it is not JSON-RPC shaped.
pub fn parse(text: &str) -> Option<Frame<'_>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<Msg<'_>>>(text)
            .ok()
            .map(Frame::Batch)
    } else {
        serde_json::from_str::<Msg<'_>>(text)
            .ok()
            .map(Frame::Single)
    }
}

#[derive(Deserialize)]
struct TickParams {
    seq: Option<u64>,
    result: Option<Tick>,
}

impl Msg<'_> {
    /// A notification: has a method and no id.
    pub fn is_notification(&self) -> bool {
        self.method.is_some() && self.id.is_none()
    }

    /// Whether this is the heartbeat `ping` notification, to be answered with [`PONG`].
    pub fn is_ping(&self) -> bool {
        self.is_notification() && self.method.as_deref() == Some("ping")
    }

    /// The id as a number, if it is one.
    pub fn id_u64(&self) -> Option<u64> {
        self.id.and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Whether this is a successful response with id `id` (any result).
    pub fn is_success(&self, id: u64) -> bool {
        self.jsonrpc.as_deref() == Some("2.0")
            && self.id_u64() == Some(id)
            && self.error.is_none()
            && self.result.is_some()
    }

    /// Whether this is the correct response to the `add` request with id `id`.
    pub fn is_add_answer(&self, id: u64) -> bool {
        if !self.is_success(id) {
            return false;
        }
        let (a, b) = operands(id);
        self.result
            .and_then(|raw| serde_json::from_str::<Sum>(raw.get()).ok())
            == Some(Sum { sum: a + b })
    }

    /// Whether this is the correct response to the `relay` request with id `id`: `2 * id`.
    pub fn is_relay_answer(&self, id: u64) -> bool {
        self.is_success(id)
            && self
                .result
                .and_then(|raw| serde_json::from_str::<u64>(raw.get()).ok())
                == id.checked_mul(2)
    }

    /// A `double` request of the server's: its raw id and `params.x`.
    pub fn as_double_request(&self) -> Option<(&RawValue, i64)> {
        if self.method.as_deref() != Some("double") {
            return None;
        }
        #[derive(Deserialize)]
        struct Double {
            x: i64,
        }
        let params: Double = serde_json::from_str(self.params?.get()).ok()?;
        Some((self.id?, params.x))
    }

    /// The round number of a `tick` notification: `params.seq`, or `params.result.seq` as a
    /// subscription delivers it.
    pub fn tick_seq(&self) -> Option<u64> {
        if !self.is_notification() || self.method.as_deref() != Some(TICK) {
            return None;
        }
        let params: TickParams = serde_json::from_str(self.params?.get()).ok()?;
        params.seq.or(params.result.map(|t| t.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_frames_parse_as_requests() {
        let single: serde_json::Value = serde_json::from_str(&add_frame(7, 1)).unwrap();
        assert_eq!(single["id"], 7);
        assert_eq!(single["method"], "add");
        let batch: serde_json::Value = serde_json::from_str(&add_frame(10, 3)).unwrap();
        assert_eq!(batch.as_array().unwrap().len(), 3);
        assert_eq!(batch[2]["id"], 12);
    }

    #[test]
    fn checks_add_answers() {
        let (a, b) = operands(5);
        let good = format!(r#"{{"jsonrpc":"2.0","id":5,"result":{{"sum":{}}}}}"#, a + b);
        let Some(Frame::Single(msg)) = parse(&good) else {
            panic!("not a single message")
        };
        assert!(msg.is_add_answer(5));
        assert!(!msg.is_add_answer(6));
        let wrong = r#"{"jsonrpc":"2.0","id":5,"result":{"sum":-99999}}"#;
        let Some(Frame::Single(msg)) = parse(wrong) else {
            panic!("not a single message")
        };
        assert!(!msg.is_add_answer(5));
        let err = r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"x"}}"#;
        let Some(Frame::Single(msg)) = parse(err) else {
            panic!("not a single message")
        };
        assert!(!msg.is_success(5));
    }

    #[test]
    fn reads_ticks_and_pings() {
        let plain = r#"{"jsonrpc":"2.0","method":"tick","params":{"seq":3}}"#;
        let sub =
            r#"{"jsonrpc":"2.0","method":"tick","params":{"subscription":9,"result":{"seq":4}}}"#;
        let ping = r#"{"jsonrpc":"2.0","method":"ping"}"#;
        for (text, seq) in [(plain, Some(3)), (sub, Some(4)), (ping, None)] {
            let Some(Frame::Single(msg)) = parse(text) else {
                panic!("not a single message")
            };
            assert_eq!(msg.tick_seq(), seq);
        }
        let Some(Frame::Single(msg)) = parse(ping) else {
            panic!("not a single message")
        };
        assert!(msg.is_ping());
        assert!(parse("not json").is_none());
    }
}

//! The messages nodes send each other through the backplane, as JSON. Parsing is strict and
//! never panics: a message that does not parse is logged and dropped by the caller.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorCode, ErrorObject};
use crate::pending::Outcome;
use crate::raw::RawJson;

/// Which connections of a node a broadcast goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    /// Every connection.
    All,
    /// The connections whose metadata `role` is this.
    Role { role: String },
    /// Every connection but the one at this address.
    Except { node: String, id: u64 },
}

/// One message between nodes. Externally tagged (`{"call": {...}}`): serde then reads raw JSON
/// members without buffering them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Wire {
    /// A broadcast made on node `from`: `frame` is the notification to write as it is.
    Broadcast {
        from: String,
        target: Target,
        frame: Box<RawValue>,
    },
    /// A call (or, with `event`, an event) for connection `id` of the receiving node; the
    /// answer goes to node `from` as a [`Wire::Reply`] with the same `rid`. With `client_id`,
    /// the connection must have that client_id (else the answer is [`ReplyOutcome::Gone`]): a
    /// node restarted under the same name numbers its connections from 1 again, so a directory
    /// record left by its previous run may name another client's connection.
    Call {
        from: String,
        rid: u64,
        id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        method: String,
        params: Box<RawValue>,
        timeout_ms: u64,
        #[serde(default)]
        event: bool,
    },
    /// Calls for connection `id` of the receiving node, sent to it as one JSON-RPC batch; the
    /// answer is a [`Wire::Reply`] whose outcome is [`ReplyOutcome::Batch`] (one outcome per
    /// call, in order) or why none came. `client_id` as for [`Wire::Call`].
    Batch {
        from: String,
        rid: u64,
        id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        calls: Vec<BatchCall>,
        timeout_ms: u64,
    },
    /// The answer to a [`Wire::Call`] or a [`Wire::Batch`].
    Reply { rid: u64, outcome: ReplyOutcome },
    /// Node `from` no longer waits for the answer to its call or batch `rid` (its caller was
    /// cancelled or gave up): the receiving node stops serving it, which cancels the client's
    /// handler in turn (`$/cancelRequest`).
    Cancel { from: String, rid: u64 },
    /// Node `from` asks every node for its connections (of `role`, when given).
    PresenceQuery {
        from: String,
        rid: u64,
        #[serde(default)]
        role: Option<String>,
    },
    /// A node's answer to a [`Wire::PresenceQuery`].
    PresenceReply {
        from: String,
        rid: u64,
        entries: Vec<WireEntry>,
    },
}

/// One call of a [`Wire::Batch`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BatchCall {
    pub(crate) method: String,
    pub(crate) params: Box<RawValue>,
}

/// How a remote call ended, as carried in a [`Wire::Reply`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReplyOutcome {
    /// The target's result.
    Result(Box<RawValue>),
    /// The target's own error object, unchanged.
    Error(WireError),
    /// The target did not answer within the timeout.
    Timeout { timeout_ms: u64 },
    /// The target connection is not there (closed, or never was).
    Gone,
    /// The receiving node refused the call (too many in flight).
    Busy,
    /// The answers to a [`Wire::Batch`], in call order (each a `Result` or an `Error`).
    Batch(Vec<ReplyOutcome>),
}

impl ReplyOutcome {
    /// The outcome of a local call, to send back.
    pub(crate) fn from_result(result: Result<Box<RawValue>, Error>) -> Self {
        match result {
            Ok(raw) => Self::Result(raw),
            Err(Error::Rpc(obj)) => Self::Error(WireError::from(&obj)),
            Err(Error::Timeout(d)) => Self::Timeout {
                timeout_ms: millis(d),
            },
            Err(Error::NotConnected) => Self::Gone,
            Err(other) => Self::Error(WireError::from(&other.to_object())),
        }
    }

    /// The caller's view of the outcome: what a call on a local connection gives.
    pub(crate) fn into_result(self) -> Outcome {
        match self {
            Self::Result(raw) => Ok(RawJson::from(String::from(Box::<str>::from(raw)))),
            Self::Error(err) => Err(Error::Rpc(err.into())),
            Self::Timeout { timeout_ms } => {
                Err(Error::Timeout(std::time::Duration::from_millis(timeout_ms)))
            }
            Self::Gone => Err(Error::NotConnected),
            Self::Busy => Err(Error::new(
                ErrorCode::SERVER_BUSY,
                "the target node has too many calls in flight",
            )),
            Self::Batch(_) => Err(Error::internal("a call was answered with a batch")),
        }
    }

    /// The caller's view of a batch's outcome: one result per call, or why none came.
    pub(crate) fn into_batch(self) -> Result<Vec<Outcome>, Error> {
        match self {
            Self::Batch(items) => Ok(items.into_iter().map(Self::into_result).collect()),
            other => Err(match other.into_result() {
                Ok(_) => Error::internal("a batch was answered with one result"),
                Err(err) => err,
            }),
        }
    }
}

/// A timeout as carried between nodes, in whole milliseconds.
pub(crate) fn millis(timeout: std::time::Duration) -> u64 {
    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
}

/// An error object as carried between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireError {
    code: i64,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

impl From<&ErrorObject> for WireError {
    fn from(obj: &ErrorObject) -> Self {
        Self {
            code: obj.code().as_i64(),
            message: obj.message().to_owned(),
            data: obj.data().cloned(),
        }
    }
}

impl From<WireError> for ErrorObject {
    fn from(err: WireError) -> Self {
        let obj = ErrorObject::new(err.code, err.message);
        match err.data {
            Some(data) => obj.with_data(data),
            None => obj,
        }
    }
}

/// One connection in a presence answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireEntry {
    pub(crate) id: u64,
    pub(crate) meta: serde_json::Map<String, Value>,
}

/// Encodes a message.
pub(crate) fn encode(msg: &Wire) -> String {
    // Every field is a string, number, raw JSON or JSON map: encoding cannot fail.
    serde_json::to_string(msg).unwrap_or_default()
}

/// Parses a message.
///
/// # Errors
/// The serde error when the text is not a message of this protocol.
pub(crate) fn decode(text: &str) -> Result<Wire, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    #[test]
    fn broadcast_round_trips_with_its_target() {
        let frame = raw(json!({"jsonrpc": "2.0", "method": "tick"}));
        for target in [
            Target::All,
            Target::Role {
                role: "admin".into(),
            },
            Target::Except {
                node: "n1".into(),
                id: 7,
            },
        ] {
            let text = encode(&Wire::Broadcast {
                from: "n1".into(),
                target: target.clone(),
                frame: frame.clone(),
            });
            match decode(&text).unwrap() {
                Wire::Broadcast {
                    from,
                    target: t,
                    frame: f,
                } => {
                    assert_eq!((from.as_str(), t), ("n1", target));
                    assert_eq!(f.get(), frame.get());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn error_objects_cross_unchanged() {
        let obj = ErrorObject::new(4001, "out of stock").with_data(json!({"sku": "A"}));
        let reply = ReplyOutcome::from_result(Err(Error::Rpc(obj.clone())));
        let text = encode(&Wire::Reply {
            rid: 1,
            outcome: reply,
        });
        let Wire::Reply { outcome, .. } = decode(&text).unwrap() else {
            panic!("not a reply")
        };
        match outcome.into_result() {
            Err(Error::Rpc(back)) => assert_eq!(back, obj),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn timeouts_and_gone_keep_their_codes() {
        let t = ReplyOutcome::from_result(Err(Error::Timeout(std::time::Duration::from_secs(2))));
        assert_eq!(
            t.into_result().unwrap_err().code(),
            Some(ErrorCode::TIMEOUT)
        );
        let g = ReplyOutcome::from_result(Err(Error::NotConnected));
        assert_eq!(
            g.into_result().unwrap_err().code(),
            Some(ErrorCode::NOT_CONNECTED)
        );
    }

    #[test]
    fn a_batch_and_its_answers_round_trip_in_order() {
        let text = encode(&Wire::Batch {
            from: "n1".into(),
            rid: 9,
            id: 3,
            client_id: Some("c".into()),
            calls: vec![
                BatchCall {
                    method: "a".into(),
                    params: raw(json!([1])),
                },
                BatchCall {
                    method: "b".into(),
                    params: raw(json!({"x": 2})),
                },
            ],
            timeout_ms: 500,
        });
        let Wire::Batch {
            calls, client_id, ..
        } = decode(&text).unwrap()
        else {
            panic!("not a batch")
        };
        assert_eq!(client_id.as_deref(), Some("c"));
        let methods: Vec<_> = calls.iter().map(|c| c.method.as_str()).collect();
        assert_eq!(methods, ["a", "b"]);
        assert_eq!(calls[1].params.get(), r#"{"x":2}"#);

        let reply = ReplyOutcome::Batch(vec![
            ReplyOutcome::Result(raw(json!(1))),
            ReplyOutcome::from_result(Err(Error::new(4001, "no"))),
        ]);
        let text = encode(&Wire::Reply {
            rid: 9,
            outcome: reply,
        });
        let Wire::Reply { outcome, .. } = decode(&text).unwrap() else {
            panic!("not a reply")
        };
        let items = outcome.into_batch().unwrap();
        assert_eq!(items[0].as_ref().unwrap().get(), "1");
        assert_eq!(
            items[1].as_ref().unwrap_err().code(),
            Some(ErrorCode::from(4001))
        );
        // A whole batch that found nobody, or a mix-up, is an error, never a panic.
        assert_eq!(
            ReplyOutcome::Gone.into_batch().unwrap_err().code(),
            Some(ErrorCode::NOT_CONNECTED)
        );
        assert!(ReplyOutcome::Result(raw(json!(1))).into_batch().is_err());
        assert!(ReplyOutcome::Batch(vec![]).into_result().is_err());
    }

    #[test]
    fn a_cancel_names_the_caller_and_its_request() {
        let text = encode(&Wire::Cancel {
            from: "n1".into(),
            rid: 42,
        });
        assert_eq!(text, r#"{"cancel":{"from":"n1","rid":42}}"#);
        let Wire::Cancel { from, rid } = decode(&text).unwrap() else {
            panic!("not a cancel")
        };
        assert_eq!((from.as_str(), rid), ("n1", 42));
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        for bad in [
            "",
            "null",
            "{}",
            r#"{"broadcast":{}}"#,
            r#"{"call":{"from":"a","rid":-1}}"#,
            r#"{"reply":{"rid":1}}"#,
            r#"{"nope":{}}"#,
            "\u{0}",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} parsed");
        }
    }
}

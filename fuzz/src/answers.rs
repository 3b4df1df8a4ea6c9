//! What a well-formed answer looks like on the wire, checked independently of the runtime's
//! own encoder.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// One response object as received: its id exactly as written, and whether it is a result or
/// an error (with the error's code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The raw id text (`null` for an error about an unidentifiable request).
    pub id: String,
    /// `Ok(raw result)` or `Err(code)`.
    pub outcome: Result<String, i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireError {
    code: i64,
    #[allow(dead_code)]
    message: String,
    #[serde(default)]
    #[allow(dead_code)]
    data: Option<serde::de::IgnoredAny>,
}

fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(de).map(Some)
}

/// Parses one response object, panicking when it is not a well-formed JSON-RPC 2.0 response:
/// `jsonrpc` `"2.0"`, an `id` that is a string, a number or `null`, exactly one of `result`
/// and `error`, an error with an integer `code` and a string `message`, nothing else.
pub fn parse_answer(text: &str) -> Answer {
    let wire: Wire<'_> = serde_json::from_str(text)
        .unwrap_or_else(|err| panic!("malformed answer ({err}): {text:.300}"));
    assert_eq!(
        wire.jsonrpc, "2.0",
        "answer without jsonrpc 2.0: {text:.300}"
    );
    let id = wire.id.get();
    assert!(
        matches!(
            id.as_bytes().first(),
            Some(b'"' | b'-' | b'0'..=b'9' | b'n')
        ),
        "answer id is not a string, number or null: {text:.300}"
    );
    let outcome = match (wire.result, wire.error) {
        (Some(result), None) => Ok(result.get().to_owned()),
        (None, Some(error)) => Err(error.code),
        _ => panic!("answer without exactly one of result and error: {text:.300}"),
    };
    Answer {
        id: id.to_owned(),
        outcome,
    }
}

/// What the peer received that is an answer: one response, or a batch of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// One response object.
    Single(Answer),
    /// A batch answer (never empty).
    Batch(Vec<Answer>),
    /// A request or a notification from the other side (a call back, a pong): not an answer.
    Call {
        /// The method name (`None` when it is not a JSON string).
        method: Option<String>,
        /// The id's raw text, `None` for a notification.
        id: Option<String>,
    },
}

/// Classifies a frame received from the runtime, panicking when it is neither a well-formed
/// answer, a well-formed batch answer, nor a call.
///
/// Values are kept as raw text: an id is echoed exactly as the peer wrote it, and JSON sets no
/// range on numbers, so `-1.5e33333333` is a valid id even though it fits no `f64`.
pub fn classify_received(text: &str) -> Received {
    let message: &RawValue = serde_json::from_str(text)
        .unwrap_or_else(|err| panic!("the runtime sent invalid JSON ({err}): {text:.300}"));
    match message.get().trim_start().as_bytes().first() {
        Some(b'{') => {
            let fields: BTreeMap<String, &RawValue> = serde_json::from_str(text)
                .unwrap_or_else(|err| panic!("not an object ({err}): {text:.300}"));
            if fields.contains_key("method") {
                assert_eq!(
                    fields.get("jsonrpc").map(|v| v.get()),
                    Some(r#""2.0""#),
                    "call without jsonrpc 2.0: {text:.300}"
                );
                Received::Call {
                    method: fields
                        .get("method")
                        .and_then(|raw| serde_json::from_str(raw.get()).ok()),
                    id: fields.get("id").map(|raw| raw.get().to_owned()),
                }
            } else {
                Received::Single(parse_answer(text))
            }
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).expect("an array");
            assert!(!items.is_empty(), "empty batch answer");
            Received::Batch(items.iter().map(|item| parse_answer(item.get())).collect())
        }
        _ => panic!("the runtime sent a frame that is no message: {text:.300}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_bad_ones_are_refused() {
        let ok = parse_answer(r#"{"jsonrpc":"2.0","id":1.50,"result":null}"#);
        assert_eq!(ok.id, "1.50");
        // JSON puts no range on numbers: an id no f64 holds is still echoed as written.
        let huge = r#"{"jsonrpc":"2.0","id":-1.5e33333333,"result":null}"#;
        assert!(matches!(classify_received(huge), Received::Single(a) if a.id == "-1.5e33333333"));
        assert_eq!(ok.outcome, Ok("null".to_owned()));
        let err =
            parse_answer(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}"#);
        assert_eq!(err.outcome, Err(-32600));
        for bad in [
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":""}}"#,
            r#"{"jsonrpc":"1.0","id":1,"result":1}"#,
            r#"{"jsonrpc":"2.0","id":{},"result":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":1,"extra":0}"#,
        ] {
            assert!(
                std::panic::catch_unwind(|| parse_answer(bad)).is_err(),
                "{bad}"
            );
        }
    }
}

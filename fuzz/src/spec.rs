//! An independent JSON-RPC 2.0 classifier, written from the specification
//! (<https://www.jsonrpc.org/specification>) and the project's `PROTOCOL.md`, never from the
//! runtime's parser: the `router_frames` oracle decides with it what every frame is owed, so a
//! message the runtime misclassifies (a request taken for a notification, say) shows up as a
//! missing or an extra answer instead of being agreed with.
//!
//! It shares only serde_json's JSON grammar with the runtime (is this text JSON at all, what
//! does this string escape decode to). Where the specification leaves a choice, or PROTOCOL.md
//! departs from the reference packages, the rule taken is stated at the place it is applied.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// JSON-RPC 2.0 "Parse error": the frame is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 "Invalid Request": JSON, but not a valid message.
pub const INVALID_REQUEST: i64 = -32600;

/// The members JSON-RPC 2.0 gives a meaning to.
const MEMBERS: [&str; 6] = ["jsonrpc", "id", "method", "params", "result", "error"];

/// What one frame is, by the specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Not a message: owed one (non-array) error with this code and `id: null`.
    Invalid(i64),
    /// One message object.
    Single(Message),
    /// A non-empty array: its elements in order.
    Batch(Vec<Message>),
}

/// What one message (a frame's object, or one batch element) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A call: owed exactly one response carrying `id` exactly as written.
    Request {
        /// The id's JSON text as written.
        id: String,
        /// The method name (escapes decoded).
        method: String,
        /// The params' JSON text, when present.
        params: Option<String>,
    },
    /// A call without an id: never answered (apart from `ping`, answered by a `pong`
    /// notification, PROTOCOL.md "Heartbeat").
    Notification {
        /// The method name (escapes decoded).
        method: String,
        /// The params' JSON text, when present.
        params: Option<String>,
    },
    /// A response (to one of the receiver's own calls): never answered.
    Response,
    /// Not a valid message: owed an error `-32600` with `id: null` (in its slot, in a batch).
    Invalid,
}

impl Message {
    /// Whether the message is owed an answer in a response (its own, or its batch slot).
    pub fn is_owed_answer(&self) -> bool {
        matches!(self, Message::Request { .. } | Message::Invalid)
    }
}

/// Classifies one text frame.
pub fn classify(text: &str) -> Frame {
    // Spec: "Parse error: Invalid JSON was received". One JSON value, whitespace around it
    // allowed (RFC 8259 `JSON-text = ws value ws`), nothing else.
    let Ok(value) = serde_json::from_str::<&RawValue>(text) else {
        return Frame::Invalid(PARSE_ERROR);
    };
    let value = value.get();
    match value.as_bytes()[0] {
        b'{' => Frame::Single(message(value)),
        b'[' => {
            let items: Vec<&RawValue> =
                serde_json::from_str(value).expect("an array already read as JSON");
            // Spec: "rpc call with an empty Array" is answered with one Invalid Request error,
            // not an array (and PROTOCOL.md "Batches" says the same).
            if items.is_empty() {
                Frame::Invalid(INVALID_REQUEST)
            } else {
                Frame::Batch(items.iter().map(|item| message(item.get())).collect())
            }
        }
        // Spec: `rpc call with invalid Batch` / a lone number or string is an Invalid Request.
        _ => Frame::Invalid(INVALID_REQUEST),
    }
}

/// Classifies one JSON value (already known to be JSON) as a message.
fn message(value: &str) -> Message {
    // Spec: a batch element that is not an object gets an Invalid Request error in its slot
    // ("rpc call with invalid Batch": `[1,2,3]` is answered with three errors).
    if !value.starts_with('{') {
        return Message::Invalid;
    }
    // Member names are compared after unescaping (`"meth\u006fd"` is `method`); a name that
    // is not Unicode text (a lone surrogate escape) names no member the spec knows, and such
    // an object is not taken apart at all: Invalid Request.
    let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(value) else {
        return Message::Invalid;
    };
    // RFC 8259 section 4 leaves the meaning of a repeated member name to the implementation.
    // A message whose JSON-RPC members are repeated is ambiguous (which method? which id?), so
    // it is not a valid Request object: Invalid Request. Names the spec gives no meaning to
    // may repeat freely (they are ignored).
    for name in MEMBERS {
        if members.iter().filter(|(key, _)| key == name).count() > 1 {
            return Message::Invalid;
        }
    }
    let member = |name: &str| {
        members
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, raw)| raw.get())
    };
    let params = member("params").map(str::to_owned);
    if let Some(method) = member("method") {
        // Spec: "method: A String containing the name of the method"; anything else (null
        // included) is an Invalid Request, with or without an id ("rpc call of invalid
        // Request object": `{"jsonrpc":"2.0","method":1,"params":"bar"}`).
        let Some(method) = string(method) else {
            return Message::Invalid;
        };
        // Spec: "jsonrpc: MUST be exactly "2.0"". PROTOCOL.md holds the runtime to it
        // ([spec]), though the reference packages do not check it.
        if member("jsonrpc").and_then(string).as_deref() != Some("2.0") {
            return Message::Invalid;
        }
        // Spec: params, when present, "MUST be a Structured value". PROTOCOL.md ("Messages")
        // follows the reference instead: params are whatever one JSON value the caller passes
        // (`echo` takes `5`), so no params value makes a message invalid; a handler whose
        // typed params do not fit answers -32602.
        return match member("id") {
            // Spec: a notification is "a Request object without an "id" member".
            None => Message::Notification { method, params },
            // Spec: id is "a String, Number, or NULL value". Null is a request, owed an answer
            // with `id: null`: the spec only discourages it. The Python reference takes a
            // null id for a notification (it tests `id is None`) and stays silent;
            // PROTOCOL.md follows the spec where the reference is looser, and a client that
            // sends `"id": null` is waiting for an answer, so one is owed. Numbers are any
            // JSON number (fractions and exponents included: the spec only says they SHOULD
            // NOT have fractional parts), echoed exactly as written.
            Some(id) if is_id(id) => Message::Request {
                id: id.to_owned(),
                method,
                params,
            },
            // true, false, an object or an array: not a valid Request object.
            Some(_) => Message::Invalid,
        };
    }
    // No method: an object with a `result` or an `error` is a response to one of the
    // receiver's calls (the connection is bidirectional, PROTOCOL.md "Transport"). The spec
    // says nothing of answering a broken response, and answering one could start an endless
    // exchange of errors with a peer that does the same: a response is never answered, even
    // one without `jsonrpc`, with a bad id, or with both members. Responses to no pending call
    // are dropped.
    if member("result").is_some() || member("error").is_some() {
        return Message::Response;
    }
    // Neither a call nor a response (`{}`, `{"jsonrpc":"2.0","id":1}`): Invalid Request,
    // `id: null` ("If there was an error in detecting the id in the Request object (e.g.
    // Parse error/Invalid Request), it MUST be Null"; this oracle takes it that no id is
    // trusted from an object that is not a valid request).
    Message::Invalid
}

/// The members of a JSON object in the order written (repeats kept), each value as written;
/// `None` when `text` is not an object.
pub fn members(text: &str) -> Option<Vec<(String, &str)>> {
    let Members(members) = serde_json::from_str::<Members<'_>>(text).ok()?;
    Some(
        members
            .into_iter()
            .map(|(name, raw)| (name, raw.get()))
            .collect(),
    )
}

/// Whether `raw` (one JSON value as written) is an id by the spec: a string, a number or null.
/// The JSON grammar says which by the first character (RFC 8259: a number starts with `-` or a
/// digit).
fn is_id(raw: &str) -> bool {
    matches!(raw.as_bytes()[0], b'"' | b'-' | b'0'..=b'9') || raw == "null"
}

/// The text of a JSON string value (escapes decoded), or `None` when the value is not a string
/// or not Unicode text.
fn string(raw: &str) -> Option<String> {
    serde_json::from_str::<String>(raw).ok()
}

/// An object's members in the order written, repeats kept, values as raw JSON.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
            members.push(entry);
        }
        Ok(Members(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, method: &str, params: Option<&str>) -> Message {
        Message::Request {
            id: id.to_owned(),
            method: method.to_owned(),
            params: params.map(str::to_owned),
        }
    }

    /// The examples of the JSON-RPC 2.0 specification's "Examples" section.
    #[test]
    fn the_specifications_examples() {
        let single = |text| match classify(text) {
            Frame::Single(message) => message,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            single(r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#),
            request("1", "subtract", Some("[42, 23]"))
        );
        assert_eq!(
            single(r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#),
            Message::Notification {
                method: "update".to_owned(),
                params: Some("[1,2,3,4,5]".to_owned())
            }
        );
        assert_eq!(
            classify(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#),
            Frame::Invalid(PARSE_ERROR)
        );
        assert_eq!(
            single(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#),
            Message::Invalid
        );
        assert_eq!(
            classify(
                r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#
            ),
            Frame::Invalid(PARSE_ERROR)
        );
        assert_eq!(classify("[]"), Frame::Invalid(INVALID_REQUEST));
        assert_eq!(classify("[1]"), Frame::Batch(vec![Message::Invalid]));
        assert_eq!(classify("[1,2,3]"), Frame::Batch(vec![Message::Invalid; 3]));
        let batch = classify(
            r#"[
                {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
                {"foo": "boo"},
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
            ]"#,
        );
        let Frame::Batch(items) = batch else {
            panic!("{batch:?}")
        };
        let owed: Vec<bool> = items.iter().map(Message::is_owed_answer).collect();
        assert_eq!(owed, [true, false, true, true, true, true]);
        assert_eq!(items[5], request(r#""9""#, "get_data", None));
    }

    #[test]
    fn edges_decided_here() {
        let single = |text| match classify(text) {
            Frame::Single(message) => message,
            other => panic!("{text}: {other:?}"),
        };
        // Escapes are decoded in names and values; ids are kept as written.
        assert_eq!(
            single(r#" {"jsonrpc":"2\u002e0","meth\u006fd":"a\u0062","id":-1.5e3} "#),
            request("-1.5e3", "ab", None)
        );
        assert_eq!(
            single(r#"{"jsonrpc":"2.0","method":"m","id":null}"#),
            request("null", "m", None)
        );
        for invalid in [
            r#"{"jsonrpc":"2.0","method":"m","id":true}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":{}}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":[1]}"#,
            r#"{"jsonrpc":"1.0","method":"m","id":1}"#,
            r#"{"method":"m","id":1}"#,
            r#"{"jsonrpc":"2.0","method":null}"#,
            r#"{"jsonrpc":"2.0","method":"m","method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":1,"id":1}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"\ud800"}"#,
            "{}",
        ] {
            assert_eq!(single(invalid), Message::Invalid, "{invalid}");
        }
        for response in [
            r#"{"jsonrpc":"2.0","id":1,"result":null}"#,
            r#"{"id":{},"error":5}"#,
            r#"{"result":1,"error":2}"#,
        ] {
            assert_eq!(single(response), Message::Response, "{response}");
        }
        // Other members may repeat; params may be any value (PROTOCOL.md).
        assert_eq!(
            single(r#"{"jsonrpc":"2.0","method":"m","x":1,"x":2,"params":5}"#),
            Message::Notification {
                method: "m".to_owned(),
                params: Some("5".to_owned())
            }
        );
        assert_eq!(classify("5"), Frame::Invalid(INVALID_REQUEST));
        assert_eq!(classify(r#""x""#), Frame::Invalid(INVALID_REQUEST));
        assert_eq!(classify(""), Frame::Invalid(PARSE_ERROR));
        assert_eq!(classify("{} {}"), Frame::Invalid(PARSE_ERROR));
        assert_eq!(classify("\u{a0}{}"), Frame::Invalid(PARSE_ERROR));
        // Nesting deeper than serde_json's recursion limit is still JSON.
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert_eq!(classify(&deep), Frame::Batch(vec![Message::Invalid]));
    }
}

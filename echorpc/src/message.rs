//! The wire format: classifying received JSON-RPC messages and writing outgoing ones.
//!
//! Parsing borrows from the frame: a message is split into its members as raw JSON slices, and
//! only the members the router needs (`jsonrpc`, `method`, `id`) are looked at here.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorObject};

/// The members of one message object, each kept raw. A member given as `null` is `Some("null")`,
/// so an absent `id` (a notification) is told apart from `"id": null`.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(de).map(Some)
}

/// What one received message is.
#[derive(Debug)]
pub(crate) enum Incoming<'a> {
    /// A call to answer.
    Request {
        id: &'a RawValue,
        method: Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// An event (or a heartbeat), never answered.
    Notification {
        method: Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// The answer to one of our calls.
    Response {
        id: &'a RawValue,
        outcome: Result<&'a RawValue, Error>,
    },
    /// Not a valid message: answered with this error and `id: null`.
    Invalid(Error),
}

/// What one received frame is.
#[derive(Debug)]
pub(crate) enum Received<'a> {
    Single(Incoming<'a>),
    /// The elements of a non-empty batch, classified.
    Batch(Vec<Incoming<'a>>),
    /// Not valid JSON, an empty batch, or a value that is neither object nor array.
    Invalid(Error),
}

/// Splits a frame into its message or batch elements.
pub(crate) fn parse_frame(text: &str) -> Received<'_> {
    match text.trim_start().as_bytes().first() {
        Some(b'{') => match serde_json::from_str::<Envelope<'_>>(text) {
            Ok(envelope) => Received::Single(classify_envelope(envelope)),
            Err(err) => Received::Invalid(invalid_or_parse_error(text, err)),
        },
        Some(b'[') => parse_batch(text),
        _ => Received::Invalid(invalid_or_parse_error(text, "not an object or array")),
    }
}

/// An object the envelope could not take is still valid JSON in some cases (a member of the
/// wrong shape, a duplicate key): then it is an invalid request, not a parse error.
fn invalid_or_parse_error(text: &str, detail: impl std::fmt::Display) -> Error {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Error::invalid_request(&detail.to_string()),
        Err(err) => Error::parse_error(err),
    }
}

/// A batch in one pass over the text; an element the one-pass form cannot take (a duplicate
/// key, say) sends the batch through [`classify`] element by element instead.
fn parse_batch(text: &str) -> Received<'_> {
    let items = match serde_json::from_str::<Vec<BatchItem<'_>>>(text) {
        Ok(items) => items.into_iter().map(BatchItem::classify).collect(),
        Err(_) => match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => items.into_iter().map(classify).collect(),
            Err(err) => return Received::Invalid(Error::parse_error(err)),
        },
    };
    if Vec::is_empty(&items) {
        return Received::Invalid(Error::invalid_request("empty batch"));
    }
    Received::Batch(items)
}

/// One element of a batch: a message object, or anything else (answered `-32600`).
enum BatchItem<'a> {
    Object(Envelope<'a>),
    NotObject,
}

impl<'a> BatchItem<'a> {
    fn classify(self) -> Incoming<'a> {
        match self {
            BatchItem::Object(envelope) => classify_envelope(envelope),
            BatchItem::NotObject => Incoming::Invalid(Error::invalid_request("not an object")),
        }
    }
}

impl<'de> Deserialize<'de> for BatchItem<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(BatchItemVisitor)
    }
}

struct BatchItemVisitor;

impl<'de> serde::de::Visitor<'de> for BatchItemVisitor {
    type Value = BatchItem<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Envelope::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            .map(BatchItem::Object)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(BatchItem::NotObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(BatchItem::NotObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(BatchItem::NotObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(BatchItem::NotObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(BatchItem::NotObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(BatchItem::NotObject)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(BatchItem::NotObject)
    }
}

/// Classifies one element of a batch.
pub(crate) fn classify(raw: &RawValue) -> Incoming<'_> {
    if !raw.get().starts_with('{') {
        return Incoming::Invalid(Error::invalid_request("not an object"));
    }
    match serde_json::from_str::<Envelope<'_>>(raw.get()) {
        Ok(envelope) => classify_envelope(envelope),
        Err(err) => Incoming::Invalid(Error::invalid_request(&err.to_string())),
    }
}

fn classify_envelope(envelope: Envelope<'_>) -> Incoming<'_> {
    if let Some(method) = envelope.method {
        let Some(method) = json_str(method) else {
            return Incoming::Invalid(Error::invalid_request("method is not a string"));
        };
        if envelope.jsonrpc.and_then(json_str).as_deref() != Some("2.0") {
            return Incoming::Invalid(Error::invalid_request("jsonrpc must be \"2.0\""));
        }
        return match envelope.id {
            Some(id) if is_valid_id(id) => Incoming::Request {
                id,
                method,
                params: envelope.params,
            },
            Some(_) => Incoming::Invalid(Error::invalid_request(
                "id must be a string, a number or null",
            )),
            None => Incoming::Notification {
                method,
                params: envelope.params,
            },
        };
    }
    // Anything with a result or an error is a response, and a response is never answered,
    // even a malformed one: answering could start an endless exchange of errors with a peer
    // that does the same.
    let id = envelope.id.unwrap_or(RawValue::NULL);
    match (envelope.result, envelope.error) {
        (Some(result), None) => Incoming::Response {
            id,
            outcome: Ok(result),
        },
        (_, Some(error)) => Incoming::Response {
            id,
            outcome: Err(decode_error_object(error)),
        },
        (None, None) => Incoming::Invalid(Error::invalid_request("no method, result or error")),
    }
}

fn is_valid_id(id: &RawValue) -> bool {
    matches!(
        id.get().as_bytes().first(),
        Some(b'"' | b'-' | b'0'..=b'9' | b'n')
    )
}

/// A JSON string's value, borrowed when it has no escapes.
fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Ok(text) = serde_json::from_str::<&str>(raw.get()) {
        return Some(Cow::Borrowed(text));
    }
    serde_json::from_str::<String>(raw.get())
        .ok()
        .map(Cow::Owned)
}

/// An error object as it is written to the wire.
#[derive(Debug, Serialize)]
struct WireError<'a> {
    code: i64,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

impl<'a> From<&'a ErrorObject> for WireError<'a> {
    fn from(obj: &'a ErrorObject) -> Self {
        Self {
            code: obj.code().as_i64(),
            message: obj.message(),
            data: obj.data(),
        }
    }
}

fn decode_error_object(raw: &RawValue) -> Error {
    #[derive(Deserialize)]
    struct Owned<'a> {
        code: i64,
        #[serde(default, borrow)]
        message: Cow<'a, str>,
        #[serde(default)]
        data: Option<Value>,
    }
    match serde_json::from_str::<Owned<'_>>(raw.get()) {
        Ok(obj) => {
            let decoded = ErrorObject::new(obj.code, obj.message.into_owned());
            Error::Rpc(match obj.data {
                Some(data) => decoded.with_data(data),
                None => decoded,
            })
        }
        Err(err) => Error::internal(format!("malformed error object from peer: {err}")),
    }
}

/// Writes `,"params":<params>` unless the params serialise to `null`.
fn push_params<P: Serialize + ?Sized>(out: &mut Vec<u8>, params: &P) -> Result<(), Error> {
    let mark = out.len();
    out.extend_from_slice(br#","params":"#);
    let value_at = out.len();
    serde_json::to_writer(&mut *out, params)?;
    if &out[value_at..] == b"null" {
        out.truncate(mark);
    }
    Ok(())
}

fn finish(mut out: Vec<u8>) -> Result<String, Error> {
    out.push(b'}');
    String::from_utf8(out).map_err(|err| Error::internal(format!("encoding: {err}")))
}

/// `{"jsonrpc":"2.0","id":ID,"method":M,"params":P}`, `params` left out when `null`.
pub(crate) fn encode_request<P: Serialize + ?Sized>(
    id: u64,
    method: &str,
    params: &P,
) -> Result<String, Error> {
    let mut out = Vec::with_capacity(64 + method.len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id.to_string().as_bytes());
    out.extend_from_slice(br#","method":"#);
    serde_json::to_writer(&mut out, method)?;
    push_params(&mut out, params)?;
    finish(out)
}

/// `{"jsonrpc":"2.0","method":M,"params":P}`, `params` left out when `null`.
pub(crate) fn encode_notification<P: Serialize + ?Sized>(
    method: &str,
    params: &P,
) -> Result<String, Error> {
    let mut out = Vec::with_capacity(48 + method.len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0","method":"#);
    serde_json::to_writer(&mut out, method)?;
    push_params(&mut out, params)?;
    finish(out)
}

/// `{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":ID}}` for one of our ids.
pub(crate) fn encode_cancel(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"{}","params":{{"id":{id}}}}}"#,
        echorpc_protocol::CANCEL_REQUEST
    )
}

/// The raw id of a received `$/cancelRequest`'s params, when they hold a valid one (a string
/// or a number, kept as written so `"42"` and `42` stay different ids).
pub(crate) fn cancelled_id(params: Option<&RawValue>) -> Option<&str> {
    #[derive(Deserialize)]
    struct Cancel<'a> {
        #[serde(borrow)]
        id: &'a RawValue,
    }
    let params = params?.get();
    if !params.starts_with('{') {
        return None;
    }
    let cancel: Cancel<'_> = serde_json::from_str(params).ok()?;
    let id = cancel.id.get();
    matches!(id.as_bytes().first(), Some(b'"' | b'-' | b'0'..=b'9')).then_some(id)
}

/// `{"jsonrpc":"2.0","id":ID,"result":R}` from the raw id as received and an encoded result.
pub(crate) fn encode_result(id: &str, result: &str) -> String {
    let mut out = String::with_capacity(32 + id.len() + result.len());
    out.push_str(r#"{"jsonrpc":"2.0","id":"#);
    out.push_str(id);
    out.push_str(r#","result":"#);
    out.push_str(result);
    out.push('}');
    out
}

/// [`encode_result`] reusing the result's own buffer when it has room for the envelope, which
/// it usually has (serde_json starts every string with 128 bytes): one allocation per response
/// instead of two.
pub(crate) fn encode_result_into(id: &str, mut result: String) -> String {
    const HEAD: &str = r#"{"jsonrpc":"2.0","id":"#;
    const MIDDLE: &str = r#","result":"#;
    let envelope = HEAD.len() + id.len() + MIDDLE.len() + 1;
    if result.capacity() - result.len() < envelope {
        return encode_result(id, &result);
    }
    result.insert_str(0, MIDDLE);
    result.insert_str(0, id);
    result.insert_str(0, HEAD);
    result.push('}');
    result
}

/// `{"jsonrpc":"2.0","id":ID,"error":{...}}`; `id` is the raw id, or `None` for `null`.
pub(crate) fn encode_error(id: Option<&str>, err: &Error) -> String {
    let converted;
    let obj = match err.as_rpc() {
        Some(obj) => obj,
        None => {
            converted = err.to_object();
            &converted
        }
    };
    let mut out = String::with_capacity(64 + obj.message().len());
    out.push_str(r#"{"jsonrpc":"2.0","id":"#);
    out.push_str(id.unwrap_or("null"));
    out.push_str(r#","error":"#);
    match serde_json::to_string(&WireError::from(obj)) {
        Ok(text) => out.push_str(&text),
        Err(_) => {
            // Only `data` can fail to encode (a map with non-string keys cannot occur in a
            // `Value`), so this is unreachable in practice; send the error without data.
            let _ = write!(
                out,
                r#"{{"code":{},"message":{}}}"#,
                obj.code(),
                Value::from(obj.message())
            );
        }
    }
    out.push('}');
    out
}

/// Joins already encoded responses into one batch reply.
pub(crate) fn encode_batch(parts: &[String]) -> String {
    let mut out = String::with_capacity(2 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    out.push('[');
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(part);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn single(text: &str) -> Incoming<'_> {
        match parse_frame(text) {
            Received::Single(msg) => msg,
            other => panic!("expected a single message, got {other:?}"),
        }
    }

    #[test]
    fn request_keeps_raw_id_and_params() {
        let msg = single(r#"{"jsonrpc":"2.0","id":"ab12","method":"add","params":{"a":1}}"#);
        let Incoming::Request { id, method, params } = msg else {
            panic!("not a request: {msg:?}")
        };
        assert_eq!(id.get(), r#""ab12""#);
        assert_eq!(method, "add");
        assert_eq!(params.map(RawValue::get), Some(r#"{"a":1}"#));
    }

    #[test]
    fn null_id_is_a_request_and_absent_id_a_notification() {
        assert!(matches!(
            single(r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#),
            Incoming::Request { .. }
        ));
        assert!(matches!(
            single(r#"{"jsonrpc":"2.0","method":"m","params":[1]}"#),
            Incoming::Notification { .. }
        ));
    }

    #[test]
    fn invalid_shapes_are_invalid_requests() {
        for text in [
            r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
            r#"{"id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#,
            r#"{"foo":"bar"}"#,
        ] {
            let msg = single(text);
            assert!(
                matches!(&msg, Incoming::Invalid(e) if e.code() == Some(crate::ErrorCode::INVALID_REQUEST)),
                "{text} gave {msg:?}"
            );
        }
    }

    #[test]
    fn frames_that_are_not_messages() {
        let code = |text| match parse_frame(text) {
            Received::Invalid(e) => e.code().map(ErrorCode::as_i64),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"foo","params":"bar","baz]"#),
            Some(-32700)
        );
        assert_eq!(code("[]"), Some(-32600));
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}"#),
            Some(-32600)
        );
        assert_eq!(code("1"), Some(-32600));
        assert_eq!(code("nonsense"), Some(-32700));
        assert_eq!(code(r#"[{"jsonrpc":"2.0","method":"sum""#), Some(-32700));
    }

    #[test]
    fn batch_elements_are_classified_one_by_one() {
        for text in [
            r#"[1,{"jsonrpc":"2.0","method":"n"},[2],"s",null]"#,
            // A duplicate key takes the element-by-element path.
            r#"[1,{"jsonrpc":"2.0","method":"n"},[2],"s",{"id":1,"id":2}]"#,
        ] {
            let Received::Batch(items) = parse_frame(text) else {
                panic!("not a batch: {text}")
            };
            assert_eq!(items.len(), 5);
            assert!(matches!(items[0], Incoming::Invalid(_)));
            assert!(matches!(items[1], Incoming::Notification { .. }));
            assert!(items[2..].iter().all(|i| matches!(i, Incoming::Invalid(_))));
        }
    }

    #[test]
    fn responses_carry_results_or_errors() {
        let ok = single(r#"{"jsonrpc":"2.0","id":7,"result":{"sum":3}}"#);
        assert!(
            matches!(ok, Incoming::Response { outcome: Ok(r), .. } if r.get() == r#"{"sum":3}"#)
        );
        let err =
            single(r#"{"jsonrpc":"2.0","id":7,"error":{"code":-5,"message":"no","data":[1]}}"#);
        let Incoming::Response {
            outcome: Err(e), ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            (e.code(), e.message().as_ref()),
            (Some(ErrorCode::from(-5)), "no")
        );
        assert_eq!(e.data(), Some(&serde_json::json!([1])));
    }

    #[test]
    fn cancel_ids_keep_their_json_type() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        assert_eq!(cancelled_id(Some(&raw(r#"{"id":42}"#))), Some("42"));
        assert_eq!(cancelled_id(Some(&raw(r#"{"id":"42"}"#))), Some(r#""42""#));
        for bad in [r#"{"id":null}"#, r#"{"id":[1]}"#, r#"{}"#, r#"[42]"#, "42"] {
            assert_eq!(cancelled_id(Some(&raw(bad))), None, "{bad}");
        }
        assert_eq!(cancelled_id(None), None);
        assert_eq!(
            encode_cancel(7),
            r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":7}}"#
        );
    }

    #[test]
    fn encoding_leaves_out_null_params() {
        assert_eq!(
            encode_request(3, "add", &serde_json::json!({"a":1})).unwrap(),
            r#"{"jsonrpc":"2.0","id":3,"method":"add","params":{"a":1}}"#
        );
        assert_eq!(
            encode_notification("tick", &()).unwrap(),
            r#"{"jsonrpc":"2.0","method":"tick"}"#
        );
        let err = Error::new(-1, "bad").with_data(serde_json::json!("x"));
        assert_eq!(
            encode_error(Some(r#""q""#), &err),
            r#"{"jsonrpc":"2.0","id":"q","error":{"code":-1,"message":"bad","data":"x"}}"#
        );
        assert_eq!(encode_batch(&["1".into(), "2".into()]), "[1,2]");
    }
}

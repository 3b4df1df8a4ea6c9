//! JSON-RPC 2.0 conformance: every example of the specification's section 7 ("Examples",
//! <https://www.jsonrpc.org/specification#examples>) sent byte for byte to our server, with the
//! small service the examples assume (`subtract`, `sum`, `get_data`, `update`, `notify_hello`,
//! `notify_sum`), written twice: as a typed `#[echorpc::service]` and with `register` closures.
//! Every example runs against both.
//!
//! Error messages are free text in the specification ("a short description"), so replies are
//! compared exactly except for `error.message`, which must be a non-empty string.
//!
//! The last tests document where the reference Python server (PyPI `echorpc` 1.0.0) differs
//! from the specification, asserting what it does today so a change in it is noticed.

use std::time::Duration;

use echorpc::{Error, Server};
use echorpc_tests::interop::{Api, Log, PyServer, RustServer, Timing, python};
use echorpc_tests::{RawPeer, local_server, start};
use serde::Deserialize;
use serde_json::{Value, json};

/// The service the examples call, typed. `subtract`'s named arguments also arrive by position
/// (`[42, 23]`), as the generated params struct accepts both.
#[echorpc::service]
trait Spec {
    async fn subtract(&self, minuend: i64, subtrahend: i64) -> i64;
    #[echorpc(params = "whole")]
    async fn sum(&self, numbers: Vec<i64>) -> i64;
    async fn get_data(&self) -> (String, i64);
    #[echorpc(event)]
    async fn update(&self, params: Value);
    #[echorpc(event)]
    async fn notify_hello(&self, params: Value);
    #[echorpc(event)]
    async fn notify_sum(&self, params: Value);
}

/// Records notifications in `notes` as `{"event":E,"params":P}`.
struct SpecImpl {
    notes: Log,
}

impl SpecImpl {
    fn note(&self, event: &str, params: Value) {
        self.notes.push(json!({"event": event, "params": params}));
    }
}

impl Spec for SpecImpl {
    async fn subtract(&self, minuend: i64, subtrahend: i64) -> i64 {
        minuend - subtrahend
    }

    async fn sum(&self, numbers: Vec<i64>) -> i64 {
        numbers.iter().sum()
    }

    async fn get_data(&self) -> (String, i64) {
        ("hello".to_owned(), 5)
    }

    async fn update(&self, params: Value) {
        self.note("update", params);
    }

    async fn notify_hello(&self, params: Value) {
        self.note("notify_hello", params);
    }

    async fn notify_sum(&self, params: Value) {
        self.note("notify_sum", params);
    }
}

/// `subtract`'s params for the untyped API: by position or by name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SubtractParams {
    Positional(i64, i64),
    Named { minuend: i64, subtrahend: i64 },
}

/// The same service with `register`/`subscribe` closures.
fn register_untyped(server: &Server, notes: &Log) {
    server
        .register("subtract", |p: SubtractParams, _| async move {
            let (minuend, subtrahend) = match p {
                SubtractParams::Positional(m, s)
                | SubtractParams::Named {
                    minuend: m,
                    subtrahend: s,
                } => (m, s),
            };
            Ok::<_, Error>(minuend - subtrahend)
        })
        .unwrap();
    server
        .register("sum", |numbers: Vec<i64>, _| async move {
            Ok::<_, Error>(numbers.iter().sum::<i64>())
        })
        .unwrap();
    server
        .register("get_data", |(): (), _| async {
            Ok::<_, Error>(json!(["hello", 5]))
        })
        .unwrap();
    for event in ["update", "notify_hello", "notify_sum"] {
        let notes = notes.clone();
        server
            .subscribe(event, move |params: Value, _| {
                notes.push(json!({"event": event, "params": params}));
                async {}
            })
            .unwrap();
    }
}

/// Both ways of writing the service; every example runs against each.
const APIS: [Api; 2] = [Api::Typed, Api::Untyped];

/// The service the specification's examples call, and a raw peer connected to it.
/// Notifications are recorded in the returned log.
async fn spec_server(api: Api) -> (Server, RawPeer, Log) {
    let server = local_server().build();
    let notes = Log::default();
    match api {
        Api::Typed => server
            .mount(SpecServer::new(SpecImpl {
                notes: notes.clone(),
            }))
            .unwrap(),
        Api::Untyped => register_untyped(&server, &notes),
    }
    let (server, addr) = start(server).await;
    let raw = RawPeer::connect(addr, "").await;
    (server, raw, notes)
}

/// A reply with each error message checked (a non-empty string) and replaced by `"…"`.
fn normalized(mut reply: Value) -> Value {
    fn fix(message: &mut Value) {
        if let Some(error) = message.get_mut("error") {
            let text = error["message"].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "error without a message: {error}");
            error["message"] = json!("…");
        }
    }
    match &mut reply {
        Value::Array(items) => items.iter_mut().for_each(fix),
        other => fix(other),
    }
    reply
}

/// Sends `request` and asserts the next frame is `expected` (messages normalized).
async fn exchange(raw: &mut RawPeer, request: &str, expected: Value) {
    let reply = raw.exchange(request).await;
    assert_eq!(normalized(reply), expected, "for {request}");
}

/// Proves nothing was sent back since the last frame read: the next frame is the answer to a
/// fresh request.
async fn assert_silence(raw: &mut RawPeer) {
    exchange(
        raw,
        r#"{"jsonrpc": "2.0", "method": "subtract", "params": [1, 1], "id": "after"}"#,
        json!({"jsonrpc": "2.0", "result": 0, "id": "after"}),
    )
    .await;
}

#[tokio::test]
async fn rpc_call_with_positional_parameters() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
            &mut raw,
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
            json!({"jsonrpc": "2.0", "result": 19, "id": 1}),
        )
        .await;
        exchange(
            &mut raw,
            r#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#,
            json!({"jsonrpc": "2.0", "result": -19, "id": 2}),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_with_named_parameters() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
        &mut raw,
        r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
        json!({"jsonrpc": "2.0", "result": 19, "id": 3}),
    )
    .await;
        exchange(
        &mut raw,
        r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#,
        json!({"jsonrpc": "2.0", "result": 19, "id": 4}),
    )
    .await;
    }
}

#[tokio::test]
async fn a_notification_gets_no_reply() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, notes) = spec_server(api).await;
        raw.send_text(r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#)
            .await;
        // No subscriber for `foobar`: dropped silently.
        raw.send_text(r#"{"jsonrpc": "2.0", "method": "foobar"}"#)
            .await;
        assert_silence(&mut raw).await;
        let note = notes
            .wait_for("update", Duration::from_secs(2), |n| n["event"] == "update")
            .await;
        assert_eq!(note["params"], json!([1, 2, 3, 4, 5]));
    }
}

#[tokio::test]
async fn rpc_call_of_non_existent_method() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
            &mut raw,
            r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#,
            json!({"jsonrpc": "2.0", "error": {"code": -32601, "message": "…"}, "id": "1"}),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_with_invalid_json() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
            &mut raw,
            r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
            json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "…"}, "id": null}),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_with_invalid_request_object() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
            &mut raw,
            r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#,
            json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "…"}, "id": null}),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_batch_with_invalid_json() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
            &mut raw,
            r#"[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]"#,
            json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "…"}, "id": null}),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_with_an_empty_array() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        // One error object, not an array.
        exchange(
            &mut raw,
            "[]",
            json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "…"}, "id": null}),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_with_an_invalid_batch_but_not_empty() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        exchange(
            &mut raw,
            "[1]",
            json!([{"jsonrpc": "2.0", "error": {"code": -32600, "message": "…"}, "id": null}]),
        )
        .await;
    }
}

#[tokio::test]
async fn rpc_call_with_an_invalid_batch() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, _) = spec_server(api).await;
        let invalid =
            json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "…"}, "id": null});
        exchange(&mut raw, "[1,2,3]", json!([invalid, invalid, invalid])).await;
    }
}

/// The specification allows the responses in any order; ours come in request order, and this
/// asserts that order.
#[tokio::test]
async fn rpc_call_batch() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, notes) = spec_server(api).await;
        exchange(
            &mut raw,
            r#"[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"} 
    ]"#,
            json!([
                {"jsonrpc": "2.0", "result": 7, "id": "1"},
                {"jsonrpc": "2.0", "result": 19, "id": "2"},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "…"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": -32601, "message": "…"}, "id": "5"},
                {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
            ]),
        )
        .await;
        let note = notes
            .wait_for("notify_hello", Duration::from_secs(2), |n| {
                n["event"] == "notify_hello"
            })
            .await;
        assert_eq!(note["params"], json!([7]));
    }
}

#[tokio::test]
async fn rpc_call_batch_all_notifications() {
    for api in APIS {
        eprintln!("api: {api:?}");
        let (_server, mut raw, notes) = spec_server(api).await;
        raw.send_text(
            r#"[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]"#,
        )
        .await;
        // Nothing is returned for all notification batches.
        assert_silence(&mut raw).await;
        let both = notes
            .wait_count("both notifications", 2, Duration::from_secs(2), |_| true)
            .await;
        assert_eq!(
            both,
            [
                json!({"event": "notify_sum", "params": [1, 2, 4]}),
                json!({"event": "notify_hello", "params": [7]}),
            ]
        );
    }
}

// ── Where the reference differs from the specification ───────────────────────────────────────

fn contract_query() -> &'static str {
    "?token=secret&client_id=raw"
}

/// The reference ignores a frame that is not JSON (no -32700, CONTRACT.md 6.a); we answer
/// -32700 with `id: null` as the specification says.
#[tokio::test]
async fn invalid_json_reference_is_silent_we_answer_32700() {
    let Some(py) = python() else { return };
    let invalid = r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#;
    let probe = r#"{"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 1}, "id": "after"}"#;

    let reference = PyServer::start(py, &[]).await;
    let mut raw = RawPeer::connect(reference.addr(), contract_query()).await;
    raw.send_text(invalid).await;
    // The very next frame is the answer to the following request: nothing for the bad one.
    let reply = raw.exchange(probe).await;
    assert_eq!(
        reply,
        json!({"jsonrpc": "2.0", "id": "after", "result": {"sum": 2}})
    );

    let ours = RustServer::start(Timing::default()).await;
    let mut raw = RawPeer::connect(ours.addr, contract_query()).await;
    let reply = raw.exchange(invalid).await;
    assert_eq!(
        normalized(reply),
        json!({"jsonrpc": "2.0", "error": {"code": -32700, "message": "…"}, "id": null})
    );
    assert_eq!(raw.exchange(probe).await["result"], json!({"sum": 2}));
}

/// The reference's handlers are untyped: params that do not fit fail inside the handler, so it
/// answers -32603 with Python's exception text; we answer -32602 (Invalid params).
#[tokio::test]
async fn bad_params_reference_answers_32603_we_answer_32602() {
    let Some(py) = python() else { return };
    let cases = [
        (
            r#"{"jsonrpc": "2.0", "method": "add", "params": {"a": 1}, "id": 1}"#,
            "'b'",
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "add", "params": {"a": "x", "b": 2}, "id": 2}"#,
            r#"can only concatenate str (not "int") to str"#,
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "add", "id": 3}"#,
            "'NoneType' object is not subscriptable",
        ),
    ];
    let reference = PyServer::start(py, &[]).await;
    let mut raw = RawPeer::connect(reference.addr(), contract_query()).await;
    for (request, python_message) in cases {
        let reply = raw.exchange(request).await;
        assert_eq!(reply["error"]["code"], -32603, "{request}: {reply}");
        assert_eq!(reply["error"]["message"], python_message, "{reply}");
    }
    // And what the reference accepts although it is not what `add` means.
    let reply = raw
        .exchange(r#"{"jsonrpc": "2.0", "method": "add", "params": {"a": "x", "b": "y"}, "id": 4}"#)
        .await;
    assert_eq!(reply["result"], json!({"sum": "xy"}));

    let ours = RustServer::start(Timing::default()).await;
    let mut raw = RawPeer::connect(ours.addr, contract_query()).await;
    for (request, _) in cases {
        let reply = raw.exchange(request).await;
        assert_eq!(reply["error"]["code"], -32602, "{request}: {reply}");
    }
    let reply = raw
        .exchange(r#"{"jsonrpc": "2.0", "method": "add", "params": {"a": "x", "b": "y"}, "id": 4}"#)
        .await;
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
}

/// Two more places where the reference is looser than the specification, and what we do:
/// it never checks `jsonrpc`, and it ignores a request whose method is `""`.
#[tokio::test]
async fn invalid_requests_reference_is_lenient_we_answer_32600() {
    let Some(py) = python() else { return };
    let no_version = r#"{"method": "add", "params": {"a": 1, "b": 2}, "id": 5}"#;
    let reference = PyServer::start(py, &[]).await;
    let mut raw = RawPeer::connect(reference.addr(), contract_query()).await;
    assert_eq!(raw.exchange(no_version).await["result"], json!({"sum": 3}));
    raw.send_text(r#"{"jsonrpc": "2.0", "method": "", "id": 6}"#)
        .await;
    let reply = raw
        .exchange(r#"{"jsonrpc": "2.0", "method": "add", "params": {"a": 1, "b": 1}, "id": 7}"#)
        .await;
    assert_eq!(reply["id"], 7, "the empty method got no answer: {reply}");

    let ours = RustServer::start(Timing::default()).await;
    let mut raw = RawPeer::connect(ours.addr, contract_query()).await;
    let reply = raw.exchange(no_version).await;
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    assert_eq!(reply["id"], Value::Null);
    let reply = raw
        .exchange(r#"{"jsonrpc": "2.0", "method": "", "id": 6}"#)
        .await;
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    assert_eq!(reply["id"], 6);
}

//! Batches: results in request order, errors in their slots, and the specification's edge cases.

use std::time::Duration;

use echorpc::{Connection, Error, ErrorCode};
use echorpc_tests::*;
use serde_json::{Value, json};

async fn batch_server() -> std::net::SocketAddr {
    let server = local_server().build();
    register_add(&server);
    server
        .register("sleep", |ms: u64, _| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, Error>(ms)
        })
        .unwrap();
    server
        .register("ask_double", |p: Value, conn: Connection| async move {
            conn.request("double", p).await
        })
        .unwrap();
    server.subscribe("note", |_: Value, _| async {}).unwrap();
    start(server).await.1
}

#[tokio::test]
async fn results_come_back_in_call_order_with_errors_in_their_slots() {
    let addr = batch_server().await;
    let client = connected(client_for(addr)).await;
    let results = client
        .batch_request([
            ("sleep", json!(300)),
            ("add", json!({"a": 1, "b": 2})),
            ("nope", json!(null)),
            ("add", json!({"a": "x"})),
            ("sleep", json!(0)),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap(), &json!(300));
    assert_eq!(results[1].as_ref().unwrap(), &json!({"sum": 3}));
    assert_eq!(
        results[2].as_ref().unwrap_err().code(),
        Some(ErrorCode::METHOD_NOT_FOUND)
    );
    assert_eq!(
        results[3].as_ref().unwrap_err().code(),
        Some(ErrorCode::INVALID_PARAMS)
    );
    assert_eq!(results[4].as_ref().unwrap(), &json!(0));
    assert!(
        client
            .batch_request(Vec::<(&str, Value)>::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn batch_requests_run_concurrently() {
    let addr = batch_server().await;
    let client = connected(client_for(addr)).await;
    let started = std::time::Instant::now();
    let results = client
        .batch_request((0..10).map(|_| ("sleep", json!(300))))
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_batch_handler_can_call_back_into_the_client() {
    let addr = batch_server().await;
    let client = client_for(addr).build();
    client
        .register("double", |p: Value, _| async move {
            Ok::<_, Error>(json!(p["x"].as_i64().unwrap() * 2))
        })
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let results = within(
        "batch with callbacks",
        client.batch_request([
            ("ask_double", json!({"x": 1})),
            ("ask_double", json!({"x": 2})),
        ]),
    )
    .await
    .unwrap();
    let values: Vec<Value> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, [json!(2), json!(4)]);
}

#[tokio::test]
async fn specification_edge_cases() {
    let addr = batch_server().await;
    let mut raw = RawPeer::connect(addr, "").await;

    let empty = raw.exchange("[]").await;
    assert_eq!(empty["error"]["code"], -32600);
    assert_eq!(empty["id"], Value::Null);

    let one = raw.exchange("[1]").await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["error"]["code"], -32600);
    assert_eq!(one[0]["id"], Value::Null);

    let three = raw.exchange("[1,2,3]").await;
    assert_eq!(three.as_array().unwrap().len(), 3);
    assert!(
        three
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["error"]["code"] == -32600)
    );

    let mixed = raw
        .exchange(
            r#"[{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"id":"1"},
                {"jsonrpc":"2.0","method":"note","params":[7]},
                {"jsonrpc":"2.0","method":"nope","id":"5"},
                {"foo":"boo"},
                {"jsonrpc":"2.0","method":"add","params":{"a":4,"b":5},"id":"9"}]"#,
        )
        .await;
    let mixed = mixed.as_array().unwrap();
    assert_eq!(mixed.len(), 4, "the notification gets no entry: {mixed:?}");
    assert_eq!(
        mixed[0],
        json!({"jsonrpc":"2.0","id":"1","result":{"sum":3}})
    );
    assert_eq!(mixed[1]["error"]["code"], -32601);
    assert_eq!(mixed[1]["id"], "5");
    assert_eq!(mixed[2]["error"]["code"], -32600);
    assert_eq!(mixed[3]["result"], json!({"sum": 9}));

    // A batch of notifications only gets no reply: the next frame answers the next request.
    raw.send_text(r#"[{"jsonrpc":"2.0","method":"note"},{"jsonrpc":"2.0","method":"note"}]"#)
        .await;
    let next = raw
        .exchange(r#"{"jsonrpc":"2.0","id":42,"method":"add","params":{"a":0,"b":0}}"#)
        .await;
    assert_eq!(next["id"], 42);

    // A ping inside a batch is answered too.
    raw.send_text(r#"[{"jsonrpc":"2.0","method":"ping"}]"#)
        .await;
    assert_eq!(
        raw.next_json().await,
        json!({"jsonrpc":"2.0","method":"pong"})
    );
}

//! Requests and their results and errors, both directions, concurrency and timeouts.

use std::time::Duration;

use echorpc::{Connection, Error, ErrorCode};
use echorpc_tests::*;
use serde_json::{Value, json};

async fn calc_server() -> (echorpc::Server, std::net::SocketAddr) {
    let server = local_server().build();
    register_add(&server);
    server
        .register("fail", |p: Value, _| async move {
            Err::<Value, _>(Error::new(4001, "out of stock").with_data(p))
        })
        .unwrap();
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
    start(server).await
}

#[tokio::test]
async fn request_returns_the_result() {
    let (_server, addr) = calc_server().await;
    let client = connected(client_for(addr)).await;
    let sum = client
        .request("add", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(sum, json!({"sum": 3}));
    let typed: Value = client
        .call("add", &AddParams { a: 20, b: 22 })
        .await
        .unwrap();
    assert_eq!(typed["sum"], 42);
}

#[tokio::test]
async fn handler_errors_reach_the_caller_unchanged() {
    let (_server, addr) = calc_server().await;
    let client = connected(client_for(addr)).await;
    let err = client
        .request("fail", json!({"sku": "A-1"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::from(4001)));
    assert_eq!(err.message(), "out of stock");
    assert_eq!(err.data(), Some(&json!({"sku": "A-1"})));
}

#[tokio::test]
async fn unknown_method_and_invalid_params() {
    let (_server, addr) = calc_server().await;
    let client = connected(client_for(addr)).await;
    let err = client.request("nope", json!({})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    assert!(err.message().contains("nope"), "{err}");
    let err = client
        .request("add", json!({"a": "x", "b": 2}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS));
    assert!(err.message().contains("invalid type"), "{err}");
    let err = client.request("add", json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS));
    assert!(err.message().contains("missing field `b`"), "{err}");
}

#[tokio::test]
async fn slow_calls_do_not_hold_up_fast_ones() {
    let (_server, addr) = calc_server().await;
    let client = connected(client_for(addr)).await;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for ms in [400u64, 0, 200] {
        let client = client.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let result = client.request("sleep", ms).await.unwrap();
            done.send(result).unwrap();
        });
    }
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(within("a sleep", done_rx.recv()).await.unwrap());
    }
    assert_eq!(order, [json!(0), json!(200), json!(400)]);
}

#[tokio::test]
async fn request_timeout_is_32002_and_late_answers_are_dropped() {
    let (_server, addr) = calc_server().await;
    let client = connected(client_for(addr).request_timeout(Duration::from_millis(150))).await;
    let err = client.request("sleep", 1000).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TIMEOUT));
    let err = client
        .request_with_timeout("sleep", 1000, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TIMEOUT));
    // The connection is still good, and the late answers went nowhere.
    let ok = client
        .request_with_timeout("sleep", 10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(ok, json!(10));
}

#[tokio::test]
async fn server_calls_the_client_back_inside_a_handler() {
    let (_server, addr) = calc_server().await;
    let client = client_for(addr).build();
    client
        .register("double", |p: Value, _| async move {
            Ok::<_, Error>(json!(p["x"].as_i64().unwrap() * 2))
        })
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let doubled = client
        .request("ask_double", json!({"x": 21}))
        .await
        .unwrap();
    assert_eq!(doubled, json!(42));
    // A client command the server calls without a handler on the client: -32601 comes back.
    client.unregister("double");
    let err = client
        .request("ask_double", json!({"x": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
}

#[tokio::test]
async fn pending_calls_fail_with_32001_when_the_connection_drops() {
    let (server, addr) = calc_server().await;
    let client = connected(client_for(addr).no_reconnect()).await;
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.request("sleep", 10_000).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.stop().await;
    let err = within("the failed call", slow).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED));
    assert!(started.elapsed() < Duration::from_secs(3));
    let err = client
        .request("add", json!({"a": 1, "b": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_on_the_multi_threaded_runtime() {
    let (_server, addr) = calc_server().await;
    let client = connected(client_for(addr)).await;
    let calls = (0..500).map(|i| {
        let client = client.clone();
        async move { client.request("add", json!({"a": i, "b": 1})).await }
    });
    let results = within("500 calls", futures::future::join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap()["sum"], i as i64 + 1);
    }
}

#[tokio::test]
async fn ids_are_echoed_exactly_as_received() {
    let (_server, addr) = calc_server().await;
    let mut raw = RawPeer::connect(addr, "").await;
    for id in [r#""ab12cd34""#, "7", "-3", "1.5", r#""""#, "null"] {
        let reply = raw
            .exchange(&format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"add","params":{{"a":1,"b":2}}}}"#
            ))
            .await;
        assert_eq!(reply["id"].to_string(), id, "{reply}");
        assert_eq!(reply["result"], json!({"sum": 3}));
    }
}

#[tokio::test]
async fn reserved_names_are_refused() {
    let server = local_server().build();
    let err = server
        .register("ping", |_: Value, _| async { Ok::<_, Error>(()) })
        .unwrap_err();
    assert!(err.message().contains("reserved"), "{err}");
    assert!(server.subscribe("pong", |_: Value, _| async {}).is_err());
    let client = client_for("127.0.0.1:1".parse().unwrap()).build();
    assert!(client.subscribe("ping", |_: Value, _| async {}).is_err());
}

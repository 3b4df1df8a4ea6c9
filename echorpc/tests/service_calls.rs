//! Typed calls over real sockets: named, whole and positional params, results and errors,
//! wire names, and the typed API against the untyped one in both directions.

mod service_support;

use echorpc::{Error, ErrorCode, ErrorObject};
use serde_json::{Value, json};
use service_support::*;

#[tokio::test]
async fn typed_client_calls_typed_server() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;
    let calc = CalcClient::new(&client);

    assert_eq!(within("add", calc.add(1, 2)).await.unwrap(), Sum { sum: 3 });
    assert_eq!(
        within("time", calc.time()).await.unwrap(),
        Time {
            unix: 1_700_000_000
        }
    );
    assert_eq!(within("divide", calc.divide(7, 2)).await.unwrap(), 3);
    let value = json!({ "nested": [1, "two", null], "ok": true });
    assert_eq!(
        within("echo", calc.echo(value.clone())).await.unwrap(),
        value
    );
    assert_eq!(
        within("echo null", calc.echo(Value::Null)).await.unwrap(),
        Value::Null
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn handler_errors_reach_the_caller_unchanged() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;
    let calc = CalcClient::new(client.clone());

    // `Result<T, echorpc::Error>`: code, message and data as the handler made them.
    let err = within(
        "fail",
        calc.fail(-32099, "custom".into(), Some(json!({ "k": [1] }))),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::from(-32099)));
    assert_eq!(err.message(), "custom");
    assert_eq!(err.data(), Some(&json!({ "k": [1] })));
    let err = within("fail", calc.fail(7, "no data".into(), None))
        .await
        .unwrap_err();
    assert_eq!(err.as_rpc(), Some(&ErrorObject::new(7, "no data")));

    // A user error type through `impl From<MathError> for echorpc::Error`.
    let err = within("divide", calc.divide(5, 0)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::from(4001)));
    assert_eq!(err.message(), "divide by zero");
    assert_eq!(err.data(), Some(&json!({ "dividend": 5 })));

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn a_panicking_typed_handler_answers_internal_error_and_the_connection_stays_up() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;
    let calc = CalcClient::new(&client);

    let err = within("boom", calc.boom(true)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INTERNAL_ERROR));
    assert!(client.is_connected());
    assert_eq!(within("boom(false)", calc.boom(false)).await.unwrap(), 0);
    assert_eq!(
        within("add after panic", calc.add(2, 2)).await.unwrap(),
        Sum { sum: 4 }
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn untyped_requests_reach_typed_handlers_by_the_documented_wire_mapping() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;
    let request = |method: &'static str, params: Value| {
        let client = client.clone();
        async move { within(method, client.request(method, params)).await }
    };

    // Named params, as the TypeScript and Python packages send them.
    assert_eq!(
        request("add", json!({ "a": 1, "b": 2 })).await.unwrap(),
        json!({ "sum": 3 })
    );
    // Unknown fields are ignored.
    assert_eq!(
        request("add", json!({ "a": 1, "b": 2, "c": 9 }))
            .await
            .unwrap(),
        json!({ "sum": 3 })
    );
    // Positional params, as other JSON-RPC peers send them.
    assert_eq!(
        request("add", json!([1, 2])).await.unwrap(),
        json!({ "sum": 3 })
    );
    // A method without arguments takes absent, null, {} or [] params.
    for params in [Value::Null, json!({}), json!([])] {
        assert_eq!(
            request("server.time", params).await.unwrap(),
            json!({ "unix": 1_700_000_000 })
        );
    }
    // `params = "whole"`: the value itself.
    assert_eq!(
        request("echo", json!([1, 2, 3])).await.unwrap(),
        json!([1, 2, 3])
    );
    // Optional arguments may be left out of named params.
    assert_eq!(
        request("fail", json!({ "code": 9, "message": "m" }))
            .await
            .unwrap_err()
            .data(),
        None
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn params_that_do_not_fit_answer_invalid_params_naming_the_problem() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;
    let invalid = |params: Value| {
        let client = client.clone();
        async move {
            let err = within("add", client.request("add", params))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS), "{err}");
            err.message().into_owned()
        }
    };

    let message = invalid(json!({ "a": 1 })).await;
    assert!(message.contains("missing field `b`"), "{message}");
    let message = invalid(json!({ "a": "one", "b": 2 })).await;
    assert!(
        message.contains("invalid type: string \"one\", expected i64"),
        "{message}"
    );
    let message = invalid(json!([1])).await;
    assert!(message.contains("invalid length 1"), "{message}");
    assert!(message.contains("params of `add`"), "{message}");
    let message = invalid(json!("text")).await;
    assert!(
        message.contains("params of `add`: an object {a, b} or an array [a, b]"),
        "{message}"
    );
    let message = invalid(Value::Null).await;
    assert!(message.contains("missing field `a`"), "{message}");

    // Too many positional params for a method without arguments.
    let err = within("time", client.request("server.time", json!([1])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS));

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn unknown_methods_answer_method_not_found() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;

    let err = within("nope", client.request("nope", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    // The wire name is the override, not the Rust name.
    let err = within("time", client.request("time", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    // A typed stub of a service the server does not offer.
    let err = within("spaced", SpacedClient::new(&client).add(1, 2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    assert!(err.message().contains("calc.add"), "{err}");

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

struct SpacedImpl;

impl Spaced for SpacedImpl {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    async fn subtract(&self, a: i64, b: i64) -> i64 {
        a - b
    }
}

#[tokio::test]
async fn namespace_and_name_override_set_the_wire_names() {
    let server = local_server().build();
    server.mount(SpacedServer::new(SpacedImpl)).unwrap();
    let addr = start(&server).await;
    let client = client_for(addr).build();
    connect(&client).await;

    let spaced = SpacedClient::new(&client);
    assert_eq!(within("add", spaced.add(5, 3)).await.unwrap(), 8);
    assert_eq!(within("subtract", spaced.subtract(5, 3)).await.unwrap(), 2);
    let raw = |method: &'static str| {
        let client = client.clone();
        async move { within(method, client.request(method, json!({ "a": 5, "b": 3 }))).await }
    };
    assert_eq!(raw("calc.add").await.unwrap(), json!(8));
    assert_eq!(raw("calc.minus").await.unwrap(), json!(2));
    for missing in ["add", "calc.subtract", "minus"] {
        assert_eq!(
            raw(missing).await.unwrap_err().code(),
            Some(ErrorCode::METHOD_NOT_FOUND)
        );
    }

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test]
async fn typed_stub_calls_untyped_handlers_and_both_kinds_mount_side_by_side() {
    let server = local_server().build();
    // Untyped handlers that read the params the way a TypeScript server would.
    server
        .register("double", |p: Value, _conn| async move {
            match p["x"].as_i64() {
                Some(x) => Ok(json!(x * 2)),
                None => Err(Error::invalid_params(format!(
                    "expected {{\"x\": n}}, got {p}"
                ))),
            }
        })
        .unwrap();
    server
        .register("plain", |_: Value, _conn| async move {
            Ok::<_, Error>("untyped")
        })
        .unwrap();
    server.mount(SpacedServer::new(SpacedImpl)).unwrap();
    let addr = start(&server).await;
    let client = client_for(addr).build();
    connect(&client).await;

    // `CallbacksClient::double(21)` sends `{"x":21}`.
    assert_eq!(
        within("double", CallbacksClient::new(&client).double(21))
            .await
            .unwrap(),
        42
    );
    // Typed and untyped handlers answer on the same server.
    assert_eq!(
        within("plain", client.request("plain", Value::Null))
            .await
            .unwrap(),
        json!("untyped")
    );
    assert_eq!(
        within("add", SpacedClient::new(&client).add(1, 1))
            .await
            .unwrap(),
        2
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_futures_are_send_and_run_concurrently_on_the_multi_threaded_runtime() {
    let (server, addr, _seen) = calc_server(local_server()).await;
    let client = client_for(addr).build();
    connect(&client).await;

    // Stub futures are `Send`: each call runs in its own spawned task.
    let mut tasks = Vec::new();
    for i in 0..16_i64 {
        let calc = CalcClient::new(client.clone());
        tasks.push(tokio::spawn(
            async move { calc.slow_add(i, 100, 100).await },
        ));
    }
    let started = std::time::Instant::now();
    for (i, task) in (0..).zip(tasks) {
        assert_eq!(within("slow_add", task).await.unwrap().unwrap(), i + 100);
    }
    // Sixteen 100 ms handlers ran concurrently, not one after another (1.6 s).
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );

    within("disconnect", client.disconnect()).await;
    within("stop", server.stop()).await;
}

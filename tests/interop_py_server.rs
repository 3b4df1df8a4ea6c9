//! Our `Client` against the reference Python `EchoServer` (PyPI `echorpc` 1.0.0, driven by
//! `interop/py_server.py` and its stdin control channel), with the contract of
//! `interop/CONTRACT.md`.
//!
//! Our side is typed where the issue asks for it: calls go through the generated
//! `ContractClient` stub and the Python server calls back into our `Callbacks` service (both
//! from `echorpc_tests::interop`); untyped `request`/`register`/`subscribe` paths stay where
//! a typed stub cannot say it (bad params, batches, raw replies) and in a few places on purpose.
//!
//! Needs the venv of `interop/setup_venv.sh` (provisioned on first use). Without it the tests
//! print `interop tests NOT RUN` and pass, unless `CI=true`, where they fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use echorpc::{Backoff, Client, ClientBuilder, Connection, Error, ErrorCode, ErrorObject};
use echorpc_tests::interop::*;
use echorpc_tests::{STEP, within};
use serde::Deserialize;
use serde_json::{Value, json};

/// A client of `server` with the contract's token, fast reconnects and a 5 s request timeout.
fn client_of(server: &PyServer, client_id: &str) -> ClientBuilder {
    Client::builder(server.url())
        .token(TOKEN)
        .client_id(client_id)
        .request_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .reconnect(Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(500),
        ))
}

async fn connect(builder: ClientBuilder) -> Client {
    let client = builder.build();
    within("connect", client.connect())
        .await
        .expect("connects to py_server");
    client
}

#[derive(Debug, Deserialize)]
struct X {
    x: i64,
}

/// Mounts the typed `Callbacks` service (the contract's client-side `double`); the returned
/// handle counts its calls.
fn mount_doubler(client: &Client) -> Arc<Doubler> {
    let doubler = Arc::new(Doubler::default());
    client
        .mount(CallbacksServer::from_arc(Arc::clone(&doubler)))
        .unwrap();
    doubler
}

fn calls_of(doubler: &Doubler) -> usize {
    doubler.calls.load(Ordering::SeqCst)
}

/// Events a client subscribes to, as a typed service mounted on the client.
#[echorpc::service]
trait Inbox {
    #[echorpc(event)]
    async fn chat(&self, data: Value);
    #[echorpc(event)]
    async fn news(&self, data: Value);
    #[echorpc(event)]
    async fn sentinel(&self, data: Value);
}

/// Records every event as `{"event":E,"data":X}`.
struct Recorder(Log);

impl Inbox for Recorder {
    async fn chat(&self, data: Value) {
        self.0.push(json!({"event": "chat", "data": data}));
    }
    async fn news(&self, data: Value) {
        self.0.push(json!({"event": "news", "data": data}));
    }
    async fn sentinel(&self, data: Value) {
        self.0.push(json!({"event": "sentinel", "data": data}));
    }
}

/// Registers the contract's client-side `double` with the untyped API, counting its calls.
fn register_double(client: &Client) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    client
        .register("double", move |p: X, _: Connection| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Error>(p.x * 2) }
        })
        .unwrap();
    calls
}

/// Collects the data of one event into a log, as `{"event":E,"data":X}` lines.
fn collect(client: &Client, event: &'static str, log: &Log) {
    let log = log.clone();
    client
        .subscribe(event, move |data: Value, _| {
            log.push(json!({"event": event, "data": data}));
            async {}
        })
        .unwrap();
}

fn data_of(log: &Log, event: &str) -> Vec<Value> {
    log.all(|l| l["event"] == event)
        .into_iter()
        .map(|l| l["data"].clone())
        .collect()
}

#[tokio::test]
async fn auth_accepted_with_metadata() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    // A client id with a space and an `&`: our encoding must decode to the same string there.
    let client = connect(client_of(&ps, "rs one&two").role("ops")).await;
    let connect = ps.event("connect", |_| true).await;
    assert_eq!(connect["meta"], expected_meta("ops", "rs one&two"));
    let auth = ps.event("auth", |_| true).await;
    assert_eq!(
        auth["params"],
        json!({"token": TOKEN, "role": "ops", "client_id": "rs one&two"})
    );
    assert_eq!(
        ContractClient::new(&client).whoami().await.unwrap(),
        WhoAmI {
            role: "ops".into(),
            client_id: "rs one&two".into(),
            tier: Some("gold".into()),
        }
    );
    client.disconnect().await;
    let gone = ps.event("disconnect", |_| true).await;
    assert_eq!(gone["conn"], 1);
}

#[tokio::test]
async fn auth_rejected_connect_fails_32003_without_redial() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    for (builder, token) in [
        (client_of(&ps, "rs-bad").token("wrong"), "wrong"),
        (client_of(&ps, "rs-none").token(""), ""),
    ] {
        let client = builder.build();
        let started = Instant::now();
        let err = within("a rejected connect", client.connect())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::AUTH_FAILED), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "401 is not retried"
        );
        assert!(!client.is_connected());
        let auth = ps.event("auth", |l| l["params"]["token"] == token).await;
        assert_eq!(auth["accepted"], false);
    }
    // Reconnecting was on: still exactly one dial each.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ps.events("auth").len(), 2, "{}", ps.log.describe());
    assert!(ps.events("connect").is_empty());
}

/// A refusal other than 401 (here HTTP 503) is retried until the connect timeout, then
/// `-32001`; once the server accepts again, a new `connect` succeeds.
#[tokio::test]
async fn refused_upgrade_is_retried_then_32001() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &["--http-status", "503"]).await;
    let client = client_of(&ps, "rs")
        .connect_timeout(Duration::from_millis(800))
        .build();
    let err = within("a refused connect", client.connect())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err}");
    assert!(
        ps.events("upgrade").len() >= 2,
        "retried: {}",
        ps.log.describe()
    );
    assert!(ps.events("auth").is_empty());
    ps.command(json!({"cmd": "http_status", "status": null}))
        .await;
    within("connect", client.connect()).await.unwrap();
    assert_eq!(
        ContractClient::new(&client).add(2, 2).await.unwrap(),
        Sum { sum: 4 }
    );
    client.disconnect().await;
}

#[tokio::test]
async fn calls_results_and_errors() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    let client = connect(client_of(&ps, "rs")).await;
    let contract = ContractClient::new(&client);
    // Typed stubs.
    assert_eq!(contract.add(1, 2).await.unwrap(), Sum { sum: 3 });
    assert_eq!(contract.double(21).await.unwrap(), 42);
    let err = contract
        .fail(
            -32050,
            "custom failure".into(),
            Some(json!({"why": "because", "n": [1, 2]})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::from(-32050)));
    assert_eq!(err.message(), "custom failure");
    assert_eq!(err.data(), Some(&json!({"why": "because", "n": [1, 2]})));
    let err = contract.fail(4000, "plain".into(), None).await.unwrap_err();
    assert_eq!(err.as_rpc(), Some(&ErrorObject::new(4000, "plain")));
    let err = contract.boom().await.unwrap_err();
    assert_eq!(
        err.as_rpc(),
        Some(&ErrorObject::new(ErrorCode::INTERNAL_ERROR, "boom"))
    );
    assert_eq!(
        contract.whoami().await.unwrap(),
        WhoAmI {
            role: "web".into(),
            client_id: "rs".into(),
            tier: Some("gold".into()),
        }
    );
    assert_eq!(contract.sleep(10).await.unwrap(), "slept");

    // Untyped: what a typed stub cannot send.
    assert_eq!(
        client
            .request("add", json!({"a": 1, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 3})
    );
    let err = client
        .request("no_such_method", json!({"a": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    // The reference's handlers are untyped: bad params fail inside them, -32603 (not -32602).
    for params in [json!({"a": "x", "b": 2}), json!({"a": 1}), Value::Null] {
        let err = client.request("add", &params).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::INTERNAL_ERROR),
            "{params}: {err}"
        );
    }

    // What the server received: named params as an object, left out when there are none.
    let requests = ps.events("request");
    assert_eq!(requests[0]["params"], json!({"a": 1, "b": 2}));
    let boom = requests
        .iter()
        .find(|r| r["method"] == "boom")
        .expect("boom seen");
    assert_eq!(boom["params"], Value::Null);
    client.disconnect().await;
}

#[tokio::test]
async fn batches_keep_call_order_and_per_slot_errors() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    let client = connect(client_of(&ps, "rs")).await;
    let results = client
        .batch_request([
            ("add", json!({"a": 1, "b": 2})),
            (
                "fail",
                json!({"code": -32050, "message": "custom failure", "data": {"k": 1}}),
            ),
            ("no_such_method", json!({})),
            ("double", json!({"x": 5})),
            ("add", json!({"a": "x", "b": 2})),
            ("add", json!({"a": 10, "b": 20})),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0].as_ref().unwrap(), &json!({"sum": 3}));
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(
        err.as_rpc(),
        Some(&ErrorObject::new(-32050, "custom failure").with_data(json!({"k": 1})))
    );
    assert_eq!(
        results[2].as_ref().unwrap_err().code(),
        Some(ErrorCode::METHOD_NOT_FOUND)
    );
    assert_eq!(results[3].as_ref().unwrap(), &json!(10));
    assert_eq!(
        results[4].as_ref().unwrap_err().code(),
        Some(ErrorCode::INTERNAL_ERROR)
    );
    assert_eq!(results[5].as_ref().unwrap(), &json!({"sum": 30}));
    // A slow first call stays first.
    let results = client
        .batch_request([
            ("sleep", json!({"ms": 200})),
            ("add", json!({"a": 1, "b": 1})),
        ])
        .await
        .unwrap();
    let results: Vec<Value> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results, [json!("slept"), json!({"sum": 2})]);
    client.disconnect().await;
}

#[tokio::test]
async fn events_both_ways_and_broadcast_targets() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    let seen_a = Log::default();
    let seen_b = Log::default();
    // a takes its events through a typed service, b through `subscribe` closures.
    let a = client_of(&ps, "rs-a").role("web").build();
    a.mount(InboxServer::new(Recorder(seen_a.clone()))).unwrap();
    let b = client_of(&ps, "rs-b").role("bot").build();
    for event in ["chat", "news", "sentinel"] {
        collect(&b, event, &seen_b);
    }
    for client in [&a, &b] {
        within("connect", client.connect()).await.unwrap();
    }
    let contract_a = ContractClient::new(&a);
    ps.event("connect", |l| l["meta"]["client_id"] == "rs-b")
        .await;

    // The typed stub of an event publishes it.
    contract_a
        .chat(json!({"text": "hello from a"}))
        .await
        .unwrap();
    // The reference rebroadcasts it to everyone but a.
    let chat = ps.event("chat", |_| true).await;
    assert_eq!(chat["client_id"], "rs-a");
    assert_eq!(chat["data"], json!({"text": "hello from a"}));
    assert_eq!(chat["meta"], expected_meta("web", "rs-a"));
    contract_a
        .announce("to all".into(), None, None)
        .await
        .unwrap();
    contract_a
        .announce("to bots".into(), Some("bot".into()), None)
        .await
        .unwrap();
    contract_a
        .announce("not to a".into(), None, Some(true))
        .await
        .unwrap();
    contract_a
        .emit("news".into(), Some(json!({"n": 1})))
        .await
        .unwrap();
    // Server-initiated, through the control channel.
    let reply = ps
        .command(json!({"cmd": "broadcast", "event": "news", "data": {"n": 2}, "role": "bot"}))
        .await;
    assert_eq!(reply["targets"], 1, "{reply}");
    let reply = ps
        .command(
            json!({"cmd": "broadcast", "event": "news", "data": {"n": 3},
                        "except_client_id": "rs-b"}),
        )
        .await;
    assert_eq!(reply["targets"], 1, "{reply}");
    ps.command(json!({"cmd": "publish", "event": "news", "data": {"n": 4}, "client_id": "rs-b"}))
        .await;
    for (client, log, label) in [(&a, &seen_a, "a"), (&b, &seen_b, "b")] {
        client
            .request("emit", json!({"event": "sentinel", "data": label}))
            .await
            .unwrap();
        log.wait_for("sentinel", STEP, |l| l["event"] == "sentinel")
            .await;
    }
    assert_eq!(data_of(&seen_a, "chat"), [json!({"text": "to all"})]);
    assert_eq!(data_of(&seen_a, "news"), [json!({"n": 1}), json!({"n": 3})]);
    // The reference runs a's chat subscriber inside its read loop, before reading the
    // announce requests: its order is strict.
    assert_eq!(
        data_of(&seen_b, "chat"),
        [
            json!({"text": "hello from a"}),
            json!({"text": "to all"}),
            json!({"text": "to bots"}),
            json!({"text": "not to a"}),
        ]
    );
    assert_eq!(data_of(&seen_b, "news"), [json!({"n": 2}), json!({"n": 4})]);
    assert_eq!(ps.events("chat").len(), 1);
    a.disconnect().await;
    b.disconnect().await;
}

#[tokio::test]
async fn python_server_calls_our_client_while_our_call_is_pending() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    let client = client_of(&ps, "rs").build();
    let doubler = mount_doubler(&client);
    client
        .register("echo", |p: Value, _| async move { Ok::<_, Error>(p) })
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let contract = ContractClient::new(&client);

    // Our ask_double is pending while the Python server calls our typed `Callbacks::double`.
    assert_eq!(contract.ask_double(21).await.unwrap(), 42);
    let callback = ps.event("callback", |_| true).await;
    assert_eq!(callback["ok"], true, "{callback}");
    assert_eq!(callback["result"], 42);
    let concurrent = futures::future::join_all((1..=3).map(|x| contract.ask_double(x))).await;
    let concurrent: Vec<i64> = concurrent.into_iter().map(Result::unwrap).collect();
    assert_eq!(concurrent, [2, 4, 6]);
    assert_eq!(calls_of(&doubler), 4);

    // The Python server calls our commands on its own: single and batched (in call order).
    let reply = ps
        .command(json!({"cmd": "call", "client_id": "rs", "method": "double", "params": {"x": 4}}))
        .await;
    assert_eq!(reply["result"], 8, "{reply}");
    let reply = ps
        .command(json!({"cmd": "call", "client_id": "rs", "method": "nope", "params": null}))
        .await;
    assert_eq!(code_of(&reply), Some(-32601), "{reply}");
    let reply = ps
        .command(json!({"cmd": "batch", "client_id": "rs",
                        "calls": [["double", {"x": 1}], ["echo", [1, 2]], ["nope", {}],
                                  ["double", {"x": 2}]]}))
        .await;
    let slots = reply["slots"].as_array().expect("slots");
    assert_eq!(slots[0], json!({"ok": true, "result": 2}), "{reply}");
    assert_eq!(slots[1], json!({"ok": true, "result": [1, 2]}));
    assert_eq!(code_of(&slots[2]), Some(-32601));
    assert_eq!(slots[3], json!({"ok": true, "result": 4}));

    // A client without `double`: our -32601 travels back through the Python server unchanged.
    let bare = connect(client_of(&ps, "rs-bare")).await;
    let err = ContractClient::new(&bare).ask_double(1).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND), "{err}");
    bare.disconnect().await;
    client.disconnect().await;
}

/// The reference server's batch deadlock (CONTRACT.md 6.c), seen from our client: batch items
/// that call back into us wait for the server's request timeout although our `double` answered
/// at once; the plain item succeeds and the connection survives. Against our own server the
/// same batch is answered promptly (`interop_py_client`,
/// `batch_items_calling_back_into_the_python_client_work_against_our_server`).
#[tokio::test]
async fn reference_server_deadlocks_on_batches_that_call_back() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &["--request-timeout-ms", "800"]).await;
    let client = client_of(&ps, "rs").build();
    let calls = register_double(&client);
    within("connect", client.connect()).await.unwrap();
    let started = Instant::now();
    let results = client
        .batch_request([
            ("ask_double", json!({"x": 1})),
            ("ask_double", json!({"x": 2})),
            ("add", json!({"a": 1, "b": 2})),
        ])
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        results[0].as_ref().unwrap_err().code(),
        Some(ErrorCode::TIMEOUT),
        "{results:?}"
    );
    assert_eq!(
        results[1].as_ref().unwrap_err().code(),
        Some(ErrorCode::TIMEOUT)
    );
    assert_eq!(results[2].as_ref().unwrap(), &json!({"sum": 3}));
    assert!(took >= Duration::from_millis(700), "{took:?}");
    // Our double was called and answered; the server just never read the answers in time.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let callbacks = ps
        .log
        .wait_count("callbacks", 2, STEP, |l| l["event"] == "callback")
        .await;
    assert!(callbacks.iter().all(|c| c["ok"] == false), "{callbacks:?}");
    assert_eq!(
        client
            .request("add", json!({"a": 2, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 4})
    );
    client.disconnect().await;
}

#[tokio::test]
async fn heartbeat_both_directions() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &["--ping-ms", "200", "--pong-timeout-ms", "300"]).await;
    let drops = Arc::new(AtomicUsize::new(0));
    let client = client_of(&ps, "rs")
        .ping_interval(Duration::from_millis(200))
        .pong_timeout(Duration::from_millis(300))
        .build();
    let counter = Arc::clone(&drops);
    client.on_disconnect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    within("connect", client.connect()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Neither side closed: each answered the other's pings within 300 ms.
    assert!(client.is_connected());
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    let reply = ps.command(json!({"cmd": "connections"})).await;
    let conns = reply["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1, "{reply}");
    // Counted by the Python server: our pings, and our pongs to its pings.
    assert!(conns[0]["pings"].as_u64().unwrap() >= 4, "{reply}");
    assert!(conns[0]["pongs"].as_u64().unwrap() >= 4, "{reply}");
    assert!(ps.events("disconnect").is_empty());
    assert_eq!(
        client
            .request("add", json!({"a": 1, "b": 2}))
            .await
            .unwrap(),
        json!({"sum": 3})
    );
    client.disconnect().await;
}

#[tokio::test]
async fn our_client_drops_a_python_server_that_stops_answering_pings() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    let client = client_of(&ps, "rs")
        .ping_interval(Duration::from_millis(200))
        .pong_timeout(Duration::from_millis(200))
        .no_reconnect()
        .build();
    within("connect", client.connect()).await.unwrap();
    ps.command(json!({"cmd": "mute_pongs", "on": true})).await;
    let started = Instant::now();
    within("the pong timeout", async {
        while client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!ps.events("ping_ignored").is_empty());
    ps.event("disconnect", |_| true).await;
}

#[tokio::test]
async fn our_client_reconnects_after_the_python_server_restarts() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &[]).await;
    let port = ps.port.to_string();
    let chats = Log::default();
    let connects = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let client = client_of(&ps, "rs").build();
    let doubler = mount_doubler(&client);
    collect(&client, "chat", &chats);
    let counter = Arc::clone(&connects);
    client.on_connect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    let counter = Arc::clone(&drops);
    client.on_disconnect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    within("connect", client.connect()).await.unwrap();

    // A call in flight when the server dies fails at once with -32001 (not at its timeout).
    let inflight = tokio::spawn({
        let client = client.clone();
        async move { client.request("sleep", json!({"ms": 60_000})).await }
    });
    ps.event("request", |l| l["method"] == "sleep").await;
    let killed = Instant::now();
    ps.kill().await;
    let err = within("the in-flight call", inflight)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err}");
    assert!(
        killed.elapsed() < Duration::from_secs(1),
        "{:?}",
        killed.elapsed()
    );

    // Down for 300 ms (redials fail), then back on the same port.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ps = PyServer::start(py, &["--port", &port]).await;
    ps.event("connect", |l| l["meta"]["client_id"] == "rs")
        .await;
    within("the reconnect hook", async {
        while connects.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(client.is_connected());

    // Subscriptions and commands survived.
    ps.command(json!({"cmd": "broadcast", "event": "chat", "data": {"text": "after restart"}}))
        .await;
    chats
        .wait_for("the chat after the restart", STEP, |l| {
            l["data"] == json!({"text": "after restart"})
        })
        .await;
    let reply = ps
        .command(json!({"cmd": "call", "client_id": "rs", "method": "double", "params": {"x": 5}}))
        .await;
    assert_eq!(reply["result"], 10, "{reply}");
    assert_eq!(
        ContractClient::new(&client).ask_double(6).await.unwrap(),
        12
    );
    assert_eq!(calls_of(&doubler), 2);

    // A graceful stop (close 1000) is unexpected for the client too: it reconnects again.
    assert_eq!(ps.stop().await, Some(0));
    let ps = PyServer::start(py, &["--port", &port]).await;
    ps.event("connect", |l| l["meta"]["client_id"] == "rs")
        .await;
    within("the second reconnect", async {
        while connects.load(Ordering::SeqCst) < 3 || !client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(
        client.request("ask_double", json!({"x": 7})).await.unwrap(),
        json!(14)
    );
    client.disconnect().await;
    // An intentional disconnect: no redial.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ps.events("connect").len(), 1);
}

/// What our client answers to hand-made frames, seen raw by the Python server (dispatch off,
/// frames logged): spec answers where the reference is looser, and never an answer to a
/// response, which would loop forever with a reference peer (CONTRACT.md 6.h).
#[tokio::test]
async fn our_client_answers_raw_frames_safely_for_reference_peers() {
    let Some(py) = python() else { return };
    let ps = PyServer::start(py, &["--log-frames"]).await;
    let client = client_of(&ps, "rs").build();
    register_double(&client);
    within("connect", client.connect()).await.unwrap();
    ps.command(json!({"cmd": "dispatch", "on": false})).await;

    let mut seen = 0;
    let mut probe = async |text: &str| -> Vec<Value> {
        ps.command(json!({"cmd": "raw", "client_id": "rs", "text": text}))
            .await;
        // A request after it: its answer marks the end of whatever `text` produced.
        let marker = format!("m{seen}");
        ps.command(json!({"cmd": "raw", "client_id": "rs", "text": json!(
            {"jsonrpc": "2.0", "id": marker, "method": "double", "params": {"x": 1}}
        ).to_string()}))
            .await;
        ps.event("frame_in", |l| {
            l["text"].as_str().is_some_and(|t| t.contains(&marker))
        })
        .await;
        let frames: Vec<Value> = ps
            .events("frame_in")
            .iter()
            .skip(seen)
            .map(|l| serde_json::from_str(l["text"].as_str().unwrap()).unwrap())
            .collect();
        seen += frames.len();
        let (last, before) = frames.split_last().expect("the marker's answer");
        assert_eq!(last["result"], 2, "{last}");
        before.to_vec()
    };

    let reply = probe("not json").await;
    assert_eq!(reply.len(), 1, "{reply:?}");
    assert_eq!(reply[0]["error"]["code"], -32700);
    assert_eq!(reply[0]["id"], Value::Null);
    let reply = probe("[]").await;
    assert_eq!(reply[0]["error"]["code"], -32600, "{reply:?}");
    assert!(reply[0].is_object(), "an empty batch gets a single object");
    let reply = probe("[1]").await;
    assert_eq!(reply.len(), 1);
    assert_eq!(reply[0][0]["error"]["code"], -32600, "{reply:?}");
    assert_eq!(reply[0][0]["id"], Value::Null);
    // Responses, single or in arrays, known id or not: never answered.
    for text in [
        r#"{"jsonrpc":"2.0","id":"zz","result":1}"#,
        r#"[{"jsonrpc":"2.0","id":"zz","result":1}]"#,
        r#"[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}]"#,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
    ] {
        assert_eq!(probe(text).await, Vec::<Value>::new(), "{text}");
    }
    // A batch of notifications only: no reply. A ping in a batch: a pong (here a frame of
    // its own, which the reference accepts as well as one inside an array).
    assert!(
        probe(r#"[{"jsonrpc":"2.0","method":"chat","params":{}}]"#)
            .await
            .is_empty()
    );
    let reply = probe(r#"[{"jsonrpc":"2.0","method":"ping"}]"#).await;
    let pongs = reply
        .iter()
        .flat_map(|f| f.as_array().cloned().unwrap_or_else(|| vec![f.clone()]))
        .filter(|m| m["method"] == "pong")
        .count();
    assert_eq!(pongs, 1, "{reply:?}");
    // A numeric id is echoed as a number.
    let reply = probe(r#"{"jsonrpc":"2.0","id":7,"method":"nope"}"#).await;
    assert_eq!(reply[0]["id"], 7, "{reply:?}");
    assert_eq!(reply[0]["error"]["code"], -32601);
    client.disconnect().await;
}

/// Our client dials the reference server behind TLS (`py_server.py --tls-cert/--tls-key`, the
/// chain and key generated now): it verifies the chain up to the root it was given and the
/// IP-address name, then calls, is called back, and the metadata arrives as over `ws://`.
#[tokio::test]
async fn wss_to_the_reference_server_behind_tls() {
    let Some(py) = python() else { return };
    let pki = echorpc_tests::certs::local_pki();
    let cert = pki.chain_file().display().to_string();
    let key = pki.key_file().display().to_string();
    let ps = PyServer::start(py, &["--tls-cert", &cert, "--tls-key", &key]).await;
    assert!(ps.url().starts_with("wss://127.0.0.1:"), "{}", ps.url());
    let tls = echorpc::tls::ClientTls::empty()
        .with_root_pem(pki.root_pem.as_bytes())
        .expect("generated root");
    let client = connect(client_of(&ps, "rs-tls").tls(tls)).await;
    let doubler = mount_doubler(&client);
    let contract = ContractClient::new(&client);
    assert_eq!(contract.add(40, 2).await.unwrap(), Sum { sum: 42 });
    assert_eq!(contract.ask_double(6).await.unwrap(), 12);
    assert_eq!(calls_of(&doubler), 1);
    let connect = ps.event("connect", |_| true).await;
    assert_eq!(connect["meta"], expected_meta("web", "rs-tls"));
    client.disconnect().await;
    ps.event("disconnect", |_| true).await;

    // Without the root, the handshake is refused: no connection reaches the reference.
    let untrusting = Client::builder(ps.url())
        .token(TOKEN)
        .no_reconnect()
        .connect_timeout(Duration::from_secs(5))
        .build();
    let err = within("refused connect", untrusting.connect())
        .await
        .expect_err("an unknown root is refused");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    assert_eq!(ps.events("connect").len(), 1);
}

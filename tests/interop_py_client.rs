//! The reference Python `EchoClient` (PyPI `echorpc` 1.0.0, driven by `interop/py_client.py`)
//! against our `Server` running the contract of `interop/CONTRACT.md`.
//!
//! Needs the venv of `interop/setup_venv.sh` (provisioned on first use). Without it the tests
//! print `interop tests NOT RUN` and pass, unless `CI=true`, where they fail.

use std::time::Duration;

use echorpc::ErrorCode;
use echorpc_tests::interop::*;
use serde_json::{Value, json};

/// A server pinging fast enough to be seen within a scenario.
fn fast_heartbeat(ping_ms: u64, pong_ms: u64) -> Timing {
    Timing {
        ping_interval: Duration::from_millis(ping_ms),
        pong_timeout: Duration::from_millis(pong_ms),
        ..Timing::default()
    }
}

#[tokio::test]
async fn auth_accepted_and_metadata_reach_handlers() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(Timing::default()).await;
    // A client id with a space and an `&`: the reference form-encodes it (`a+b%26c`).
    let run = PyClient::run(
        py,
        "auth_ok",
        &srv.url(),
        &["--role", "ops", "--client-id", "py one&two"],
    )
    .await;
    assert_eq!(run.step("connect")["ok"], true, "{}", run.describe());
    assert_eq!(
        run.result("whoami"),
        &json!({"role": "ops", "client_id": "py one&two", "tier": "gold"})
    );
    assert_eq!(run.step("state")["connected"], true);
    let connect = srv
        .seen
        .wait_for("connect", Duration::from_secs(2), |l| {
            l["kind"] == "connect"
        })
        .await;
    assert_eq!(connect["meta"], expected_meta("ops", "py one&two"));
    let auth = &srv.seen.all(|l| l["kind"] == "auth")[0];
    assert_eq!(auth["accepted"], true);
    assert_eq!(
        auth["path"], "/",
        "the reference dials `/` when the URL has no path"
    );
}

#[tokio::test]
async fn auth_rejected_is_32003_and_never_redialled() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(Timing::default()).await;
    let run = PyClient::run(py, "auth_bad", &srv.url(), &["--bad-token", "wrong"]).await;
    for client in ["wrong_token", "no_token"] {
        let connect = run.step_of("connect", client);
        assert_eq!(connect["error"]["code"], -32003, "{}", run.describe());
        // 0.5 s later, with auto-reconnect on: still one dial, no connection.
        let after = run.step_of("after_401", client);
        assert_eq!(after["failed_dials"], 1, "{after}");
        assert_eq!(after["connects"], 0, "{after}");
    }
    let auths = srv.seen.all(|l| l["kind"] == "auth");
    let tokens: Vec<&Value> = auths.iter().map(|a| &a["token"]).collect();
    assert_eq!(tokens, [&json!("wrong"), &json!("")]);
    assert!(auths.iter().all(|a| a["accepted"] == false));
    assert_eq!(srv.seen.count(|l| l["kind"] == "connect"), 0);
}

/// Both ways of writing the server: the typed `Contract` service and `register` closures.
const APIS: [Api; 2] = [Api::Typed, Api::Untyped];

#[tokio::test]
async fn calls_results_and_errors() {
    let Some(py) = python() else { return };
    for api in APIS {
        calls_scenario(py, api).await;
    }
}

async fn calls_scenario(py: &std::path::Path, api: Api) {
    let srv = RustServer::start_with(api, Timing::default()).await;
    let run = PyClient::run(py, "calls", &srv.url(), &[]).await;
    assert_eq!(run.result("add"), &json!({"sum": 3}));
    assert_eq!(run.result("double"), &json!(42));
    assert_eq!(run.error_code("unknown_method"), -32601);
    // Typed params: we answer -32602 where the untyped reference says -32603.
    for step in ["add_bad_type", "add_missing_field", "add_no_params"] {
        assert_eq!(run.error_code(step), -32602, "{api:?} {step}");
    }
    assert_eq!(
        run.step("fail")["error"],
        json!({"code": -32050, "message": "custom failure", "data": {"why": "because", "n": [1, 2]}})
    );
    // No data: no `data` key at all on the wire.
    assert_eq!(
        run.step("fail_no_data")["error"],
        json!({"code": 4000, "message": "plain"})
    );
    assert_eq!(
        run.step("boom")["error"],
        json!({"code": -32603, "message": "boom"})
    );
    assert_eq!(
        run.result("whoami"),
        &json!({"role": "web", "client_id": "py-client", "tier": "gold"})
    );
}

#[tokio::test]
async fn batches_keep_call_order_and_per_slot_errors() {
    let Some(py) = python() else { return };
    for api in APIS {
        batch_scenario(py, api).await;
    }
}

async fn batch_scenario(py: &std::path::Path, api: Api) {
    let srv = RustServer::start_with(api, Timing::default()).await;
    let run = PyClient::run(py, "batch", &srv.url(), &[]).await;
    let slots = run.step("batch")["slots"]
        .as_array()
        .expect("slots")
        .clone();
    assert_eq!(slots.len(), 6, "{api:?}\n{}", run.describe());
    assert_eq!(slots[0], json!({"ok": true, "result": {"sum": 3}}));
    assert_eq!(
        slots[1]["error"],
        json!({"code": -32050, "message": "custom failure", "data": {"k": 1}})
    );
    assert_eq!(code_of(&slots[2]), Some(-32601));
    assert_eq!(slots[3], json!({"ok": true, "result": 10}));
    assert_eq!(code_of(&slots[4]), Some(-32602));
    assert_eq!(slots[5], json!({"ok": true, "result": {"sum": 30}}));
    // The slow call first: still first in the results.
    assert_eq!(
        run.step("batch_order")["slots"],
        json!([{"ok": true, "result": "slept"}, {"ok": true, "result": {"sum": 2}}])
    );
    assert_eq!(
        run.step("batch_single")["slots"],
        json!([{"ok": true, "result": 2}])
    );
    assert_eq!(run.result("after_batch"), &json!({"sum": 4}));
}

#[tokio::test]
async fn events_both_ways_and_broadcast_targets() {
    let Some(py) = python() else { return };
    for api in APIS {
        events_scenario(py, api).await;
    }
}

async fn events_scenario(py: &std::path::Path, api: Api) {
    let srv = RustServer::start_with(api, Timing::default()).await;
    let run = PyClient::run(py, "events", &srv.url(), &[]).await;
    for step in [
        "publish_chat",
        "announce_all",
        "announce_role",
        "announce_except",
        "emit_news",
    ] {
        assert_eq!(
            run.step(step)["ok"],
            true,
            "{api:?} {step}\n{}",
            run.describe()
        );
    }
    assert_eq!(
        run.step_of("received", "a"),
        &json!({"step": "received", "client": "a", "chat": [{"text": "to all"}],
                "news": [{"n": 1}], "sentinel": true}),
        "{api:?}"
    );
    let b = run.step_of("received", "b");
    assert_eq!(
        (&b["news"], &b["sentinel"]),
        (&json!([]), &json!(true)),
        "{b}"
    );
    assert_chats_of_b(b["chat"].as_array().expect("chat list"));
    // The event a published reached our subscriber once, with a's metadata.
    let chats = srv.seen.all(|l| l["kind"] == "chat");
    assert_eq!(chats.len(), 1, "{chats:?}");
    assert_eq!(chats[0]["data"], json!({"text": "hello from a"}));
    assert_eq!(chats[0]["meta"], expected_meta("web", "py-a"));
}

#[tokio::test]
async fn server_calls_a_command_the_python_client_registered() {
    let Some(py) = python() else { return };
    for api in APIS {
        callback_scenario(py, api).await;
    }
}

async fn callback_scenario(py: &std::path::Path, api: Api) {
    let srv = RustServer::start_with(api, Timing::default()).await;
    let run = PyClient::run(py, "callback", &srv.url(), &[]).await;
    assert_eq!(run.result("ask_double"), &json!(42), "{api:?}");
    assert_eq!(run.step("concurrent")["results"], json!([2, 4, 6]));
    assert_eq!(run.steps("handled").len(), 4, "{}", run.describe());
    // The callee's own -32601 comes back through our handler unchanged.
    assert_eq!(run.error_code("ask_double_unregistered"), -32601);
}

/// The reference server deadlocks here (CONTRACT.md 6.c: it handles a batch inside its read
/// loop, so the callback's answer is never read). Ours keeps reading while batch items run.
#[tokio::test]
async fn batch_items_calling_back_into_the_python_client_work_against_our_server() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(Timing::default()).await;
    let run = PyClient::run(py, "batch_callback", &srv.url(), &["--timeout-ms", "3000"]).await;
    let line = run.step("batch_callback");
    assert_eq!(
        line["slots"],
        json!([{"ok": true, "result": 2}, {"ok": true, "result": 4},
               {"ok": true, "result": {"sum": 3}}]),
        "{}",
        run.describe()
    );
    assert!(line["ms"].as_u64().unwrap() < 1000, "not prompt: {line}");
    assert_eq!(run.steps("handled").len(), 2);
    assert_eq!(run.result("after"), &json!({"sum": 4}));
    assert_eq!(run.step("state")["disconnects"], 0);
}

#[tokio::test]
async fn out_of_order_completion_and_client_timeouts() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(Timing::default()).await;
    let run = PyClient::run(py, "timeouts", &srv.url(), &[]).await;
    assert_eq!(
        run.step("completion_order")["order"],
        json!(["fast", "medium", "slow"])
    );
    assert_eq!(run.result("slow"), &json!("slept"));
    assert_eq!(run.error_code("timeout"), -32002);
    // Our late answer to the timed-out call did not upset the reference client.
    assert_eq!(run.result("after_timeout"), &json!({"sum": 2}));
}

#[tokio::test]
async fn heartbeat_both_directions() {
    let Some(py) = python() else { return };
    // We ping every 200 ms; the reference client (scenario default) pings us every 200 ms and
    // closes after 200 ms without our pong.
    let srv = RustServer::start(fast_heartbeat(200, 300)).await;
    let run = PyClient::run(py, "heartbeat", &srv.url(), &["--hold-ms", "1500"]).await;
    let hb = run.step("heartbeat");
    assert_eq!(hb["connected_before"], true, "{hb}");
    assert_eq!(hb["connected_after"], true, "{hb}");
    assert_eq!(hb["disconnects"], 0, "{hb}");
    // It answered our pings (else we would have closed it: disconnects stays 0) and we
    // answered its pings (pongs_received counts our answers).
    assert!(
        hb["pings_received"].as_u64().unwrap() >= 4,
        "our pings: {hb}"
    );
    assert!(
        hb["pongs_received"].as_u64().unwrap() >= 4,
        "our pongs: {hb}"
    );
    assert_eq!(run.result("after"), &json!({"sum": 3}));
    assert_eq!(
        srv.seen.count(|l| l["kind"] == "disconnect"),
        1,
        "only the final close"
    );
}

#[tokio::test]
async fn our_server_closes_a_python_client_that_ignores_pings() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(fast_heartbeat(300, 300)).await;
    let run = PyClient::run(py, "no_pong", &srv.url(), &["--hold-ms", "5000"]).await;
    let line = run.step("no_pong");
    assert_eq!(line["closed"], true, "{line}");
    assert!(line["pings_ignored"].as_u64().unwrap() >= 1, "{line}");
    let after = line["after_ms"].as_u64().unwrap();
    assert!(
        (400..2500).contains(&after),
        "closed after {after} ms: {line}"
    );
}

#[tokio::test]
async fn python_client_reconnects_after_our_server_restarts() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(Timing::default()).await;
    let client = PyClient::spawn(
        py,
        "reconnect",
        &srv.url(),
        &["--inflight-timeout-ms", "1500"],
    );
    client.step("ready").await;
    // Down for 300 ms: the client's 100 ms redials fail at least once.
    let srv = srv.restart(Duration::from_millis(300)).await;
    let run = client.finish().await;
    assert!(!run.steps("disconnected").is_empty(), "{}", run.describe());
    assert_eq!(run.step("reconnected")["n"], 2);
    assert!(!run.steps("connect_attempt_failed").is_empty());
    // Its subscription survived: the chat we broadcast after the restart arrived.
    assert_eq!(run.result("announce"), &Value::Null);
    let chat = run.step("chat_after_reconnect");
    assert_eq!(chat["received"], true, "{chat}");
    // Its registration survived: the new server called its `double`.
    assert_eq!(run.result("ask_double"), &json!(10));
    assert_eq!(run.steps("handled").len(), 1);
    // The reference client does not fail in-flight calls on a drop (CONTRACT.md 6.d): the call
    // left pending ends with its own timeout, not with -32001.
    let inflight = run.step("inflight");
    assert_eq!(inflight["error"]["code"], -32002, "{inflight}");
    assert!(inflight["ms"].as_u64().unwrap() >= 1400, "{inflight}");
    // The new server saw the reconnected client with the same metadata.
    let connects = srv.seen.all(|l| l["kind"] == "connect");
    assert_eq!(connects.len(), 2, "{connects:?}");
    assert_eq!(connects[1]["meta"], expected_meta("web", "py-client"));
}

/// What our server's own API sends to reference clients: calls into their registered commands
/// (single and batched), broadcasts to all / a role / all but one, and a publish to one.
#[tokio::test]
async fn server_initiated_traffic_to_python_clients() {
    let Some(py) = python() else { return };
    let srv = RustServer::start(Timing::default()).await;
    let a = PyClient::spawn(
        py,
        "interactive",
        &srv.url(),
        &["--client-id", "py-a", "--role", "web", "--log-frames"],
    );
    let b = PyClient::spawn(
        py,
        "interactive",
        &srv.url(),
        &["--client-id", "py-b", "--role", "bot"],
    );
    for (client, methods) in [
        (&a, &["double", "echo", "fail", "sleep"][..]),
        (&b, &["double"][..]),
    ] {
        assert_eq!(client.step("connect").await["ok"], true);
        for method in methods {
            client
                .command(json!({"cmd": "register", "method": method}))
                .await;
        }
        for event in ["news", "chat"] {
            client
                .command(json!({"cmd": "subscribe", "event": event}))
                .await;
        }
    }
    let conn_a = srv.connection_of("py-a").await;
    let conn_b = srv.connection_of("py-b").await;

    // Calls into the Python client's commands, typed and untyped, results and errors
    // unchanged.
    assert_eq!(CallbacksClient::new(&conn_a).double(4).await.unwrap(), 8);
    assert_eq!(
        conn_a.request("double", json!({"x": 5})).await.unwrap(),
        json!(10)
    );
    assert_eq!(
        conn_a
            .request("echo", json!([1, "two", null]))
            .await
            .unwrap(),
        json!([1, "two", null])
    );
    let err = conn_a
        .request(
            "fail",
            json!({"code": -32050, "message": "nope", "data": {"k": [1]}}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::from(-32050)));
    assert_eq!(err.message(), "nope");
    assert_eq!(err.data(), Some(&json!({"k": [1]})));
    let err = conn_b.request("echo", json!(1)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND));
    // Our own timeout on a call into the client: -32002; its late answer is dropped, never
    // answered (an error reply would start an endless exchange, CONTRACT.md 6.h).
    let frames = || a.log.count(|l| l["step"] == "frame_in");
    let before = frames();
    let err = conn_a
        .request_with_timeout("sleep", json!({"ms": 400}), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TIMEOUT));
    a.log
        .wait_for("the late answer sent", Duration::from_secs(5), |l| {
            l["step"] == "handled" && l["method"] == "sleep"
        })
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // The abandoned call is cancelled with `$/cancelRequest` (which the reference ignores).
    assert_eq!(
        frames(),
        before + 2,
        "only the sleep request and its cancellation reached a\n{}",
        a.log.describe()
    );
    assert_eq!(
        a.log.count(|l| l["step"] == "frame_in"
            && l["text"]
                .as_str()
                .is_some_and(|t| t.contains("\"$/cancelRequest\""))),
        1,
        "{}",
        a.log.describe()
    );

    // A batch to the Python client: results in call order, the unknown method in its slot.
    let results = conn_a
        .batch_request([
            ("double", json!({"x": 1})),
            ("echo", json!({"k": 1})),
            ("missing", json!(null)),
            ("double", json!({"x": 2})),
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &json!(2));
    assert_eq!(results[1].as_ref().unwrap(), &json!({"k": 1}));
    assert_eq!(
        results[2].as_ref().unwrap_err().code(),
        Some(ErrorCode::METHOD_NOT_FOUND)
    );
    assert_eq!(results[3].as_ref().unwrap(), &json!(4));

    // Broadcasts by target, then a publish to one connection: typed through the generated
    // `ContractEvents` for `chat`, untyped through the server for `news`.
    let events = ContractEvents::new(&srv.server);
    assert_eq!(
        events
            .chat_to_role("bot", &json!({"text": "typed"}))
            .unwrap(),
        1
    );
    assert_eq!(
        events
            .chat_except(&conn_b, &json!({"text": "not b"}))
            .unwrap(),
        1
    );
    assert_eq!(
        srv.server.broadcast("news", json!({"to": "all"})).unwrap(),
        2
    );
    assert_eq!(
        srv.server
            .broadcast_to_role("bot", "news", json!({"to": "bots"}))
            .unwrap(),
        1
    );
    assert_eq!(
        srv.server
            .broadcast_except(&conn_a, "news", json!({"to": "not a"}))
            .unwrap(),
        1
    );
    conn_a.publish("news", json!({"to": "a"})).await.unwrap();
    let news_of = |client: &PyClient| {
        client
            .log
            .all(|l| l["step"] == "event" && l["event"] == "news")
            .into_iter()
            .map(|l| l["data"]["to"].clone())
            .collect::<Vec<_>>()
    };
    a.log
        .wait_count("news to a", 2, Duration::from_secs(5), |l| {
            l["step"] == "event" && l["event"] == "news"
        })
        .await;
    b.log
        .wait_count("news to b", 3, Duration::from_secs(5), |l| {
            l["step"] == "event" && l["event"] == "news"
        })
        .await;
    assert_eq!(news_of(&a), ["all", "a"]);
    assert_eq!(news_of(&b), ["all", "bots", "not a"]);
    let chat_of = |client: &PyClient| {
        client
            .log
            .all(|l| l["step"] == "event" && l["event"] == "chat")
            .into_iter()
            .map(|l| l["data"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(chat_of(&a), [json!({"text": "not b"})]);
    assert_eq!(chat_of(&b), [json!({"text": "typed"})]);

    // Our -32700 answer to a frame that is not JSON does not upset the reference client
    // (it ignores an error without id, CONTRACT.md 6.a), and the connection keeps working.
    let sent = a.command(json!({"cmd": "raw", "text": "not json"})).await;
    assert_eq!(sent["ok"], true);
    let parse_error = a
        .log
        .wait_for("our -32700", Duration::from_secs(5), |l| {
            l["step"] == "frame_in" && l["text"].as_str().is_some_and(|t| t.contains("-32700"))
        })
        .await;
    let frame: Value = serde_json::from_str(parse_error["text"].as_str().unwrap()).unwrap();
    assert_eq!(frame["id"], Value::Null, "{frame}");
    let after = a
        .command(json!({"cmd": "request", "method": "add", "params": {"a": 2, "b": 3}}))
        .await;
    assert_eq!(after["result"], json!({"sum": 5}), "{after}");
    // A ping inside a batch (as the reference allows, CONTRACT.md 6.g) is answered with a pong
    // the reference client takes.
    let before = a.command(json!({"cmd": "state"})).await["pongs_received"].clone();
    a.command(json!({"cmd": "raw", "text": r#"[{"jsonrpc":"2.0","method":"ping"}]"#}))
        .await;
    let pong = a
        .log
        .wait_for("our pong", Duration::from_secs(5), |l| {
            l["step"] == "frame_in" && l["text"].as_str().is_some_and(|t| t.contains("pong"))
        })
        .await;
    let pong: Value = serde_json::from_str(pong["text"].as_str().unwrap()).unwrap();
    let pong = pong.as_array().map_or(&pong, |items| &items[0]).clone();
    assert_eq!(pong, json!({"jsonrpc": "2.0", "method": "pong"}));
    let state = a.command(json!({"cmd": "state"})).await;
    assert_eq!(
        state["pongs_received"],
        before.as_u64().unwrap() + 1,
        "{state}"
    );
    assert_eq!(state["disconnects"], 0);

    a.finish().await;
    b.finish().await;
}

/// The reference client over `wss://` to our server (chain and key generated now): it trusts
/// the generated root through `py_client.py --tls-ca` (the reference's default SSL context),
/// verifies the IP-address name, and calls, publishes and receives events as over `ws://`.
#[tokio::test]
async fn reference_client_over_wss() {
    let Some(py) = python() else { return };
    let pki = echorpc_tests::certs::local_pki();
    let tls = echorpc::tls::ServerTls::from_pem_files(pki.chain_file(), pki.key_file())
        .expect("generated chain and key");
    let srv = RustServer::start_tls(Timing::default(), tls).await;
    assert!(srv.url().starts_with("wss://127.0.0.1:"), "{}", srv.url());
    let root = pki.root_file().display().to_string();

    let run = PyClient::run(py, "calls", &srv.url(), &["--tls-ca", &root]).await;
    assert_eq!(run.result("add"), &json!({"sum": 3}), "{}", run.describe());
    assert_eq!(run.result("whoami")["tier"], "gold", "{}", run.describe());

    let run = PyClient::run(py, "events", &srv.url(), &["--tls-ca", &root]).await;
    for step in ["publish_chat", "announce_all", "emit_news"] {
        assert_eq!(run.step(step)["ok"], true, "{step}\n{}", run.describe());
    }
    assert_eq!(
        run.step_of("received", "a"),
        &json!({"step": "received", "client": "a", "chat": [{"text": "to all"}],
                "news": [{"n": 1}], "sentinel": true}),
        "{}",
        run.describe()
    );
    let chats = srv.seen.all(|l| l["kind"] == "chat");
    assert_eq!(chats.len(), 1, "{chats:?}");

    // Without --tls-ca the reference's default context does not know the root: no connection.
    let run = PyClient::run(py, "auth_ok", &srv.url(), &["--no-reconnect"]).await;
    assert_eq!(run.step("connect")["ok"], false, "{}", run.describe());
    assert_eq!(
        srv.seen.count(|l| l["kind"] == "connect"),
        3,
        "only the trusting clients"
    );
    srv.server.stop().await;
}

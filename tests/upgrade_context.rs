//! One upgrade path, two HTTP stacks: every case runs against the standalone listener and
//! against the same server mounted as an axum route, over real sockets. The auth handler sees
//! headers, `Origin` and the peer's address; 401, 403 and 503 come before any 101; accepted
//! connections carry the same metadata.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use echorpc::{AuthRequest, Client, Error, Limits, Server, ServerBuilder};
use echorpc_tests::{local_server, register_add, within};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Standalone,
    Axum,
}

const STACKS: [Stack; 2] = [Stack::Standalone, Stack::Axum];

/// Serves `builder`'s server on `stack`; returns it and the WebSocket URL.
async fn serve(stack: Stack, builder: ServerBuilder) -> (Server, String) {
    let server = builder.build();
    register_add(&server);
    server
        .register("meta", |_: Value, conn: echorpc::Connection| async move {
            Ok::<_, Error>(Value::Object(conn.meta().to_map()))
        })
        .expect("register meta");
    match stack {
        Stack::Standalone => {
            let addr = server.start().await.expect("start");
            (server, format!("ws://{addr}/rpc"))
        }
        Stack::Axum => {
            let app = Router::new()
                .route("/health", get(|| async { "ok" }))
                .route("/rpc", server.axum_route());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await;
            });
            (server, format!("ws://{addr}/rpc"))
        }
    }
}

fn client(url: &str) -> echorpc::ClientBuilder {
    Client::builder(url)
        .no_reconnect()
        .connect_timeout(Duration::from_secs(3))
}

#[tokio::test]
async fn auth_sees_headers_origin_path_and_peer_address() {
    for stack in STACKS {
        let seen: Arc<Mutex<Option<AuthRequest>>> = Arc::default();
        let keep = Arc::clone(&seen);
        let builder = local_server().auth(move |req: &AuthRequest| {
            *keep.lock().unwrap() = Some(req.clone());
            req.headers.get("authorization") == Some("Bearer abc")
        });
        let (server, url) = serve(stack, builder).await;
        let ok = client(&url)
            .token("query-token")
            .header("Authorization", "Bearer abc")
            .header("Origin", "https://app.example")
            .header("X-Trace", "t-1")
            .build();
        within("connect", ok.connect()).await.expect("accepted");
        let req = seen.lock().unwrap().clone().expect("auth ran");
        assert_eq!(req.path, "/rpc", "{stack:?}");
        assert_eq!(req.token, "query-token", "{stack:?}");
        assert_eq!(req.origin.as_deref(), Some("https://app.example"));
        assert_eq!(req.headers.get("x-trace"), Some("t-1"));
        let peer = req.peer_addr.expect("peer address");
        assert!(peer.ip().is_loopback(), "{stack:?}: {peer}");
        // Secrets stay out of Debug output.
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("Bearer abc") && !shown.contains("query-token"),
            "{shown}"
        );

        let wrong = client(&url).header("Authorization", "Bearer nope").build();
        let err = within("refused", wrong.connect()).await.expect_err("401");
        assert!(matches!(err, Error::AuthRejected), "{stack:?}: {err:?}");
        ok.disconnect().await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_browser_origin_not_allowed_is_refused_with_403_before_auth() {
    for stack in STACKS {
        let auth_ran = Arc::new(Mutex::new(0));
        let count = Arc::clone(&auth_ran);
        let builder = local_server()
            .allowed_origins(["https://app.example"])
            .auth(move |_: &AuthRequest| {
                *count.lock().unwrap() += 1;
                true
            });
        let (server, url) = serve(stack, builder).await;
        let evil = client(&url)
            .header("Origin", "https://evil.example")
            .build();
        let text = within("refused", evil.connect())
            .await
            .expect_err("403")
            .to_string();
        assert!(text.contains("403"), "{stack:?}: {text}");
        assert_eq!(
            *auth_ran.lock().unwrap(),
            0,
            "auth ran for a refused origin"
        );
        // The allowed origin (any case) and clients without Origin are served.
        for extra in [Some("HTTPS://APP.EXAMPLE"), None] {
            let mut builder = client(&url);
            if let Some(origin) = extra {
                builder = builder.header("Origin", origin);
            }
            let good = builder.build();
            within("connect", good.connect()).await.expect("accepted");
            good.disconnect().await;
        }
        assert_eq!(server.stats().upgrades_rejected.get(&403), Some(&1));
        server.stop().await;
    }
}

#[tokio::test]
async fn past_the_connection_limit_is_503_and_metadata_is_the_same() {
    let mut metas = Vec::new();
    for stack in STACKS {
        let builder = local_server()
            .limits(Limits::default().with_max_connections(1))
            .auth(|req: &AuthRequest| {
                let mut extra = serde_json::Map::new();
                extra.insert("tier".into(), json!("gold"));
                (req.token == "t").then_some(extra)
            });
        let (server, url) = serve(stack, builder).await;
        let first = client(&url)
            .token("t")
            .role("worker")
            .client_id("w1")
            .build();
        within("connect", first.connect()).await.expect("first");
        let second = client(&url).token("t").build();
        let text = within("refused", second.connect())
            .await
            .expect_err("503")
            .to_string();
        assert!(text.contains("503"), "{stack:?}: {text}");
        let meta = within("meta", first.request("meta", json!({})))
            .await
            .expect("meta");
        metas.push(meta);
        first.disconnect().await;
        server.stop().await;
    }
    assert_eq!(metas[0], metas[1], "both stacks give the same metadata");
    assert_eq!(metas[0]["tier"], json!("gold"));
    assert_eq!(metas[0]["role"], json!("worker"));
}

#[tokio::test]
async fn mounted_connections_share_broadcasts_and_shutdown_with_the_standalone_ones() {
    let builder = local_server();
    let (server, mounted_url) = serve(Stack::Axum, builder).await;
    let addr = server.start().await.expect("also standalone");
    let a = client(&mounted_url).build();
    let b = client(&format!("ws://{addr}")).build();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    for c in [&a, &b] {
        let tx = tx.clone();
        c.subscribe("news", move |p: Value, _| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(p).await;
            }
        })
        .expect("subscribe");
        within("connect", c.connect()).await.expect("connect");
    }
    assert_eq!(server.connections().len(), 2);
    server
        .broadcast("news", json!({"n": 1}))
        .expect("broadcast");
    for _ in 0..2 {
        assert_eq!(within("news", rx.recv()).await, Some(json!({"n": 1})));
    }
    within("shutdown", server.shutdown(Duration::from_secs(2))).await;
    assert!(server.connections().is_empty());
    within("a closed", async {
        while a.is_connected() || b.is_connected() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_mount_answers_a_plain_get_with_426_and_other_routes_still_work() {
    let (server, url) = serve(Stack::Axum, local_server()).await;
    let base = url
        .trim_start_matches("ws://")
        .trim_end_matches("/rpc")
        .to_owned();
    let health = raw_get(&base, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let plain = raw_get(&base, "/rpc").await;
    assert!(plain.starts_with("HTTP/1.1 426"), "{plain}");
    assert_eq!(server.stats().upgrades_rejected.get(&426), Some(&1));
}

async fn raw_get(host: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    within("answer", stream.read_to_string(&mut answer))
        .await
        .expect("read");
    answer
}

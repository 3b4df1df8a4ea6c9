//! Secrets never reach `Debug` output or logs: the token (given to the builder or in the URL's
//! query) and secret headers are redacted in `Metadata`, `AuthRequest`, `Headers`,
//! `ClientBuilder`, `Client`, `Connection` and errors, and no log line of a connect (accepted,
//! rejected, failed, in-memory) shows them. Logs are captured by a small `tracing` subscriber
//! that records every field of every span and event at every level.

mod core_support;

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_support::*;
use echorpc::transport::memory;
use echorpc::{AuthRequest, Client, Error, Headers, Metadata, Server};
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span;

const TOKEN: &str = "tok-5ecret-91f3";
const QUERY_TOKEN: &str = "tok-in-query-7c2e";
const HEADER_SECRET: &str = "hdr-5ecret-4b1d";
const SECRETS: [&str; 3] = [TOKEN, QUERY_TOKEN, HEADER_SECRET];

/// Fails naming the secret when `text` shows any.
fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

/// Both `Debug` forms of `value`, checked.
fn assert_debug_hides_secrets(what: &str, value: &impl fmt::Debug) {
    let (plain, pretty) = (format!("{value:?}"), format!("{value:#?}"));
    assert!(!plain.is_empty());
    assert_no_secret(what, &plain);
    assert_no_secret(what, &pretty);
}

fn metadata_with_token() -> Metadata {
    let map = json!({ "token": TOKEN, "role": "ops", "client_id": "c1" });
    Metadata::from_map(map.as_object().unwrap().clone())
}

fn auth_request_with_secrets() -> AuthRequest {
    let mut request = AuthRequest::default();
    request.token = TOKEN.to_owned();
    request.client_id = "c1".to_owned();
    request
        .headers
        .append("Authorization", format!("Bearer {HEADER_SECRET}"));
    request
        .headers
        .append("Cookie", format!("session={HEADER_SECRET}"));
    request
}

#[test]
fn metadata_auth_request_and_headers_hide_secrets_in_debug() {
    let meta = metadata_with_token();
    assert_eq!(meta.token(), TOKEN, "the token is still there to read");
    assert_debug_hides_secrets("Metadata", &meta);

    let request = auth_request_with_secrets();
    assert_debug_hides_secrets("AuthRequest", &request);
    assert_debug_hides_secrets("Headers", &request.headers);
    let mut headers = Headers::new();
    headers.append("X-Api-Key", HEADER_SECRET);
    headers.append("Proxy-Authorization", HEADER_SECRET);
    assert_debug_hides_secrets("Headers", &headers);
}

#[test]
fn client_builder_and_client_hide_the_token_and_the_query_in_debug() {
    let url = format!("ws://127.0.0.1:9/rpc?token={QUERY_TOKEN}");
    let builder = Client::builder(&url)
        .token(TOKEN)
        .header("Authorization", format!("Bearer {HEADER_SECRET}"));
    assert_debug_hides_secrets("ClientBuilder", &builder);
    let client = builder.build();
    assert_debug_hides_secrets("Client", &client);
}

#[tokio::test(start_paused = true)]
async fn connections_on_both_ends_hide_the_token_in_debug() {
    let server = quiet_server().build();
    let (ours, _theirs) = memory::pair();
    let conn = server
        .accept(ours, auth_request_with_secrets())
        .await
        .unwrap();
    assert_eq!(conn.meta().token(), TOKEN);
    assert_debug_hides_secrets("server-side Connection", &conn);
    assert_debug_hides_secrets("Server", &server);

    let client = server
        .connect_in_memory(
            Client::builder("memory")
                .token(TOKEN)
                .ping_interval(Duration::ZERO),
        )
        .await
        .unwrap();
    let client_conn = client.connection().expect("connected");
    assert_debug_hides_secrets("client-side Connection", &client_conn);
    assert_debug_hides_secrets("connected Client", &client);
    for conn in server.connections() {
        assert_debug_hides_secrets("Connection", &conn);
    }
}

// Log capture.

/// Every span and event, one line each, with all their fields.
#[derive(Clone, Default)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next_span: Arc<AtomicU64>,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={value}", field.name());
        let mut source = value.source();
        while let Some(err) = source {
            let _ = write!(self.0, ": {err}");
            source = err.source();
        }
    }
}

impl Capture {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.push(line);
        span::Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &span::Id, values: &span::Record<'_>) {
        let mut line = "record".to_owned();
        values.record(&mut Line(&mut line));
        self.push(line);
    }

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} {}", event.metadata().level(), event.metadata().target());
        event.record(&mut Line(&mut line));
        self.push(line);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// A server on 127.0.0.1 port 0 that accepts only `TOKEN`, with a method `hello`.
async fn guarded_server() -> (Server, String) {
    let server = Server::builder()
        .host("127.0.0.1")
        .port(0)
        .auth(|req| req.token == TOKEN)
        .build();
    server
        .register(
            "hello",
            |_: Value, _conn| async move { Ok::<_, Error>("hello") },
        )
        .unwrap();
    let addr = tokio::time::timeout(Duration::from_secs(10), server.start())
        .await
        .expect("start in time")
        .unwrap();
    (server, format!("ws://{addr}"))
}

async fn step<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

// The default (current-thread) runtime runs every task of the test on this thread, so the
// thread's default subscriber sees the logs of the server, the client and their connections.
#[tokio::test]
async fn no_log_line_shows_a_token_during_accepted_rejected_and_failed_connects() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let (server, url) = guarded_server().await;

    // Accepted: the token in the builder, a secret header, a call, a disconnect.
    let client = Client::builder(&url)
        .token(TOKEN)
        .header("Authorization", format!("Bearer {HEADER_SECRET}"))
        .no_reconnect()
        .build();
    step("connect", client.connect()).await.unwrap();
    assert_eq!(
        step("hello", client.request("hello", json!(null)))
            .await
            .unwrap(),
        json!("hello")
    );
    step("disconnect", client.disconnect()).await;

    // Rejected: a wrong token in the builder and one in the URL's query.
    let rejected = Client::builder(format!("{url}/?token={QUERY_TOKEN}"))
        .no_reconnect()
        .build();
    let err = step("rejected connect", rejected.connect())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthRejected), "{err:?}");
    assert_no_secret("the rejection error", &format!("{err} {err:?}"));
    let wrong = Client::builder(&url)
        .token(format!("{TOKEN}-but-wrong"))
        .no_reconnect()
        .build();
    let err = step("rejected connect", wrong.connect()).await.unwrap_err();
    assert!(matches!(err, Error::AuthRejected), "{err:?}");

    // Failed: nobody listens there.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nowhere = Client::builder(format!(
        "ws://127.0.0.1:{closed_port}/rpc?token={QUERY_TOKEN}"
    ))
    .token(TOKEN)
    .connect_timeout(Duration::from_millis(300))
    .no_reconnect()
    .build();
    let err = step("failed connect", nowhere.connect()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let mut chain = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let _ = write!(chain, ": {cause}");
        source = cause.source();
    }
    assert_no_secret("the connect error", &chain);

    // In-memory, through the same auth.
    let in_memory = step(
        "in-memory connect",
        server.connect_in_memory(Client::builder("memory").token(TOKEN)),
    )
    .await
    .unwrap();
    step("in-memory disconnect", in_memory.disconnect()).await;
    step("stop", server.stop()).await;

    let lines = capture.lines();
    assert!(
        lines.iter().any(|line| line.contains("connection opened")),
        "the capture works: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("401") || line.contains("rejected")),
        "the rejection was logged: {lines:#?}"
    );
    for line in &lines {
        assert_no_secret("a log line", line);
    }
}

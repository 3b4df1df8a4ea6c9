//! The examples' contract (issue 8), against the real `examples/server` and `examples/client`
//! binaries on 127.0.0.1 (`ECHORPC_PORT=0`): `ask_double` returns exactly what the calling
//! client's `double` answered, whatever JSON value it is (an array, a string, `null`, a 1 MiB
//! string, an error object), and `x` reaches `double` exactly as the caller gave it. The typed
//! example client prints its two results.
//!
//! The binaries are the ones `cargo test -p echorpc-examples` builds next to this test
//! (`target/<profile>/examples/`); when they are missing (`--test ask_double_contract` alone
//! does not build examples), this test builds them with the same cargo.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod support;
use support::example_binary;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// How long one step may take before the test counts it as hung.
const STEP: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The example server as a child process, killed when dropped.
struct ExampleServer {
    child: Child,
    /// `127.0.0.1:port`.
    addr: String,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl ExampleServer {
    /// Starts the example server on a free port and waits for its `listening` line.
    fn start() -> Self {
        let mut child = Command::new(example_binary("server"))
            .env("ECHORPC_PORT", "0")
            .env_remove("ECHORPC_TLS_CERT")
            .env_remove("ECHORPC_TLS_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example server starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(STEP) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the example server printed no `listening` line; its stderr:\n{}",
                    logs.join().unwrap_or_default()
                );
            }
        };
        let addr = line
            .rsplit("://")
            .next()
            .expect("the line names the address")
            .trim()
            .to_owned();
        assert!(
            line.contains("ws://127.0.0.1:") && !addr.ends_with(":0"),
            "a plain ws:// address on a real port: {line}"
        );
        Self {
            child,
            addr,
            logs: Some(logs),
        }
    }

    /// What the server wrote to stderr so far (it is stopped for that).
    fn stop_and_logs(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.logs
            .take()
            .and_then(|logs| logs.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket client driven by hand with JSON text.
struct RawClient {
    socket: WebSocketStream<TcpStream>,
}

impl RawClient {
    async fn connect(addr: &str) -> Self {
        let stream = within("tcp connect", TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        let url = format!("ws://{addr}/?token=secret&role=web&client_id=contract");
        let (socket, _) = within("upgrade", tokio_tungstenite::client_async(url, stream))
            .await
            .expect("the server accepts the token `secret`");
        Self { socket }
    }

    async fn send(&mut self, value: &Value) {
        within("send", self.socket.send(Message::text(value.to_string())))
            .await
            .expect("send");
    }

    /// The next request or response; heartbeats and events are skipped.
    async fn next(&mut self) -> Value {
        loop {
            let message = within("a frame from the server", self.socket.next())
                .await
                .expect("the connection is open")
                .expect("a frame");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("JSON");
            if value.get("id").is_some() {
                return value;
            }
        }
    }
}

/// Calls `ask_double {x}` and answers the server's `double` with `answer` (a result, or the
/// `error` object when it has a `code`); returns the params `double` got and the response
/// to `ask_double`.
async fn ask_double(client: &mut RawClient, id: u64, x: &Value, answer: &Value) -> (Value, Value) {
    client
        .send(&json!({ "jsonrpc": "2.0", "id": id, "method": "ask_double", "params": { "x": x } }))
        .await;
    let double = client.next().await;
    assert_eq!(double["method"], "double", "{double}");
    let reply = if answer.get("code").is_some() {
        json!({ "jsonrpc": "2.0", "id": double["id"], "error": answer })
    } else {
        json!({ "jsonrpc": "2.0", "id": double["id"], "result": answer })
    };
    client.send(&reply).await;
    let response = client.next().await;
    assert_eq!(response["id"], json!(id), "{response}");
    (double["params"].clone(), response)
}

#[tokio::test]
async fn ask_double_returns_whatever_double_answered_and_passes_x_unchanged() {
    let mut server = ExampleServer::start();
    let mut client = RawClient::connect(&server.addr).await;

    let mib_string = Value::from("é".repeat(512 * 1024));
    let values = [
        json!([1, "two", null, { "three": 3.5 }, [true]]),
        json!("a string, not a number"),
        Value::Null,
        mib_string,
        json!({ "nested": { "deep": [false, -0.25, 1e300] } }),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(21),
        json!(0.1),
    ];
    for (id, value) in (1u64..).zip(&values) {
        // The same value is both the `x` given and the answer: each must pass unchanged.
        let (params, response) = ask_double(&mut client, id, value, value).await;
        assert_eq!(params, json!({ "x": value }), "x as the caller gave it");
        assert!(
            response.get("error").is_none(),
            "ask_double failed: {response:.200}"
        );
        assert_eq!(
            &response["result"], value,
            "ask_double returns double's answer unchanged"
        );
    }

    // Different `x` and answer, so one cannot pass for the other.
    let (params, response) = ask_double(&mut client, 90, &json!("in"), &json!(["out"])).await;
    assert_eq!(params["x"], json!("in"));
    assert_eq!(response["result"], json!(["out"]));

    // An error from `double` reaches the caller with its code, message and data.
    let error = json!({ "code": -32050, "message": "cannot double that", "data": { "why": [1] } });
    let (_, response) = ask_double(&mut client, 91, &json!("x"), &error).await;
    assert_eq!(response["error"], error, "{response}");

    let logs = server.stop_and_logs();
    assert!(
        !logs.contains("panicked"),
        "the server did not panic: {logs}"
    );
}

#[tokio::test]
async fn the_typed_example_client_prints_its_results() {
    let server = ExampleServer::start();
    let client = Command::new(example_binary("client"))
        .env("ECHORPC_URL", format!("ws://{}", server.addr))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example client starts");
    let output = within(
        "the example client",
        tokio::task::spawn_blocking(move || client.wait_with_output()),
    )
    .await
    .unwrap()
    .expect("the client's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the client failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&r#"{"sum":3}"#), "add printed: {stdout}");
    assert!(
        lines.contains(&r#"[{"sum":3},{"sum":7}]"#),
        "the batch printed: {stdout}"
    );
}

//! The example server's cancellation contract (issue 10), against the real `examples/server`
//! binary on 127.0.0.1 (`ECHORPC_PORT=0`): `slow {ms}` answers `{"slept": ms}`; `running`
//! counts the `slow` calls running now on the whole server; a `slow` call whose caller stops
//! waiting (our client then sends `$/cancelRequest`), or whose connection closes, stops
//! counting at once. `running` is polled from a second connection.
//!
//! The binary is the one `cargo test -p echorpc-examples` builds next to this test
//! (`target/<profile>/examples/server`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use echorpc::Client;
use echorpc_examples::{AppClient, Slept};
use tokio::time::Instant;

mod support;
use support::example_binary;

/// How soon a cancelled `slow` call must stop counting.
const SOON: Duration = Duration::from_millis(200);
/// How long an "eventually" step may take.
const EVENTUALLY: Duration = Duration::from_secs(10);

/// The example server as a child process, killed when dropped.
struct ExampleServer {
    child: Child,
    url: String,
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the example server on a free port and waits for its `listening` line.
fn start_server() -> ExampleServer {
    let mut child = Command::new(example_binary("server"))
        .env("ECHORPC_PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example server starts");
    let stdout = child.stdout.take().expect("stdout piped");
    // Its logs, kept for a failure message rather than mixed into the test's output.
    let stderr = child.stderr.take().expect("stderr piped");
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
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
    let mut server = ExampleServer {
        child,
        url: String::new(),
    };
    let Ok(line) = rx.recv_timeout(EVENTUALLY) else {
        let _ = server.child.kill();
        let logs = logs.join().unwrap_or_default();
        panic!("the example server printed no listening line; its stderr:\n{logs}");
    };
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("ws://"))
        .unwrap_or_else(|| panic!("no ws:// address in {line:?}"))
        .to_owned();
    server.url = url;
    server
}

async fn client(server: &ExampleServer) -> Client {
    let client = Client::builder(&server.url).token("secret").build();
    tokio::time::timeout(EVENTUALLY, client.connect())
        .await
        .expect("connect within the time limit")
        .expect("the example server accepts the token");
    client
}

/// Polls `running` (from `watcher`) until it is `n`; fails after `limit`.
async fn running_becomes(watcher: &Client, n: usize, limit: Duration, what: &str) {
    let stub = AppClient::new(watcher);
    let deadline = Instant::now() + limit;
    loop {
        let now = stub.running().await.expect("running answers");
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: `running` is {now}, not {n}, after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn slow_answers_slept_and_running_counts_the_calls_in_progress() {
    let server = start_server();
    let caller = client(&server).await;
    let watcher = client(&server).await;
    assert_eq!(AppClient::new(&watcher).running().await.unwrap(), 0);

    let calls = [300, 400].map(|ms| {
        let caller = caller.clone();
        tokio::spawn(async move { AppClient::new(&caller).slow(ms).await })
    });
    running_becomes(&watcher, 2, EVENTUALLY, "two slow calls").await;
    let [first, second] = calls;
    assert_eq!(first.await.unwrap().unwrap(), Slept { slept: 300 });
    assert_eq!(second.await.unwrap().unwrap(), Slept { slept: 400 });
    assert_eq!(AppClient::new(&watcher).running().await.unwrap(), 0);
    assert_eq!(
        AppClient::new(&caller).slow(0).await.unwrap(),
        Slept { slept: 0 }
    );
}

#[tokio::test]
async fn a_cancelled_slow_call_stops_counting_at_once() {
    let server = start_server();
    let caller = client(&server).await;
    let watcher = client(&server).await;

    // The caller stops waiting (its future dropped by the select), so it sends
    // `$/cancelRequest`; its connection stays open, so only the cancellation can stop the call.
    let stub = AppClient::new(&caller);
    tokio::select! {
        answer = stub.slow(60_000) => panic!("answered: {answer:?}"),
        () = running_becomes(&watcher, 1, EVENTUALLY, "the slow call") => {}
    }
    running_becomes(&watcher, 0, SOON, "the cancelled call").await;
    assert!(caller.is_connected());
    assert_eq!(
        AppClient::new(&caller).slow(1).await.unwrap(),
        Slept { slept: 1 }
    );
}

#[tokio::test]
async fn a_slow_call_whose_connection_closes_stops_counting_at_once() {
    let server = start_server();
    // No cancellations from this caller: the close alone must stop its call.
    let caller = Client::builder(&server.url)
        .token("secret")
        .send_cancellations(false)
        .no_reconnect()
        .build();
    tokio::time::timeout(EVENTUALLY, caller.connect())
        .await
        .expect("connect within the time limit")
        .expect("connects");
    let watcher = client(&server).await;

    let call = tokio::spawn({
        let caller = caller.clone();
        async move { AppClient::new(&caller).slow(60_000).await }
    });
    running_becomes(&watcher, 1, EVENTUALLY, "the slow call").await;
    caller.disconnect().await;
    running_becomes(&watcher, 0, SOON, "the call of the closed connection").await;
    let failed = tokio::time::timeout(EVENTUALLY, call)
        .await
        .unwrap()
        .unwrap();
    assert!(failed.is_err(), "{failed:?}");
}

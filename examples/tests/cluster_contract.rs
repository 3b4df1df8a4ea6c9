//! The example server's cluster contract (issue 11), with three `examples/server` processes
//! joined through a real `redis-server` (started here on a free loopback port): `chat` and
//! `announce` reach every node's connections once; `ask_double_of` calls a client on whichever
//! node it is connected and relays its answer (or its error) unchanged, `-32001` when there is
//! none; `online` lists a role's client_ids across the cluster. Clients of both languages (our
//! `Client` and the Python reference) sit on different nodes. A stopped (SIGSTOP) node leaves
//! presence partial, naming it; a killed node's clients fail with `-32001` within seconds and
//! its presence is gone within 10 s. A node prints `listening` only once Redis answers.
//!
//! Needs `redis-server` (skipped with a printed reason, failing with `CI=true`) and the
//! interop venv for the Python client (same rule). The server binary is the one
//! `cargo test -p echorpc-examples` builds (`target/<profile>/examples/server`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use echorpc::cluster::ClusterConfig;
use echorpc::{Client, Error, ErrorCode, Server};
use echorpc_examples::{AppClient, Callbacks, CallbacksServer, Chat};
use echorpc_tests::interop::{PyClient, python};
use echorpc_tests::redis::RedisServer;
use serde_json::{Value, json};

mod support;
use support::example_binary;

/// How long an "eventually" step may take.
const EVENTUALLY: Duration = Duration::from_secs(10);

/// One example server process in the cluster, killed when dropped.
struct Node {
    name: String,
    child: Child,
    listening: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    url: String,
}

impl Node {
    /// Starts node `name` against `redis_url`; does not wait for it.
    fn spawn(name: &str, redis_url: &str) -> Self {
        let mut child = Command::new(example_binary("server"))
            .env("ECHORPC_PORT", "0")
            .env("ECHORPC_REDIS_URL", redis_url)
            .env("ECHORPC_NODE", name)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example server starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, listening) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening") {
                    let _ = tx.send(line);
                }
            }
        });
        Self {
            name: name.to_owned(),
            child,
            listening,
            stderr,
            url: String::new(),
        }
    }

    /// Waits up to `limit` for the `listening` line; its ws:// URL.
    fn wait_listening(&mut self, limit: Duration) -> Option<String> {
        let line = self.listening.recv_timeout(limit).ok()?;
        let url = line
            .split_whitespace()
            .find(|word| word.starts_with("ws://"))
            .unwrap_or_else(|| panic!("no ws:// address in {line:?}"))
            .to_owned();
        self.url.clone_from(&url);
        Some(url)
    }

    fn start(name: &str, redis_url: &str) -> Self {
        let mut node = Self::spawn(name, redis_url);
        if node.wait_listening(EVENTUALLY).is_none() {
            panic!(
                "node {name} printed no listening line; its stderr:\n{}",
                node.logs()
            );
        }
        node
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.name);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A stopped process dies of SIGKILL too.
        self.kill();
    }
}

/// A Rust client's side of the examples: `double` doubles numbers and fails for "boom" with
/// its own error object; `chat` events are recorded.
struct Callee {
    name: &'static str,
    chats: Arc<Mutex<Vec<String>>>,
}

impl Callbacks for Callee {
    async fn double(&self, x: Value) -> Result<Value, Error> {
        match x.as_i64() {
            Some(n) => Ok(json!(n * 2)),
            None => Err(Error::new(4040, "cannot double that").with_data(json!({"by": self.name}))),
        }
    }

    async fn chat(&self, msg: Chat) {
        self.chats.lock().unwrap().push(msg.text);
    }
}

async fn rust_client(
    node: &Node,
    name: &'static str,
    role: &str,
) -> (Client, Arc<Mutex<Vec<String>>>) {
    rust_client_with(node, name, role, None).await
}

/// As [`rust_client`], moving to `alternate` when its node goes away.
async fn rust_client_with(
    node: &Node,
    name: &'static str,
    role: &str,
    alternate: Option<&str>,
) -> (Client, Arc<Mutex<Vec<String>>>) {
    let chats = Arc::new(Mutex::new(Vec::new()));
    let mut builder = Client::builder(&node.url)
        .token("secret")
        .role(role)
        .client_id(name)
        .reconnect(echorpc::Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(500),
        ));
    if let Some(url) = alternate {
        builder = builder.alternate_url(url);
    }
    let client = builder.build();
    client
        .mount(CallbacksServer::new(Callee {
            name,
            chats: Arc::clone(&chats),
        }))
        .expect("mount callbacks");
    tokio::time::timeout(EVENTUALLY, client.connect())
        .await
        .expect("connect in time")
        .expect("connects");
    (client, chats)
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_listens_only_once_redis_answers() {
    let Some(mut redis) = RedisServer::start_or_skip("a_node_listens_only_once_redis_answers")
    else {
        return;
    };
    redis.kill();
    let mut node = Node::spawn("early", &redis.url());
    assert!(
        node.wait_listening(Duration::from_millis(1500)).is_none(),
        "listening before redis answers"
    );
    assert!(
        node.logs().contains("cannot reach the cluster backplane"),
        "a clear retry line; stderr:\n{}",
        node.logs()
    );
    redis.restart();
    assert!(
        node.wait_listening(EVENTUALLY).is_some(),
        "not listening once redis answers; stderr:\n{}",
        node.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_example_nodes_act_as_one() {
    let Some(redis) = RedisServer::start_or_skip("three_example_nodes_act_as_one") else {
        return;
    };
    let Some(python) = python() else { return };
    let mut n1 = Node::start("n1", &redis.url());
    let n2 = Node::start("n2", &redis.url());
    let mut n3 = Node::start("n3", &redis.url());
    // An in-process node of the same cluster, to read presence with its missing nodes.
    let probe = Server::builder()
        .host("127.0.0.1")
        .port(0)
        .cluster(
            ClusterConfig::redis(redis.url())
                .node("probe")
                .presence_timeout(Duration::from_secs(1)),
        )
        .build();
    probe.start().await.expect("probe starts");

    let (r1, r1_chats) = rust_client(&n1, "r1", "web").await;
    // a3 moves to n1 when n3 dies; d3 (role ops) stays with n3.
    let (_a3, a3_chats) = rust_client_with(&n3, "a3", "admin", Some(&n1.url)).await;
    let (_d3, _) = rust_client(&n3, "d3", "ops").await;
    let py = PyClient::spawn(
        python,
        "interactive",
        &n2.url,
        &["--client-id", "p2", "--role", "web", "--deadline-s", "120"],
    );
    py.command(json!({"cmd": "register", "method": "double"}))
        .await;
    py.command(json!({"cmd": "subscribe", "event": "chat"}))
        .await;
    let app = AppClient::new(&r1);

    // online: every node's connections of a role, sorted.
    eventually("online web = [p2, r1]", EVENTUALLY, || async {
        (app.online("web".into()).await.ok()? == ["p2", "r1"]).then_some(())
    })
    .await;
    assert_eq!(app.online("admin".into()).await.unwrap(), ["a3"]);

    // ask_double_of: to the Python client on n2 from n1, to a3 on n3 from the Python client.
    eventually("ask_double_of p2", EVENTUALLY, || async {
        (app.ask_double_of("p2".into(), json!(21)).await.ok()? == json!(42)).then_some(())
    })
    .await;
    let line = py
        .command(json!({"cmd": "request", "method": "ask_double_of", "params": {"client_id": "a3", "x": 4}}))
        .await;
    assert_eq!(line["result"], json!(8), "{line}");
    // The target's own error, unchanged across two nodes.
    let line = py
        .command(json!({"cmd": "request", "method": "ask_double_of", "params": {"client_id": "r1", "x": "boom"}}))
        .await;
    assert_eq!(line["error"]["code"], json!(4040), "{line}");
    assert_eq!(
        line["error"]["message"],
        json!("cannot double that"),
        "{line}"
    );
    assert_eq!(line["error"]["data"], json!({"by": "r1"}), "{line}");
    let err = app
        .ask_double_of("nobody".into(), json!(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");

    // chat from the Python client: every other connection of every node, once.
    py.command(json!({"cmd": "publish", "event": "chat", "data": {"text": "hi from p2"}}))
        .await;
    eventually("chat reaches r1 and a3", EVENTUALLY, || async {
        let r1n = r1_chats.lock().unwrap().len();
        let a3n = a3_chats.lock().unwrap().len();
        (r1n >= 1 && a3n >= 1).then_some(())
    })
    .await;
    // announce to admins from n1: only a3 (on n3).
    app.announce("admin".into(), "admins only".into())
        .await
        .unwrap();
    eventually("announce reaches a3", EVENTUALLY, || async {
        (a3_chats.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*r1_chats.lock().unwrap(), ["hi from p2"]);
    assert_eq!(*a3_chats.lock().unwrap(), ["hi from p2", "admins only"]);
    let py_chats = py
        .log
        .count(|l| l["step"] == "event" && l["event"] == "chat");
    assert_eq!(py_chats, 0, "the sender does not get its own chat back");

    // A silent node: presence is partial and names it, within the timeout.
    n2.signal("-STOP");
    let partial = tokio::time::timeout(EVENTUALLY, probe.presence(Some("web")))
        .await
        .expect("presence answers despite a silent node")
        .expect("redis is up");
    assert_eq!(partial.missing_nodes, ["n2"]);
    assert_eq!(partial.client_ids(), ["r1"]);
    assert_eq!(app.online("web".into()).await.unwrap(), ["r1"]);
    n2.signal("-CONT");
    eventually("n2 answers again", EVENTUALLY, || async {
        (app.online("web".into()).await.ok()? == ["p2", "r1"]).then_some(())
    })
    .await;

    // A killed node: calls to its clients fail with -32001 within seconds, its presence is
    // gone within 10 s, and a client with another URL moves there and is reachable again.
    n3.kill();
    let killed_at = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        app.ask_double_of("d3".into(), json!(1)),
    )
    .await
    .expect("a call to a dead node's client does not hang")
    .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
    eventually("n3 leaves presence", Duration::from_secs(12), || async {
        let p = probe.presence(None).await.ok()?;
        let gone = !p.missing_nodes.contains(&"n3".to_owned())
            && p.entries.iter().all(|e| e.addr.node() != "n3");
        gone.then_some(())
    })
    .await;
    assert!(
        killed_at.elapsed() <= Duration::from_secs(12),
        "n3 was listed as missing for {:?}",
        killed_at.elapsed()
    );
    assert_eq!(
        app.online("ops".into()).await.unwrap(),
        Vec::<String>::new()
    );
    eventually("a3 reachable again through n1", EVENTUALLY, || async {
        (app.ask_double_of("a3".into(), json!(5)).await.ok()? == json!(10)).then_some(())
    })
    .await;
    assert_eq!(app.online("admin".into()).await.unwrap(), ["a3"]);

    py.finish().await;
    probe.stop().await;
    n1.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_under_its_name_never_routes_to_its_previous_runs_clients() {
    let Some(redis) = RedisServer::start_or_skip(
        "a_node_restarted_under_its_name_never_routes_to_its_previous_runs_clients",
    ) else {
        return;
    };
    let carol_key = "echorpc:{echorpc}:clients:carol";
    let n1 = Node::start("n1", &redis.url());
    let mut n2 = Node::start("n2", &redis.url());
    let (r1, _) = rust_client(&n1, "r1", "web").await;
    let app = AppClient::new(&r1);
    let (carol, _) = rust_client(&n2, "carol", "web").await;
    eventually("carol reachable from n1", EVENTUALLY, || async {
        (app.ask_double_of("carol".into(), json!(1)).await.ok()? == json!(2)).then_some(())
    })
    .await;
    assert_eq!(redis.command(&["HEXISTS", carol_key, "n2|1"]), ":1");

    // n2 dies without leaving: carol's record stays behind, naming n2's connection #1.
    n2.kill();
    carol.disconnect().await;
    assert_eq!(redis.command(&["HLEN", carol_key]), ":1");

    // n2 again, under the same name: its first connection is #1 again, and it is dave's.
    let n2 = Node::start("n2", &redis.url());
    let (_dave, _) = rust_client(&n2, "dave", "web").await;
    eventually("dave reachable from n1", EVENTUALLY, || async {
        (app.ask_double_of("dave".into(), json!(3)).await.ok()? == json!(6)).then_some(())
    })
    .await;
    assert_eq!(
        redis.command(&["HEXISTS", "echorpc:{echorpc}:clients:dave", "n2|1"]),
        ":1",
        "dave has the number carol had"
    );
    // The restarted node removed its previous run's records before writing its own, and a
    // call for carol reaches nobody (not dave, whose connection has carol's old number).
    assert_eq!(redis.command(&["HLEN", carol_key]), ":0");
    let err = app
        .ask_double_of("carol".into(), json!(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
    assert!(
        n2.logs()
            .contains("directory records of this node's previous run removed"),
        "n2's stderr:\n{}",
        n2.logs()
    );
}

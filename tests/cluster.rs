//! Servers in one cluster through a real `redis-server` (started by each test on a free
//! loopback port): broadcasts to all, a role and all-but-one across nodes without duplicates,
//! calls to a client on any node (untyped and through a typed stub) with the target's errors
//! unchanged, presence, and a Redis outage (local delivery works, cross-node operations fail at
//! once with -32001, then resume by themselves). Nodes here are `Server`s in this process; the
//! example server binary as separate processes (killed and stopped nodes, the Python client) is
//! `examples/tests/cluster_contract.rs`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use echorpc::cluster::{ClusterConfig, ConnectionAddr};
use echorpc::{Client, Connection, Error, ErrorCode, Server};
use echorpc_tests::redis::RedisServer;
use echorpc_tests::{client_for, local_server, start, within};
use serde_json::{Value, json};

/// The clients' side, typed: what servers call on them.
#[echorpc::service]
#[allow(dead_code)] // implemented by the clients below with `register` closures
trait Callee {
    async fn double(&self, x: i64) -> Result<i64, Error>;
    #[echorpc(event)]
    async fn news(&self, text: String);
}

/// Every event a client received, by event name, in order.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<BTreeMap<String, Vec<Value>>>>);

impl Inbox {
    fn of(&self, event: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .get(event)
            .cloned()
            .unwrap_or_default()
    }

    async fn wait_for(&self, event: &str, n: usize) {
        within(&format!("{n} `{event}` events"), async {
            while self.of(event).len() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }
}

async fn node(redis: &RedisServer, name: &str) -> Server {
    // `RUST_LOG=echorpc=debug` shows what the nodes do.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let server = local_server()
        .cluster(
            ClusterConfig::redis(redis.url())
                .cluster("test")
                .node(name)
                .presence_timeout(Duration::from_secs(1)),
        )
        .request_timeout(Duration::from_secs(3))
        .build();
    start(server).await.0
}

/// A client of `server` with this role and client_id; it records the `news` events it gets and
/// answers `double` (an error with data for 13, slowly for 99).
async fn client_of(server: &Server, role: &str, id: &str) -> (Client, Inbox) {
    client_with_factor(server, role, id, 2).await
}

/// As [`client_of`], its `double` multiplying by `factor`.
async fn client_with_factor(server: &Server, role: &str, id: &str, factor: i64) -> (Client, Inbox) {
    let addr = server.local_addr().expect("started");
    let client = client_for(addr).role(role).client_id(id).build();
    let inbox = Inbox::default();
    let events = inbox.clone();
    client
        .subscribe("news", move |data: Value, _| {
            events
                .0
                .lock()
                .unwrap()
                .entry("news".to_owned())
                .or_default()
                .push(data);
            async {}
        })
        .unwrap();
    let me = id.to_owned();
    client
        .register("double", move |p: Value, _| {
            let me = me.clone();
            async move {
                match p["x"].as_i64() {
                    Some(13) => Err(Error::new(4013, "unlucky").with_data(json!({"by": me}))),
                    Some(99) => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(json!(0))
                    }
                    Some(x) => Ok(json!(x * factor)),
                    None => Err(Error::invalid_params("x must be an integer")),
                }
            }
        })
        .unwrap();
    within("connect", client.connect()).await.expect("connects");
    (client, inbox)
}

/// Waits until `server` sees a connection with `client_id`, and until the cluster directory
/// has it (a call by client_id from `other` reaches it).
async fn until_callable(other: &Server, client_id: &str) {
    within(
        &format!("{client_id} callable from {}", other.node_name()),
        async {
            loop {
                let res = other
                    .client(client_id)
                    .request_with_timeout("double", json!({"x": 1}), Duration::from_secs(2))
                    .await;
                if res.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        },
    )
    .await;
}

/// Waits until `double {x: 2}` on `client_id`, called from `from`, answers `expected`.
async fn until_answer(from: &Server, client_id: &str, expected: i64) {
    within(&format!("{client_id} answering {expected}"), async {
        loop {
            let res = from
                .client(client_id)
                .request_with_timeout("double", json!({"x": 2}), Duration::from_secs(2))
                .await;
            if res.as_ref().ok() == Some(&json!(expected)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A short wait after which anything still in flight between nodes has arrived.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_every_node_once() {
    let Some(redis) = RedisServer::start_or_skip("broadcasts_reach_every_node_once") else {
        return;
    };
    let (a, b, c) = (
        node(&redis, "a").await,
        node(&redis, "b").await,
        node(&redis, "c").await,
    );
    let (_wa, wa) = client_of(&a, "web", "wa").await;
    let (_xb, xb) = client_of(&b, "admin", "xb").await;
    let (_wc, wc) = client_of(&c, "web", "wc").await;
    // Every node subscribed: a broadcast from `a` now reaches all of them.
    until_callable(&a, "wc").await;
    until_callable(&a, "xb").await;

    assert_eq!(
        a.broadcast("news", "one").unwrap(),
        1,
        "queued to a's own client"
    );
    for inbox in [&wa, &xb, &wc] {
        inbox.wait_for("news", 1).await;
    }

    b.broadcast_to_role("web", "news", "two").unwrap();
    wa.wait_for("news", 2).await;
    wc.wait_for("news", 2).await;

    // All but wa, excluded by its connection on node a.
    let wa_conn: Connection = a.connections().pop().expect("wa's connection");
    a.broadcast_except(&wa_conn, "news", "three").unwrap();
    xb.wait_for("news", 2).await;
    wc.wait_for("news", 3).await;

    // All but xb, excluded from node c by its cluster address.
    let xb_addr = b.address_of(&b.connections().pop().expect("xb's connection"));
    assert_eq!(xb_addr.node(), "b");
    c.broadcast_except_at(&xb_addr, "news", "four").unwrap();
    wa.wait_for("news", 3).await;
    wc.wait_for("news", 4).await;

    // Typed `…Events` go through the same paths.
    CalleeEvents::new(&c)
        .news_to_role("admin", &"five".to_owned())
        .unwrap();
    xb.wait_for("news", 3).await;

    settle().await;
    assert_eq!(wa.of("news"), ["one", "two", "four"]);
    assert_eq!(xb.of("news"), ["one", "three", "five"]);
    assert_eq!(wc.of("news"), ["one", "two", "three", "four"]);
    let stats = a.cluster_stats().expect("in a cluster");
    assert!(
        stats.connected && stats.broadcasts_published >= 2,
        "{stats:?}"
    );
    assert_eq!((stats.broadcasts_dropped, stats.messages_malformed), (0, 0));

    // Garbage on the cluster's channel is logged and dropped by every node; nothing breaks.
    for garbage in [
        "not json",
        r#"{"broadcast":{"from":"x"}}"#,
        r#"{"reply":{"rid":"1"}}"#,
    ] {
        assert_eq!(
            redis.command(&["PUBLISH", "echorpc:{test}:all", garbage]),
            ":3"
        );
    }
    within("every node counts the malformed messages", async {
        while [&a, &b, &c]
            .iter()
            .any(|s| s.cluster_stats().unwrap().messages_malformed < 3)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    a.broadcast("news", "after garbage").unwrap();
    wc.wait_for("news", 5).await;
    for server in [a, b, c] {
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_a_client_on_any_node() {
    let Some(redis) = RedisServer::start_or_skip("calls_reach_a_client_on_any_node") else {
        return;
    };
    let (a, b, c) = (
        node(&redis, "a").await,
        node(&redis, "b").await,
        node(&redis, "c").await,
    );
    let (_cb, cb_inbox) = client_of(&b, "web", "cb").await;
    until_callable(&a, "cb").await;

    // Untyped and typed, from another node and from its own.
    let far = a.client("cb");
    assert_eq!(
        far.request("double", json!({"x": 21})).await.unwrap(),
        json!(42)
    );
    assert_eq!(CalleeClient::new(&far).double(5).await.unwrap(), 10);
    assert_eq!(
        CalleeClient::new(b.client("cb")).double(6).await.unwrap(),
        12
    );

    // The target's own error object crosses unchanged.
    let err = CalleeClient::new(&far).double(13).await.unwrap_err();
    match &err {
        Error::Rpc(obj) => {
            assert_eq!(obj.code(), ErrorCode::from(4013));
            assert_eq!(obj.message(), "unlucky");
            assert_eq!(obj.data(), Some(&json!({"by": "cb"})));
        }
        other => panic!("expected the client's error, got {other:?}"),
    }
    let err = far.request("double", json!({"x": "no"})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARAMS));

    // The target's timeout is -32002; nobody with that client_id is -32001.
    let err = far
        .request_with_timeout("double", json!({"x": 99}), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TIMEOUT), "{err:?}");
    let err = within(
        "a call to nobody",
        a.client("nobody").request("double", json!({"x": 1})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");

    // Batches, typed and untyped, from another node and from its own: one JSON-RPC batch to
    // the client, each answer (or error) in its place.
    for peer in [a.client("cb"), b.client("cb")] {
        let mut batch = CalleeBatch::new(&peer);
        let (one, unlucky, two) = (batch.double(1), batch.double(13), batch.double(2));
        let mut results = within("a typed batch", batch.send_batch()).await.unwrap();
        assert_eq!(results.take(one).unwrap(), 2);
        let err = results.take(unlucky).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::from(4013)), "{err:?}");
        assert_eq!(results.take(two).unwrap(), 4);
        let answers = within(
            "an untyped batch",
            peer.batch_request([("double", json!({"x": 5})), ("nope", json!({}))]),
        )
        .await
        .unwrap();
        assert_eq!(answers[0].as_ref().unwrap(), &json!(10));
        let err = answers[1].as_ref().unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::METHOD_NOT_FOUND), "{err:?}");
    }
    let err = a
        .client("nobody")
        .batch_request([("double", json!({"x": 1}))])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");

    // An event to one remote client.
    CalleeClient::new(&far)
        .news("for cb".to_owned())
        .await
        .unwrap();
    cb_inbox.wait_for("news", 1).await;
    assert_eq!(cb_inbox.of("news"), ["for cb"]);

    // By address: the connection on b, from c.
    let addr = b.address_of(&b.connections().pop().unwrap());
    let at = c.connection_at(addr.clone());
    assert_eq!(
        at.request("double", json!({"x": 4})).await.unwrap(),
        json!(8)
    );
    let gone = c.connection_at(ConnectionAddr::new("b", addr.id() + 1000));
    let err = gone.request("double", json!({"x": 4})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");

    // A second connection with the same client_id, on c: calls go to the most recent, and
    // back to the first one when it closes.
    let (cb2, _) = client_with_factor(&c, "web", "cb", 3).await;
    until_answer(&a, "cb", 6).await;
    cb2.disconnect().await;
    until_answer(&a, "cb", 4).await;
    for server in [a, b, c] {
        server.stop().await;
    }
}

/// A client of `server` with client_id `id` whose `wait` handler runs until cancelled; the
/// count is how many of them run now.
async fn waiting_client(
    server: &Server,
    id: &str,
) -> (Client, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Running(Arc<AtomicUsize>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let running = Arc::new(AtomicUsize::new(0));
    let client = client_for(server.local_addr().expect("started"))
        .client_id(id)
        .build();
    let count = Arc::clone(&running);
    client
        .register("wait", move |_: Value, _| {
            count.fetch_add(1, Ordering::SeqCst);
            let guard = Running(Arc::clone(&count));
            async move {
                tokio::time::sleep(Duration::from_secs(60)).await;
                drop(guard);
                Ok::<_, Error>(json!("waited"))
            }
        })
        .unwrap();
    within("connect", client.connect()).await.expect("connects");
    (client, running)
}

async fn until_running(running: &std::sync::atomic::AtomicUsize, n: usize) {
    within(&format!("{n} `wait` handlers running"), async {
        while running.load(std::sync::atomic::Ordering::SeqCst) != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_caller_cancels_the_handler_on_another_node() {
    let Some(redis) =
        RedisServer::start_or_skip("a_cancelled_caller_cancels_the_handler_on_another_node")
    else {
        return;
    };
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (_slow, running) = waiting_client(&b, "slow").await;
    within("slow reachable from a", async {
        // Reached once its client answers, even with "method not found".
        while a
            .client("slow")
            .request("nope", json!({}))
            .await
            .unwrap_err()
            .code()
            != Some(ErrorCode::METHOD_NOT_FOUND)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // A call from a that its caller stops awaiting: the handler on the client of b stops.
    let peer = a.client("slow");
    let call = tokio::spawn(async move { peer.request("wait", json!({})).await });
    until_running(&running, 1).await;
    call.abort();
    let started = std::time::Instant::now();
    until_running(&running, 0).await;
    let first = started.elapsed();
    // Far sooner than the 3 s request timeout, which would stop it too.
    assert!(first < Duration::from_secs(1), "stopped after {first:?}");

    // The cascade: a's own handler awaits the client on b; its caller (a client of a) gives
    // up; a cancels its handler, whose call is cancelled on b, which cancels the client's.
    let relay = a.clone();
    a.register("relay_wait", move |_: Value, _| {
        let server = relay.clone();
        async move { server.client("slow").request("wait", json!({})).await }
    })
    .unwrap();
    let caller = client_for(a.local_addr().unwrap()).build();
    within("connect", caller.connect()).await.unwrap();
    let asking = caller.clone();
    let call = tokio::spawn(async move { asking.request("relay_wait", json!({})).await });
    until_running(&running, 1).await;
    call.abort();
    let started = std::time::Instant::now();
    until_running(&running, 0).await;
    let cascade = started.elapsed();
    assert!(
        cascade < Duration::from_secs(1),
        "stopped after {cascade:?}"
    );
    eprintln!("handler on the other node stopped {first:?} after the drop, {cascade:?} by cascade");
    within("no cross-node call left waiting", async {
        while a.cluster_stats().unwrap().remote_calls_pending != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    for server in [a, b] {
        server.stop().await;
    }
}

/// Polls `redis` until `args` answers `expected` (the reply's first line).
async fn until_redis(redis: &RedisServer, args: &[&str], expected: &str) {
    within(&format!("redis {args:?} = {expected}"), async {
        while redis.command(args) != expected {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_record_never_reaches_another_client() {
    let Some(redis) = RedisServer::start_or_skip("a_stale_record_never_reaches_another_client")
    else {
        return;
    };
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (_dave, _) = client_of(&b, "web", "dave").await;
    until_callable(&a, "dave").await;
    let dave_id = b.client("dave").local_connection().unwrap().id().as_u64();
    // What a previous run of b could have left: carol's record naming the number dave has
    // now, and newer than anything (so it is tried first).
    let carol = "echorpc:{test}:clients:carol";
    let field = format!("b|{dave_id}");
    assert_eq!(
        redis.command(&["HSET", carol, &field, "99999999999999"]),
        ":1"
    );

    // From b itself (the local route) and from a (through Redis): nobody, not dave.
    for from in [&b, &a] {
        let err = within(
            "a call for carol",
            from.client("carol").request("double", json!({"x": 2})),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
    }
    // Found stale (by b first), the record is removed; dave's own is untouched.
    until_redis(&redis, &["HLEN", carol], ":0").await;
    assert_eq!(
        a.client("dave")
            .request("double", json!({"x": 2}))
            .await
            .unwrap(),
        json!(4)
    );
    for server in [a, b] {
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_of_a_node_that_died_are_removed_by_the_others() {
    let Some(redis) =
        RedisServer::start_or_skip("the_records_of_a_node_that_died_are_removed_by_the_others")
    else {
        return;
    };
    // What a node that crashed leaves: its name in the member set, its liveness expired, 1,200
    // records (more than one page of the cleanup) and their index.
    let (nodes, index, zed) = (
        "echorpc:{test}:nodes",
        "echorpc:{test}:conns:ghost",
        "echorpc:{test}:clients:zed",
    );
    let ids: Vec<String> = (1..=1200).map(|id| id.to_string()).collect();
    let mut records = vec!["HSET", zed];
    let mut entries = vec!["HSET", index];
    let fields: Vec<String> = ids.iter().map(|id| format!("ghost|{id}")).collect();
    for (id, field) in ids.iter().zip(&fields) {
        records.extend([field.as_str(), "1"]);
        entries.extend([id.as_str(), "zed"]);
    }
    assert_eq!(redis.command(&records), ":1200");
    assert_eq!(redis.command(&entries), ":1200");
    assert_eq!(redis.command(&["HSET", zed, "elsewhere|1", "1"]), ":1");
    assert_eq!(redis.command(&["SADD", nodes, "ghost"]), ":1");
    let ghost_alive = ["SET", "echorpc:{test}:nodes:ghost", "1", "PX", "1000"];
    assert_eq!(redis.command(&ghost_alive), "+OK");

    let a = node(&redis, "a").await;
    // While the ghost keeps its liveness (more than a sweep period), its records stay.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(redis.command(&ghost_alive), "+OK");
    }
    assert_eq!(redis.command(&["HLEN", zed]), ":1201");
    assert_eq!(redis.command(&["SISMEMBER", nodes, "ghost"]), ":1");
    // Once it is dead, within a sweep period: every record of the dead node, its index and its
    // name go; another node's record of the same client stays.
    until_redis(&redis, &["SISMEMBER", nodes, "ghost"], ":0").await;
    assert_eq!(redis.command(&["HLEN", zed]), ":1");
    assert_eq!(redis.command(&["EXISTS", index]), ":0");
    assert_eq!(redis.command(&["SISMEMBER", nodes, "a"]), ":1");

    // A live node whose liveness ran out (a long stall, during which the others removed its
    // records) writes them again.
    let (_erin, _) = client_of(&a, "web", "erin").await;
    let erin = "echorpc:{test}:clients:erin";
    until_redis(&redis, &["HLEN", erin], ":1").await;
    assert_eq!(
        redis.command(&["DEL", "echorpc:{test}:nodes:a", erin]),
        ":2"
    );
    until_redis(&redis, &["HLEN", erin], ":1").await;

    // Leaving removes the node's records and its index: those of its connections, and any
    // other record of it (one its connections' closing would not remove, made here).
    let (stray, a_index) = ("echorpc:{test}:clients:stray", "echorpc:{test}:conns:a");
    assert_eq!(redis.command(&["HSET", stray, "a|999", "1"]), ":1");
    assert_eq!(redis.command(&["HSET", a_index, "999", "stray"]), ":1");
    a.stop().await;
    assert_eq!(redis.command(&["HLEN", erin]), ":0");
    assert_eq!(redis.command(&["EXISTS", stray]), ":0");
    assert_eq!(redis.command(&["EXISTS", a_index]), ":0");
    assert_eq!(redis.command(&["SISMEMBER", nodes, "a"]), ":0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_lists_every_node() {
    let Some(redis) = RedisServer::start_or_skip("presence_lists_every_node") else {
        return;
    };
    let (a, b, c) = (
        node(&redis, "a").await,
        node(&redis, "b").await,
        node(&redis, "c").await,
    );
    let _clients = [
        client_of(&a, "web", "w1").await.0,
        client_of(&b, "web", "w2").await.0,
        client_of(&b, "admin", "x1").await.0,
        client_of(&c, "web", "w2").await.0,
    ];
    let all = within("presence", b.presence(None)).await.unwrap();
    assert!(all.is_complete(), "{:?}", all.missing_nodes);
    assert_eq!(all.count(), 4);
    let web = within("presence of web", a.presence(Some("web")))
        .await
        .unwrap();
    let mut seen: Vec<(String, String)> = web
        .entries
        .iter()
        .map(|e| (e.addr.node().to_owned(), e.meta.client_id().to_owned()))
        .collect();
    seen.sort();
    let expected = [("a", "w1"), ("b", "w2"), ("c", "w2")];
    assert_eq!(seen, expected.map(|(n, i)| (n.to_owned(), i.to_owned())));
    assert_eq!(web.client_ids(), ["w1", "w2"]);
    for entry in &web.entries {
        assert_eq!(entry.meta.role(), "web");
        assert!(
            entry.meta.get("token").is_none(),
            "tokens stay on their node"
        );
    }
    // A node that left is no longer waited for.
    c.stop().await;
    let after = within("presence after c left", a.presence(None))
        .await
        .unwrap();
    assert!(after.is_complete(), "{:?}", after.missing_nodes);
    assert_eq!(after.count(), 3);
    // A call by client_id skips c's closed connection and reaches the one on b.
    let res = within(
        "a call to w2 after c left",
        a.client("w2").request("double", json!({"x": 2})),
    )
    .await;
    assert_eq!(res.unwrap(), json!(4));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_keeps_local_delivery_and_fails_cross_node_at_once() {
    let Some(mut redis) = RedisServer::start_or_skip("redis_outage") else {
        return;
    };
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (_wa, wa) = client_of(&a, "web", "wa").await;
    let (_wb, wb) = client_of(&b, "web", "wb").await;
    until_callable(&a, "wb").await;

    redis.kill();
    within("a notices the outage", async {
        while a.cluster_stats().unwrap().connected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Local: a broadcast reaches a's client, a call reaches a client on a.
    a.broadcast("news", "local").unwrap();
    wa.wait_for("news", 1).await;
    assert_eq!(
        a.client("wa")
            .request("double", json!({"x": 3}))
            .await
            .unwrap(),
        json!(6)
    );
    // Cross-node: -32001 at once, never a hang or a partial answer.
    let err = within(
        "a cross-node call during the outage",
        a.client("wb").request("double", json!({"x": 3})),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
    let err = within("presence during the outage", a.presence(None))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
    let dropped = a.cluster_stats().unwrap().broadcasts_dropped;
    assert!(
        dropped >= 1,
        "the broadcast's cluster copy is counted as dropped"
    );

    // Redis comes back (empty): both nodes resume by themselves.
    redis.restart();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let res = a
                .client("wb")
                .request_with_timeout("double", json!({"x": 5}), Duration::from_secs(2))
                .await;
            if res.as_ref().ok() == Some(&json!(10)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("cross-node calls resume after redis restarts");
    within("b's broadcast after the outage", async {
        loop {
            b.broadcast("news", "back").unwrap();
            if wa.of("news").iter().any(|n| n == "back") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let presence = within("presence after the outage", a.presence(None))
        .await
        .unwrap();
    assert_eq!(presence.count(), 2);
    let _ = wb;
    a.stop().await;
    b.stop().await;
}

// Current-thread runtime: nothing drains the queue toward Redis while the loop runs, so what
// fits in it and what is dropped is exact.
#[tokio::test(flavor = "current_thread")]
async fn broadcasts_past_the_bounded_queue_are_counted_as_dropped() {
    let Some(redis) = RedisServer::start_or_skip("bounded_queue") else {
        return;
    };
    let server = local_server()
        .cluster(
            ClusterConfig::redis(redis.url())
                .cluster("queue")
                .node("q")
                .publish_queue(4),
        )
        .build();
    let (server, _) = start(server).await;
    for n in 0..100 {
        server.broadcast("news", n).unwrap();
    }
    let stats = server.cluster_stats().unwrap();
    assert_eq!(stats.broadcasts_dropped, 96, "{stats:?}");
    within("the queued broadcasts are published", async {
        while server.cluster_stats().unwrap().broadcasts_published < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let stats = server.cluster_stats().unwrap();
    assert_eq!(
        (stats.broadcasts_published, stats.broadcasts_dropped),
        (4, 96)
    );
    server.stop().await;
}

//! What an operator sees: the figures of `Server::stats` and of the `metrics` facade (through
//! a recorder installed by this test binary), and the `connection` span on every log line of a
//! connection, with no secret in it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use echorpc::{Client, Limits};
use echorpc_tests::{RawPeer, local_server, register_add, within};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};
use serde_json::json;

type Store = Arc<Mutex<HashMap<String, f64>>>;

/// One metric series, by its name and labels (`name{k=v,…}`).
struct Series {
    key: String,
    store: Store,
}

impl Series {
    fn add(&self, delta: f64) {
        *self
            .store
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += delta;
    }
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        self.add(value as f64);
    }
    fn absolute(&self, value: u64) {
        self.store
            .lock()
            .unwrap()
            .insert(self.key.clone(), value as f64);
    }
}

impl GaugeFn for Series {
    fn increment(&self, value: f64) {
        self.add(value);
    }
    fn decrement(&self, value: f64) {
        self.add(-value);
    }
    fn set(&self, value: f64) {
        self.store.lock().unwrap().insert(self.key.clone(), value);
    }
}

struct TestRecorder(Store);

impl TestRecorder {
    fn series(&self, key: &Key) -> Arc<Series> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        Arc::new(Series {
            key: format!("{}{{{}}}", key.name(), labels.join(",")),
            store: Arc::clone(&self.0),
        })
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.series(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.series(key))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn value(store: &Store, key: &str) -> f64 {
    store.lock().unwrap().get(key).copied().unwrap_or(0.0)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

// One test, since the recorder and the log subscriber are process-wide.
#[tokio::test]
async fn stats_metrics_and_spans_tell_the_story_without_secrets() {
    let store: Store = Arc::default();
    metrics::set_global_recorder(TestRecorder(Arc::clone(&store))).expect("recorder");
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("echorpc=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let server = local_server()
        .auth(|req| req.token == "s3cret-token")
        .limits(Limits::default().with_max_connections(2))
        .build();
    register_add(&server);
    let addr = server.start().await.expect("start");
    let url = format!("ws://{addr}");

    let worker = Client::builder(&url)
        .token("s3cret-token")
        .role("worker")
        .client_id("w-7")
        .no_reconnect()
        .build();
    within("connect", worker.connect()).await.expect("connect");
    // A wrong token: 401.
    let wrong = Client::builder(&url).token("nope").no_reconnect().build();
    assert!(wrong.connect().await.is_err());
    let web = Client::builder(&url)
        .token("s3cret-token")
        .no_reconnect()
        .build();
    within("connect", web.connect()).await.expect("connect");
    let sum = within("add", worker.request("add", json!({"a": 1, "b": 2}))).await;
    assert_eq!(sum.expect("add"), json!({"sum": 3}));

    // Past the limit of 2 connections: 503.
    let third = Client::builder(&url)
        .token("s3cret-token")
        .no_reconnect()
        .build();
    assert!(third.connect().await.is_err());

    let stats = server.stats();
    assert_eq!(stats.open_connections, 2);
    assert_eq!(stats.open_by_role.get("worker"), Some(&1));
    assert_eq!(stats.open_by_role.get("web"), Some(&1));
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(stats.upgrades_rejected.get(&401), Some(&1));
    assert_eq!(stats.upgrades_rejected.get(&503), Some(&1));

    assert_eq!(value(&store, "echorpc_connections_open{role=worker}"), 1.0);
    assert_eq!(
        value(&store, "echorpc_connections_opened_total{role=web}"),
        1.0
    );
    assert_eq!(
        value(&store, "echorpc_upgrades_rejected_total{status=401}"),
        1.0
    );
    assert_eq!(
        value(&store, "echorpc_upgrades_rejected_total{status=503}"),
        1.0
    );

    worker.disconnect().await;
    eventually("worker gone from the gauge", || {
        value(&store, "echorpc_connections_open{role=worker}") == 0.0
    })
    .await;
    web.disconnect().await;
    server.shutdown(Duration::from_secs(1)).await;

    // A peer that never answers the JSON ping is dropped, and counted as such.
    let strict = local_server()
        .ping_interval(Duration::from_millis(50))
        .pong_timeout(Duration::from_millis(50))
        .build();
    let strict_addr = strict.start().await.expect("start");
    let mut silent = RawPeer::connect(strict_addr, "").await;
    assert_eq!(silent.close_code().await, Some(1001));
    eventually("drop counted", || {
        strict.stats().peers_dropped_pong_timeout == 1
    })
    .await;
    assert_eq!(
        value(&store, "echorpc_peers_dropped_total{reason=pong_timeout}"),
        1.0
    );
    strict.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).expect("utf-8 logs");
    let opened = text
        .lines()
        .find(|l| l.contains("connection opened") && l.contains("w-7"))
        .unwrap_or_else(|| panic!("no 'connection opened' line for w-7 in:\n{text}"));
    assert!(opened.contains("connection{"), "{opened}");
    assert!(
        opened.contains("role=\"worker\"") || opened.contains("role=worker"),
        "{opened}"
    );
    assert!(opened.contains("peer=\"127.0.0.1:"), "{opened}");
    assert!(text.contains("upgrade refused"), "{text}");
    assert!(
        !text.contains("s3cret-token"),
        "a secret reached the logs:\n{text}"
    );
}

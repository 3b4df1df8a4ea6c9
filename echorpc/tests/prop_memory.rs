//! Property tests over the in-memory transport: randomised interleavings of calls both ways,
//! batches, events both ways, slow and failing handlers, abandoned (cancelled) calls, and
//! disconnects with reconnects, all on a paused clock (deterministic per case, no sockets).
//!
//! Invariants checked for every case:
//! - each call resolves exactly once, with its own answer (every call's argument is unique, so
//!   a mismatched answer shows), or with `NotConnected` only when a disconnect overlapped it;
//! - each handler runs at most once per call, exactly once for a call answered with a result;
//! - events arrive in the order they were published, and all of them when no disconnect
//!   happened;
//! - a call abandoned before its answer is cancelled (`$/cancelRequest`) or stopped with its
//!   connection: its handler never runs to its end;
//! - once everything is done, no call is pending and no handler is in flight on either side,
//!   on the current connection and on every one a reconnect replaced (each of those closed);
//! - once the client and the server are gone, no task of theirs is left on the runtime.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use echorpc::transport::memory;
use echorpc::{AuthRequest, Client, Connection, Error, ErrorCode, Server};
use proptest::prelude::*;
use serde_json::{Value, json};

/// What a generated case does, each action starting after its own delay.
#[derive(Debug, Clone)]
enum Action {
    /// The client calls the server.
    Call(Handler),
    /// The client sends a batch of calls.
    Batch(Vec<Handler>),
    /// The server calls the client back on the current connection.
    ServerCall,
    /// The client publishes an event.
    ClientEvent,
    /// The server publishes an event to the client.
    ServerEvent,
    /// The connection drops and the client connects again: the client disconnects, or (with
    /// `by_server`) the server closes the connection under it.
    Reconnect { by_server: bool },
    /// The client calls `slow` (sleeping `ms`) and stops waiting after `after` ms (< `ms`):
    /// the call is cancelled, and its handler must never finish.
    Abandon { ms: u64, after: u64 },
}

/// Which server handler a call reaches.
#[derive(Debug, Clone, Copy)]
enum Handler {
    /// Answers on its first poll.
    Fast,
    /// Sleeps this many (virtual) milliseconds first.
    Slow(u64),
    /// Answers with an error object.
    Fail,
    /// Calls the client back before answering.
    Nested,
}

fn handler() -> impl Strategy<Value = Handler> {
    prop_oneof![
        3 => Just(Handler::Fast),
        3 => (1u64..50).prop_map(Handler::Slow),
        1 => Just(Handler::Fail),
        1 => Just(Handler::Nested),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => handler().prop_map(Action::Call),
        2 => prop::collection::vec(handler(), 1..5).prop_map(Action::Batch),
        2 => Just(Action::ServerCall),
        3 => Just(Action::ClientEvent),
        3 => Just(Action::ServerEvent),
        1 => any::<bool>().prop_map(|by_server| Action::Reconnect { by_server }),
        2 => (10u64..60)
            .prop_flat_map(|ms| (Just(ms), 1..ms - 2))
            .prop_map(|(ms, after)| Action::Abandon { ms, after }),
    ]
}

/// Shared observations of one case.
#[derive(Default)]
struct Seen {
    /// Handler runs per call argument.
    runs: HashMap<i64, usize>,
    /// Calls of `slow` whose handler ran to its end.
    finished: HashSet<i64>,
    /// Calls the client abandoned before their answer.
    abandoned: Vec<i64>,
    /// Events the server received, by connection generation, in arrival order.
    client_events: Vec<(u64, i64)>,
    /// Events the client received, in arrival order.
    server_events: Vec<(u64, i64)>,
    /// Events published without an error, client's then server's.
    published: [usize; 2],
}

struct Case {
    server: Server,
    client: Client,
    /// The server's side of the current connection, and its generation.
    current: Mutex<(Connection, u64)>,
    /// The server's side of every connection the case made, the current one last.
    every_connection: Mutex<Vec<Connection>>,
    seen: Arc<Mutex<Seen>>,
    /// Bumped before a disconnect and after the reconnect: odd while reconnecting.
    generation: Mutex<u64>,
    /// One reconnect at a time.
    reconnecting: tokio::sync::Mutex<()>,
    /// Publication order of events (assigned right before publishing).
    next_seq: std::sync::atomic::AtomicI64,
}

const METHOD_TIMEOUT: Duration = Duration::from_secs(10);

fn method_name(handler: Handler) -> (&'static str, Value) {
    match handler {
        Handler::Fast => ("fast", json!(null)),
        Handler::Slow(ms) => ("slow", json!(ms)),
        Handler::Fail => ("fail", json!(null)),
        Handler::Nested => ("nested", json!(null)),
    }
}

fn expected(handler: Handler, arg: i64) -> Result<Value, i64> {
    match handler {
        Handler::Fast | Handler::Slow(_) => Ok(json!(arg)),
        Handler::Fail => Err(-32000),
        Handler::Nested => Ok(json!(arg * 2)),
    }
}

impl Case {
    async fn new() -> Arc<Self> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = Server::builder().ping_interval(Duration::ZERO).build();
        let count = |seen: &Arc<Mutex<Seen>>, arg: &Value| {
            let arg = arg["arg"].as_i64().expect("arg");
            *seen.lock().unwrap().runs.entry(arg).or_default() += 1;
            arg
        };
        let s = Arc::clone(&seen);
        server
            .register("fast", move |p: Value, _| {
                let arg = count(&s, &p);
                async move { Ok::<_, Error>(json!(arg)) }
            })
            .unwrap();
        let s = Arc::clone(&seen);
        server
            .register("slow", move |p: Value, _| {
                let arg = count(&s, &p);
                let ms = p["x"].as_u64().unwrap_or(0);
                let s = Arc::clone(&s);
                async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    s.lock().unwrap().finished.insert(arg);
                    Ok::<_, Error>(json!(arg))
                }
            })
            .unwrap();
        let s = Arc::clone(&seen);
        server
            .register("fail", move |p: Value, _| {
                count(&s, &p);
                async move { Err::<Value, _>(Error::new(-32000, "refused")) }
            })
            .unwrap();
        let s = Arc::clone(&seen);
        server
            .register("nested", move |p: Value, conn: Connection| {
                let arg = count(&s, &p);
                async move { conn.request("double", json!({ "arg": arg })).await }
            })
            .unwrap();
        let s = Arc::clone(&seen);
        server
            .subscribe("client_event", move |p: Value, _| {
                let s = Arc::clone(&s);
                async move {
                    // A subscriber that waits, so delivery goes through the event task.
                    tokio::task::yield_now().await;
                    let entry = (p["gen"].as_u64().unwrap(), p["seq"].as_i64().unwrap());
                    s.lock().unwrap().client_events.push(entry);
                }
            })
            .unwrap();

        let client = Client::builder("memory")
            .no_reconnect()
            .ping_interval(Duration::ZERO)
            .request_timeout(METHOD_TIMEOUT)
            .build();
        client
            .register("double", |p: Value, _| async move {
                tokio::task::yield_now().await;
                Ok::<_, Error>(json!(p["arg"].as_i64().unwrap() * 2))
            })
            .unwrap();
        let s = Arc::clone(&seen);
        client
            .subscribe("server_event", move |p: Value, _| {
                let entry = (p["gen"].as_u64().unwrap(), p["seq"].as_i64().unwrap());
                s.lock().unwrap().server_events.push(entry);
                async {}
            })
            .unwrap();
        let conn = connect(&server, &client).await;
        Arc::new(Self {
            server,
            client,
            every_connection: Mutex::new(vec![conn.clone()]),
            current: Mutex::new((conn, 0)),
            seen,
            generation: Mutex::new(0),
            reconnecting: tokio::sync::Mutex::new(()),
            next_seq: std::sync::atomic::AtomicI64::new(0),
        })
    }

    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap()
    }

    /// Whether a disconnect may have hit something that started at generation `start`.
    fn overlapped(&self, start: u64) -> bool {
        start % 2 == 1 || self.generation() != start
    }

    fn next_seq(&self) -> i64 {
        self.next_seq
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// Checks one call's outcome: its own answer, or `NotConnected` when a reconnect overlapped.
    fn check_call(
        &self,
        handler: Handler,
        arg: i64,
        outcome: Result<Value, Error>,
        gen_at_start: u64,
    ) {
        let overlapped = self.overlapped(gen_at_start);
        match (outcome, expected(handler, arg)) {
            (Ok(value), Ok(want)) => assert_eq!(value, want, "call {arg} got another answer"),
            (Err(Error::Rpc(obj)), Err(code)) => assert_eq!(obj.code(), ErrorCode::from(code)),
            // A nested call's callback can fail when the connection drops under it.
            (Err(err), _) if overlapped && err.code() == Some(ErrorCode::NOT_CONNECTED) => {}
            (Err(Error::Rpc(obj)), Ok(_))
                if overlapped
                    && matches!(handler, Handler::Nested)
                    && obj.code() == ErrorCode::NOT_CONNECTED => {}
            (got, want) => panic!("call {arg} ({handler:?}): got {got:?}, want {want:?}"),
        }
    }
}

/// A fresh in-memory connection between `server` and `client`; the server's side of it.
async fn connect(server: &Server, client: &Client) -> Connection {
    let (ours, theirs) = memory::pair();
    let conn = server.accept(ours, AuthRequest::default()).await.unwrap();
    client.connect_over(theirs).await.unwrap();
    conn
}

async fn run_case(actions: Vec<(u64, Action)>) {
    let case = Case::new().await;
    let mut tasks = Vec::new();
    for (i, (delay, action)) in actions.into_iter().enumerate() {
        let case = Arc::clone(&case);
        let arg = i64::try_from(i).unwrap() * 100;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            perform(&case, action, arg).await;
        }));
    }
    for task in tasks {
        task.await.expect("an action panicked");
    }
    // Let anything still running (a callback's handler, an event task) finish.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (server_conn, final_generation) = {
        let current = case.current.lock().unwrap();
        (current.0.clone(), current.1)
    };
    let client_conn = case.client.connection().expect("still connected");
    assert_eq!(client_conn.pending_calls(), 0, "client calls left pending");
    assert_eq!(
        client_conn.requests_in_flight(),
        0,
        "client handlers left running"
    );
    assert_eq!(server_conn.pending_calls(), 0, "server calls left pending");
    assert_eq!(
        server_conn.requests_in_flight(),
        0,
        "server handlers left running"
    );

    let replaced = case.every_connection.lock().unwrap().clone();
    for (i, conn) in replaced.iter().rev().skip(1).enumerate() {
        assert!(!conn.is_open(), "replaced connection {i} still open");
        assert_eq!(
            conn.pending_calls(),
            0,
            "replaced connection {i}: calls pending"
        );
        assert_eq!(
            conn.requests_in_flight(),
            0,
            "replaced connection {i}: handlers running"
        );
    }

    check_seen(&case.seen.lock().unwrap(), final_generation);
    case.client.disconnect().await;
    server_conn.closed().await;
    case.server.stop().await;
    drop((case, server_conn, client_conn, replaced));
    // Everything the client and the server started ends with them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let left = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(left, 0, "tasks left on the runtime");
}

/// The handler runs and events of a finished case.
fn check_seen(seen: &Seen, final_generation: u64) {
    for (arg, runs) in &seen.runs {
        assert_eq!(*runs, 1, "the handler of call {arg} ran {runs} times");
    }
    for arg in &seen.abandoned {
        // Cancelled by `$/cancelRequest`, or stopped with its connection: never finished.
        assert!(
            !seen.finished.contains(arg),
            "the handler of abandoned call {arg} ran to its end"
        );
    }
    for events in [&seen.client_events, &seen.server_events] {
        for pair in events.windows(2) {
            assert!(pair[0] < pair[1], "events out of order: {events:?}");
        }
    }
    if final_generation == 0 {
        // No disconnect: nothing was lost.
        assert_eq!(
            seen.client_events.len(),
            seen.published[0],
            "client events lost"
        );
        assert_eq!(
            seen.server_events.len(),
            seen.published[1],
            "server events lost"
        );
    }
}

async fn perform(case: &Case, action: Action, arg: i64) {
    let gen_at_start = case.generation();
    match action {
        Action::Call(handler) => {
            let (method, x) = method_name(handler);
            let outcome = case
                .client
                .request(method, json!({ "arg": arg, "x": x }))
                .await;
            case.check_call(handler, arg, outcome, gen_at_start);
        }
        Action::Batch(handlers) => {
            let calls: Vec<_> = handlers
                .iter()
                .enumerate()
                .map(|(k, h)| {
                    let (method, x) = method_name(*h);
                    (
                        method,
                        json!({ "arg": arg + i64::try_from(k).unwrap(), "x": x }),
                    )
                })
                .collect();
            match case.client.batch_request(calls).await {
                Ok(outcomes) => {
                    assert_eq!(outcomes.len(), handlers.len(), "one outcome per call");
                    for (k, (h, outcome)) in handlers.iter().zip(outcomes).enumerate() {
                        let arg = arg + i64::try_from(k).unwrap();
                        case.check_call(*h, arg, outcome, gen_at_start);
                    }
                }
                Err(err) => {
                    assert!(
                        case.overlapped(gen_at_start),
                        "batch failed without a disconnect: {err:?}"
                    );
                    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
                }
            }
        }
        Action::ServerCall => {
            let conn = case.current.lock().unwrap().0.clone();
            let outcome = conn.request("double", json!({ "arg": arg })).await;
            match outcome {
                Ok(value) => assert_eq!(value, json!(arg * 2)),
                Err(err) => {
                    assert!(case.overlapped(gen_at_start), "{err:?}");
                    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED));
                }
            }
        }
        Action::ClientEvent => {
            let seq = case.next_seq();
            let sent = case
                .client
                .publish("client_event", json!({ "gen": gen_at_start, "seq": seq }))
                .await;
            match sent {
                Ok(()) => case.seen.lock().unwrap().published[0] += 1,
                Err(err) => assert!(case.overlapped(gen_at_start), "{err:?}"),
            }
        }
        Action::ServerEvent => {
            let (conn, generation) = case.current.lock().unwrap().clone();
            let seq = case.next_seq();
            let sent = conn
                .publish("server_event", json!({ "gen": generation, "seq": seq }))
                .await;
            match sent {
                Ok(()) => case.seen.lock().unwrap().published[1] += 1,
                Err(err) => assert!(case.overlapped(gen_at_start), "{err:?}"),
            }
        }
        Action::Abandon { ms, after } => {
            let call = case.client.request("slow", json!({ "arg": arg, "x": ms }));
            match tokio::time::timeout(Duration::from_millis(after), call).await {
                Err(_abandoned) => case.seen.lock().unwrap().abandoned.push(arg),
                // Only a dropped connection ends the call before its deadline.
                Ok(outcome) => {
                    let err = outcome.expect_err("a slow call answered before it could finish");
                    assert!(case.overlapped(gen_at_start), "{err:?}");
                    assert_eq!(err.code(), Some(ErrorCode::NOT_CONNECTED), "{err:?}");
                }
            }
        }
        Action::Reconnect { by_server } => {
            let _one = case.reconnecting.lock().await;
            *case.generation.lock().unwrap() += 1;
            if by_server {
                let (server_conn, client_conn) = {
                    let current = case.current.lock().unwrap();
                    (current.0.clone(), case.client.connection())
                };
                server_conn.close().await;
                if let Some(client_conn) = client_conn {
                    client_conn.closed().await;
                }
            } else {
                case.client.disconnect().await;
            }
            let conn = connect(&case.server, &case.client).await;
            case.every_connection.lock().unwrap().push(conn.clone());
            let mut generation = case.generation.lock().unwrap();
            *generation += 1;
            *case.current.lock().unwrap() = (conn, *generation);
        }
    }
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn interleavings_keep_every_invariant(
        actions in prop::collection::vec((0u64..60, action()), 1..24)
    ) {
        paused_runtime().block_on(run_case(actions));
    }
}

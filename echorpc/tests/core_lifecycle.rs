//! Work belongs to its connection: handlers, subscribers and hooks still running when their
//! connection closes are aborted, none outlives `Server::stop`, and handlers that capture their
//! server do not keep it alive after `stop` (in-memory, paused clock). Then, over real sockets
//! on 127.0.0.1 port 0, `Client::connect` during a reconnect wait takes over at once, and never
//! cuts off `on_disconnect` hooks.

mod core_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use core_support::*;
use echorpc::transport::memory;
use echorpc::{AuthRequest, Backoff, Client, Connection, Error, Server};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// How soon after a close an aborted task must have been dropped (virtual time): well
/// under the close handshake's own wait for the peer.
const PROMPTLY: Duration = Duration::from_millis(50);

/// Registers work that never finishes, each piece holding a guard of `counter`: the method
/// `forever`, a subscriber of `hang`, and an `on_connect` hook. Returns how many guards a
/// connection running all three holds.
fn register_endless_work(server: &Server, counter: &DropCounter) -> usize {
    let c = counter.clone();
    server
        .register("forever", move |_: Value, _conn| {
            let guard = c.guard();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            }
        })
        .unwrap();
    let c = counter.clone();
    server
        .subscribe("hang", move |_: Value, _conn| {
            let guard = c.guard();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let c = counter.clone();
    server.on_connect(move |_conn| {
        let guard = c.guard();
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }
    });
    3
}

/// Starts every piece of endless work on a new connection and waits until it runs.
async fn busy_connection(server: &Server) -> (Connection, RawPeer) {
    let (conn, mut peer) = accept(server).await;
    peer.send(request(1, "forever", json!(null))).await;
    peer.send(notification("hang", json!(null))).await;
    // A batch whose one item never finishes is assembled by a task of its own.
    peer.send(json!([request(2, "forever", json!(null))])).await;
    until("the handlers to start", || conn.requests_in_flight() == 2).await;
    (conn, peer)
}

#[tokio::test(start_paused = true)]
async fn work_still_running_when_the_peer_goes_away_is_aborted() {
    let server = quiet_server().build();
    let counter = DropCounter::new();
    let per_connection = register_endless_work(&server, &counter) + 1;
    let (conn, peer) = busy_connection(&server).await;
    assert_eq!(counter.dropped(), 0);

    drop(peer);
    within("the close", conn.closed()).await;
    assert!(
        counter.until_dropped(per_connection, PROMPTLY).await,
        "{} of {per_connection} tasks dropped",
        counter.dropped()
    );
    assert_eq!(conn.requests_in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn work_still_running_when_we_close_is_aborted_before_the_handshake_ends() {
    let server = quiet_server().build();
    let counter = DropCounter::new();
    let per_connection = register_endless_work(&server, &counter) + 1;
    let (conn, _peer) = busy_connection(&server).await;

    // The peer never answers the close, so the handshake waits for it; the work does not.
    tokio::spawn({
        let conn = conn.clone();
        async move { conn.close().await }
    });
    assert!(
        counter.until_dropped(per_connection, PROMPTLY).await,
        "{} of {per_connection} tasks dropped",
        counter.dropped()
    );
    assert_eq!(
        server.connections().len(),
        1,
        "the handshake is still going on"
    );
}

#[tokio::test(start_paused = true)]
async fn no_handler_task_survives_server_stop() {
    let server = quiet_server().build();
    let counter = DropCounter::new();
    let per_connection = register_endless_work(&server, &counter) + 1;
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(busy_connection(&server).await);
    }

    within("stop", server.stop()).await;
    assert_eq!(
        counter.dropped(),
        3 * per_connection,
        "every task was dropped"
    );
    assert!(server.connections().is_empty());
    for (conn, _peer) in &peers {
        assert!(!conn.is_open());
    }
    let (late, _) = memory::pair();
    let refused = server.accept(late, AuthRequest::default()).await;
    assert!(matches!(refused, Err(Error::Stopped)), "{refused:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_handler_still_running_at_disconnect_is_aborted() {
    let counter = DropCounter::new();
    let client = Client::builder("memory")
        .ping_interval(Duration::ZERO)
        .no_reconnect()
        .build();
    let c = counter.clone();
    client
        .register("forever", move |_: Value, _conn| {
            let guard = c.guard();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            }
        })
        .unwrap();
    let (ours, theirs) = memory::pair();
    client.connect_over(ours).await.unwrap();
    let conn = client.connection().expect("connected");
    // The raw peer plays the server and calls the client.
    let mut peer = RawPeer::new(theirs);
    peer.send(request(1, "forever", json!(null))).await;
    until("the handler to start", || conn.requests_in_flight() == 1).await;

    tokio::spawn({
        let client = client.clone();
        async move { client.disconnect().await }
    });
    assert!(
        counter.until_dropped(1, PROMPTLY).await,
        "the handler was aborted"
    );
    assert!(
        peer.next_frame().await.is_none(),
        "no answer, only the close"
    );
}

#[echorpc::service]
trait Shout {
    async fn shout(&self, text: String) -> usize;
}

/// A typed service that keeps its server, to broadcast.
struct Shouter {
    server: Server,
    _guard: DropGuard,
}

impl Shout for Shouter {
    async fn shout(&self, text: String) -> usize {
        self.server.broadcast("shouted", &text).unwrap_or(0)
    }
}

#[tokio::test(start_paused = true)]
async fn handlers_that_capture_their_server_do_not_keep_it_alive_after_stop() {
    let captures = DropCounter::new();
    let server_freed = DropCounter::new();
    let freed = server_freed.guard();
    // The auth handler lives exactly as long as the server itself.
    let server = quiet_server()
        .auth(move |_req| {
            let _alive = &freed;
            true
        })
        .build();

    let (s, g) = (server.clone(), captures.guard());
    server
        .register("broadcast", move |text: String, _conn| {
            let (server, _guard) = (s.clone(), &g);
            async move { server.broadcast("said", text) }
        })
        .unwrap();
    let (s, g) = (server.clone(), captures.guard());
    server
        .subscribe("relay", move |text: String, _conn| {
            let _guard = &g;
            let _ = s.broadcast("relayed", text);
            async {}
        })
        .unwrap();
    let (s, g) = (server.clone(), captures.guard());
    server.on_connect(move |_conn| {
        let (server, _guard) = (s.clone(), &g);
        async move {
            let _ = server.broadcast("joined", ());
        }
    });
    let (s, g) = (server.clone(), captures.guard());
    server.on_disconnect(move |_conn| {
        let (server, _guard) = (s.clone(), &g);
        async move {
            let _ = server.broadcast("left", ());
        }
    });
    server
        .mount(ShoutServer::new(Shouter {
            server: server.clone(),
            _guard: captures.guard(),
        }))
        .unwrap();

    // The captured servers are used.
    let (_conn, mut peer) = accept(&server).await;
    assert_eq!(peer.recv().await["method"], "joined");
    let answer = peer.exchange(request(1, "broadcast", json!("hi"))).await;
    let answer = if answer["method"] == "said" {
        peer.recv().await
    } else {
        answer
    };
    assert_eq!(answer["result"], json!(1), "{answer}");
    peer.send(notification("relay", json!("x"))).await;
    assert_eq!(peer.recv().await["method"], "relayed");
    let answer = peer
        .exchange(request(2, "shout", json!({ "text": "hey" })))
        .await;
    let answer = if answer["method"] == "shouted" {
        peer.recv().await
    } else {
        answer
    };
    assert_eq!(answer["result"], json!(1), "{answer}");
    assert_eq!(captures.dropped(), 0);

    within("stop", server.stop()).await;
    assert_eq!(captures.dropped(), 5, "stop drops every handler and hook");
    drop(server);
    drop(peer);
    assert!(
        server_freed.until_dropped(1, Duration::from_secs(1)).await,
        "the server is freed once the last outside handle is gone"
    );
}

// Over real sockets.

/// A server on 127.0.0.1 port 0 with a method `hello`.
async fn socket_server() -> (Server, String) {
    let server = Server::builder().host("127.0.0.1").port(0).build();
    server
        .register(
            "hello",
            |_: Value, _conn| async move { Ok::<_, Error>("hello") },
        )
        .unwrap();
    let addr = within_socket_step("start", server.start()).await.unwrap();
    (server, format!("ws://{addr}"))
}

/// How long one step over sockets may take: far less than [`slow_reconnect`]'s delay.
const SOCKET_STEP: Duration = Duration::from_secs(10);

async fn within_socket_step<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(SOCKET_STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Reconnecting only after two minutes: a step that finishes within [`SOCKET_STEP`] did not
/// wait for the background reconnect.
fn slow_reconnect(url: &str) -> Client {
    Client::builder(url)
        .reconnect(Backoff::new(
            Duration::from_secs(120),
            Duration::from_secs(120),
        ))
        .build()
}

/// Closes the server's side of its one connection.
async fn kill_server_side(server: &Server) {
    until("the server to see the client", || {
        server.connections().len() == 1
    })
    .await;
    let conn = server.connections().remove(0);
    within_socket_step("the server-side close", conn.close()).await;
}

#[tokio::test]
async fn connect_during_a_reconnect_wait_takes_over_at_once() {
    let (server, url) = socket_server().await;
    let client = slow_reconnect(&url);
    let (down_tx, mut down) = mpsc::unbounded_channel();
    client.on_disconnect(move |_conn| {
        let down_tx = down_tx.clone();
        async move {
            let _ = down_tx.send(());
        }
    });
    within_socket_step("connect", client.connect())
        .await
        .unwrap();
    kill_server_side(&server).await;
    // The hook has run: the client now waits a minute before it would reconnect.
    within_socket_step("on_disconnect", down.recv())
        .await
        .unwrap();
    assert!(!client.is_connected());

    within_socket_step("connect to take over", client.connect())
        .await
        .unwrap();
    assert!(client.is_connected());
    assert_eq!(
        within_socket_step("a call", client.request("hello", json!(null)))
            .await
            .unwrap(),
        json!("hello")
    );
    assert_eq!(server.connections().len(), 1, "exactly one connection");
    within_socket_step("disconnect", client.disconnect()).await;
    within_socket_step("stop", server.stop()).await;
}

#[tokio::test]
async fn connect_during_on_disconnect_hooks_waits_for_them_and_never_cuts_them_off() {
    let (server, url) = socket_server().await;
    let client = slow_reconnect(&url);
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let finished = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&finished);
    client.on_disconnect(move |_conn| {
        let (started_tx, done) = (started_tx.clone(), Arc::clone(&done));
        async move {
            let _ = started_tx.send(());
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Not reached when the hook is cut off.
            done.store(true, Ordering::SeqCst);
        }
    });
    within_socket_step("connect", client.connect())
        .await
        .unwrap();
    kill_server_side(&server).await;
    within_socket_step("the hook to start", started.recv())
        .await
        .unwrap();
    assert!(!finished.load(Ordering::SeqCst));

    within_socket_step("connect", client.connect())
        .await
        .unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "connect returned only after the hook finished"
    );
    assert!(client.is_connected());
    within_socket_step("disconnect", client.disconnect()).await;
    within_socket_step("stop", server.stop()).await;
}

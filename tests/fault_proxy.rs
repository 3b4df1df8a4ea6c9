//! Fault injection: a real client and a real server on 127.0.0.1 with a fault-injecting TCP
//! proxy between them, under concurrent load. Every call returns its own right answer or
//! fails with the not-connected or timeout error within its timeout; the client reconnects
//! and carries on.

#[path = "support/proxy.rs"]
mod proxy;

use std::time::Duration;

use echorpc::{Client, Server};
use echorpc_tests::*;
use proxy::{Fault, Load, Proxy, answers_again};

const CALL_TIMEOUT: Duration = Duration::from_secs(1);
const WORKERS: i64 = 8;

async fn served(port: u16) -> (Server, std::net::SocketAddr) {
    let server = Server::builder().host("127.0.0.1").port(port).build();
    register_add(&server);
    start(server).await
}

fn client_via(proxy: &Proxy) -> Client {
    client_for(proxy.addr())
        .request_timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(3))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_and_split_traffic_still_answers_every_call() {
    let (server, addr) = served(0).await;
    let proxy = Proxy::start(addr).await;
    let client = client_via(&proxy);
    within("connect", client.connect()).await.unwrap();
    let load = Load::start(&client, WORKERS, CALL_TIMEOUT);
    for fault in [
        Fault::Delay(Duration::from_millis(15)),
        Fault::Split(1),
        Fault::Split(3),
        Fault::Pass,
    ] {
        proxy.set(fault);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let tally = load.stop().await;
    assert!(tally.ok > WORKERS as usize, "too few answers: {tally:?}");
    assert_eq!((tally.not_connected, tally.timeouts), (0, 0), "{tally:?}");
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_mid_frame_and_killed_connections_fail_calls_cleanly_and_the_client_reconnects() {
    let (server, addr) = served(0).await;
    let proxy = Proxy::start(addr).await;
    let client = client_via(&proxy);
    within("connect", client.connect()).await.unwrap();
    let load = Load::start(&client, WORKERS, CALL_TIMEOUT);
    for round in 1..=3 {
        answers_again(&client, Duration::from_secs(3)).await;
        proxy.set(Fault::CutMidFrame);
        within("a cut", async {
            while proxy.cuts() < round {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
    answers_again(&client, Duration::from_secs(3)).await;
    proxy.kill_connections();
    answers_again(&client, Duration::from_secs(3)).await;
    let tally = load.stop().await;
    assert!(tally.ok > 0, "{tally:?}");
    assert!(
        tally.not_connected > 0,
        "the cuts failed no call: {tally:?}"
    );
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_hole_is_noticed_by_the_heartbeat_alone() {
    let (server, addr) = served(0).await;
    let proxy = Proxy::start(addr).await;
    let client = client_for(proxy.addr())
        .request_timeout(CALL_TIMEOUT)
        .ping_interval(Duration::from_millis(200))
        .pong_timeout(Duration::from_millis(300))
        .build();
    let (down_tx, mut downs) = tokio::sync::mpsc::unbounded_channel();
    client.on_disconnect(move |_| {
        let _ = down_tx.send(tokio::time::Instant::now());
        async {}
    });
    within("connect", client.connect()).await.unwrap();
    let load = Load::start(&client, WORKERS, CALL_TIMEOUT);
    answers_again(&client, Duration::from_secs(2)).await;
    let holed_at = tokio::time::Instant::now();
    proxy.black_hole();
    // Nothing closes the sockets: only the missing pong ends the connection (plus the close
    // handshake's own timeout, since the peer never answers the close either).
    let down_at = within("the heartbeat to notice", downs.recv())
        .await
        .unwrap();
    assert!(
        down_at - holed_at < Duration::from_secs(4),
        "noticed after {:?}",
        down_at - holed_at
    );
    answers_again(&client, Duration::from_secs(4)).await;
    let tally = load.stop().await;
    assert!(
        tally.timeouts + tally.not_connected > 0,
        "the black hole failed no call: {tally:?}"
    );
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_and_restarted_behind_the_proxy() {
    let (first, addr) = served(0).await;
    let proxy = Proxy::start(addr).await;
    let client = client_via(&proxy);
    within("connect", client.connect()).await.unwrap();
    let load = Load::start(&client, WORKERS, CALL_TIMEOUT);
    answers_again(&client, Duration::from_secs(2)).await;
    first.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!client.is_connected());
    let (second, _) = served(addr.port()).await;
    answers_again(&client, Duration::from_secs(4)).await;
    let tally = load.stop().await;
    assert!(
        tally.not_connected > 0,
        "the restart failed no call: {tally:?}"
    );
    client.disconnect().await;
    second.stop().await;
}

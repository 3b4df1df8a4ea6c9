//! After rounds of faults under load (cuts mid-frame, killed connections, reconnects) and a
//! clean shutdown, the process's open file descriptors are back to their baseline, and its
//! resident memory stops growing: the later rounds add (almost) nothing. Its own test binary,
//! so no other test opens sockets meanwhile.

#[path = "support/proxy.rs"]
mod proxy;

use std::time::Duration;

use echorpc_tests::*;
use proxy::{Fault, Load, Proxy, answers_again};

/// Resident memory may grow this much (allocator caches, lazily made runtime structures).
const RSS_TOLERANCE_KIB: u64 = 8 * 1024;
/// Rounds after the warm-up.
const ROUNDS: usize = 6;
/// Resident memory may grow this much over the second half of the rounds (a leak keeps
/// growing; caches have settled by then).
const LATE_GROWTH_KIB: u64 = 1024;
/// File descriptors may differ by this many (none expected).
const FD_TOLERANCE: usize = 0;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// One round: a server, a proxy, a client under load, faults, then everything shut down.
async fn round() {
    let server = local_server().build();
    register_add(&server);
    let (server, addr) = start(server).await;
    let proxy = Proxy::start(addr).await;
    let client = client_for(proxy.addr())
        .request_timeout(Duration::from_secs(1))
        .build();
    within("connect", client.connect()).await.unwrap();
    let load = Load::start(&client, 8, Duration::from_secs(1));
    for _ in 0..3 {
        answers_again(&client, Duration::from_secs(3)).await;
        proxy.set(Fault::CutMidFrame);
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.kill_connections();
    }
    answers_again(&client, Duration::from_secs(3)).await;
    load.stop().await;
    client.disconnect().await;
    drop(proxy);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fds_and_memory_return_to_baseline_after_faults() {
    // A first round warms up what is made once per process.
    round().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fds, rss) = (open_fds(), rss_kib());
    let mut samples = vec![rss];
    for _ in 0..ROUNDS {
        round().await;
        samples.push(rss_kib());
    }
    // Aborted tasks drop their sockets shortly after.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while open_fds() > fds + FD_TOLERANCE && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (fds_after, rss_after) = (open_fds(), rss_kib());
    eprintln!("VmRSS after the warm-up round and each round after it (KiB): {samples:?}");
    assert!(
        fds_after <= fds + FD_TOLERANCE,
        "open fds: {fds} before, {fds_after} after"
    );
    assert!(
        rss_after <= rss + RSS_TOLERANCE_KIB,
        "VmRSS: {rss} KiB before, {rss_after} KiB after"
    );
    // A leak grows with every round; allocator caches settle. The second half of the rounds
    // may add little on top of the first half.
    let half = samples[ROUNDS / 2];
    let growth = samples[ROUNDS].saturating_sub(half);
    assert!(
        growth <= LATE_GROWTH_KIB,
        "VmRSS still grew by {growth} KiB over the last {} rounds: {samples:?}",
        ROUNDS - ROUNDS / 2
    );
}

//! Scenario (f): time for one broadcast to reach every one of N clients.
//!
//! N receiving connections are opened and proven live (by `add`, or by subscribing when the
//! server only delivers events to subscribers). A separate trigger connection then calls
//! `broadcast {"seq": s}`; the time from sending that call until the N-th client has read its
//! `tick` notification is one round. One warm-up round, then the median of the measured rounds.

use crate::stats::Spread;
use crate::wire::{self, Frame, PONG};
use crate::ws::{self, Ws};
use futures::{SinkExt as _, StreamExt as _, stream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;

/// Rounds measured after the warm-up round.
const ROUNDS: u64 = 5;

/// Longest wait for one round to reach every client.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between rounds, so one round's stragglers do not overlap the next.
const GAP: Duration = Duration::from_millis(100);

/// Subscriptions opened at once while setting up.
const SETUP_PARALLELISM: usize = 64;

/// Median milliseconds from trigger to the last of `n` clients receiving the event.
///
/// `subscribe` names the method a client must call to receive events (jsonrpsee), or is `None`
/// when every connection receives broadcasts (bound server, echorpc).
///
/// # Errors
/// When a connection cannot be opened or set up, or a round does not complete in 30 s.
pub async fn median_ms(url: &str, n: usize, subscribe: Option<&str>) -> Result<f64, String> {
    median_ms_spread(&[url], n, subscribe).await
}

/// As [`median_ms`], with the `n` receiving clients spread evenly over the servers at `urls`
/// (nodes of one cluster); the trigger connects to the first.
///
/// # Errors
/// As [`median_ms`].
pub async fn median_ms_spread(
    urls: &[&str],
    n: usize,
    subscribe: Option<&str>,
) -> Result<f64, String> {
    let (&url, _) = urls.split_first().ok_or("no server to broadcast from")?;
    let mut conns = Vec::with_capacity(n);
    for (i, node) in urls.iter().enumerate() {
        let share = n / urls.len() + usize::from(i < n % urls.len());
        conns.extend(ws::connect_many(node, share).await?);
    }
    let ready: Vec<Result<Ws, String>> = stream::iter(conns.into_iter().zip(1u64..))
        .map(|(mut conn, id)| async move {
            match subscribe {
                Some(method) => {
                    let text = ws::call(&mut conn, id, method, None).await?;
                    match wire::parse(&text) {
                        Some(Frame::Single(msg)) if msg.is_success(id) => Ok(conn),
                        _ => Err(format!("{method} failed: {text}")),
                    }
                }
                None => ws::prove_live(&mut conn, id).await.map(|()| conn),
            }
        })
        .buffer_unordered(SETUP_PARALLELISM)
        .collect()
        .await;
    let receivers = ready.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut trigger = ws::connect(url).await?;

    let counts: Arc<Vec<AtomicUsize>> =
        Arc::new((0..=ROUNDS).map(|_| AtomicUsize::new(0)).collect());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|conn| tokio::spawn(receive(conn, n, Arc::clone(&counts), done_tx.clone())))
        .collect();
    drop(done_tx);

    let mut rounds_ms = Vec::new();
    let mut outcome = Ok(());
    for seq in 0..=ROUNDS {
        match round(&mut trigger, seq, &mut done_rx).await {
            Ok(elapsed) if seq > 0 => rounds_ms.push(elapsed.as_secs_f64() * 1e3),
            Ok(_) => {} // warm-up
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
        tokio::time::sleep(GAP).await;
    }
    for task in &tasks {
        task.abort();
    }
    let _ = timeout(Duration::from_secs(1), trigger.close(None)).await;
    outcome?;
    Spread::of(&rounds_ms)
        .map(|s| s.median)
        .ok_or_else(|| "no round measured".to_string())
}

/// One round: trigger, then wait until the last client reports.
async fn round(
    trigger: &mut Ws,
    seq: u64,
    done: &mut mpsc::UnboundedReceiver<(u64, Instant)>,
) -> Result<Duration, String> {
    let params = format!(r#"{{"seq":{seq}}}"#);
    let started = Instant::now();
    // The trigger's own answer (and its own tick, if it gets one) is read here.
    let text = ws::call(trigger, 1_000_000 + seq, "broadcast", Some(&params)).await?;
    match wire::parse(&text) {
        Some(Frame::Single(msg)) if msg.is_success(1_000_000 + seq) => {}
        _ => return Err(format!("broadcast failed: {text}")),
    }
    // Bounded by ROUND_TIMEOUT; stale reports of earlier rounds are skipped.
    loop {
        match timeout(ROUND_TIMEOUT, done.recv()).await {
            Ok(Some((s, at))) if s == seq => return Ok(at.saturating_duration_since(started)),
            Ok(Some(_)) => continue,
            Ok(None) => return Err("all receivers ended".to_string()),
            Err(_) => {
                return Err(format!(
                    "broadcast round {seq} did not reach every client in time"
                ));
            }
        }
    }
}

/// A receiving client: counts each `tick`; the one that completes a round reports the time.
async fn receive(
    mut conn: Ws,
    n: usize,
    counts: Arc<Vec<AtomicUsize>>,
    done: mpsc::UnboundedSender<(u64, Instant)>,
) {
    // Ends when the connection closes or the task is aborted after the last round.
    while let Some(Ok(msg)) = conn.next().await {
        let Message::Text(text) = msg else { continue };
        let Some(Frame::Single(msg)) = wire::parse(&text) else {
            continue;
        };
        if msg.is_ping() {
            let _ = conn.send(Message::text(PONG)).await;
            continue;
        }
        let Some(seq) = msg.tick_seq() else { continue };
        let Some(count) = counts.get(seq as usize) else {
            continue;
        };
        if count.fetch_add(1, Ordering::AcqRel) + 1 == n {
            let _ = done.send((seq, Instant::now()));
        }
    }
}

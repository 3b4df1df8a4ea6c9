//! Scenario (h): how fast a server admits new connections.
//!
//! Against a fresh server process: open N connections, `P` at a time (1: one after the other),
//! each one dialled, upgraded (auth included, when the server has any) and proven live with
//! one `add`; report N / the time it took, and the server's CPU time per connection (all its
//! threads, from `/proc`: unlike the rate, it hardly depends on what else the machine runs).
//! The connections stay open until the clock stops, so the server's table grows as it would
//! under a reconnect storm, then all are closed.

use crate::{process, ws};
use futures::{StreamExt as _, stream};
use std::time::Instant;

/// Connections per second and server CPU µs per connection for `n` connections to the
/// server `pid` at `url`, `parallel` dials at a time.
///
/// # Errors
/// When any connection cannot be opened or does not answer, or `/proc` cannot be read.
pub async fn conns_per_sec(
    url: &str,
    pid: u32,
    n: usize,
    parallel: usize,
) -> Result<(f64, f64), String> {
    // One connection first, so the server's lazy set-up (allocator arenas, the first task)
    // is not on the clock.
    let mut warm = ws::connect(url).await?;
    ws::prove_live(&mut warm, 0).await?;
    let cpu_before = process::cpu_time_us(pid)?;
    let start = Instant::now();
    let opened: Vec<Result<ws::Ws, String>> = stream::iter(1..=n as u64)
        .map(|id| async move {
            let mut conn = ws::connect(url).await?;
            ws::prove_live(&mut conn, id).await.map(|()| conn)
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    let elapsed = start.elapsed();
    let cpu = process::cpu_time_us(pid)?.saturating_sub(cpu_before);
    let mut conns = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
    conns.push(warm);
    ws::close_all(conns).await;
    Ok((
        n as f64 / elapsed.as_secs_f64().max(1e-9),
        cpu as f64 / n as f64,
    ))
}

//! Scenario (e): resident memory a server spends per idle connection.
//!
//! Against a fresh server process: read its `VmRSS`, open N connections and prove each live
//! with one `add`, let it settle, read `VmRSS` again; report (after − before) / N in KiB.

use crate::process;
use crate::ws;
use futures::{StreamExt as _, stream};
use std::time::Duration;

/// Time for the server to finish its bookkeeping before each reading.
const SETTLE: Duration = Duration::from_millis(500);

/// Calls in flight while proving the connections live.
const PROVE_PARALLELISM: usize = 64;

/// KiB of server RSS per idle connection, for `n` connections to the server `pid` at `url`.
///
/// # Errors
/// When `/proc` cannot be read, or any connection cannot be opened or does not answer.
pub async fn kib_per_conn(url: &str, pid: u32, n: usize) -> Result<f64, String> {
    tokio::time::sleep(SETTLE).await;
    let before = process::vm_rss_kib(pid)?;
    let conns = ws::connect_many(url, n).await?;
    let proven: Vec<Result<ws::Ws, String>> = stream::iter(conns.into_iter().zip(1u64..))
        .map(|(mut conn, id)| async move { ws::prove_live(&mut conn, id).await.map(|()| conn) })
        .buffer_unordered(PROVE_PARALLELISM)
        .collect()
        .await;
    let conns = proven.into_iter().collect::<Result<Vec<_>, _>>()?;
    tokio::time::sleep(SETTLE).await;
    let after = process::vm_rss_kib(pid)?;
    ws::close_all(conns).await;
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

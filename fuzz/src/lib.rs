//! The harness behind echorpc's fuzz targets. Each module has one `run(data)` that turns
//! arbitrary bytes into input for one entry path and panics when an invariant breaks; the AFL++
//! binaries in `src/bin/` call it under coverage instrumentation, and `tests/replay.rs` calls
//! it on every checked-in seed and regression with plain `cargo test`.
//!
//! Every run happens on a fresh single-threaded tokio runtime whose clock is paused: timers
//! fire as soon as nothing else can run, so a request that is never answered shows up at once
//! as a timeout (a hang) instead of stalling the fuzzer, and runs are deterministic.

pub mod answers;
pub mod client_frames;
pub mod http_upgrade;
pub mod params_decode;
pub mod router_frames;
pub mod spec;
pub mod wire;

use std::future::Future;
use std::time::Duration;

/// The byte that separates frames in an input: never valid in UTF-8, so it cannot be part of a
/// text frame.
pub const FRAME_SEPARATOR: u8 = 0xFF;

/// Frames sent per run, at most.
pub const MAX_FRAMES: usize = 64;

/// How long (in paused, virtual time) a run may wait for what it is owed before calling it a
/// hang.
pub const HANG: Duration = Duration::from_secs(60);

/// Splits an input into text frames at [`FRAME_SEPARATOR`]; invalid UTF-8 is replaced, as a
/// WebSocket peer can only ever send valid text.
pub fn split_frames(data: &[u8]) -> Vec<String> {
    data.split(|byte| *byte == FRAME_SEPARATOR)
        .take(MAX_FRAMES)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// Joins frames into one input, the inverse of [`split_frames`] (used to write seeds).
pub fn join_frames<S: AsRef<str>>(frames: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(FRAME_SEPARATOR);
        }
        out.extend_from_slice(frame.as_ref().as_bytes());
    }
    out
}

/// Runs `fut` to completion on a fresh current-thread runtime with a paused clock.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(fut)
}

/// Awaits `fut`, panicking with `what` if it is not done within [`HANG`] of virtual time.
pub async fn or_hang<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG, fut).await {
        Ok(value) => value,
        Err(_) => panic!("hang: {what} not done within {HANG:?}"),
    }
}

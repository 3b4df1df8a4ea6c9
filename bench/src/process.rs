//! Child processes (servers and client binaries) and what `/proc` says about them.
//!
//! A [`ServerProcess`] is killed when dropped, so an error or panic in the runner never leaves
//! a server behind; [`ServerProcess::stop`] does the same and waits for it.

use crate::api::LISTENING_PREFIX;
use crate::stats::ResultLine;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader, Lines};
use tokio::process::{Child, Command};
use tokio::time::timeout;

/// Longest wait for a server's listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The directory holding the runner binary, where the sibling binaries are looked up.
pub fn bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "runner binary has no directory".to_string())
}

/// A running server; killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Its process id, for `/proc/PID/status`.
    pub pid: u32,
    /// The `ws://` URL to dial.
    pub url: String,
}

impl ServerProcess {
    /// Starts `binary` and waits for its listening line.
    ///
    /// # Errors
    /// When it cannot start, exits, or prints no listening line within 10 s.
    pub async fn start(binary: &Path) -> Result<ServerProcess, String> {
        Self::start_with(binary, &[]).await
    }

    /// Starts `binary` with `args` and waits for its listening line. A `tls-root PATH` line
    /// before it makes every later `wss://` dial trust (only) that root.
    ///
    /// # Errors
    /// As [`start`](Self::start), and when the announced root cannot be used.
    pub async fn start_with(binary: &Path, args: &[&str]) -> Result<ServerProcess, String> {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        let pid = child.id().ok_or("server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = timeout(START_TIMEOUT, listening_url(&mut lines))
            .await
            .map_err(|_| format!("{} printed no listening line in time", binary.display()))??;
        // Keep reading stdout, so a chatty server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess { child, pid, url })
    }

    /// Kills the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Reads lines until the listening line; returns the URL it announces.
async fn listening_url<R: AsyncRead + Unpin>(
    lines: &mut Lines<BufReader<R>>,
) -> Result<String, String> {
    // Bounded by START_TIMEOUT in the caller.
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| format!("read stdout: {e}"))?
    {
        if let Some(addr) = line.trim().strip_prefix(LISTENING_PREFIX) {
            return Ok(to_url(addr.trim()));
        }
        if let Some(path) = line.trim().strip_prefix(TLS_ROOT_PREFIX) {
            crate::ws::trust_root_file(path.trim())?;
        }
    }
    Err("server exited before its listening line".to_string())
}

/// What a TLS server prints before its listening line: `tls-root PATH` (a PEM root).
pub const TLS_ROOT_PREFIX: &str = "tls-root ";

/// `127.0.0.1:PORT` becomes `ws://127.0.0.1:PORT/`; a full `ws://` or `wss://` URL stays.
fn to_url(addr: &str) -> String {
    if addr.starts_with("ws://") || addr.starts_with("wss://") {
        addr.to_string()
    } else {
        format!("ws://{addr}/")
    }
}

/// Runs a client binary to completion and returns its `result` line.
///
/// # Errors
/// When it cannot start, fails, runs past `limit`, or prints no result line.
pub async fn run_client(
    binary: &Path,
    args: &[String],
    limit: Duration,
) -> Result<ResultLine, String> {
    let child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))?;
    let output = timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| format!("{} ran past {limit:?}", binary.display()))?
        .map_err(|e| format!("wait {}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", binary.display(), output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(ResultLine::parse)
        .ok_or_else(|| format!("{} printed no result line", binary.display()))
}

/// `VmRSS` of process `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in {path}"))
}

/// CPU time process `pid` has used so far, all its threads together, in µs (the first field
/// of `/proc/PID/task/TID/schedstat`, nanoseconds on the CPU).
pub fn cpu_time_us(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("read {dir}: {e}"))?;
    let mut ns = 0u64;
    for task in tasks.flatten() {
        // A thread that ended meanwhile is simply not counted.
        if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(ns / 1_000)
}

/// This process's soft limit on open files, from `/proc/self/limits` (`None` if unlimited or
/// unreadable).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc() {
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
        assert!(cpu_time_us(std::process::id()).unwrap() > 0);
        assert!(open_files_limit().is_some());
    }

    #[test]
    fn urls_from_listening_lines() {
        assert_eq!(to_url("127.0.0.1:9"), "ws://127.0.0.1:9/");
        assert_eq!(to_url("ws://127.0.0.1:9/rpc"), "ws://127.0.0.1:9/rpc");
        assert_eq!(to_url("wss://127.0.0.1:9/"), "wss://127.0.0.1:9/");
    }
}

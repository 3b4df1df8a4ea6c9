//! The interop harness: the Python venv with the reference package (PyPI `echorpc` 1.0.0),
//! `py_server.py` and `py_client.py` as child processes, and the Rust side of
//! `tests/interop/CONTRACT.md` (the contract's test server).
//!
//! Every child is spawned with `kill_on_drop`, every wait is bounded, and everything listens on
//! and dials 127.0.0.1 only.

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;

mod contract;

pub use contract::*;

/// The token the contract's servers accept.
pub const TOKEN: &str = "secret";

/// `tests/interop`, where the Python scripts live.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

// ── The venv ──────────────────────────────────────────────────────────────────────────────────

/// How long provisioning may take (a first run installs from PyPI).
const PROVISION_TIMEOUT: Duration = Duration::from_secs(600);

static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
static NOT_RUN: Once = Once::new();

/// Whether the environment says this is CI (`CI=true`), where a skip is a failure.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The venv's python, provisioned once per test binary by `setup_venv.sh`.
///
/// When it cannot be provisioned: with `CI=true` this panics with the reason (no silent skip);
/// otherwise it prints `interop tests NOT RUN: <reason>` on the process's stderr (past the test
/// harness's output capture, once per binary) and returns `None`, and the test returns early.
pub fn python() -> Option<&'static Path> {
    match PYTHON.get_or_init(provision) {
        Ok(path) => Some(path),
        Err(reason) if in_ci() => {
            panic!("interop venv could not be provisioned and CI=true (no skip): {reason}")
        }
        Err(reason) => {
            NOT_RUN.call_once(|| {
                // Straight to the stderr stream: `eprintln!` would be captured by libtest.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!!!!! interop tests NOT RUN: {reason}\n!!!!!! (run tests/interop/setup_venv.sh \
                     to see why; with CI=true this is a failure)\n"
                );
            });
            None
        }
    }
}

/// Runs `setup_venv.sh` (bounded) and returns the last line of its stdout: the python path.
fn provision() -> Result<PathBuf, String> {
    let script = interop_dir().join("setup_venv.sh");
    let mut child = std::process::Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run {}: {err}", script.display()))?;
    let out = drain_in_thread(child.stdout.take());
    let err = drain_in_thread(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > PROVISION_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {PROVISION_TIMEOUT:?}",
                    script.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => return Err(format!("waiting for {}: {err}", script.display())),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "{} failed ({status}): {}",
            script.display(),
            stderr.trim()
        ));
    }
    let python = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| PathBuf::from(line.trim()))
        .ok_or_else(|| format!("{} printed no python path", script.display()))?;
    if !python.exists() {
        return Err(format!(
            "{} printed {python:?}, which does not exist",
            script.display()
        ));
    }
    Ok(python)
}

fn drain_in_thread<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

// ── Line logs ─────────────────────────────────────────────────────────────────────────────────

/// JSON lines collected from a child's stdout (or observations of a Rust server), which a test
/// can wait on.
#[derive(Clone, Debug)]
pub struct Log {
    lines: Arc<watch::Sender<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            lines: Arc::new(watch::Sender::new(Vec::new())),
            stderr: Arc::default(),
        }
    }
}

impl Log {
    pub fn push(&self, line: Value) {
        self.lines.send_modify(|lines| lines.push(line));
    }

    /// Every line so far.
    pub fn snapshot(&self) -> Vec<Value> {
        self.lines.borrow().clone()
    }

    /// The lines so far that match.
    pub fn all(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.lines
            .borrow()
            .iter()
            .filter(|l| pred(l))
            .cloned()
            .collect()
    }

    /// How many lines so far match.
    pub fn count(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.lines.borrow().iter().filter(|l| pred(l)).count()
    }

    /// The first line that matches, waiting up to `limit` for it; panics (with everything seen)
    /// when none comes.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut rx = self.lines.subscribe();
        let found = tokio::time::timeout(limit, async {
            let lines = rx.wait_for(|lines| lines.iter().any(&pred)).await.ok()?;
            lines.iter().find(|line| pred(line)).cloned()
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "timed out after {limit:?} waiting for {what}\n{}",
                self.describe()
            ),
        }
    }

    /// Waits until `n` lines match; returns them.
    pub async fn wait_count(
        &self,
        what: &str,
        n: usize,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let mut rx = self.lines.subscribe();
        let done = tokio::time::timeout(
            limit,
            rx.wait_for(|lines| lines.iter().filter(|l| pred(l)).count() >= n),
        )
        .await;
        if !matches!(done, Ok(Ok(_))) {
            panic!(
                "timed out after {limit:?} waiting for {n} × {what}\n{}",
                self.describe()
            );
        }
        self.all(pred)
    }

    fn append_stderr(&self, text: &str) {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_str(text);
    }

    /// Everything seen, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = String::from("--- lines:\n");
        for line in self.lines.borrow().iter() {
            let _ = writeln!(out, "  {line}");
        }
        let stderr = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        if !stderr.is_empty() {
            let _ = write!(out, "--- stderr:\n{stderr}");
        }
        out
    }
}

/// Feeds a child's stdout lines (JSON; anything else as `{"unparsed": line}`) into `log`, until
/// the pipe closes (when the returned task ends).
fn pump_stdout<R: AsyncRead + Unpin + Send + 'static>(
    reader: BufReader<R>,
    log: Log,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = reader.lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            let value = serde_json::from_str(&line).unwrap_or_else(|_| json!({ "unparsed": line }));
            log.push(value);
        }
    })
}

/// Collects a child's stderr into `log`, so failures can show it (and the pipe never fills).
fn pump_stderr<R: AsyncRead + Unpin + Send + 'static>(mut pipe: R, log: Log) {
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            match tokio::io::AsyncReadExt::read(&mut pipe, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => log.append_stderr(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
}

/// A stdin pipe several tasks may write command lines to.
#[derive(Debug)]
struct CommandPipe {
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    next_tag: AtomicU64,
}

impl CommandPipe {
    fn new(stdin: Option<ChildStdin>) -> Self {
        Self {
            stdin: tokio::sync::Mutex::new(stdin),
            next_tag: AtomicU64::new(1),
        }
    }

    /// Writes `cmd` with a fresh `"tag"` and returns the tag.
    async fn send(&self, mut cmd: Value) -> Value {
        let tag = json!(format!(
            "t{}",
            self.next_tag.fetch_add(1, Ordering::Relaxed)
        ));
        cmd["tag"] = tag.clone();
        let mut line = cmd.to_string();
        line.push('\n');
        let mut stdin = self.stdin.lock().await;
        let pipe = stdin.as_mut().expect("stdin still open");
        tokio::time::timeout(Duration::from_secs(5), pipe.write_all(line.as_bytes()))
            .await
            .expect("writing a command line timed out")
            .expect("child's stdin accepts the command");
        tag
    }

    async fn close(&self) {
        self.stdin.lock().await.take();
    }
}

// ── py_server.py ──────────────────────────────────────────────────────────────────────────────

/// `py_server.py`: the reference `EchoServer` with the contract's command set, driven through
/// its stdin control channel.
#[derive(Debug)]
pub struct PyServer {
    child: Child,
    pipe: CommandPipe,
    pub port: u16,
    /// Serving `wss://` (started with `--tls-cert`).
    secure: bool,
    /// Every JSON line it printed.
    pub log: Log,
}

impl PyServer {
    /// Starts `py_server.py` with these extra arguments (`--port 0` unless given), retrying a
    /// few times when it cannot bind (a port just released may still be held for a moment).
    pub async fn start(python: &Path, args: &[&str]) -> Self {
        let mut last = String::new();
        for _ in 0..10 {
            match Self::try_start(python, args).await {
                Ok(server) => return server,
                Err(why) => {
                    last = why;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        panic!("py_server.py did not start: {last}");
    }

    async fn try_start(python: &Path, args: &[&str]) -> Result<Self, String> {
        let mut cmd = Command::new(python);
        cmd.arg(interop_dir().join("py_server.py"));
        if !args.contains(&"--port") {
            cmd.args(["--port", "0"]);
        }
        cmd.args(["--max-lifetime-s", "180"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|err| format!("spawn: {err}"))?;
        let log = Log::default();
        pump_stderr(child.stderr.take().expect("stderr piped"), log.clone());
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut first = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut first));
        let port = match read.await {
            Ok(Ok(_)) => first
                .strip_prefix("listening ")
                .and_then(|port| port.trim().parse::<u16>().ok()),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.kill().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(format!("first line {first:?}\n{}", log.describe()));
        };
        drop(pump_stdout(stdout, log.clone()));
        Ok(Self {
            pipe: CommandPipe::new(child.stdin.take()),
            child,
            port,
            secure: args.contains(&"--tls-cert"),
            log,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `ws://127.0.0.1:PORT`, or `wss://…` when started with `--tls-cert`.
    pub fn url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Sends a control command and waits for its reply (matched by tag).
    pub async fn command(&self, cmd: Value) -> Value {
        let name = cmd["cmd"].clone();
        let tag = self.pipe.send(cmd).await;
        self.log
            .wait_for(
                &format!("the reply to {name}"),
                Duration::from_secs(10),
                |line| line.get("reply").is_some() && line["tag"] == tag,
            )
            .await
    }

    /// The first `event` line that matches, waiting up to 5 s.
    pub async fn event(&self, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.log
            .wait_for(&format!("event {event}"), Duration::from_secs(5), |line| {
                line["event"] == event && pred(line)
            })
            .await
    }

    /// The `event` lines so far.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.log.all(|line| line["event"] == event)
    }

    /// SIGKILL, like a crash: no close frames.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// A graceful stop (`{"cmd":"stop"}`: every connection closed with 1000); returns the exit
    /// code. Killed if it does not exit within 5 s.
    pub async fn stop(mut self) -> Option<i32> {
        let _ = self.pipe.send(json!({"cmd": "stop"})).await;
        self.pipe.close().await;
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                let _ = self.child.kill().await;
                None
            }
        }
    }
}

// ── py_client.py ──────────────────────────────────────────────────────────────────────────────

/// `py_client.py`: one reference `EchoClient` scenario, or the interactive mode.
#[derive(Debug)]
pub struct PyClient {
    child: Child,
    pipe: CommandPipe,
    stdout: tokio::task::JoinHandle<()>,
    scenario: String,
    /// Every step line it printed.
    pub log: Log,
}

impl PyClient {
    /// Starts `py_client.py SCENARIO --url URL ARGS...`.
    pub fn spawn(python: &Path, scenario: &str, url: &str, args: &[&str]) -> Self {
        let mut child = Command::new(python)
            .arg(interop_dir().join("py_client.py"))
            .args([scenario, "--url", url])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("py_client.py starts");
        let log = Log::default();
        pump_stderr(child.stderr.take().expect("stderr piped"), log.clone());
        let stdout = pump_stdout(
            BufReader::new(child.stdout.take().expect("stdout piped")),
            log.clone(),
        );
        Self {
            stdout,
            pipe: CommandPipe::new(child.stdin.take()),
            child,
            scenario: scenario.to_owned(),
            log,
        }
    }

    /// Runs a scenario to its end and returns its steps; panics unless it exited 0 with
    /// `{"step":"done"}` within 30 s.
    pub async fn run(python: &Path, scenario: &str, url: &str, args: &[&str]) -> Steps {
        Self::spawn(python, scenario, url, args).finish().await
    }

    /// Waits (up to 10 s) for the first step line named `step`.
    pub async fn step(&self, step: &str) -> Value {
        self.log
            .wait_for(&format!("step {step}"), Duration::from_secs(10), |line| {
                line["step"] == step
            })
            .await
    }

    /// Interactive mode: sends a command and waits for its output line (matched by tag).
    pub async fn command(&self, cmd: Value) -> Value {
        let name = cmd["cmd"].clone();
        let tag = self.pipe.send(cmd).await;
        self.log
            .wait_for(
                &format!("the output of {name}"),
                Duration::from_secs(10),
                |line| line.get("step").is_some() && line["tag"] == tag,
            )
            .await
    }

    /// Waits for the scenario's end (closing stdin first, which ends interactive mode).
    pub async fn finish(mut self) -> Steps {
        self.pipe.close().await;
        let status = match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(status)) => status,
            _ => {
                let _ = self.child.kill().await;
                panic!(
                    "py_client {} did not finish within 30 s\n{}",
                    self.scenario,
                    self.log.describe()
                );
            }
        };
        // Every line read: the pipe closes when the process is gone.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.stdout).await;
        let last = self.log.snapshot().pop().unwrap_or_default();
        assert!(
            status.success() && last["step"] == "done",
            "py_client {} ended with {status}\n{}",
            self.scenario,
            self.log.describe()
        );
        Steps {
            lines: self.log.snapshot(),
            log: self.log,
        }
    }
}

/// The step lines of a finished `py_client.py` run.
#[derive(Debug)]
pub struct Steps {
    pub lines: Vec<Value>,
    log: Log,
}

impl Steps {
    /// The first line of this step (of any client); panics when there is none.
    pub fn step(&self, step: &str) -> &Value {
        self.find(step, None)
    }

    /// The first line of this step of client `client`.
    pub fn step_of(&self, step: &str, client: &str) -> &Value {
        self.find(step, Some(client))
    }

    fn find(&self, step: &str, client: Option<&str>) -> &Value {
        self.lines
            .iter()
            .find(|l| l["step"] == step && client.is_none_or(|c| l["client"] == c))
            .unwrap_or_else(|| {
                panic!(
                    "no step {step:?} (client {client:?})\n{}",
                    self.log.describe()
                )
            })
    }

    /// Every line of this step.
    pub fn steps(&self, step: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["step"] == step).collect()
    }

    /// The `result` of a successful step; panics with everything seen otherwise.
    pub fn result(&self, step: &str) -> &Value {
        let line = self.step(step);
        assert_eq!(
            line["ok"],
            true,
            "step {step} failed: {line}\n{}",
            self.log.describe()
        );
        &line["result"]
    }

    /// The error `code` of a failed step.
    pub fn error_code(&self, step: &str) -> i64 {
        let line = self.step(step);
        line["error"]["code"].as_i64().unwrap_or_else(|| {
            panic!(
                "step {step} is not an error: {line}\n{}",
                self.log.describe()
            )
        })
    }

    /// Everything seen, for failure messages.
    pub fn describe(&self) -> String {
        self.log.describe()
    }
}

// ── Small assertion helpers ───────────────────────────────────────────────────────────────────

/// The metadata the contract expects for an accepted connection.
pub fn expected_meta(role: &str, client_id: &str) -> Value {
    json!({
        "token": TOKEN,
        "role": role,
        "client_id": client_id,
        "tier": "gold",
        "authenticated": true,
    })
}

/// The error code of a reply line or batch slot (`{"ok":false,"error":{...}}`).
pub fn code_of(line: &Value) -> Option<i64> {
    line["error"]["code"].as_i64()
}

/// The chats client b receives in the `events` scenario: the three announcements in the order
/// a requested them, and a's own chat rebroadcast once, anywhere among them. Our server hands
/// an event to the connection's event queue and starts the requests read after it at once, so
/// the rebroadcast may come after an announcement (CONTRACT.md allows comparing as sets); the
/// reference runs subscribers inside its read loop, so its order is strict (see
/// `interop_py_server`).
pub fn assert_chats_of_b(chats: &[Value]) {
    let hello = json!({"text": "hello from a"});
    assert_eq!(
        chats.iter().filter(|c| **c == hello).count(),
        1,
        "a's chat rebroadcast once: {chats:?}"
    );
    let announced: Vec<&Value> = chats.iter().filter(|c| **c != hello).collect();
    assert_eq!(
        announced,
        [
            &json!({"text": "to all"}),
            &json!({"text": "to bots"}),
            &json!({"text": "not to a"}),
        ],
        "{chats:?}"
    );
}

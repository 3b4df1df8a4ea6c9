//! Runs every scenario against every available server, repeats, and prints a markdown table.
//!
//! `runner [--quick] [--deploy | --cluster] [--repeat N] [--warmup SECS] [--duration SECS] [--servers a,b]
//!         [--scenarios abcdefgh] [--mem-conns 2000,10000] [--bcast-clients 1000,10000]`
//!
//! `--deploy` runs b, c, idle memory (e) and connect rate (h) against echorpc's deployment variants instead (the
//! standalone listener over `ws://`, mounted in axum, over `wss://`) and prints their ratios
//! to the plain listener.
//!
//! `--cluster` runs the cluster scenarios instead: two nodes sharing a `redis-server` it starts
//! (which must be installed), beside one plain node: broadcast to the clients of each
//! `--bcast-clients` count (default 10,000) and calls relayed to a client on the same node or
//! the other; see `echorpc_bench::cluster`.
//!
//! Progress goes to stderr, the table to stdout. Exits 1 if any run failed or any call was
//! answered wrongly; speed never decides the exit code.

use echorpc_bench::cluster;
use echorpc_bench::process::{bin_dir, open_files_limit};
use echorpc_bench::report::{Results, machine_note};
use echorpc_bench::scenarios::{
    self, CLIENTS, ClientStack, DEPLOY, Measured, SERVERS, Scenario, Server, Timing,
};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Descriptors kept free for the runner itself besides the benchmark's connections.
const FD_BASE: usize = 64;

/// The command line.
#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    deploy: bool,
    cluster: bool,
    repeat: usize,
    timing: Timing,
    servers: Vec<String>,
    letters: String,
    mem_conns: Vec<usize>,
    bcast_clients: Vec<usize>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            quick: false,
            deploy: false,
            cluster: false,
            repeat: 3,
            timing: Timing {
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(5),
            },
            servers: SERVERS.iter().map(|s| s.name.to_string()).collect(),
            letters: "abcdefgh".to_string(),
            mem_conns: vec![2_000, 10_000],
            bcast_clients: vec![1_000, 10_000],
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--quick" {
                o.quick = true;
                continue;
            }
            if flag == "--deploy" {
                o.deploy = true;
                continue;
            }
            if flag == "--cluster" {
                o.cluster = true;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(String::new());
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let secs = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 3600.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("{flag} {value}: want seconds"))
            };
            let list = || {
                value
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<usize>()
                            .map_err(|e| format!("{flag} {n}: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            match flag.as_str() {
                "--repeat" => {
                    o.repeat = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| format!("--repeat {value}: want 1..=100"))?;
                }
                "--warmup" => o.timing.warmup = secs()?,
                "--duration" => o.timing.duration = secs()?.max(Duration::from_millis(100)),
                "--servers" => o.servers = value.split(',').map(|s| s.trim().to_string()).collect(),
                "--scenarios" => o.letters = value.clone(),
                "--mem-conns" => o.mem_conns = list()?,
                "--bcast-clients" => o.bcast_clients = list()?,
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        if o.deploy && o.cluster {
            return Err("--deploy and --cluster are separate runs".to_string());
        }
        if let Some(bad) = o
            .servers
            .iter()
            .find(|s| !SERVERS.iter().any(|k| k.name == s.as_str()))
        {
            return Err(format!(
                "unknown server {bad}; known: jsonrpsee, bound, ours"
            ));
        }
        Ok(o)
    }
}

const USAGE: &str = "usage: runner [--quick] [--deploy | --cluster] [--repeat N] [--warmup SECS] [--duration SECS] \
[--servers jsonrpsee,bound,ours] [--scenarios abcdefgh] [--mem-conns 2000,10000] \
[--bcast-clients 1000,10000]";

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("runner: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let dir = match bin_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("runner: {e}");
            return ExitCode::FAILURE;
        }
    };
    if opts.quick {
        quick(&dir).await
    } else if opts.cluster {
        cluster(&opts, &dir).await
    } else {
        full(&opts, &dir).await
    }
}

/// `--quick`: one tiny load scenario for about a second against one server, ours when it is
/// built. Fails only if the harness or that server is broken (no server, no call completed, a
/// wrong answer), never on speed.
async fn quick(dir: &Path) -> ExitCode {
    let Some(server) = ["ours", "bound", "jsonrpsee"]
        .iter()
        .filter_map(|name| SERVERS.iter().find(|s| s.name == *name))
        .find(|s| dir.join(s.binary).exists())
    else {
        eprintln!("runner --quick: no server binary in {}", dir.display());
        return ExitCode::FAILURE;
    };
    let timing = Timing {
        warmup: Duration::from_millis(200),
        duration: Duration::from_millis(800),
    };
    let scenario = scenarios::quick();
    let mut results = Results::default();
    let ok = match scenarios::measure_server(&scenario, server, dir, timing).await {
        Ok(m) => {
            let healthy = m.calls > 0 && m.errors == 0;
            record(&mut results, &scenario, server.name, &m);
            if !healthy {
                results.note(format!(
                    "{}: {} calls, {} errors",
                    server.name, m.calls, m.errors
                ));
            }
            healthy
        }
        Err(e) => {
            results.note(format!("{}: {e}", server.name));
            false
        }
    };
    println!("{}\n\n{}", machine_note(), results.to_markdown());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--cluster`: the cluster scenarios, `--repeat` rounds; see the module docs.
async fn cluster(opts: &Options, dir: &Path) -> ExitCode {
    let mut results = Results::with_columns(cluster::COLUMNS, cluster::RATIOS);
    // The default list starts small for the main suite; the cluster's figure is for 10,000.
    let clients = if opts.bcast_clients == [1_000, 10_000] {
        vec![10_000]
    } else {
        opts.bcast_clients.clone()
    };
    let mut ok = true;
    for round in 1..=opts.repeat {
        for &n in &clients {
            eprintln!("[{round}/{}] cluster · {n} clients", opts.repeat);
            match cluster::measure(dir, n, opts.timing, &mut results).await {
                Ok(0) => {}
                Ok(_) => ok = false,
                Err(e) => {
                    results.note(format!("cluster round {round}, {n} clients: {e}"));
                    ok = false;
                }
            }
        }
    }
    println!("{}\n\n{}", machine_note(), results.to_markdown());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The full suite; see the module docs.
async fn full(opts: &Options, dir: &Path) -> ExitCode {
    let (mut results, all_servers, all_scenarios) = if opts.deploy {
        let results = Results::with_columns(["ours", "axum", "wss"], [(1, 0), (2, 0)]);
        (
            results,
            &DEPLOY[..],
            scenarios::deploy_suite(&opts.mem_conns),
        )
    } else {
        let all = scenarios::suite(&opts.mem_conns, &opts.bcast_clients);
        (Results::default(), &SERVERS[..], all)
    };
    let servers: Vec<&Server> = all_servers
        .iter()
        .filter(|s| opts.deploy || opts.servers.iter().any(|n| n == s.name))
        .filter(|s| present(dir, s.binary, s.name, "server", &mut results))
        .collect();
    let clients: Vec<(&ClientStack, &Server)> = CLIENTS
        .iter()
        .filter_map(|c| servers.iter().find(|s| s.name == c.name).map(|s| (c, *s)))
        .filter(|(c, _)| present(dir, c.binary, c.name, "client", &mut results))
        .collect();
    let suite: Vec<Scenario> = all_scenarios
        .into_iter()
        .filter(|s| opts.letters.contains(s.letter))
        .filter(|s| fds_allow(s, &mut results))
        .collect();

    let mut healthy = true;
    for round in 1..=opts.repeat {
        for scenario in &suite {
            let jobs: Vec<(&str, Option<&ClientStack>, &Server)> = if scenario.is_client() {
                clients
                    .iter()
                    .map(|(c, s)| (c.name, Some(*c), *s))
                    .collect()
            } else {
                servers.iter().map(|s| (s.name, None, *s)).collect()
            };
            for (name, client, server) in jobs {
                eprintln!("[{round}/{}] {} · {name}", opts.repeat, scenario.title);
                let outcome = match client {
                    Some(c) => {
                        scenarios::measure_client(scenario, c, server, dir, opts.timing).await
                    }
                    None => scenarios::measure_server(scenario, server, dir, opts.timing).await,
                };
                match outcome {
                    Ok(m) => {
                        if m.errors > 0 {
                            healthy = false;
                            results.note(format!(
                                "{} · {name}: {} wrong or missing answers in run {round}",
                                scenario.title, m.errors
                            ));
                        }
                        record(&mut results, scenario, name, &m);
                    }
                    Err(e) => {
                        healthy = false;
                        eprintln!("    failed: {e}");
                        results.note(format!(
                            "{} · {name}: run {round} failed: {e}",
                            scenario.title
                        ));
                    }
                }
            }
        }
    }
    println!("{}\n", machine_note());
    println!(
        "settings: {} repeat(s), warm-up {:.1} s, measured {:.1} s per closed-loop run; cells are median (min–max)\n",
        opts.repeat,
        opts.timing.warmup.as_secs_f64(),
        opts.timing.duration.as_secs_f64()
    );
    print!("{}", results.to_markdown());
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Records every metric of one measurement.
fn record(results: &mut Results, scenario: &Scenario, column: &str, m: &Measured) {
    for &(metric, value) in &m.values {
        results.add(&scenario.title, metric, column, value);
    }
}

/// Whether `binary` exists next to the runner; notes and prints the skip otherwise.
fn present(dir: &Path, binary: &str, name: &str, what: &str, results: &mut Results) -> bool {
    if dir.join(binary).exists() {
        return true;
    }
    let msg = format!(
        "skipped {what} `{name}`: no binary `{binary}` in {} yet (see bench/README.md)",
        dir.display()
    );
    eprintln!("{msg}");
    results.note(msg);
    false
}

/// Whether the open-files limit allows the scenario; notes and prints the skip otherwise.
fn fds_allow(scenario: &Scenario, results: &mut Results) -> bool {
    let needed = scenario.fds_needed() + FD_BASE;
    match open_files_limit() {
        Some(limit) if (limit as usize) < needed => {
            let msg = format!(
                "skipped {}: needs {needed} open files, limit is {limit} (raise it with `ulimit -n`)",
                scenario.title
            );
            eprintln!("{msg}");
            results.note(msg);
            false
        }
        _ => true,
    }
}

//! Replays every checked-in seed (`corpus/<target>/`) and every input that once broke a
//! target (`regressions/<target>/`) through the same harness the fuzzer runs: plain `cargo
//! test`, stable toolchain, no AFL. A crash the fuzzer finds is copied to `regressions/` and
//! stays a test from then on.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let dir = root.join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.expect("dir entry").path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).expect("read input");
            eprintln!("{target}: {}", path.display());
            run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no seeds for {target}");
}

#[test]
fn router_frames_seeds_and_regressions() {
    replay("router_frames", echorpc_fuzz::router_frames::run);
}

#[test]
fn http_upgrade_seeds_and_regressions() {
    replay("http_upgrade", echorpc_fuzz::http_upgrade::run);
}

#[test]
fn params_decode_seeds_and_regressions() {
    replay("params_decode", echorpc_fuzz::params_decode::run);
}

#[test]
fn client_frames_seeds_and_regressions() {
    replay("client_frames", echorpc_fuzz::client_frames::run);
}

//! AFL++ entry point of the `http_upgrade` target: `fuzz/run.sh http_upgrade` (see fuzz/README.md).

fn main() {
    afl::fuzz!(|data: &[u8]| echorpc_fuzz::http_upgrade::run(data));
}

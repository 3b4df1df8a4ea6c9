//! AFL++ entry point of the `params_decode` target: `fuzz/run.sh params_decode` (see fuzz/README.md).

fn main() {
    afl::fuzz!(|data: &[u8]| echorpc_fuzz::params_decode::run(data));
}

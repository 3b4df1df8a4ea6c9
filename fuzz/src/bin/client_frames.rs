//! AFL++ entry point of the `client_frames` target: `fuzz/run.sh client_frames` (see fuzz/README.md).

fn main() {
    afl::fuzz!(|data: &[u8]| echorpc_fuzz::client_frames::run(data));
}

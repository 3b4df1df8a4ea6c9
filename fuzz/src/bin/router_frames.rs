//! AFL++ entry point of the `router_frames` target: `fuzz/run.sh router_frames` (see fuzz/README.md).

fn main() {
    afl::fuzz!(|data: &[u8]| echorpc_fuzz::router_frames::run(data));
}

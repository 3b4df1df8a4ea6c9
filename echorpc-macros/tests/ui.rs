//! Compile-time behaviour of `#[echorpc::service]`: what must compile, and for each unsupported
//! shape the one error, at the offending span. Snapshots are for stable Rust 1.95; regenerate
//! them with `TRYBUILD=overwrite cargo test -p echorpc-macros --test ui` and review each one.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}

//! The examples live in `server.rs` and `client.rs` beside this crate.

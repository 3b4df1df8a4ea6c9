//! The names and control frames of the echorpc wire protocol that both the runtime (`echorpc`)
//! and the `#[echorpc::service]` macro (`echorpc-macros`) must agree on.
//!
//! A proc-macro crate cannot share items with the crate that re-exports it, so the two meet
//! here: the runtime refuses to register a reserved name at run time, and the macro refuses it
//! at compile time, from this one list. No dependencies, no `std` beyond `core`.
//!
//! ```
//! use echorpc_protocol::{is_reserved, PING, PING_FRAME};
//! assert!(is_reserved(PING));
//! assert!(is_reserved("$/cancelRequest"));
//! assert!(!is_reserved("add"));
//! assert_eq!(PING_FRAME, r#"{"jsonrpc":"2.0","method":"ping"}"#);
//! ```
#![no_std]

/// The heartbeat notification each side sends every ping interval.
pub const PING: &str = "ping";
/// The heartbeat notification that answers [`PING`].
pub const PONG: &str = "pong";
/// The notification that cancels a request the sender no longer waits for (LSP's name).
pub const CANCEL_REQUEST: &str = "$/cancelRequest";

/// Every name that neither a method nor an event may use.
pub const RESERVED: [&str; 3] = [PING, PONG, CANCEL_REQUEST];

/// The whole frame of a heartbeat ping.
pub const PING_FRAME: &str = r#"{"jsonrpc":"2.0","method":"ping"}"#;
/// The whole frame of a heartbeat pong.
pub const PONG_FRAME: &str = r#"{"jsonrpc":"2.0","method":"pong"}"#;

/// Whether `name` is reserved by the protocol (see [`RESERVED`]).
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// What a reserved name is reserved for, for error messages; `None` for a free name.
pub fn reserved_for(name: &str) -> Option<&'static str> {
    match name {
        PING | PONG => Some("the heartbeat"),
        CANCEL_REQUEST => Some("request cancellation"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_name_says_why() {
        for name in RESERVED {
            assert!(reserved_for(name).is_some(), "{name}");
        }
        assert_eq!(reserved_for("add"), None);
    }
}

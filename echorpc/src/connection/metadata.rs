//! Who is at the other end of a connection: its [`ConnectionId`] and [`Metadata`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

/// Identifies a connection for as long as the process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The number behind the id.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a server knows of a connection: `token`, `role`, `client_id`, `authenticated`, and the
/// fields the auth handler returned, merged over them (so auth may also override `role`).
///
/// Its `Debug` output never shows the token:
///
/// ```
/// use echorpc::Metadata;
/// use serde_json::json;
///
/// let meta = Metadata::from_map(json!({"role": "ops", "client_id": "c1", "token": "s3cret", "tier": "gold"})
///     .as_object().unwrap().clone());
/// assert_eq!(meta.role(), "ops");
/// assert_eq!(meta.get("tier"), Some(&json!("gold")));
/// assert!(!format!("{meta:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Metadata(Map<String, Value>);

/// What stands for a secret in `Debug` output and logs.
pub(crate) const REDACTED: &str = "<redacted>";

impl Metadata {
    /// Metadata holding exactly these fields.
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    fn str_field(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// The `role` field (`""` when absent or not a string).
    pub fn role(&self) -> &str {
        self.str_field("role")
    }

    /// The `client_id` field.
    pub fn client_id(&self) -> &str {
        self.str_field("client_id")
    }

    /// The `token` field. It is a secret: `Debug` output leaves it out.
    pub fn token(&self) -> &str {
        self.str_field("token")
    }

    /// Whether the connection passed auth (`authenticated: true`).
    pub fn is_authenticated(&self) -> bool {
        self.0.get("authenticated") == Some(&Value::Bool(true))
    }

    /// Any field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// All fields.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.0 {
            if key == "token" && value.as_str().is_some_and(|t| !t.is_empty()) {
                map.entry(key, &REDACTED);
            } else {
                map.entry(key, value);
            }
        }
        map.finish()
    }
}

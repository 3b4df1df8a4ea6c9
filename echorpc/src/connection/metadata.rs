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

    /// The id whose number is `id` (as another node of a cluster names it).
    pub(crate) fn from_u64(id: u64) -> Self {
        Self(id)
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
/// assert_eq!(meta.to_map().len(), 4);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Metadata {
    /// The fields every connection has ([`KNOWN`], in that order), each when present: held
    /// without a map, since every connection of a server carries them.
    known: [Option<Value>; KNOWN.len()],
    /// Every other field (a map that allocates nothing while empty).
    extra: Map<String, Value>,
}

/// The names of [`Metadata::known`]'s slots, in key order.
const KNOWN: [&str; 4] = ["authenticated", "client_id", "role", "token"];
const ROLE: usize = 2;
const CLIENT_ID: usize = 1;
const TOKEN: usize = 3;
const AUTHENTICATED: usize = 0;

fn known_slot(key: &str) -> Option<usize> {
    KNOWN.iter().position(|known| *known == key)
}

/// What stands for a secret in `Debug` output and logs.
pub(crate) const REDACTED: &str = "<redacted>";

impl Metadata {
    /// Metadata holding exactly these fields.
    pub fn from_map(map: Map<String, Value>) -> Self {
        let mut meta = Self::default();
        for (key, value) in map {
            meta.insert(key, value);
        }
        meta
    }

    /// Sets a field; returns its previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        match known_slot(&key) {
            Some(slot) => self.known[slot].replace(value),
            None => self.extra.insert(key, value),
        }
    }

    fn str_field(&self, slot: usize) -> &str {
        self.known[slot]
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The `role` field (`""` when absent or not a string).
    pub fn role(&self) -> &str {
        self.str_field(ROLE)
    }

    /// The `client_id` field.
    pub fn client_id(&self) -> &str {
        self.str_field(CLIENT_ID)
    }

    /// The `token` field. It is a secret: `Debug` output leaves it out.
    pub fn token(&self) -> &str {
        self.str_field(TOKEN)
    }

    /// Whether the connection passed auth (`authenticated: true`).
    pub fn is_authenticated(&self) -> bool {
        self.known[AUTHENTICATED] == Some(Value::Bool(true))
    }

    /// Any field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match known_slot(key) {
            Some(slot) => self.known[slot].as_ref(),
            None => self.extra.get(key),
        }
    }

    /// Every field with its value: first `authenticated`, `client_id`, `role` and `token` (those
    /// present), then the others in the order of a [`Map`].
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        let known = KNOWN
            .iter()
            .zip(&self.known)
            .filter_map(|(key, value)| Some((*key, value.as_ref()?)));
        known.chain(self.extra.iter().map(|(key, value)| (key.as_str(), value)))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.known.iter().flatten().count() + self.extra.len()
    }

    /// Whether there is no field at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All fields, as a JSON object's map (the token included: it is the caller's to guard).
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(key, value)| (key.to_owned(), value.clone()))
            .collect()
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.iter() {
            if key == "token" && value.as_str().is_some_and(|t| !t.is_empty()) {
                map.entry(&key, &REDACTED);
            } else {
                map.entry(&key, value);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Metadata;

    fn meta(value: Value) -> Metadata {
        Metadata::from_map(value.as_object().expect("an object").clone())
    }

    #[test]
    fn known_and_other_fields_read_back_as_given() {
        let given = json!({
            "token": "t", "role": 7, "client_id": "c", "authenticated": true, "tier": "gold"
        });
        let meta = meta(given.clone());
        assert_eq!(meta.role(), "", "a role that is no string reads as empty");
        assert_eq!(meta.get("role"), Some(&json!(7)));
        assert_eq!((meta.client_id(), meta.token()), ("c", "t"));
        assert!(meta.is_authenticated());
        assert_eq!(meta.len(), 5);
        assert_eq!(Value::Object(meta.to_map()), given);
        assert_eq!(meta.get("missing"), None);
    }

    #[test]
    fn insert_replaces_and_equality_ignores_insertion_order() {
        let mut meta = meta(json!({"role": "web", "a": 1}));
        assert_eq!(meta.insert("role", json!("ops")), Some(json!("web")));
        assert_eq!(meta.insert("b", json!(2)), None);
        assert_eq!(meta, self::meta(json!({"b": 2, "a": 1, "role": "ops"})));
        assert!(Metadata::default().is_empty());
        assert!(!format!("{:?}", self::meta(json!({"token": "s3cret"}))).contains("s3cret"));
    }
}

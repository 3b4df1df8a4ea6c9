//! The server URLs a client dials, in turn: the one that worked last is tried first, and a
//! failed attempt or a dropped connection moves on to the next, so a client of a cluster
//! without a load balancer finds a node that is up.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::client::dial::{url_with_query, without_query};

/// One server URL.
#[derive(Debug)]
pub(super) struct Endpoint {
    /// The URL dialled, with the query (which holds the token): never logged.
    pub(super) url: String,
    /// The URL without its query: what logs, errors and `Debug` show.
    pub(super) shown: String,
}

/// The URLs of a client, and which one is next.
#[derive(Debug)]
pub(super) struct Endpoints {
    /// Never empty.
    list: Box<[Endpoint]>,
    /// Index (modulo the length) of the URL the next attempt dials.
    cursor: AtomicUsize,
}

impl Endpoints {
    /// The URLs of `urls` (at least one), each with `query` appended.
    pub(super) fn new(urls: &[String], query: &[(&str, &str)]) -> Self {
        debug_assert!(!urls.is_empty(), "a client has at least one URL");
        let list = urls
            .iter()
            .map(|url| Endpoint {
                url: url_with_query(url, query),
                shown: without_query(url).to_owned(),
            })
            .collect();
        Self {
            list,
            cursor: AtomicUsize::new(0),
        }
    }

    /// The URL to dial now.
    pub(super) fn current(&self) -> &Endpoint {
        &self.list[self.cursor.load(Ordering::Relaxed) % self.list.len()]
    }

    /// Moves on to the next URL (back to the first after the last). With one URL, a no-op.
    pub(super) fn advance(&self) {
        if self.list.len() > 1 {
            self.cursor.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every URL as shown in logs, in order.
    pub(super) fn shown(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|endpoint| endpoint.shown.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoints;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|url| (*url).to_owned()).collect()
    }

    #[test]
    fn one_url_stays_put() {
        let endpoints = Endpoints::new(&urls(&["ws://a:1"]), &[("token", "t")]);
        endpoints.advance();
        assert_eq!(endpoints.current().shown, "ws://a:1");
        assert_eq!(endpoints.current().url, "ws://a:1/?token=t");
    }

    #[test]
    fn urls_are_tried_in_turn_and_wrap_around() {
        let endpoints = Endpoints::new(&urls(&["ws://a:1", "ws://b:2/ws", "ws://c:3"]), &[]);
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(endpoints.current().shown.clone());
            endpoints.advance();
        }
        assert_eq!(seen, ["ws://a:1", "ws://b:2/ws", "ws://c:3", "ws://a:1"]);
        assert_eq!(
            endpoints.shown().collect::<Vec<_>>(),
            ["ws://a:1", "ws://b:2/ws", "ws://c:3"]
        );
    }
}

//! The peer's requests still running on this side, by id, so that a `$/cancelRequest` for one
//! of them stops its handler. Only requests whose handler did not finish on its first poll are
//! here; the table is bounded by the in-flight limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{AbortHandle, AbortRegistration};

#[derive(Debug, Default)]
pub(crate) struct Running {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// Raw id (as received: `"42"` and `42` differ) → the serial of its entry and its handle.
    by_id: HashMap<Box<str>, (u64, AbortHandle)>,
    next_serial: u64,
}

/// One running request; it leaves the table when dropped (its answer is on its way).
#[derive(Debug)]
pub(crate) struct Entry {
    running: Arc<Running>,
    id: Box<str>,
    serial: u64,
}

impl Entry {
    /// The request's raw id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut table = self.running.lock();
        // A later request may have reused the id; only this entry's own registration leaves.
        if table
            .by_id
            .get(&self.id)
            .is_some_and(|(serial, _)| *serial == self.serial)
        {
            table.by_id.remove(&self.id);
        }
    }
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the request `id`; its handler future is to be wrapped in an `Abortable` with
    /// the returned registration.
    pub(crate) fn start(self: &Arc<Self>, id: &str) -> (Entry, AbortRegistration) {
        let (handle, registration) = AbortHandle::new_pair();
        let mut table = self.lock();
        let serial = table.next_serial;
        table.next_serial += 1;
        table.by_id.insert(id.into(), (serial, handle));
        drop(table);
        let entry = Entry {
            running: Arc::clone(self),
            id: id.into(),
            serial,
        };
        (entry, registration)
    }

    /// Stops the handler of request `id`, which then answers `-32800`; whether one was running.
    pub(crate) fn cancel(&self, id: &str) -> bool {
        match self.lock().by_id.remove(id) {
            Some((_, handle)) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    /// How many requests run.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::{Abortable, Aborted};

    #[tokio::test]
    async fn cancel_stops_the_registered_future_once() {
        let running = Arc::new(Running::default());
        let (entry, registration) = running.start("42");
        let call = Abortable::new(std::future::pending::<()>(), registration);
        assert!(!running.cancel(r#""42""#), "a string id is another id");
        assert!(running.cancel("42"));
        assert_eq!(call.await, Err(Aborted));
        assert!(!running.cancel("42"), "cancelled once");
        drop(entry);
        assert_eq!(running.len(), 0);
    }

    #[test]
    fn a_reused_id_keeps_the_newer_entry() {
        let running = Arc::new(Running::default());
        let (first, _r1) = running.start("1");
        let (_second, _r2) = running.start("1");
        drop(first);
        assert_eq!(running.len(), 1);
    }
}

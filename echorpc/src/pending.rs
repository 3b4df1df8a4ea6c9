//! Our calls awaiting their responses, by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::error::Error;
use crate::raw::RawJson;

pub(crate) type Outcome = Result<RawJson, Error>;

#[derive(Debug, Default)]
pub(crate) struct PendingCalls {
    next_id: AtomicU64,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    calls: HashMap<u64, oneshot::Sender<Outcome>>,
    /// Set once the connection is gone: no call can wait on it any more.
    closed: bool,
}

impl PendingCalls {
    /// Reserves an id and the receiver its response will arrive on, or fails once closed.
    pub(crate) fn register(&self) -> Result<(u64, oneshot::Receiver<Outcome>), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.closed {
            return Err(Error::NotConnected);
        }
        table.calls.insert(id, tx);
        Ok((id, rx))
    }

    /// Forgets a call (timed out or cancelled).
    pub(crate) fn remove(&self, id: u64) {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .remove(&id);
    }

    /// Delivers a response; false when no call waits for this id.
    pub(crate) fn complete(&self, raw_id: &str, outcome: Outcome) -> bool {
        let Ok(id) = raw_id.parse::<u64>() else {
            return false;
        };
        let waiter = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .remove(&id);
        match waiter {
            Some(tx) => {
                // The caller may have given up in the meantime; nothing to do then.
                let _ = tx.send(outcome);
                true
            }
            None => false,
        }
    }

    /// How many calls wait.
    pub(crate) fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .len()
    }

    /// Fails every waiting call with `-32001` and refuses new ones.
    pub(crate) fn close(&self) {
        let calls = {
            let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            table.closed = true;
            std::mem::take(&mut table.calls)
        };
        for (_, tx) in calls {
            let _ = tx.send(Err(Error::NotConnected));
        }
    }
}

/// Removes its call from the table when the caller stops waiting, however it stops.
pub(crate) struct PendingGuard<'a> {
    pub(crate) calls: &'a PendingCalls,
    pub(crate) id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.calls.remove(self.id);
    }
}

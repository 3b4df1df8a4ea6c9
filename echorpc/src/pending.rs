//! Our calls awaiting their responses, by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

    /// Forgets a call (timed out or cancelled); whether it was still waiting for its answer.
    pub(crate) fn remove(&self, id: u64) -> bool {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .remove(&id)
            .is_some()
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

/// What to do for a call whose caller stopped waiting before its answer came.
pub(crate) trait Abandon {
    /// Tells the peer that nobody waits for the answer to `id` any more.
    fn abandon(&self, id: u64);
}

/// Removes its call from the table when the caller stops waiting, however it stops (answer,
/// timeout, future dropped, connection closed); a call that was sent and is still unanswered
/// then is abandoned (the peer is told to cancel it).
pub(crate) struct PendingGuard<'a, A: Abandon> {
    pub(crate) calls: &'a PendingCalls,
    pub(crate) id: u64,
    /// Set once the request is queued for the peer.
    pub(crate) sent: AtomicBool,
    pub(crate) on_abandon: &'a A,
}

impl<'a, A: Abandon> PendingGuard<'a, A> {
    pub(crate) fn new(calls: &'a PendingCalls, id: u64, on_abandon: &'a A) -> Self {
        Self {
            calls,
            id,
            sent: AtomicBool::new(false),
            on_abandon,
        }
    }

    /// The request is queued for the peer: from now on, abandoning it cancels it there.
    pub(crate) fn mark_sent(&self) {
        self.sent.store(true, Ordering::Release);
    }
}

impl<A: Abandon> Drop for PendingGuard<'_, A> {
    fn drop(&mut self) {
        if self.calls.remove(self.id) && self.sent.load(Ordering::Acquire) {
            self.on_abandon.abandon(self.id);
        }
    }
}

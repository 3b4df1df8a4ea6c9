//! The tasks a server started (handshakes and connections), so that none outlives
//! [`Server::stop`](crate::Server::stop).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use tokio::task::AbortHandle;

/// Live tasks by a serial number; each removes itself when it ends.
#[derive(Debug)]
pub(crate) struct Tasks {
    live: Mutex<Live>,
    /// How many tasks run, for [`until_empty`](Self::until_empty).
    count: watch::Sender<usize>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            live: Mutex::default(),
            count: watch::Sender::new(0),
        }
    }
}

#[derive(Debug, Default)]
struct Live {
    next: u64,
    handles: HashMap<u64, AbortHandle>,
}

/// Removes its task from the set when the task ends, however it ends.
struct Deregister {
    tasks: Arc<Tasks>,
    serial: u64,
}

impl Drop for Deregister {
    fn drop(&mut self) {
        let mut live = self.tasks.lock();
        live.handles.remove(&self.serial);
        self.tasks.count.send_replace(live.handles.len());
    }
}

impl Tasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns `task` and keeps it in the set until it ends.
    pub(crate) fn spawn(self: &Arc<Self>, task: impl Future<Output = ()> + Send + 'static) {
        // Held across the spawn, so the task cannot deregister before it is registered.
        let mut live = self.lock();
        let serial = live.next;
        live.next += 1;
        let guard = Deregister {
            tasks: Arc::clone(self),
            serial,
        };
        let handle = tokio::spawn(async move {
            let _guard = guard;
            task.await;
        });
        live.handles.insert(serial, handle.abort_handle());
        self.count.send_replace(live.handles.len());
    }

    /// Completes once no task runs.
    pub(crate) async fn until_empty(&self) {
        let mut count = self.count.subscribe();
        // The sender lives as long as `self`, so this only ends at zero.
        let _ = count.wait_for(|n| *n == 0).await;
    }

    /// Aborts every task still running.
    pub(crate) fn abort_all(&self) {
        let handles = std::mem::take(&mut self.lock().handles);
        for handle in handles.into_values() {
            handle.abort();
        }
    }

    /// How many tasks run.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().handles.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn tasks_leave_when_done_and_are_aborted_on_demand() {
        let tasks = Arc::new(Tasks::default());
        tasks.spawn(async {});
        tasks.spawn(std::future::pending());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(tasks.len(), 1);
        tasks.abort_all();
        tasks.until_empty().await;
        assert_eq!(tasks.len(), 0);
    }
}

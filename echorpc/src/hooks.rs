//! `on_connect` / `on_disconnect` callbacks.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError, RwLock};

use futures::FutureExt;

use crate::connection::Connection;
use crate::handler::BoxFuture;

type Hook = Arc<dyn Fn(Connection) -> BoxFuture<()> + Send + Sync>;

#[derive(Default)]
pub(crate) struct Hooks {
    on_connect: RwLock<Vec<Hook>>,
    on_disconnect: RwLock<Vec<Hook>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks")
    }
}

fn hook<F, Fut>(f: F) -> Hook
where
    F: Fn(Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |conn| Box::pin(f(conn)))
}

async fn run_all(hooks: &RwLock<Vec<Hook>>, conn: &Connection, which: &str) {
    let hooks = hooks.read().unwrap_or_else(PoisonError::into_inner).clone();
    for hook in hooks {
        if AssertUnwindSafe(hook(conn.clone()))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!(connection = %conn.id(), "{which} hook panicked");
        }
    }
}

impl Hooks {
    pub(crate) fn add_on_connect<F, Fut>(&self, f: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_connect
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hook(f));
    }

    pub(crate) fn add_on_disconnect<F, Fut>(&self, f: F)
    where
        F: Fn(Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_disconnect
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hook(f));
    }

    /// The `on_connect` hooks for `conn`, as one task for the connection to run (so a hook
    /// may call the new peer, whose answers the connection's reader must be free to read);
    /// `None` when there are none.
    pub(crate) fn on_connect_task(self: &Arc<Self>, conn: &Connection) -> Option<BoxFuture<()>> {
        if self
            .on_connect
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
        {
            return None;
        }
        let hooks = Arc::clone(self);
        let conn = conn.clone();
        Some(Box::pin(async move {
            run_all(&hooks.on_connect, &conn, "on_connect").await;
        }))
    }

    /// Drops every hook (and whatever they captured).
    pub(crate) fn clear(&self) {
        self.on_connect
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.on_disconnect
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) async fn run_on_disconnect(&self, conn: &Connection) {
        run_all(&self.on_disconnect, conn, "on_disconnect").await;
    }
}

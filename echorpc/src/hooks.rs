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

    /// Runs the `on_connect` hooks in their own task, so a hook may call the new peer (whose
    /// answers the connection's reader must be free to read).
    pub(crate) fn spawn_on_connect(self: &Arc<Self>, conn: &Connection) {
        if self
            .on_connect
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
        {
            return;
        }
        let hooks = Arc::clone(self);
        let conn = conn.clone();
        tokio::spawn(async move { run_all(&hooks.on_connect, &conn, "on_connect").await });
    }

    pub(crate) async fn run_on_disconnect(&self, conn: &Connection) {
        run_all(&self.on_disconnect, conn, "on_disconnect").await;
    }
}

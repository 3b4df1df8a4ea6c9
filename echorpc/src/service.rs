//! What typed services stand on: mounting a service's handlers on a server or client, and the
//! peers a generated stub can call through (a connection here, or a client anywhere in the
//! cluster).

use std::sync::Arc;

use crate::client::Client;
use crate::cluster::RemotePeer;
use crate::connection::Connection;
use crate::error::Error;
use crate::handler::{EventHandler, MethodHandler};
use crate::registry::Registry;

/// The handler table a [`Service`] registers into while it is mounted.
#[derive(Debug)]
pub struct Handlers<'a> {
    registry: &'a Arc<Registry>,
    /// What this mount installed so far, for the record of a generated service's contract
    /// (`echorpc::contract`): which handlers are still the mounted ones.
    #[cfg(feature = "schema")]
    installed: Vec<crate::contract::Installed>,
}

impl<'a> Handlers<'a> {
    pub(crate) fn new(registry: &'a Arc<Registry>) -> Self {
        Self {
            registry,
            #[cfg(feature = "schema")]
            installed: Vec::new(),
        }
    }

    /// Adds (or replaces) a method.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a name the protocol reserves.
    pub fn method(&mut self, name: &str, handler: Arc<dyn MethodHandler>) -> Result<(), Error> {
        #[cfg(feature = "schema")]
        let weak = Arc::downgrade(&handler);
        self.registry.add_method(name, handler)?;
        #[cfg(feature = "schema")]
        self.installed
            .push(crate::contract::Installed::method(name, weak));
        Ok(())
    }

    /// Adds an event subscriber.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a name the protocol reserves.
    pub fn event(&mut self, name: &str, handler: Arc<dyn EventHandler>) -> Result<(), Error> {
        let _id = self.registry.subscribe(name, handler)?;
        #[cfg(feature = "schema")]
        self.installed
            .push(crate::contract::Installed::event(name, _id));
        Ok(())
    }

    /// The table this mount registers into.
    #[cfg(feature = "schema")]
    pub(crate) fn registry(&self) -> &'a Arc<Registry> {
        self.registry
    }

    /// Takes what this mount installed so far.
    #[cfg(feature = "schema")]
    pub(crate) fn take_installed(&mut self) -> Vec<crate::contract::Installed> {
        std::mem::take(&mut self.installed)
    }
}

/// A set of methods and event handlers mounted in one call. `#[echorpc::service]` implements it
/// for the generated `…Server` wrapper of a trait implementation.
pub trait Service {
    /// Registers every method and event handler of the service.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when a name is reserved.
    fn register(self, handlers: &mut Handlers<'_>) -> Result<(), Error>;
}

/// Something a generated stub can send calls and events through: a [`Client`] (its current
/// connection), one server-side [`Connection`], or a [`RemotePeer`] (a client connection
/// anywhere in the cluster).
pub trait Peer: Send + Sync {
    /// The open connection on this process to use now.
    ///
    /// # Errors
    /// [`Error::NotConnected`] when there is none.
    fn connection(&self) -> Result<Connection, Error>;

    /// The cluster-wide peer this stands for, when calls may have to cross nodes: stubs then
    /// send through it instead of [`connection`](Self::connection). `None` (the default) for
    /// peers that are a connection of this process.
    fn remote(&self) -> Option<&RemotePeer> {
        None
    }
}

impl Peer for Client {
    fn connection(&self) -> Result<Connection, Error> {
        Client::connection(self).ok_or(Error::NotConnected)
    }
}

impl Peer for Connection {
    fn connection(&self) -> Result<Connection, Error> {
        if self.is_open() {
            Ok(self.clone())
        } else {
            Err(Error::NotConnected)
        }
    }
}

impl<T: Peer + ?Sized> Peer for &T {
    fn connection(&self) -> Result<Connection, Error> {
        (**self).connection()
    }

    fn remote(&self) -> Option<&RemotePeer> {
        (**self).remote()
    }
}

impl<T: Peer + ?Sized> Peer for Arc<T> {
    fn connection(&self) -> Result<Connection, Error> {
        (**self).connection()
    }

    fn remote(&self) -> Option<&RemotePeer> {
        (**self).remote()
    }
}

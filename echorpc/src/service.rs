//! What typed services stand on: mounting a service's handlers on a server or client, and the
//! peers a generated stub can call through.

use std::sync::Arc;

use crate::client::Client;
use crate::connection::Connection;
use crate::error::Error;
use crate::handler::{EventHandler, MethodHandler};
use crate::registry::Registry;
use crate::server::Server;

/// The handler table a [`Service`] registers into while it is mounted.
#[derive(Debug)]
pub struct Handlers<'a> {
    registry: &'a Registry,
}

impl Handlers<'_> {
    /// Adds (or replaces) a method.
    ///
    /// # Errors
    /// When `name` is `ping` or `pong`.
    pub fn method(&mut self, name: &str, handler: Arc<dyn MethodHandler>) -> Result<(), Error> {
        self.registry.add_method(name, handler)
    }

    /// Adds an event subscriber.
    ///
    /// # Errors
    /// When `name` is `ping` or `pong`.
    pub fn event(&mut self, name: &str, handler: Arc<dyn EventHandler>) -> Result<(), Error> {
        self.registry.subscribe(name, handler).map(drop)
    }
}

/// A set of methods and event handlers mounted in one call. `#[echorpc::service]` implements it
/// for the generated `…Server` wrapper of a trait implementation.
pub trait Service {
    /// Registers every method and event handler of the service.
    ///
    /// # Errors
    /// When a name is reserved (`ping`, `pong`).
    fn register(self, handlers: &mut Handlers<'_>) -> Result<(), Error>;
}

impl Server {
    /// Mounts a typed service: each of its methods and events becomes a handler, next to any
    /// registered with [`register`](Server::register).
    ///
    /// # Errors
    /// When the service uses a reserved name.
    pub fn mount(&self, service: impl Service) -> Result<(), Error> {
        service.register(&mut Handlers {
            registry: self.registry(),
        })
    }
}

impl Client {
    /// Mounts a typed service on the client, so the server can call it; it survives reconnects.
    ///
    /// # Errors
    /// When the service uses a reserved name.
    pub fn mount(&self, service: impl Service) -> Result<(), Error> {
        service.register(&mut Handlers {
            registry: self.registry(),
        })
    }
}

/// Something a generated stub can send calls and events through: a [`Client`] (its current
/// connection) or one server-side [`Connection`].
pub trait Peer: Send + Sync {
    /// The open connection to use now.
    ///
    /// # Errors
    /// `-32001` when there is none.
    fn connection(&self) -> Result<Connection, Error>;
}

impl Peer for Client {
    fn connection(&self) -> Result<Connection, Error> {
        Client::connection(self).ok_or_else(Error::not_connected)
    }
}

impl Peer for Connection {
    fn connection(&self) -> Result<Connection, Error> {
        if self.is_open() {
            Ok(self.clone())
        } else {
            Err(Error::not_connected())
        }
    }
}

impl<T: Peer + ?Sized> Peer for &T {
    fn connection(&self) -> Result<Connection, Error> {
        (**self).connection()
    }
}

impl<T: Peer + ?Sized> Peer for Arc<T> {
    fn connection(&self) -> Result<Connection, Error> {
        (**self).connection()
    }
}

//! The registration surface of both ends, written once: `register`, `unregister`,
//! `subscribe`, `unsubscribe`, `unsubscribe_all`, `on_connect`, `on_disconnect` and `mount`
//! behave identically on [`Server`](crate::Server) and [`Client`](crate::Client).
//!
//! They are inherent methods (so using them needs no trait import), generated for each end
//! by [`registration_surface!`] over the end's `inner.registry` and `inner.hooks`.

/// Implements the registration methods on `$end`, whose docs call the other side `$peer`.
macro_rules! registration_surface {
    ($end:ident, $peer:literal) => {
        impl $end {
            #[doc = concat!("Registers a method that ", $peer, " can call: `handler(params, connection)`.")]
            ///
            /// `handler` is a closure `|params: P, conn| async move { … }` returning
            /// `Result<R, E>` (see [`MethodFn`](crate::handler::MethodFn)): params are parsed
            /// into `P` (`serde_json::Value` for the untyped form; params that do not fit are
            /// answered `-32602` and the handler does not run), `Ok(R)` is the result and
            /// `Err(E)` (any `E: Into<Error>`) the error sent back. A second registration of a
            /// name replaces the first; registrations survive a client's reconnects.
            ///
            /// # Errors
            /// [`Error::InvalidName`](crate::Error::InvalidName) for a name the protocol
            /// reserves (`ping`, `pong`, `$/cancelRequest`).
            pub fn register<H, P, Fut>(&self, method: &str, handler: H) -> Result<(), crate::Error>
            where
                H: crate::handler::MethodFn<P, Fut>,
            {
                self.inner
                    .registry
                    .add_method(method, handler.into_method_handler())
            }

            /// Removes a method; whether it was registered.
            pub fn unregister(&self, method: &str) -> bool {
                self.inner.registry.remove_method(method)
            }

            #[doc = concat!("Subscribes to an event from ", $peer, ": `handler(data, connection)` runs for each one,")]
            /// in the order each peer sent them (see [`EventFn`](crate::handler::EventFn)). Data
            /// that does not parse into the handler's `P` is logged and skipped.
            ///
            /// # Errors
            /// [`Error::InvalidName`](crate::Error::InvalidName) for a reserved name.
            pub fn subscribe<H, P, Fut>(
                &self,
                event: &str,
                handler: H,
            ) -> Result<crate::SubscriptionId, crate::Error>
            where
                H: crate::handler::EventFn<P, Fut>,
            {
                self.inner
                    .registry
                    .subscribe(event, handler.into_event_handler(event))
            }

            /// Removes one subscription; whether it existed.
            pub fn unsubscribe(&self, event: &str, subscription: crate::SubscriptionId) -> bool {
                self.inner.registry.unsubscribe(event, subscription)
            }

            /// Removes every subscription of an event; how many there were.
            pub fn unsubscribe_all(&self, event: &str) -> usize {
                self.inner.registry.unsubscribe_all(event)
            }

            /// Runs `hook` with every connection as soon as it is open (for a client: after
            /// every connect and reconnect). It runs as a task of that connection, so it may
            /// call the peer, and it stops when the connection closes.
            pub fn on_connect<F, Fut>(&self, hook: F)
            where
                F: Fn(crate::Connection) -> Fut + Send + Sync + 'static,
                Fut: std::future::Future<Output = ()> + Send + 'static,
            {
                self.inner.hooks.add_on_connect(hook);
            }

            /// Runs `hook` after a connection closed, for whatever reason, before the close is
            /// complete for the rest of the program.
            pub fn on_disconnect<F, Fut>(&self, hook: F)
            where
                F: Fn(crate::Connection) -> Fut + Send + Sync + 'static,
                Fut: std::future::Future<Output = ()> + Send + 'static,
            {
                self.inner.hooks.add_on_disconnect(hook);
            }

            /// Mounts a typed service (the `…Server` wrapper `#[echorpc::service]` generates):
            /// each of its methods and events becomes a handler, next to any registered with
            /// [`register`](Self::register). With the `schema` feature, it also records the
            /// service's contract (one record per service trait; mounting it again replaces
            /// it), so `rpc.discover` can list it: see `echorpc::contract::DiscoverMounted`.
            ///
            /// # Errors
            /// [`Error::InvalidName`](crate::Error::InvalidName) when the service uses a
            /// reserved name.
            pub fn mount(&self, service: impl crate::Service) -> Result<(), crate::Error> {
                service.register(&mut crate::Handlers::new(&self.inner.registry))
            }
        }
    };
}

pub(crate) use registration_surface;

//! The examples' wire contract: what the example server offers ([`App`](crate::App)) and what
//! it calls on its clients ([`Callbacks`](crate::Callbacks)), for OpenRPC and TypeScript.

use echorpc::contract::Api;

use crate::{AppContract, CallbacksContract};

/// The examples' API: `App` as the server's methods, `Callbacks` as the calls it makes back.
pub fn api() -> Api {
    served().service::<AppContract>()
}

/// [`api`] without the services the server offers: a server that mounts
/// `served().discover_mounted()` answers `rpc.discover` with [`api`]'s document once it mounts
/// `AppServer`, without naming `App` again.
pub fn served() -> Api {
    Api::new("echorpc examples", env!("CARGO_PKG_VERSION"))
        .description("The example server's App service, and the Callbacks its clients offer.")
        .callbacks::<CallbacksContract>()
}

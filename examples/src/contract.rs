//! The examples' wire contract: what the example server offers ([`App`](crate::App)) and what
//! it calls on its clients ([`Callbacks`](crate::Callbacks)), for OpenRPC and TypeScript.

use echorpc::contract::Api;

use crate::{AppContract, CallbacksContract};

/// The examples' API: `App` as the server's methods, `Callbacks` as the calls it makes back.
pub fn api() -> Api {
    Api::new("echorpc examples", env!("CARGO_PKG_VERSION"))
        .description("The example server's App service, and the Callbacks its clients offer.")
        .service::<AppContract>()
        .callbacks::<CallbacksContract>()
}

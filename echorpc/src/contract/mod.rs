//! One trait, every language: the wire contract of `#[echorpc::service]` traits as an
//! [OpenRPC](https://spec.open-rpc.org) 1.3 document and as a self-contained TypeScript module
//! (feature `schema`).
//!
//! With the feature on, `#[echorpc::service] trait App` also generates `AppContract`, which
//! implements [`Contract`]. Derive [`schemars::JsonSchema`] next to serde's derives on the wire
//! types (one derive serves both outputs: the TypeScript types are made from the same JSON
//! Schema the OpenRPC document publishes, so the two cannot disagree); then collect the
//! services in an [`Api`]:
//!
//! ```
//! use echorpc::contract::Api;
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// The result of `add`.
//! #[derive(Serialize, Deserialize, JsonSchema)]
//! pub struct Sum {
//!     /// `a + b`.
//!     pub sum: i64,
//! }
//!
//! /// What the server offers.
//! #[echorpc::service]
//! pub trait Calc {
//!     /// Adds two numbers.
//!     async fn add(&self, a: i64, b: i64) -> Sum;
//! }
//!
//! let api = Api::new("calc", "1.0.0").service::<CalcContract>();
//! let doc = api.openrpc();
//! assert_eq!(doc["methods"][0]["name"], "add");
//! assert_eq!(doc["methods"][0]["result"]["schema"]["$ref"], "#/components/schemas/Sum");
//! let ts = api.typescript();
//! assert!(ts.contains("export class CalcClient"));
//! assert!(ts.contains("add(a: number, b: number): Promise<Sum>"));
//! ```
//!
//! A server (or client) answers `rpc.discover` once it mounts [`Api::discover_mounted`] (the
//! document of every generated service mounted on it, before or after, without naming them
//! again) or [`Api::discover`] (the fixed document of this `Api`); opt-in: nothing answers it
//! otherwise.
//!
//! # Mapping
//! - Wire names, params (named objects by default, `params = "whole"`, none) and results are
//!   those of the Rust stub. Field names are serde's; only TypeScript *method* names become
//!   camelCase (`ask_double` → `askDouble`).
//! - Rust integers are JSON Schema `integer` and TypeScript `number`: JavaScript numbers are
//!   exact only up to 2^53 − 1, so `i64`/`u64` values beyond that lose precision in TypeScript.
//! - A method returning `()` has a `null` result; events have no result (in OpenRPC a method
//!   without a result is a notification) and carry `"x-echorpc-event": true`.
//! - `Option` fields are optional and `| null`, enums are tagged as serde tags them: both come
//!   from the schemas `schemars` derives, which follow serde's attributes. Schemas describe
//!   what the types *deserialize* (schemars' default contract); types whose serialized and
//!   deserialized forms differ are described by the latter.
//! - Every method lists the error codes the runtime may answer for it (`-32602`, `-32603`,
//!   `-32004`, `-32800`); a method returning `Result` may answer its own codes too
//!   (`"x-echorpc-fallible": true`).

mod discover;
mod model;
mod mounted;
mod openrpc;
mod typescript;

pub use discover::{DISCOVER, Discover};
pub use model::{Contract, ServiceDescription};
pub use mounted::DiscoverMounted;
pub(crate) use mounted::{Installed, MountedContracts};
pub use schemars;

/// Support for the code `#[echorpc::service]` generates: not a public API.
#[doc(hidden)]
pub mod __support {
    pub use super::model::{
        Contract, MethodDescription, ParamsStyle, ServiceDescription, event, method, schema,
        service,
    };
    pub use super::mounted::{Described, Probe, TypedContract, UntypedContract, record};
    pub use schemars::JsonSchema;
}

use serde_json::Value;

/// A set of services described together: the OpenRPC document of a server (or client) and the
/// TypeScript module for its peers.
#[derive(Debug, Clone)]
pub struct Api {
    title: String,
    version: String,
    description: Option<String>,
    services: Vec<ServiceDescription>,
    callbacks: Vec<ServiceDescription>,
}

impl Api {
    /// An API with this `info.title` and `info.version` and no services yet.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            description: None,
            services: Vec::new(),
            callbacks: Vec::new(),
        }
    }

    /// Sets `info.description`.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Adds a service this side offers (e.g. `AppContract` on a server): its methods and events
    /// become the document's `methods`.
    #[must_use]
    pub fn service<C: Contract>(mut self) -> Self {
        self.services.push(C::describe());
        self
    }

    /// Adds a service the *other* side offers and this side calls (e.g. the `Callbacks` a
    /// server calls on its clients). OpenRPC has no place for calls that go the other way, so
    /// they are listed under the `x-echorpc-callbacks` extension, in the same form as `methods`.
    /// The TypeScript module covers both kinds alike.
    #[must_use]
    pub fn callbacks<C: Contract>(mut self) -> Self {
        self.callbacks.push(C::describe());
        self
    }

    /// The OpenRPC 1.3.2 document.
    pub fn openrpc(&self) -> Value {
        openrpc::document(self)
    }

    /// The TypeScript module: types, `class <Trait>Client` and `function register<Trait>` for
    /// every service. It imports nothing.
    pub fn typescript(&self) -> String {
        typescript::module(self)
    }

    /// A [`Service`](crate::Service) answering `rpc.discover` with [`Api::openrpc`]: mount it
    /// with `server.mount(api.discover())`. The document is fixed: a service mounted but not
    /// named in this `Api` is not in it (see [`discover_mounted`](Self::discover_mounted)).
    pub fn discover(&self) -> Discover {
        Discover::new(self.openrpc())
    }

    /// A [`Service`](crate::Service) answering `rpc.discover` with the document of everything
    /// mounted on the side it is mounted on (`server.mount(api.discover_mounted())`, or on a
    /// client): this `Api`'s `info`, callbacks and services, plus every generated `…Server`
    /// mounted there, before or after it, without naming them here. Methods registered without
    /// a contract are listed by name under `x-echorpc-untyped`. See [`DiscoverMounted`] for the
    /// rules and an example.
    pub fn discover_mounted(&self) -> DiscoverMounted {
        DiscoverMounted::new(self.clone())
    }

    fn all(&self) -> impl Iterator<Item = &ServiceDescription> {
        self.services.iter().chain(&self.callbacks)
    }
}

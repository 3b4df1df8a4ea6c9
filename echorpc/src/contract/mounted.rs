//! The contracts of the generated services mounted on a server or client, and `rpc.discover`
//! answered from them ([`DiscoverMounted`]).
//!
//! Mounting a generated `…Server` records its `…Contract` with the side's handler table (one
//! record per service trait: mounting it again replaces the record), together with which
//! handlers that mount installed. The document is then made from the handler table as it is:
//! a mounted method or event is listed while the handler its mount installed is still the one
//! registered under its name.

use std::any::TypeId;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::discover::DISCOVER;
use super::model::{Contract, ServiceDescription};
use super::{Api, openrpc};
use crate::handler::MethodHandler;
use crate::registry::{Registry, SubscriptionId};
use crate::service::{Handlers, Service};
use crate::{Connection, Error};

/// The extension listing the methods and events registered without a contract.
pub(crate) const UNTYPED: &str = "x-echorpc-untyped";

/// One handler a mount installed.
#[derive(Debug)]
pub(crate) struct Installed {
    name: Box<str>,
    handler: InstalledHandler,
}

#[derive(Debug)]
enum InstalledHandler {
    /// Weak, so a record does not keep an unregistered handler (and what it captured) alive;
    /// it still keeps the allocation, so the address cannot be reused by another handler.
    Method(Weak<dyn MethodHandler>),
    Event(SubscriptionId),
}

impl Installed {
    pub(crate) fn method(name: &str, handler: Weak<dyn MethodHandler>) -> Self {
        Self {
            name: name.into(),
            handler: InstalledHandler::Method(handler),
        }
    }

    pub(crate) fn event(name: &str, id: SubscriptionId) -> Self {
        Self {
            name: name.into(),
            handler: InstalledHandler::Event(id),
        }
    }
}

/// The contracts mounted on one side: at most one record per service trait.
#[derive(Debug, Default)]
pub(crate) struct MountedContracts {
    records: Vec<Record>,
    /// Bumped on every change, so a cached document knows it is stale.
    version: u64,
}

#[derive(Debug)]
struct Record {
    contract: TypeId,
    describe: fn() -> ServiceDescription,
    installed: Vec<Installed>,
}

impl MountedContracts {
    fn record(&mut self, described: Described, installed: Vec<Installed>) {
        let record = Record {
            contract: described.contract,
            describe: described.describe,
            installed,
        };
        match self
            .records
            .iter_mut()
            .find(|old| old.contract == record.contract)
        {
            Some(old) => *old = record,
            None => self.records.push(record),
        }
        self.version += 1;
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.version += 1;
    }
}

/// A generated service's contract, as its mount records it (generated code).
#[derive(Debug, Clone, Copy)]
pub struct Described {
    contract: TypeId,
    describe: fn() -> ServiceDescription,
}

/// Asks whether `C` implements [`Contract`] (generated code): `(&Probe::<C>::new()).described()`
/// finds [`TypedContract`] when it does (its wire types derive `JsonSchema`) and
/// [`UntypedContract`] when it does not, so a service whose types have no schema still mounts,
/// its methods listed as untyped.
#[derive(Debug)]
pub struct Probe<C>(PhantomData<fn() -> C>);

impl<C> Probe<C> {
    /// A probe of `C`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

/// The probe of a contract whose types have schemas (generated code).
pub trait TypedContract {
    /// `Some`: the contract to record.
    fn described(&self) -> Option<Described>;
}

impl<C: Contract + 'static> TypedContract for Probe<C> {
    fn described(&self) -> Option<Described> {
        Some(Described {
            contract: TypeId::of::<C>(),
            describe: C::describe,
        })
    }
}

/// The probe of a contract whose types do not all implement `JsonSchema` (generated code).
pub trait UntypedContract {
    /// `None`: nothing to record.
    fn described(&self) -> Option<Described>;
}

impl<C> UntypedContract for &Probe<C> {
    fn described(&self) -> Option<Described> {
        None
    }
}

/// Records the contract of the service being mounted with the handlers it installed
/// (generated code, after the service registered its handlers).
pub fn record(handlers: &mut Handlers<'_>, described: Option<Described>) {
    let installed = handlers.take_installed();
    if let Some(described) = described {
        handlers.registry().contracts().record(described, installed);
    }
}

/// A [`Service`] answering `rpc.discover` with the OpenRPC document of everything mounted on
/// the side it is mounted on, made by [`Api::discover_mounted`].
///
/// The document has the [`Api`]'s `info` and callbacks, the services named with
/// [`Api::service`], then every generated service mounted on that side, before or after this
/// one, in the order they were first mounted:
/// - A mounted service is described by its `…Contract` (feature `schema`; its wire types derive
///   `JsonSchema`). It need not be named in the `Api`; one that is (same trait name and wire
///   names) is listed once, where the `Api` puts it.
/// - A mounted method or event is listed while the handler its mount installed is still
///   registered under its name: [`unregister`](crate::Server::unregister) or
///   [`unsubscribe_all`](crate::Server::unsubscribe_all) takes it out, and a service with
///   nothing left is left out. Mounting the service again lists it again.
/// - Methods and events with no contract (added with [`register`](crate::Server::register)
///   or [`subscribe`](crate::Server::subscribe), a mounted method replaced that way, or the
///   methods of a mounted service whose types do not derive `JsonSchema`) have no schema to
///   publish: they are not in `methods`, but listed by name under
///   `"x-echorpc-untyped": { "methods": [..], "events": [..] }` (sorted; absent when there are
///   none), so nothing the side answers is missing. `rpc.discover` itself is not listed.
///
/// The document is made at the first call and kept until a method, event or mounted service
/// of that side changes.
///
/// ```
/// use echorpc::contract::Api;
/// use echorpc::{Client, Server};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// /// The result of `add`.
/// #[derive(Serialize, Deserialize, JsonSchema)]
/// pub struct Sum {
///     /// `a + b`.
///     pub sum: i64,
/// }
///
/// /// What the server offers.
/// #[echorpc::service]
/// pub trait Calc {
///     /// Adds two numbers.
///     async fn add(&self, a: i64, b: i64) -> Sum;
/// }
///
/// struct Adder;
/// impl Calc for Adder {
///     async fn add(&self, a: i64, b: i64) -> Sum {
///         Sum { sum: a + b }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), echorpc::Error> {
/// let server = Server::builder().build();
/// // Opt-in: nothing answers `rpc.discover` without it. `Calc` is not named again.
/// server.mount(Api::new("calc", "1.0.0").discover_mounted())?;
/// server.mount(CalcServer::new(Adder))?; // after it: listed all the same
/// server.register("echo", |v: serde_json::Value, _conn| async move {
///     Ok::<_, echorpc::Error>(v)
/// })?;
///
/// let client = server.connect_in_memory(Client::builder("memory")).await?;
/// let doc = client.request("rpc.discover", serde_json::Value::Null).await?;
/// assert_eq!(doc, {
///     let mut expected = Api::new("calc", "1.0.0").service::<CalcContract>().openrpc();
///     expected["x-echorpc-untyped"] = serde_json::json!({ "methods": ["echo"], "events": [] });
///     expected
/// });
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DiscoverMounted {
    api: Api,
}

impl DiscoverMounted {
    pub(crate) fn new(api: Api) -> Self {
        Self { api }
    }
}

impl Service for DiscoverMounted {
    fn register(self, handlers: &mut Handlers<'_>) -> Result<(), Error> {
        let state = Arc::new(Mounted {
            api: self.api,
            // Weak: the table holds this handler, which must not keep the table alive.
            registry: Arc::downgrade(handlers.registry()),
            cache: Mutex::new(None),
        });
        let handler = crate::handler::method(
            crate::__private::parse_none,
            move |(), _conn: Connection| {
                let state = Arc::clone(&state);
                async move { crate::handler::encode_result(&*state.document()) }
            },
        );
        handlers.method(DISCOVER, handler)
    }
}

/// The versions of a side's methods, events and contracts a document was made from.
type Key = (u64, u64, u64);

#[derive(Debug)]
struct Mounted {
    api: Api,
    registry: Weak<Registry>,
    cache: Mutex<Option<(Key, Arc<RawValue>)>>,
}

impl Mounted {
    fn document(&self) -> Arc<RawValue> {
        let Some(registry) = self.registry.upgrade() else {
            // The side is gone (no call can reach here then): the `Api` alone.
            return encode(&self.api.openrpc());
        };
        // Versions first, state second: a change in between makes the next call rebuild.
        let key = (
            registry.methods_version(),
            registry.events_version(),
            registry.contracts().version,
        );
        // Held while building: concurrent first calls build once.
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((cached, document)) = &*cache {
            if *cached == key {
                return Arc::clone(document);
            }
        }
        let document = encode(&document(&self.api, &registry));
        *cache = Some((key, Arc::clone(&document)));
        document
    }
}

fn encode(document: &Value) -> Arc<RawValue> {
    // A `Value` always prints as valid JSON.
    Arc::from(
        RawValue::from_string(document.to_string()).unwrap_or_else(|_| RawValue::NULL.to_owned()),
    )
}

/// The document of `api` plus everything mounted in `registry`.
pub(crate) fn document(api: &Api, registry: &Registry) -> Value {
    let (_, table) = registry.methods();
    let events = registry.events();
    let live = |installed: &Installed| match &installed.handler {
        InstalledHandler::Method(weak) => table
            .get(&*installed.name)
            .is_some_and(|handler| std::ptr::addr_eq(Arc::as_ptr(handler), weak.as_ptr())),
        InstalledHandler::Event(id) => events
            .iter()
            .any(|(name, ids)| *name == installed.name && ids.contains(id)),
    };
    // Each record's `describe`, with its wire names still served by its mount's handlers.
    let mounted: Vec<_> = registry
        .contracts()
        .records
        .iter()
        .map(|record| {
            let live = record
                .installed
                .iter()
                .filter(|installed| live(installed))
                .map(|installed| {
                    let event = matches!(installed.handler, InstalledHandler::Event(_));
                    (installed.name.clone(), event)
                })
                .collect::<Vec<_>>();
            (record.describe, live)
        })
        .collect();

    let mut all = api.clone();
    for (describe, live) in mounted {
        let mut service = describe();
        if api.services.iter().any(|named| same(named, &service)) {
            continue;
        }
        service.methods.retain(|method| {
            live.iter()
                .any(|(name, event)| **name == *method.wire && *event == method.event)
        });
        if !service.methods.is_empty() {
            all.services.push(service);
        }
    }

    let typed: HashSet<(&str, bool)> = all
        .services
        .iter()
        .flat_map(|service| service.methods.iter().map(|m| (m.wire, m.event)))
        .collect();
    let mut untyped_methods: Vec<&str> = table
        .keys()
        .map(|name| &**name)
        .filter(|name| *name != DISCOVER && !typed.contains(&(*name, false)))
        .collect();
    untyped_methods.sort_unstable();
    let mut untyped_events: Vec<&str> = events
        .iter()
        .map(|(name, _)| &**name)
        .filter(|name| !typed.contains(&(*name, true)))
        .collect();
    untyped_events.sort_unstable();

    let mut document = openrpc::document(&all);
    if let Value::Object(map) = &mut document {
        if !untyped_methods.is_empty() || !untyped_events.is_empty() {
            map.insert(
                UNTYPED.into(),
                json!({ "methods": untyped_methods, "events": untyped_events }),
            );
        }
    }
    document
}

/// The same service trait: same name, same wire names.
fn same(a: &ServiceDescription, b: &ServiceDescription) -> bool {
    a.name == b.name && a.wire_names().eq(b.wire_names())
}

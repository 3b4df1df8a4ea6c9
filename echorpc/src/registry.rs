//! The table of methods and event subscribers, shared by every connection of a server or by
//! every connection a client makes over its reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::error::Error;
use crate::handler::{EventHandler, MethodHandler};

/// Identifies one event subscription, for [`unsubscribe`](crate::Client::unsubscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// The methods by name, as one immutable snapshot: replaced whole on every change, so readers
/// on the hot path hold it without a lock.
pub(crate) type MethodTable = HashMap<Box<str>, Arc<dyn MethodHandler>>;

pub(crate) type Subscribers = Arc<[(SubscriptionId, Arc<dyn EventHandler>)]>;

#[derive(Default)]
pub(crate) struct Registry {
    methods: RwLock<Arc<MethodTable>>,
    /// Bumped on every change of `methods`, so a connection knows when its snapshot is stale
    /// with one shared atomic load.
    methods_version: AtomicU64,
    events: RwLock<HashMap<Box<str>, Subscribers>>,
    /// Bumped on every change of `events` (what `rpc.discover` caches its document by).
    events_version: AtomicU64,
    next_subscription: AtomicU64,
    /// The contracts of the generated services mounted here (feature `schema`).
    #[cfg(feature = "schema")]
    contracts: std::sync::Mutex<crate::contract::MountedContracts>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let methods = self.methods.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Registry")
            .field("methods", &methods.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), Error> {
    match echorpc_protocol::reserved_for(name) {
        Some(purpose) => Err(Error::InvalidName {
            name: name.to_owned(),
            reason: format!("reserved for {purpose}; it cannot be used as {kind} name").into(),
        }),
        None => Ok(()),
    }
}

impl Registry {
    /// Adds or replaces a method.
    pub(crate) fn add_method(
        &self,
        name: &str,
        handler: Arc<dyn MethodHandler>,
    ) -> Result<(), Error> {
        check_name("a method", name)?;
        self.change_methods(|table| {
            table.insert(name.into(), handler);
        });
        Ok(())
    }

    /// Removes a method; whether it was there.
    pub(crate) fn remove_method(&self, name: &str) -> bool {
        let mut removed = false;
        self.change_methods(|table| removed = table.remove(name).is_some());
        removed
    }

    fn change_methods(&self, change: impl FnOnce(&mut MethodTable)) {
        let mut methods = self.methods.write().unwrap_or_else(PoisonError::into_inner);
        let mut table = MethodTable::clone(&methods);
        change(&mut table);
        *methods = Arc::new(table);
        self.methods_version.fetch_add(1, Ordering::Release);
    }

    /// The version of the method table; it changes whenever a method is added or removed.
    pub(crate) fn methods_version(&self) -> u64 {
        self.methods_version.load(Ordering::Acquire)
    }

    /// The current method table with its version.
    pub(crate) fn methods(&self) -> (u64, Arc<MethodTable>) {
        let version = self.methods_version();
        let table = self.methods.read().unwrap_or_else(PoisonError::into_inner);
        (version, Arc::clone(&table))
    }

    /// Adds a subscriber to an event.
    pub(crate) fn subscribe(
        &self,
        name: &str,
        handler: Arc<dyn EventHandler>,
    ) -> Result<SubscriptionId, Error> {
        check_name("an event", name)?;
        let id = SubscriptionId(self.next_subscription.fetch_add(1, Ordering::Relaxed));
        let mut events = self.events.write().unwrap_or_else(PoisonError::into_inner);
        let entry = events.entry(name.into()).or_insert_with(|| Arc::new([]));
        let mut list = entry.to_vec();
        list.push((id, handler));
        *entry = list.into();
        self.events_version.fetch_add(1, Ordering::Release);
        Ok(id)
    }

    /// Removes one subscriber; whether it was there.
    pub(crate) fn unsubscribe(&self, name: &str, id: SubscriptionId) -> bool {
        let mut events = self.events.write().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = events.get_mut(name) else {
            return false;
        };
        let before = entry.len();
        let list: Vec<_> = entry
            .iter()
            .filter(|(sub, _)| *sub != id)
            .cloned()
            .collect();
        let removed = list.len() != before;
        if list.is_empty() {
            events.remove(name);
        } else {
            *entry = list.into();
        }
        self.events_version.fetch_add(1, Ordering::Release);
        removed
    }

    /// Removes every subscriber of an event; how many there were.
    pub(crate) fn unsubscribe_all(&self, name: &str) -> usize {
        let removed = self
            .events
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .map_or(0, |list| list.len());
        self.events_version.fetch_add(1, Ordering::Release);
        removed
    }

    /// Drops every method and subscriber (and whatever they captured).
    pub(crate) fn clear(&self) {
        self.change_methods(MethodTable::clear);
        self.events
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.events_version.fetch_add(1, Ordering::Release);
        #[cfg(feature = "schema")]
        self.contracts().clear();
    }

    /// The version of the event table; it changes whenever a subscriber is added or removed.
    #[cfg(feature = "schema")]
    pub(crate) fn events_version(&self) -> u64 {
        self.events_version.load(Ordering::Acquire)
    }

    /// The names of the events with at least one subscriber, each with its subscriptions.
    #[cfg(feature = "schema")]
    pub(crate) fn events(&self) -> Vec<(Box<str>, Vec<SubscriptionId>)> {
        self.events
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, list)| (name.clone(), list.iter().map(|(id, _)| *id).collect()))
            .collect()
    }

    /// The contracts of the generated services mounted here.
    #[cfg(feature = "schema")]
    pub(crate) fn contracts(&self) -> std::sync::MutexGuard<'_, crate::contract::MountedContracts> {
        self.contracts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribers(&self, name: &str) -> Option<Subscribers> {
        self.events
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }
}

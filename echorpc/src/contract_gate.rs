//! The switch between `#[echorpc::service]` and the `schema` feature. A proc macro cannot see
//! the runtime's features, so it wraps the contract items it generates in `contract_gate!`,
//! which emits them when the feature is on and drops them when it is off, and records a mounted
//! service's contract with `record_contract!` (nothing when it is off).

/// Emits its input (the `schema` feature is on).
#[cfg(feature = "schema")]
#[doc(hidden)]
#[macro_export]
macro_rules! __echorpc_contract_gate {
    ($($item:tt)*) => { $($item)* };
}

/// Drops its input (the `schema` feature is off).
#[cfg(not(feature = "schema"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __echorpc_contract_gate {
    ($($item:tt)*) => {};
}

/// Records the contract `$contract` of the service being mounted into `$handlers` (the
/// `schema` feature is on): a generated `…Server`'s `register` ends with it, so
/// `rpc.discover` can list what is mounted (`echorpc::contract::DiscoverMounted`). A service
/// whose wire types do not implement `JsonSchema` records nothing (its `…Contract` does not
/// implement `Contract` then) and still mounts.
#[cfg(feature = "schema")]
#[doc(hidden)]
#[macro_export]
macro_rules! __echorpc_record_contract {
    ($handlers:expr, $contract:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::contract::{TypedContract as _, UntypedContract as _};
        $crate::__private::contract::record(
            $handlers,
            (&$crate::__private::contract::Probe::<$contract>::new()).described(),
        );
    }};
}

/// Records nothing (the `schema` feature is off; `$contract` does not exist).
#[cfg(not(feature = "schema"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __echorpc_record_contract {
    ($($input:tt)*) => {};
}

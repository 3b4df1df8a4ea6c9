//! The switch between `#[echorpc::service]` and the `schema` feature. A proc macro cannot see
//! the runtime's features, so it wraps the contract items it generates in `contract_gate!`,
//! which emits them when the feature is on and drops them when it is off.

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

//! Handlers as the router sees them: type-erased methods and event subscribers, and the
//! adapters that turn closures into them.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::Connection;
use crate::error::Error;
use crate::raw::Params;

/// A boxed, `Send` future: the return type of type-erased handlers.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A method's result, encoded as JSON text by [`encode_result`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedResult(String);

impl EncodedResult {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

/// A method's outcome, its result already encoded as JSON.
pub type MethodResult = Result<EncodedResult, Error>;

/// A method the router can call: the params as received and the calling connection in, the
/// encoded result out. Closures become one through [`method_fn`]; `#[echorpc::service]`
/// generates one per trait method.
pub trait MethodHandler: Send + Sync + 'static {
    /// Runs the method.
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<MethodResult>;
}

/// An event subscriber the router can call with the event's data and the sending connection.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one event.
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<()>;
}

/// Encodes a handler's value as the JSON result of a response.
///
/// # Errors
/// `-32603` when `T`'s `Serialize` fails.
pub fn encode_result<T: Serialize + ?Sized>(value: &T) -> MethodResult {
    serde_json::to_string(value)
        .map(EncodedResult)
        .map_err(|err| Error::internal(format!("result could not be encoded: {err}")))
}

struct FnMethod<F, P> {
    f: F,
    _params: PhantomData<fn(P)>,
}

/// Wraps `f(params, connection) -> Future<Output = Result<R, E>>` as a [`MethodHandler`]:
/// params are parsed into `P` (failing with `-32602`), the result `R` is encoded as JSON, and
/// `E` becomes the error sent back.
pub fn method_fn<F, Fut, P, R, E>(f: F) -> impl MethodHandler
where
    F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    P: DeserializeOwned + 'static,
    R: Serialize,
    E: Into<Error>,
{
    FnMethod {
        f,
        _params: PhantomData,
    }
}

impl<F, Fut, P, R, E> MethodHandler for FnMethod<F, P>
where
    F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    P: DeserializeOwned + 'static,
    R: Serialize,
    E: Into<Error>,
{
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<MethodResult> {
        match params.parse::<P>() {
            Ok(params) => {
                let fut = (self.f)(params, conn);
                Box::pin(async move { encode_result(&fut.await.map_err(Into::into)?) })
            }
            Err(err) => Box::pin(std::future::ready(Err(err))),
        }
    }
}

struct FnEvent<F, P> {
    f: F,
    _params: PhantomData<fn(P)>,
}

/// Wraps `f(data, connection) -> Future<Output = ()>` as an [`EventHandler`]. Data that does not
/// parse into `P` is logged and skipped (an event has nobody to answer).
pub fn event_fn<F, Fut, P>(f: F) -> impl EventHandler
where
    F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    P: DeserializeOwned + 'static,
{
    FnEvent {
        f,
        _params: PhantomData,
    }
}

impl<F, Fut, P> EventHandler for FnEvent<F, P>
where
    F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    P: DeserializeOwned + 'static,
{
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<()> {
        match params.parse::<P>() {
            Ok(params) => Box::pin((self.f)(params, conn)),
            Err(err) => {
                tracing::warn!(connection = %conn.id(), %err, "event data did not fit its subscriber; skipped");
                Box::pin(std::future::ready(()))
            }
        }
    }
}

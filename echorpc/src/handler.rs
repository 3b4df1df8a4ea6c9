//! Handlers as the router sees them, and the one adapter every handler goes through.
//!
//! The router calls type-erased [`MethodHandler`]s and [`EventHandler`]s. A registered
//! closure `|params: P, conn| async { … }` becomes one through [`MethodFn`] / [`EventFn`], and
//! the methods of a `#[echorpc::service]` trait through the same adapters ([`method`] and
//! [`event`]) and the same [`MethodOutput`], so typed and untyped handlers share one code path:
//! params parsed first (`-32602` when they do not fit, before any user code runs), then the
//! call, then the outcome encoded.
//!
//! Most users never name this module: `register` and `subscribe` take closures directly.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
/// encoded result out.
pub trait MethodHandler: Send + Sync + 'static {
    /// Runs the method.
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<MethodResult>;

    /// How long one call may run before it is cancelled and answered `-32002`; `None` (the
    /// default) leaves it to the server's or client's `handler_timeout`.
    fn time_budget(&self) -> Option<Duration> {
        None
    }
}

/// `handler` with its own time budget (see [`MethodHandler::time_budget`]); what
/// `#[echorpc(timeout = "…")]` on a service method generates.
pub fn with_time_budget(
    handler: Arc<dyn MethodHandler>,
    budget: Duration,
) -> Arc<dyn MethodHandler> {
    Arc::new(Budgeted { handler, budget })
}

struct Budgeted {
    handler: Arc<dyn MethodHandler>,
    budget: Duration,
}

impl MethodHandler for Budgeted {
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<MethodResult> {
        self.handler.call(params, conn)
    }

    fn time_budget(&self) -> Option<Duration> {
        Some(self.budget)
    }
}

/// Runs `cleanup` when dropped while armed: hold one in a handler to learn that it is being
/// cancelled.
///
/// A handler is cancelled by dropping its future: when the caller sends `$/cancelRequest`,
/// when it runs past its time budget, or when its connection closes. Code after an `.await`
/// then never runs, but the guard's `cleanup` does. [`disarm`](Self::disarm) it once the work
/// is done.
///
/// The guard cannot tell these causes apart, and it also runs when the handler panics (the
/// future is dropped while unwinding): it means "the work did not finish". `cleanup` runs
/// synchronously inside the drop; for asynchronous cleanup, spawn a task from it (for example
/// with [`tokio::spawn`], which needs the runtime the handler ran on).
///
/// ```
/// use echorpc::handler::CancelGuard;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let rolled_back = Arc::new(AtomicBool::new(false));
/// let flag = Arc::clone(&rolled_back);
/// let guard = CancelGuard::new(move || flag.store(true, Ordering::SeqCst));
/// drop(guard); // the handler's future was dropped before it finished
/// assert!(rolled_back.load(Ordering::SeqCst));
///
/// let guard = CancelGuard::new(|| unreachable!("finished normally"));
/// guard.disarm();
/// ```
#[must_use = "a guard dropped at once runs its cleanup at once"]
pub struct CancelGuard<F: FnOnce()> {
    cleanup: Option<F>,
}

impl<F: FnOnce()> CancelGuard<F> {
    /// A guard that runs `cleanup` if it is dropped before [`disarm`](Self::disarm).
    pub fn new(cleanup: F) -> Self {
        Self {
            cleanup: Some(cleanup),
        }
    }

    /// The work finished: drop the guard without running the cleanup.
    pub fn disarm(mut self) {
        self.cleanup = None;
    }
}

impl<F: FnOnce()> Drop for CancelGuard<F> {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

impl<F: FnOnce()> std::fmt::Debug for CancelGuard<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelGuard")
            .field("armed", &self.cleanup.is_some())
            .finish()
    }
}

/// An event subscriber the router can call with the event's data and the sending connection.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one event.
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<()>;
}

/// Encodes a handler's value as the JSON result of a response.
///
/// # Errors
/// [`Error::Json`] when `T`'s `Serialize` fails.
pub fn encode_result<T: Serialize + ?Sized>(value: &T) -> MethodResult {
    serde_json::to_string(value)
        .map(EncodedResult)
        .map_err(Error::from)
}

/// What a method's future may finish with: `Result<R, E>` with `R: Serialize` and
/// `E: Into<Error>`. Closures registered as methods and the methods of a `#[echorpc::service]`
/// trait that return a `Result` are encoded through it alike.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a method's outcome",
    label = "a method returns `Result<R, E>` with `R: Serialize` and `E: Into<echorpc::Error>`"
)]
pub trait MethodOutput {
    /// Encodes `Ok` as the result and `Err` as the error object sent back.
    ///
    /// # Errors
    /// The converted `Err`; [`Error::Json`] when `R`'s `Serialize` fails.
    fn encode(self) -> MethodResult;
}

impl<R: Serialize, E: Into<Error>> MethodOutput for Result<R, E> {
    fn encode(self) -> MethodResult {
        encode_result(&self.map_err(Into::into)?)
    }
}

/// A closure that handles a method: `Fn(P, Connection) -> Fut` where `P: DeserializeOwned`
/// (the params; a mismatch is answered `-32602` and the closure does not run) and `Fut`
/// finishes with a [`MethodOutput`] (`Result<R, E>`). Every closure of that shape is one; the
/// bounds are written here once, and the `Fn` supertrait lets the compiler infer the
/// closure's `Connection` argument.
pub trait MethodFn<P, Fut>: Fn(P, Connection) -> Fut + Send + Sync + Sized + 'static {
    /// The closure as a type-erased handler.
    fn into_method_handler(self) -> Arc<dyn MethodHandler>;
}

impl<F, P, Fut> MethodFn<P, Fut> for F
where
    F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
    P: DeserializeOwned + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: MethodOutput,
{
    fn into_method_handler(self) -> Arc<dyn MethodHandler> {
        method(Params::parse::<P>, move |params, conn| {
            let running = self(params, conn);
            async move { running.await.encode() }
        })
    }
}

/// A closure that handles an event: `Fn(P, Connection) -> Fut` where `P: DeserializeOwned`
/// (data that does not fit is logged and skipped) and `Fut` finishes with `()`.
pub trait EventFn<P, Fut>: Fn(P, Connection) -> Fut + Send + Sync + Sized + 'static {
    /// The closure as the type-erased subscriber of the event `name`.
    fn into_event_handler(self, name: &str) -> Arc<dyn EventHandler>;
}

impl<F, P, Fut> EventFn<P, Fut> for F
where
    F: Fn(P, Connection) -> Fut + Send + Sync + 'static,
    P: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn into_event_handler(self, name: &str) -> Arc<dyn EventHandler> {
        event(name, Params::parse::<P>, self)
    }
}

/// The one method adapter: `parse` turns the params into the arguments (its error is the
/// answer, and `call` does not run), then `call` runs with them and the calling connection.
pub fn method<A, Parse, Call, Fut>(parse: Parse, call: Call) -> Arc<dyn MethodHandler>
where
    A: 'static,
    Parse: Fn(&Params) -> Result<A, Error> + Send + Sync + 'static,
    Call: Fn(A, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = MethodResult> + Send + 'static,
{
    Arc::new(Adapter {
        name: Box::default(),
        parse,
        call,
        _args: PhantomData,
    })
}

/// The one event adapter: data that does not `parse` is logged (naming `name`) and skipped, as
/// an event has nobody to answer; otherwise `call` runs.
pub fn event<A, Parse, Call, Fut>(name: &str, parse: Parse, call: Call) -> Arc<dyn EventHandler>
where
    A: 'static,
    Parse: Fn(&Params) -> Result<A, Error> + Send + Sync + 'static,
    Call: Fn(A, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(Adapter {
        name: name.into(),
        parse,
        call,
        _args: PhantomData,
    })
}

struct Adapter<A, Parse, Call> {
    /// The event's name, for the log line of data that does not fit.
    name: Box<str>,
    parse: Parse,
    call: Call,
    _args: PhantomData<fn(A)>,
}

impl<A, Parse, Call, Fut> MethodHandler for Adapter<A, Parse, Call>
where
    A: 'static,
    Parse: Fn(&Params) -> Result<A, Error> + Send + Sync + 'static,
    Call: Fn(A, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = MethodResult> + Send + 'static,
{
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<MethodResult> {
        match (self.parse)(&params) {
            // `call` only builds the future; the handler's code runs when the router polls it,
            // inside its panic guard.
            Ok(args) => Box::pin((self.call)(args, conn)),
            Err(err) => Box::pin(std::future::ready(Err(err))),
        }
    }
}

impl<A, Parse, Call, Fut> EventHandler for Adapter<A, Parse, Call>
where
    A: 'static,
    Parse: Fn(&Params) -> Result<A, Error> + Send + Sync + 'static,
    Call: Fn(A, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, params: Params, conn: Connection) -> BoxFuture<()> {
        match (self.parse)(&params) {
            Ok(args) => Box::pin((self.call)(args, conn)),
            Err(err) => {
                tracing::warn!(connection = %conn.id(), event = &*self.name, %err, "event data did not fit its subscriber; skipped");
                Box::pin(std::future::ready(()))
            }
        }
    }
}

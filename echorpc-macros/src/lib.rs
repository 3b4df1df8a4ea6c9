//! The `#[echorpc::service]` attribute. Use it through the `echorpc` crate, which re-exports it
//! and holds the runtime the generated code calls.

mod attrs;
mod errors;
mod expand;
mod fallback;
mod parse;

use proc_macro::TokenStream;

/// Turns a trait into a typed JSON-RPC service: a server side that routes each wire name to a
/// method, a typed client stub, and typed event broadcast.
///
/// Write the trait once; both ends use it. The side that *implements* it answers its methods and
/// receives its events; the other side calls and publishes through the generated stub.
///
/// ```ignore
/// #[echorpc::service]                              // or #[echorpc::service(namespace = "calc.")]
/// pub trait Calc {
///     async fn add(&self, a: i64, b: i64) -> Sum;             // wire "add", params {"a":1,"b":2}
///     #[echorpc(name = "server.time")]
///     async fn time(&self) -> Result<Time, echorpc::Error>;   // errors reach the caller
///     async fn whoami(&self, conn: &echorpc::Connection) -> Who; // the calling connection
///     #[echorpc(event)]
///     async fn chat(&self, msg: Chat);                        // event, params = {"text":"hello"}
///     #[echorpc(params = "whole")]
///     async fn echo(&self, v: Value) -> Value;                // params = the value itself
/// }
/// ```
///
/// # What is generated
///
/// For `pub trait Calc` (generated items take the trait's visibility):
///
/// - **The trait itself**, with `Send + Sync + 'static` added to its supertraits and every
///   `async fn m(&self, …) -> T` declared as `fn m(&self, …) -> impl Future<Output = T> + Send`.
///   Implementations still write `async fn` (or return any `Send` future); the futures are
///   `Send`, so the service runs on the multi-threaded runtime. A method may have a default
///   body.
/// - **`CalcServer<S>`**, which mounts an implementation:
///   ```text
///   impl<S: Calc> CalcServer<S> {
///       pub fn new(service: S) -> Self;
///       pub fn from_arc(service: Arc<S>) -> Self;
///   }
///   impl<S: Calc> echorpc::Service for CalcServer<S> { … }   // + Clone, Debug
///   ```
///   `server.mount(CalcServer::new(my_calc))?` (or `client.mount(…)`, so the server can call
///   the client) registers one method handler per method and one event handler per event, next
///   to any untyped handler registered by name.
/// - **`CalcClient<P>`**, the typed stub, over any `echorpc::Peer`: a `Client`, a server-side
///   `Connection` (to call one client back), or a reference or `Arc` to one.
///   ```text
///   impl<P: echorpc::Peer> CalcClient<P> {
///       pub fn new(peer: P) -> Self;
///       pub async fn add(&self, a: i64, b: i64) -> Result<Sum, echorpc::Error>;
///       pub async fn time(&self) -> Result<Time, echorpc::Error>;      // T of Result<T, E>
///       pub async fn whoami(&self) -> Result<Who, echorpc::Error>;     // no context argument
///       pub async fn chat(&self, msg: Chat) -> Result<(), echorpc::Error>; // publishes
///       pub async fn echo(&self, v: Value) -> Result<Value, echorpc::Error>;
///   }                                                                   // + Clone, Debug
///   ```
/// - **`CalcBatch<P>`**, typed calls sent as one JSON-RPC batch, results in call order and a
///   failed call failing only its own slot (methods only; not generated for a trait of events
///   only). A method named `send_batch` is refused, as it would collide.
///   ```text
///   impl<P: echorpc::Peer> CalcBatch<P> {
///       pub fn new(peer: P) -> Self;
///       pub fn add(&mut self, a: i64, b: i64) -> echorpc::BatchSlot<Sum>;  // one per method
///       pub async fn send_batch(self) -> Result<echorpc::BatchResults, echorpc::Error>;
///   }                                                                   // + Debug
///   // let mut results = batch.send_batch().await?; let sum: Sum = results.take(slot)?;
///   ```
/// - **`CalcEvents`**, only when the trait declares events: typed broadcast of *this trait's*
///   events from a `Server` to the clients that implement the trait (mount `CalcServer`). To
///   send events to clients, use the events type of the trait the clients implement (in the
///   examples the server implements `App` and broadcasts with `CallbacksEvents`). Each returns how
///   many connections it was queued to.
///   ```text
///   impl CalcEvents {
///       pub fn new(server: &echorpc::Server) -> Self;
///       pub fn chat(&self, msg: &Chat) -> Result<usize, echorpc::Error>;
///       pub fn chat_to_role(&self, role: &str, msg: &Chat) -> Result<usize, echorpc::Error>;
///       pub fn chat_except(&self, except: &echorpc::Connection, msg: &Chat)
///           -> Result<usize, echorpc::Error>;
///   }                                                                   // + Clone, Debug
///   ```
///
/// `#[doc]`, `#[cfg]` and `#[deprecated]` on a method carry over to its stub and broadcast
/// methods; `#[cfg]` and `#[deprecated]` on the trait carry over to every generated item.
///
/// # Wire mapping
///
/// - **Names.** The wire name is the method's name (without `r#`), or `#[echorpc(name = "…")]`;
///   `#[echorpc::service(namespace = "calc.")]` prefixes every wire name, overridden or not.
/// - **Params.** By default a method's arguments travel as an object of named fields:
///   `add(1, 2)` sends `{"a":1,"b":2}`. A typed server also accepts them as a positional array
///   (`[1,2]`) from other JSON-RPC peers, ignores unknown fields, and lets `Option` arguments be
///   left out. A method without arguments sends no params and accepts absent, `null`, `{}` or
///   `[]`. With `#[echorpc(params = "whole")]` the one argument *is* the params value. An event
///   with exactly one argument sends that argument as its data (`chat(msg)` ↔
///   `{"text":"hello"}`); an event with several uses named fields, and
///   `#[echorpc(event, params = "named")]` forces named fields for a one-argument event.
/// - **Results.** A method returning `T` answers with `T` as JSON (`()` as `null`). A method
///   returning `Result<T, E>` (any type whose last path segment is `Result`, such as
///   `echorpc::Result<T>`) answers `Ok` with `T` and `Err` with the error object of
///   `E: Into<echorpc::Error>`: its code, message and data reach the caller unchanged. Give
///   your own error type an `impl From<MyError> for echorpc::Error`.
/// - **Failures.** Params that do not fit answer `-32602` with serde's description (e.g.
///   ``invalid params: missing field `b` ``); a name with no handler answers `-32601`; a
///   handler that panics answers `-32603` and the connection stays up. Event data that does
///   not fit is logged and skipped.
///
/// # The calling connection
///
/// A method (or event) whose first argument after `&self` has type `&Connection` (any path
/// ending in `Connection`, also by value) receives the calling connection instead of a wire
/// param: its metadata (`conn.meta().role()`, `client_id()`, fields from the auth handler) and
/// a handle to call the client back, e.g. `CallbacksClient::new(conn).double(21).await`. It is
/// not part of the stub's signature.
///
/// # Options
///
/// | where | key | meaning |
/// |---|---|---|
/// | `#[echorpc::service(…)]` | `namespace = "calc."` | prefix of every wire name |
/// | `#[echorpc(…)]` on a method | `name = "server.time"` | the wire name |
/// | | `event` | a notification: no result, published and broadcast |
/// | | `params = "named"` / `"whole"` | how the arguments map to the params |
/// | | `timeout = "5s"` | the handler's time budget (`ms`, `s`, `m`, `h`): past it the handler is cancelled and the call answered `-32002` |
///
/// # Compile-time checks
///
/// Each is an error at the offending token: a method that is not `async fn`; generic methods
/// or traits; a receiver other than `&self`; argument patterns that are not plain names;
/// borrowed wire arguments (`&str`: use `String`); a connection argument that is not first;
/// `ping`, `pong` and `$/cancelRequest` (reserved by the protocol, checked after namespace and
/// override); a `timeout` that is not a whole number and a unit, or that is on an event; two
/// methods with one wire name; an event with a result; `params = "whole"` with other than one
/// argument; a method named `new` (the stub's constructor); items other than methods; unknown
/// keys (the message lists the allowed ones). A type that is not `Serialize`/`Deserialize`
/// is reported at that type.
///
/// The generated code names the runtime only through `::echorpc::…`, `::core` and `::std`: it
/// needs the `echorpc` crate as a dependency under that name, and no `use` of serde or futures.
///
/// # Example
///
/// A server offers `Calc`; a client offers `Callbacks`, which the server calls back.
///
/// ```
/// use echorpc::{Client, Connection, Error, Server};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// pub struct Sum {
///     pub sum: i64,
/// }
///
/// #[derive(Serialize, Deserialize, Clone)]
/// pub struct Chat {
///     pub text: String,
/// }
///
/// /// What the server offers.
/// #[echorpc::service]
/// pub trait Calc {
///     /// `{"a":1,"b":2}` → `{"sum":3}`.
///     async fn add(&self, a: i64, b: i64) -> Sum;
///     /// Fails for a zero divisor.
///     async fn divide(&self, a: i64, b: i64) -> Result<i64, Error>;
///     /// Asks the calling client to double `x`.
///     async fn double_via_client(&self, conn: &Connection, x: i64) -> Result<i64, Error>;
///     /// Chat from a client, relayed to the others.
///     #[echorpc(event)]
///     async fn chat(&self, conn: &Connection, msg: Chat);
/// }
///
/// /// What clients offer the server.
/// #[echorpc::service]
/// pub trait Callbacks {
///     /// `{"x":21}` → `42`.
///     async fn double(&self, x: i64) -> i64;
///     /// A chat line from someone else.
///     #[echorpc(event)]
///     async fn chat(&self, msg: Chat);
/// }
///
/// struct MyCalc {
///     server: Server,
/// }
///
/// impl Calc for MyCalc {
///     async fn add(&self, a: i64, b: i64) -> Sum {
///         Sum { sum: a + b }
///     }
///     async fn divide(&self, a: i64, b: i64) -> Result<i64, Error> {
///         if b == 0 {
///             return Err(Error::new(4000, "divide by zero"));
///         }
///         Ok(a / b)
///     }
///     async fn double_via_client(&self, conn: &Connection, x: i64) -> Result<i64, Error> {
///         CallbacksClient::new(conn).double(x).await
///     }
///     async fn chat(&self, conn: &Connection, msg: Chat) {
///         let _ = CallbacksEvents::new(&self.server).chat_except(conn, &msg);
///     }
/// }
///
/// struct MyCallbacks;
///
/// impl Callbacks for MyCallbacks {
///     async fn double(&self, x: i64) -> i64 {
///         x * 2
///     }
///     async fn chat(&self, msg: Chat) {
///         println!("chat: {}", msg.text);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let server = Server::builder().host("127.0.0.1").port(0).build();
/// server.mount(CalcServer::new(MyCalc { server: server.clone() }))?;
/// let addr = server.start().await?;
///
/// let client = Client::builder(format!("ws://{addr}")).build();
/// client.mount(CallbacksServer::new(MyCallbacks))?;
/// client.connect().await?;
///
/// let calc = CalcClient::new(&client);
/// assert_eq!(calc.add(1, 2).await?, Sum { sum: 3 });
/// assert_eq!(calc.divide(1, 0).await.unwrap_err().message(), "divide by zero");
/// // The server calls `double` on this client while answering.
/// assert_eq!(calc.double_via_client(21).await?, 42);
/// calc.chat(Chat { text: "hello".into() }).await?;
///
/// // Several typed calls in one frame:
/// let mut batch = CalcBatch::new(&client);
/// let (three, seven) = (batch.add(1, 2), batch.add(3, 4));
/// let mut results = batch.send_batch().await?;
/// assert_eq!((results.take(three)?, results.take(seven)?), (Sum { sum: 3 }, Sum { sum: 7 }));
///
/// // The same wire format as untyped calls:
/// let sum = client.request("add", serde_json::json!({ "a": 2, "b": 3 })).await?;
/// assert_eq!(sum, serde_json::json!({ "sum": 5 }));
///
/// client.disconnect().await;
/// server.stop().await;
/// # Ok(()) }
/// ```
#[proc_macro_attribute]
pub fn service(args: TokenStream, input: TokenStream) -> TokenStream {
    service_impl(args.into(), input.into()).into()
}

fn service_impl(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut errors = errors::Errors::default();
    let options = attrs::ServiceOptions::parse(args, &mut errors);
    let item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(err) => return fallback::expand(None, input, &err),
    };
    let syn::Item::Trait(item_trait) = item else {
        let err = syn::Error::new_spanned(
            item_tokens_head(&item),
            "#[echorpc::service] applies to a trait: write `pub trait Name { async fn method(&self, ...) -> T; }`",
        );
        return fallback::expand(Some(item), input, &err);
    };
    match parse::service(item_trait.clone(), &options, errors) {
        Ok(def) => expand::expand(&def),
        Err(err) => fallback::expand(Some(syn::Item::Trait(item_trait)), input, &err),
    }
}

/// The tokens to point at when the item is not a trait: its keyword and name, not its body.
fn item_tokens_head(item: &syn::Item) -> proc_macro2::TokenStream {
    use quote::quote;
    match item {
        syn::Item::Struct(s) => {
            let (token, ident) = (&s.struct_token, &s.ident);
            quote!(#token #ident)
        }
        syn::Item::Enum(e) => {
            let (token, ident) = (&e.enum_token, &e.ident);
            quote!(#token #ident)
        }
        syn::Item::Fn(f) => {
            let (token, ident) = (&f.sig.fn_token, &f.sig.ident);
            quote!(#token #ident)
        }
        syn::Item::Impl(i) => {
            let token = &i.impl_token;
            quote!(#token)
        }
        other => quote::ToTokens::to_token_stream(other),
    }
}

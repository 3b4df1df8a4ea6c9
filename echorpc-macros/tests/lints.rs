//! A documented service compiles without a single warning under strict lints: every generated
//! item has docs and a `Debug` impl, and none trips rustc's or clippy's stricter lints.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    missing_copy_implementations,
    unreachable_pub,
    unused,
    unused_qualifications,
    unused_results,
    unused_lifetimes,
    unused_import_braces,
    trivial_casts,
    trivial_numeric_casts,
    single_use_lifetimes,
    elided_lifetimes_in_paths,
    explicit_outlives_requirements,
    let_underscore_drop,
    macro_use_extern_crate,
    meta_variable_misuse,
    non_ascii_idents,
    redundant_lifetimes,
    rust_2018_idioms,
    unit_bindings,
    unsafe_code,
    variant_size_differences
)]
#![deny(clippy::all, clippy::pedantic, clippy::nursery)]

/// The service under test lives in a public module, as in a library.
pub mod api {
    use echorpc::{Connection, Error};

    /// A documented service using every feature.
    #[echorpc::service(namespace = "strict.")]
    pub trait Strict {
        /// Adds two numbers.
        async fn add(&self, a: i64, b: i64) -> i64;
        /// Fails on demand.
        #[echorpc(name = "check.it")]
        async fn check(&self, ok: bool) -> Result<(), Error>;
        /// Reads the caller's role.
        async fn role(&self, conn: &Connection) -> String;
        /// Echoes its params.
        #[echorpc(params = "whole")]
        async fn echo(&self, value: Vec<u8>) -> Vec<u8>;
        /// Does nothing.
        async fn nothing(&self);
        /// An old method.
        #[deprecated = "use add"]
        async fn old(&self) -> i64;
        /// A method that exists only with a feature that is never on.
        #[cfg(any())]
        async fn hidden(&self, x: NoSuchType) -> NoSuchType;
        /// An event.
        #[echorpc(event)]
        async fn said(&self, text: String);
        /// An event with named data, and the sender.
        #[echorpc(event)]
        async fn moved(&self, conn: &Connection, x: i64, y: i64);
        /// An event without data.
        #[echorpc(event)]
        async fn tick(&self);
    }
}

use api::{Strict, StrictClient, StrictEvents, StrictServer};
use echorpc::{Connection, Error};

#[derive(Debug)]
struct Impl;

impl Strict for Impl {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
    async fn check(&self, ok: bool) -> Result<(), Error> {
        if ok { Ok(()) } else { Err(Error::new(1, "no")) }
    }
    async fn role(&self, conn: &Connection) -> String {
        conn.meta().role().to_owned()
    }
    async fn echo(&self, value: Vec<u8>) -> Vec<u8> {
        value
    }
    async fn nothing(&self) {}
    async fn old(&self) -> i64 {
        0
    }
    async fn said(&self, _text: String) {}
    async fn moved(&self, _conn: &Connection, _x: i64, _y: i64) {}
    async fn tick(&self) {}
}

#[test]
fn generated_items_exist_with_the_documented_signatures() {
    fn is_service<T: echorpc::Service>(_: &T) {}
    let server = StrictServer::new(Impl);
    is_service(&server);
    let shared: StrictServer<Impl> = StrictServer::from_arc(std::sync::Arc::new(Impl));
    is_service(&shared);
    assert!(format!("{server:?}").starts_with("StrictServer"));
    let client = echorpc::Client::builder("ws://127.0.0.1:1").build();
    let stub: StrictClient<&echorpc::Client> = StrictClient::new(&client);
    assert!(format!("{stub:?}").starts_with("StrictClient"));
    let events = StrictEvents::new(&echorpc::Server::builder().build());
    assert_eq!(events.said(&"nobody listens".to_owned()).unwrap(), 0);
    assert_eq!(events.moved_to_role("ops", &1, &2).unwrap(), 0);
    assert_eq!(events.tick().unwrap(), 0);
}

//! The contract as data: what `#[echorpc::service]` records for each trait, and the JSON
//! Schemas made from it.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

/// Where shared schemas live in an OpenRPC document; `$ref`s point there.
pub(crate) const DEFINITIONS: &str = "/components/schemas";

/// A service trait's wire contract. `#[echorpc::service]` implements it for `<Trait>Contract`
/// when the `schema` feature is on.
pub trait Contract {
    /// The trait's methods and events.
    fn describe() -> ServiceDescription;
}

/// Makes the schema of `T` (a `$ref` for named types): what generated code records per type.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` in `generator`, registering its definitions there.
pub fn schema<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// One service trait as `#[echorpc::service]` saw it. Made by the generated
/// `<Trait>Contract`; read through [`Api`](super::Api).
#[derive(Debug, Clone)]
pub struct ServiceDescription {
    pub(crate) name: &'static str,
    pub(crate) docs: &'static str,
    pub(crate) methods: Vec<MethodDescription>,
}

impl ServiceDescription {
    /// The trait's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The wire names of its methods and events, in declaration order.
    pub fn wire_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.methods.iter().map(|m| m.wire)
    }

    /// Adds a method (generated code).
    pub fn push(&mut self, method: MethodDescription) {
        self.methods.push(method);
    }
}

/// A new, empty description (generated code).
pub fn service(name: &'static str, docs: &'static str) -> ServiceDescription {
    ServiceDescription {
        name,
        docs,
        methods: Vec::new(),
    }
}

/// How a method's arguments travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsStyle {
    /// No arguments: no params.
    None,
    /// An object of the named arguments.
    Named,
    /// The one argument is the params value.
    Whole,
}

/// One argument on the wire.
#[derive(Debug, Clone)]
pub(crate) struct ArgDescription {
    pub(crate) name: &'static str,
    /// An `Option`, which a named params object may leave out.
    pub(crate) optional: bool,
    pub(crate) schema: SchemaFn,
}

/// One method or event (generated code builds it).
#[derive(Debug, Clone)]
pub struct MethodDescription {
    pub(crate) rust_name: &'static str,
    pub(crate) wire: &'static str,
    pub(crate) event: bool,
    pub(crate) params: ParamsStyle,
    pub(crate) docs: &'static str,
    pub(crate) deprecated: bool,
    pub(crate) args: Vec<ArgDescription>,
    /// The result's schema (`T` of `Result<T, E>`); `None` for an event.
    pub(crate) result: Option<SchemaFn>,
    /// Returns `Result`, so it may answer its own error codes.
    pub(crate) fallible: bool,
}

/// A method (generated code).
pub fn method(
    rust_name: &'static str,
    wire: &'static str,
    params: ParamsStyle,
    docs: &'static str,
    deprecated: bool,
) -> MethodDescription {
    MethodDescription {
        rust_name,
        wire,
        event: false,
        params,
        docs,
        deprecated,
        args: Vec::new(),
        result: None,
        fallible: false,
    }
}

/// An event (generated code).
pub fn event(
    rust_name: &'static str,
    wire: &'static str,
    params: ParamsStyle,
    docs: &'static str,
    deprecated: bool,
) -> MethodDescription {
    MethodDescription {
        event: true,
        ..method(rust_name, wire, params, docs, deprecated)
    }
}

impl MethodDescription {
    /// Adds an argument (generated code).
    #[must_use]
    pub fn arg(mut self, name: &'static str, optional: bool, schema: SchemaFn) -> Self {
        self.args.push(ArgDescription {
            name,
            optional,
            schema,
        });
        self
    }

    /// Sets the result (generated code).
    #[must_use]
    pub fn result(mut self, schema: SchemaFn, fallible: bool) -> Self {
        self.result = Some(schema);
        self.fallible = fallible;
        self
    }
}

/// The schemas of one method, in the order of its arguments.
#[derive(Debug)]
pub(crate) struct MethodSchemas {
    pub(crate) args: Vec<Value>,
    pub(crate) result: Option<Value>,
}

/// Every schema of a set of services, made by one generator so a type shared by several
/// methods is defined once.
#[derive(Debug)]
pub(crate) struct Schemas {
    /// Per service, per method.
    pub(crate) methods: Vec<Vec<MethodSchemas>>,
    /// The named types, by name.
    pub(crate) definitions: Map<String, Value>,
}

/// Runs every schema function of `services` (JSON Schema draft 7, the dialect OpenRPC 1.3
/// uses, with shared types under `#/components/schemas/`).
pub(crate) fn schemas<'a>(services: impl Iterator<Item = &'a ServiceDescription>) -> Schemas {
    let mut generator = SchemaSettings::draft07()
        .with(|settings| settings.definitions_path = DEFINITIONS.into())
        .into_generator();
    let methods = services
        .map(|service| {
            service
                .methods
                .iter()
                .map(|method| MethodSchemas {
                    args: method
                        .args
                        .iter()
                        .map(|arg| (arg.schema)(&mut generator).to_value())
                        .collect(),
                    result: method
                        .result
                        .map(|result| result(&mut generator).to_value()),
                })
                .collect()
        })
        .collect();
    let definitions = generator.take_definitions(true);
    Schemas {
        methods,
        definitions,
    }
}

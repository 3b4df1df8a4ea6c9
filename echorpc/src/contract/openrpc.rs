//! The OpenRPC 1.3.2 document of an [`Api`].

use serde_json::{Map, Value, json};

use super::Api;
use super::model::{MethodDescription, MethodSchemas, ParamsStyle, ServiceDescription, schemas};
use crate::ErrorCode;

/// The OpenRPC version the documents follow.
pub(crate) const OPENRPC_VERSION: &str = "1.3.2";

pub(crate) fn document(api: &Api) -> Value {
    let schemas = schemas(api.all());
    let mut per_service = schemas.methods.iter();
    let mut describe = |services: &[ServiceDescription]| -> Vec<Value> {
        services
            .iter()
            .flat_map(|service| {
                let methods = per_service.next().map(Vec::as_slice).unwrap_or_default();
                service
                    .methods
                    .iter()
                    .zip(methods)
                    .map(|(method, schemas)| method_object(service, method, schemas))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let methods = describe(&api.services);
    let callbacks = describe(&api.callbacks);

    let mut info = Map::new();
    info.insert("title".into(), api.title.clone().into());
    info.insert("version".into(), api.version.clone().into());
    if let Some(text) = &api.description {
        info.insert("description".into(), text.clone().into());
    }
    let tags: Vec<Value> = api
        .all()
        .map(|service| {
            let mut tag = Map::new();
            tag.insert("name".into(), service.name.into());
            if !service.docs.is_empty() {
                tag.insert("description".into(), service.docs.into());
            }
            Value::Object(tag)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("openrpc".into(), OPENRPC_VERSION.into());
    doc.insert("info".into(), Value::Object(info));
    doc.insert("methods".into(), methods.into());
    doc.insert(
        "components".into(),
        json!({ "schemas": Value::Object(schemas.definitions) }),
    );
    if !callbacks.is_empty() {
        doc.insert("x-echorpc-callbacks".into(), callbacks.into());
    }
    doc.insert("x-echorpc-services".into(), tags.into());
    Value::Object(doc)
}

fn method_object(
    service: &ServiceDescription,
    method: &MethodDescription,
    schemas: &MethodSchemas,
) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), method.wire.into());
    if let Some(summary) = method.docs.lines().next().filter(|line| !line.is_empty()) {
        object.insert("summary".into(), summary.into());
    }
    if !method.docs.is_empty() {
        object.insert("description".into(), method.docs.into());
    }
    object.insert("tags".into(), json!([{ "name": service.name }]));
    let params: Vec<Value> = method
        .args
        .iter()
        .zip(&schemas.args)
        .map(|(arg, schema)| {
            json!({
                "name": arg.name,
                "required": method.params == ParamsStyle::Whole || !arg.optional,
                "schema": schema,
            })
        })
        .collect();
    object.insert("params".into(), params.into());
    match method.params {
        // Our servers accept a positional array too; our stubs send objects.
        ParamsStyle::Named => {
            object.insert("paramStructure".into(), "either".into());
        }
        // The one argument is the params value itself: not expressible in OpenRPC.
        ParamsStyle::Whole => {
            object.insert("x-echorpc-params".into(), "whole".into());
        }
        ParamsStyle::None => {}
    }
    if let Some(result) = &schemas.result {
        object.insert(
            "result".into(),
            json!({ "name": format!("{}Result", method.rust_name), "schema": result }),
        );
        object.insert("errors".into(), errors().into());
        if method.fallible {
            object.insert("x-echorpc-fallible".into(), true.into());
        }
    } else {
        object.insert("x-echorpc-event".into(), true.into());
    }
    if method.deprecated {
        object.insert("deprecated".into(), true.into());
    }
    Value::Object(object)
}

/// The errors the runtime may answer for any method: params that do not fit (also a
/// non-empty array for a method without arguments), a handler that panics, a handler over its
/// time budget, too many calls in flight, a call its sender cancelled.
fn errors() -> Vec<Value> {
    [
        (ErrorCode::INVALID_PARAMS, "Invalid params"),
        (ErrorCode::INTERNAL_ERROR, "Internal error"),
        (ErrorCode::TIMEOUT, "Timeout"),
        (ErrorCode::SERVER_BUSY, "Server busy"),
        (ErrorCode::REQUEST_CANCELLED, "Request cancelled"),
    ]
    .into_iter()
    .map(|(code, message)| json!({ "code": code.as_i64(), "message": message }))
    .collect()
}

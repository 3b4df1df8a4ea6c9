//! The options the macro reads: `#[echorpc::service(namespace = "…")]` on the trait and
//! `#[echorpc(name = "…", event, params = "named" | "whole", timeout = "…")]` on its methods.
//! Unknown keys are errors that list the allowed ones.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

use crate::errors::Errors;

/// The keys `#[echorpc::service(…)]` accepts.
const SERVICE_KEYS: &str = "`namespace`";
/// The keys `#[echorpc(…)]` on a method accepts.
const METHOD_KEYS: &str = "`name`, `event`, `params`, `timeout`";

/// Options of the `service` attribute itself.
#[derive(Default)]
pub(crate) struct ServiceOptions {
    /// Prefix of every wire name, e.g. `"calc."`.
    pub(crate) namespace: Option<LitStr>,
}

impl ServiceOptions {
    /// Parses the attribute's arguments (the tokens inside `#[echorpc::service(…)]`).
    pub(crate) fn parse(args: proc_macro2::TokenStream, errors: &mut Errors) -> Self {
        let mut options = Self::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("namespace") {
                let value: LitStr = meta.value()?.parse()?;
                if options.namespace.is_some() {
                    return Err(meta.error("duplicate `namespace`"));
                }
                options.namespace = Some(value);
                Ok(())
            } else {
                Err(unknown_key(&meta, "#[echorpc::service(...)]", SERVICE_KEYS))
            }
        });
        errors.ok(syn::parse::Parser::parse2(parser, args));
        options
    }
}

/// How a method's arguments map to the request's params.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamsStyle {
    /// An object of named fields (or a positional array).
    Named,
    /// The one argument is the whole params value.
    Whole,
}

/// Options of one method, from its `#[echorpc(…)]` attributes.
#[derive(Default)]
pub(crate) struct MethodOptions {
    /// `name = "…"`: the wire name instead of the method's name.
    pub(crate) name: Option<LitStr>,
    /// `event`: a notification, not a call.
    pub(crate) event: Option<proc_macro2::Span>,
    /// `params = "named" | "whole"`, with the literal for error spans.
    pub(crate) params: Option<(ParamsStyle, LitStr)>,
    /// `timeout = "…"`: the handler's time budget in milliseconds, with the literal.
    pub(crate) timeout: Option<(u64, LitStr)>,
}

impl MethodOptions {
    /// Reads every `#[echorpc(…)]` among `attrs`.
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut options = Self::default();
        for attr in attrs.iter().filter(|attr| is_echorpc_attr(attr)) {
            let parsed = attr.parse_nested_meta(|meta| options.parse_key(&meta));
            errors.ok(parsed);
        }
        options
    }

    fn parse_key(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("name") {
            let value: LitStr = meta.value()?.parse()?;
            if self.name.is_some() {
                return Err(meta.error("duplicate `name`"));
            }
            self.name = Some(value);
        } else if meta.path.is_ident("event") {
            if self.event.is_some() {
                return Err(meta.error("duplicate `event`"));
            }
            self.event = Some(syn::spanned::Spanned::span(&meta.path));
        } else if meta.path.is_ident("params") {
            let value: LitStr = meta.value()?.parse()?;
            if self.params.is_some() {
                return Err(meta.error("duplicate `params`"));
            }
            let style = match value.value().as_str() {
                "named" => ParamsStyle::Named,
                "whole" => ParamsStyle::Whole,
                _ => {
                    return Err(syn::Error::new(
                        value.span(),
                        "`params` is \"named\" (an object of the arguments, the default) or \"whole\" (the one argument is the params value)",
                    ));
                }
            };
            self.params = Some((style, value));
        } else if meta.path.is_ident("timeout") {
            let value: LitStr = meta.value()?.parse()?;
            if self.timeout.is_some() {
                return Err(meta.error("duplicate `timeout`"));
            }
            let millis = parse_duration_millis(&value.value())
                .map_err(|why| syn::Error::new(value.span(), why))?;
            self.timeout = Some((millis, value));
        } else {
            return Err(unknown_key(meta, "#[echorpc(...)]", METHOD_KEYS));
        }
        Ok(())
    }
}

/// `"250ms"`, `"5s"`, `"2m"` or `"1h"` in milliseconds; a whole, positive number and a unit.
fn parse_duration_millis(text: &str) -> Result<u64, String> {
    let usage = "a `timeout` is a whole number and a unit: \"250ms\", \"5s\", \"2m\" or \"1h\"";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| usage.to_owned())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| usage.to_owned())?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(usage.to_owned()),
    };
    match number.checked_mul(scale) {
        Some(0) => Err("a `timeout` must be longer than zero".to_owned()),
        Some(millis) => Ok(millis),
        None => Err("this `timeout` is too long".to_owned()),
    }
}

fn unknown_key(meta: &ParseNestedMeta<'_>, attr: &str, allowed: &str) -> syn::Error {
    let key = meta
        .path
        .get_ident()
        .map_or_else(|| "this key".to_owned(), |ident| format!("`{ident}`"));
    meta.error(format!("unknown key {key} in {attr}; allowed: {allowed}"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration_millis;

    #[test]
    fn durations_take_a_whole_number_and_a_unit() {
        assert_eq!(parse_duration_millis("250ms"), Ok(250));
        assert_eq!(parse_duration_millis("5s"), Ok(5_000));
        assert_eq!(parse_duration_millis("2m"), Ok(120_000));
        assert_eq!(parse_duration_millis("1h"), Ok(3_600_000));
        for bad in ["", "5", "s", "1.5s", "5 s", "5sec", "-1s", "0ms"] {
            assert!(parse_duration_millis(bad).is_err(), "{bad}");
        }
    }
}

/// Whether `attr` is one of this macro's `#[echorpc(…)]` method attributes.
pub(crate) fn is_echorpc_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("echorpc")
}

/// The attributes forwarded from a trait or method to what is generated for it.
#[derive(Default, Clone)]
pub(crate) struct Forwarded {
    /// `#[doc]` attributes.
    pub(crate) docs: Vec<Attribute>,
    /// `#[cfg]` attributes.
    pub(crate) cfgs: Vec<Attribute>,
    /// `#[deprecated]` attributes.
    pub(crate) deprecated: Vec<Attribute>,
}

impl Forwarded {
    pub(crate) fn of(attrs: &[Attribute]) -> Self {
        let pick = |name: &str| -> Vec<Attribute> {
            attrs
                .iter()
                .filter(|attr| attr.path().is_ident(name))
                .cloned()
                .collect()
        };
        Self {
            docs: pick("doc"),
            cfgs: pick("cfg"),
            deprecated: pick("deprecated"),
        }
    }
}

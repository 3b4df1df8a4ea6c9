//! The model → generated code: one module per generated item. Everything generated names the
//! runtime only through `::echorpc::__private`, `::core` and `::std`, and local helper names
//! carry `Span::mixed_site()` so they never clash with the user's.

mod client;
mod contract;
mod events;
mod server;
mod service_trait;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};

use crate::parse::{MethodDef, ServiceDef};

/// Everything the macro emits for a valid service.
pub(crate) fn expand(def: &ServiceDef) -> TokenStream {
    let service_trait = service_trait::expand(def);
    let server = server::expand(def);
    let client = client::expand(def);
    let events = events::expand(def);
    let contract = contract::expand(def);
    quote! {
        #service_trait
        #server
        #client
        #events
        #contract
    }
}

/// A local helper name, invisible to the user's code.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// A local helper name as [`local`] makes it, but reported at `span` in error messages.
fn local_at(name: &str, span: Span) -> Ident {
    Ident::new(name, Span::mixed_site().located_at(span))
}

/// A doc attribute with this text.
fn doc(text: &str) -> TokenStream {
    let text = LitStr::new(text, Span::call_site());
    quote!(#[doc = #text])
}

/// The private struct holding a method's named arguments for serialisation (by reference).
fn params_struct_ident(method: &MethodDef) -> Ident {
    format_ident!(
        "__EchorpcParams_{}",
        method.ident,
        span = Span::mixed_site()
    )
}

/// The `#[derive(Serialize)]` struct a stub or a broadcast sends a method's named arguments
/// through: borrowed fields, so nothing is cloned.
fn params_struct(method: &MethodDef) -> TokenStream {
    let ident = params_struct_ident(method);
    let cfgs = &method.forwarded.cfgs;
    let lifetime = syn::Lifetime::new("'__echorpc", Span::mixed_site());
    let fields = method.args.iter().map(|arg| {
        let name = &arg.ident;
        let ty = &arg.ty;
        quote!(#name: &#lifetime #ty)
    });
    quote! {
        #(#cfgs)*
        #[derive(::echorpc::__private::serde::Serialize)]
        #[serde(crate = "::echorpc::__private::serde")]
        struct #ident<#lifetime> {
            #(#fields,)*
        }
    }
}

/// The attributes every generated item of the service carries: the trait's `#[cfg]`s.
fn trait_cfgs(def: &ServiceDef) -> TokenStream {
    let cfgs = &def.forwarded.cfgs;
    quote!(#(#cfgs)*)
}

/// The wire form of a method's params, for docs: `{"a", "b"}`, `the value of msg`, `none`.
fn params_doc(method: &MethodDef) -> String {
    use crate::parse::Params;
    match method.params {
        Params::None => "no params".to_owned(),
        Params::Whole => format!("params: the value of `{}`", method.args[0].ident),
        Params::Named => {
            let names: Vec<String> = method
                .args
                .iter()
                .map(|a| format!("\"{}\"", unraw(&a.ident)))
                .collect();
            format!("params: an object {{{}}}", names.join(", "))
        }
    }
}

fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#")
        .map_or_else(|| name.clone(), str::to_owned)
}

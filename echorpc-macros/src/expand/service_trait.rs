//! The user's trait, re-emitted: `#[echorpc(…)]` attributes removed, `Send + Sync + 'static`
//! added to its supertraits, and each `async fn` desugared to
//! `fn … -> impl Future<Output = …> + Send`, so implementations may still write `async fn` and
//! every future the service produces can run on a multi-threaded runtime.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemTrait, Pat, ReturnType, TraitItem, parse_quote};

use crate::attrs::is_echorpc_attr;
use crate::parse::ServiceDef;

pub(super) fn expand(def: &ServiceDef) -> TokenStream {
    let mut item: ItemTrait = def.item.clone();
    let bounds: [syn::TypeParamBound; 3] = [
        parse_quote!(::core::marker::Send),
        parse_quote!(::core::marker::Sync),
        parse_quote!('static),
    ];
    if item.colon_token.is_none() {
        item.colon_token = Some(Default::default());
    }
    item.supertraits.extend(bounds);
    for trait_item in &mut item.items {
        if let TraitItem::Fn(func) = trait_item {
            func.attrs.retain(|attr| !is_echorpc_attr(attr));
            desugar(func);
        }
    }
    item.into_token_stream()
}

/// `async fn f(&self, a: A) -> R` → `fn f(&self, a: A) -> impl Future<Output = R> + Send`,
/// a default body becoming `async move { … }`.
fn desugar(func: &mut syn::TraitItemFn) {
    let sig = &mut func.sig;
    let Some(asyncness) = sig.asyncness.take() else {
        return;
    };
    let span = asyncness.span();
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    sig.output = parse_quote_spanned_output(span, &output);
    match &mut func.default {
        Some(block) => {
            let body = quote_spanned!(span=> { async move #block });
            *block = parse_quote!(#body);
        }
        None => {
            // A declaration without a body cannot have `mut` patterns.
            for input in &mut sig.inputs {
                if let FnArg::Typed(typed) = input {
                    if let Pat::Ident(pat) = &mut *typed.pat {
                        pat.mutability = None;
                    }
                }
            }
        }
    }
}

fn parse_quote_spanned_output(span: proc_macro2::Span, output: &TokenStream) -> ReturnType {
    let tokens = quote_spanned! {span=>
        -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
    };
    parse_quote!(#tokens)
}

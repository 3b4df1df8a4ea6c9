//! What the macro emits when the trait has errors: the trait as written (without this macro's
//! own `#[echorpc(…)]` attributes) plus the errors, so the rest of the crate still sees the
//! trait and does not drown in secondary errors (after thiserror's `fallback.rs`).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{FnArg, Item, Pat, Signature, TraitItem};

use crate::attrs::is_echorpc_attr;

pub(crate) fn expand(item: Option<Item>, input: TokenStream, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let item = match item {
        Some(Item::Trait(mut item)) => {
            for trait_item in &mut item.items {
                if let TraitItem::Fn(func) = trait_item {
                    func.attrs.retain(|attr| !is_echorpc_attr(attr));
                    if func.default.is_none() {
                        plain_patterns(&mut func.sig);
                    }
                }
            }
            quote! {
                #[allow(async_fn_in_trait)]
                #item
            }
        }
        Some(other) => other.into_token_stream(),
        None => input,
    };
    quote! {
        #item
        #errors
    }
}

/// A declaration without a body only allows plain names as patterns; the error about any other
/// pattern is already reported, so it becomes `_` instead of causing a second one.
fn plain_patterns(sig: &mut Signature) {
    for input in &mut sig.inputs {
        if let FnArg::Typed(typed) = input {
            if !matches!(&*typed.pat, Pat::Ident(pat) if pat.subpat.is_none() && pat.by_ref.is_none() && pat.mutability.is_none())
            {
                *typed.pat = syn::parse_quote!(_);
            }
        }
    }
}

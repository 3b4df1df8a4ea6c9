//! The `#[echorpc::service]` attribute. Use it through the `echorpc` crate, which re-exports it
//! and holds the runtime the generated code calls.

mod attrs;
mod errors;
mod expand;
mod fallback;
mod parse;

use proc_macro::TokenStream;

/// Turns a trait into a typed JSON-RPC service (docs to come).
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

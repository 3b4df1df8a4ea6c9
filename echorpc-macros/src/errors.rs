//! Collects every error found in one pass, so the user sees them all at once (after serde's
//! `internals/ctxt.rs`).

use std::fmt::Display;

use quote::ToTokens;

/// The errors found so far, each spanned at the token it is about.
#[derive(Default)]
pub(crate) struct Errors {
    errors: Option<syn::Error>,
}

impl Errors {
    /// Records an error spanned at `tokens`.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error spanned at `span`.
    pub(crate) fn at_span(&mut self, span: proc_macro2::Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records a ready-made error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// Records the error of a parse, keeping its value when there was none.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|err| self.push(err)).ok()
    }

    /// `Err` with every recorded error, or `Ok(value)` when there were none.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, syn::Error> {
        match self.errors {
            Some(errors) => Err(errors),
            None => Ok(value),
        }
    }
}

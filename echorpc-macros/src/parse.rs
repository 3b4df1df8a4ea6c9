//! `syn::ItemTrait` → the model of a service ([`ServiceDef`], [`MethodDef`]). Every check of
//! the user's trait happens here, with each error spanned at the offending token and all of
//! them collected; expansion only ever sees a valid model.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ItemTrait, LitStr, Pat, PathArguments, ReturnType, Signature,
    TraitItem, TraitItemFn, Type, TypeParamBound, Visibility,
};

use crate::attrs::{Forwarded, MethodOptions, ParamsStyle, ServiceOptions};
use crate::errors::Errors;

/// A valid service trait.
pub(crate) struct ServiceDef {
    /// The trait as written, to be re-emitted with its methods desugared.
    pub(crate) item: ItemTrait,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The trait's `#[cfg]` and `#[deprecated]`, forwarded to every generated item.
    pub(crate) forwarded: Forwarded,
    pub(crate) methods: Vec<MethodDef>,
    /// Name of the generic parameter for the service type in generated impls.
    pub(crate) service_param: Ident,
    /// Name of the generic parameter for the peer type in generated impls.
    pub(crate) peer_param: Ident,
}

impl ServiceDef {
    pub(crate) fn client_ident(&self) -> Ident {
        format_ident!("{}Client", self.ident)
    }

    pub(crate) fn server_ident(&self) -> Ident {
        format_ident!("{}Server", self.ident)
    }

    pub(crate) fn batch_ident(&self) -> Ident {
        format_ident!("{}Batch", self.ident)
    }

    pub(crate) fn has_methods(&self) -> bool {
        self.methods.iter().any(|m| m.kind == Kind::Method)
    }

    pub(crate) fn events_ident(&self) -> Ident {
        format_ident!("{}Events", self.ident)
    }

    pub(crate) fn has_events(&self) -> bool {
        self.methods.iter().any(|m| m.kind == Kind::Event)
    }
}

/// Whether a method answers calls or receives events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Method,
    Event,
}

/// How the params value maps to the arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Params {
    /// No arguments: params absent, `null`, `{}` or `[]`.
    None,
    /// An object of the named arguments, or a positional array.
    Named,
    /// The one argument is the params value.
    Whole,
}

/// The calling connection, asked for by a first argument of type `&Connection` or
/// `Connection`.
pub(crate) struct Context {
    pub(crate) by_ref: bool,
}

/// One argument that travels on the wire.
pub(crate) struct Arg {
    /// The name, also the field name in named params.
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

/// What a method returns.
pub(crate) enum Output {
    /// Nothing: the result is `null`.
    Unit,
    /// A value `T`.
    Plain(Box<Type>),
    /// `Result<T, E>`: `ok` is `T`, `ty` the whole type.
    Fallible { ty: Box<Type>, ok: Box<Type> },
}

/// One valid trait method.
pub(crate) struct MethodDef {
    pub(crate) ident: Ident,
    /// The full wire name (namespace included).
    pub(crate) wire: LitStr,
    pub(crate) kind: Kind,
    pub(crate) params: Params,
    pub(crate) context: Option<Context>,
    pub(crate) args: Vec<Arg>,
    pub(crate) output: Output,
    pub(crate) forwarded: Forwarded,
    /// `#[echorpc(timeout = "…")]`: the handler's time budget in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
}

/// Validates `item` with the attribute's `options` into a [`ServiceDef`].
///
/// # Errors
/// Every problem found, combined.
pub(crate) fn service(
    item: ItemTrait,
    options: &ServiceOptions,
    mut errors: Errors,
) -> syn::Result<ServiceDef> {
    check_trait_shape(&item, &mut errors);
    let namespace = options
        .namespace
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_default();
    let mut methods = Vec::new();
    for trait_item in &item.items {
        match trait_item {
            TraitItem::Fn(func) => {
                if let Some(method) = method(func, &namespace, options, &mut errors) {
                    methods.push(method);
                }
            }
            other => errors.at(
                other,
                "a service trait holds only `async fn` methods (no associated types, consts or macros)",
            ),
        }
    }
    check_names(&methods, &mut errors);
    let used = used_idents(&item);
    let def = ServiceDef {
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        forwarded: Forwarded {
            docs: Vec::new(),
            ..Forwarded::of(&item.attrs)
        },
        methods,
        service_param: fresh("S", &used),
        peer_param: fresh("P", &used),
        item,
    };
    errors.finish(def)
}

fn check_trait_shape(item: &ItemTrait, errors: &mut Errors) {
    if let Some(unsafety) = &item.unsafety {
        errors.at(unsafety, "a service trait cannot be `unsafe`");
    }
    if let Some(auto) = &item.auto_token {
        errors.at(auto, "a service trait cannot be an auto trait");
    }
    if !item.generics.params.is_empty() {
        errors.at(
            &item.generics,
            "a service trait cannot be generic: its wire types must be known",
        );
    } else if let Some(where_clause) = &item.generics.where_clause {
        errors.at(where_clause, "a service trait cannot have a where clause");
    }
    for bound in &item.supertraits {
        if let TypeParamBound::Lifetime(lifetime) = bound {
            if lifetime.ident != "static" {
                errors.at(
                    lifetime,
                    "a service trait is `'static`; it cannot have other lifetime bounds",
                );
            }
        }
    }
}

fn method(
    func: &TraitItemFn,
    namespace: &str,
    service: &ServiceOptions,
    errors: &mut Errors,
) -> Option<MethodDef> {
    let options = MethodOptions::parse(&func.attrs, errors);
    let sig = &func.sig;
    check_signature(sig, errors);
    let kind = if options.event.is_some() {
        Kind::Event
    } else {
        Kind::Method
    };
    let (context, args) = arguments(sig, errors);
    let output = output(&sig.output, kind, errors);

    let params = match (&options.params, args.len()) {
        (Some((ParamsStyle::Whole, lit)), n) if n != 1 => {
            errors.at(
                lit,
                format!("`params = \"whole\"` needs exactly one argument (besides a connection); `{}` has {n}", sig.ident),
            );
            Params::Whole
        }
        (Some((ParamsStyle::Whole, _)), _) => Params::Whole,
        (_, 0) => Params::None,
        (Some((ParamsStyle::Named, _)), _) => Params::Named,
        // An event's one argument is its data, e.g. `chat(msg: Chat)` ↔ `{"text":"hello"}`.
        (None, 1) if kind == Kind::Event => Params::Whole,
        (None, _) => Params::Named,
    };

    let (name, name_span) = match &options.name {
        Some(lit) => {
            if lit.value().is_empty() {
                errors.at(lit, "a wire name cannot be empty");
            }
            (lit.value(), lit.span())
        }
        None => (unraw(&sig.ident), sig.ident.span()),
    };
    let wire = format!("{namespace}{name}");
    if let Some(purpose) = echorpc_protocol::reserved_for(&wire) {
        let span = match (&options.name, &service.namespace) {
            (None, Some(ns)) if !ns.value().is_empty() => ns.span(),
            _ => name_span,
        };
        errors.at_span(
            span,
            format!("`{wire}` is reserved for {purpose}; choose another name, e.g. with #[echorpc(name = \"...\")]"),
        );
    }

    if let (Kind::Event, Some((_, lit))) = (&kind, &options.timeout) {
        errors.at(
            lit,
            "an event has no answer to time out; `timeout` is for methods",
        );
    }

    let forwarded = Forwarded::of(&func.attrs);
    Some(MethodDef {
        ident: sig.ident.clone(),
        wire: LitStr::new(&wire, name_span),
        kind,
        params,
        context,
        args,
        output,
        forwarded,
        timeout_ms: options.timeout.as_ref().map(|(millis, _)| *millis),
    })
}

/// The name as written, without `r#`.
fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#")
        .map_or_else(|| name.clone(), str::to_owned)
}

fn check_signature(sig: &Signature, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            format!(
                "service methods must be `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.at(constness, "service methods cannot be `const`");
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(unsafety, "service methods cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, "service methods cannot have an `extern` ABI");
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "service methods cannot be variadic");
    }
    if !sig.generics.params.is_empty() {
        errors.at(
            &sig.generics,
            "service methods cannot be generic: every argument and result needs a concrete wire type",
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.at(where_clause, "service methods cannot have a where clause");
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => {
            if receiver.colon_token.is_some() {
                errors.at(
                    &receiver.ty,
                    "service methods take `&self`, not a typed `self`",
                );
            } else if receiver.reference.is_none() {
                errors.at(
                    receiver.self_token,
                    "service methods take `&self`: the service is shared by every connection, so `self` cannot be taken by value",
                );
            } else if let Some(mutability) = &receiver.mutability {
                errors.at(
                    mutability,
                    "service methods take `&self`, not `&mut self`: calls run concurrently; keep mutable state behind a lock",
                );
            } else if let Some((_, Some(lifetime))) = &receiver.reference {
                errors.at(
                    lifetime,
                    "`&self` in a service method cannot name a lifetime",
                );
            }
        }
        _ => errors.at(
            &sig.ident,
            format!(
                "service methods take `&self` first: write `async fn {}(&self, ...)`",
                sig.ident
            ),
        ),
    }
}

/// The context argument, if any, and the wire arguments.
fn arguments(sig: &Signature, errors: &mut Errors) -> (Option<Context>, Vec<Arg>) {
    let mut context = None;
    let mut args = Vec::new();
    let typed = sig.inputs.iter().filter_map(|input| match input {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    });
    for (position, typed) in typed.enumerate() {
        let ident = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                Some(pat.ident.clone())
            }
            other => {
                errors.at(
                    other,
                    "service method arguments must be plain names (`name: Type`): the name is the params field",
                );
                None
            }
        };
        if let Some(by_ref) = connection_type(&typed.ty, errors) {
            if position == 0 {
                context = Some(Context { by_ref });
            } else {
                errors.at(
                    &typed.ty,
                    "the calling connection must be the first argument after `&self`",
                );
            }
            continue;
        }
        check_wire_type(&typed.ty, errors);
        if let Some(ident) = ident {
            args.push(Arg {
                ident,
                ty: (*typed.ty).clone(),
            });
        }
    }
    (context, args)
}

/// `Some(by_ref)` when `ty` is `&Connection` or `Connection` (any path ending in
/// `Connection`).
fn connection_type(ty: &Type, errors: &mut Errors) -> Option<bool> {
    let is_connection = |ty: &Type| match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Connection" && last.arguments.is_none()),
        _ => false,
    };
    match ty {
        Type::Reference(reference) if is_connection(&reference.elem) => {
            if let Some(mutability) = &reference.mutability {
                errors.at(
                    mutability,
                    "take the connection as `&Connection`, not `&mut Connection`",
                );
            }
            if let Some(lifetime) = &reference.lifetime {
                if lifetime.ident != "_" {
                    errors.at(
                        lifetime,
                        "the connection argument cannot name a lifetime: write `&Connection`",
                    );
                }
            }
            Some(true)
        }
        _ if is_connection(ty) => Some(false),
        _ => None,
    }
}

/// Wire arguments are deserialised into owned values, and must be concrete.
fn check_wire_type(ty: &Type, errors: &mut Errors) {
    match ty {
        Type::Reference(reference) => errors.at(
            reference,
            "a wire argument is deserialised from the request and must be an owned type (e.g. `String`, not `&str`)",
        ),
        Type::ImplTrait(_) => errors.at(
            ty,
            "service methods cannot be generic: `impl Trait` arguments have no wire type",
        ),
        _ => {
            if let Some(span) = borrowed_lifetime(ty.span(), &quote::ToTokens::to_token_stream(ty)) {
                errors.at_span(
                    span,
                    "a wire argument is deserialised from the request and must be owned: only `'static` lifetimes",
                );
            }
        }
    }
}

/// The span of the first lifetime other than `'static` in `tokens`.
fn borrowed_lifetime(_outer: Span, tokens: &TokenStream) -> Option<Span> {
    let mut iter = tokens.clone().into_iter().peekable();
    while let Some(token) = iter.next() {
        match token {
            TokenTree::Punct(punct) if punct.as_char() == '\'' => {
                if let Some(TokenTree::Ident(name)) = iter.peek() {
                    if name != "static" {
                        return Some(punct.span());
                    }
                }
            }
            TokenTree::Group(group) => {
                if let Some(span) = borrowed_lifetime(group.span(), &group.stream()) {
                    return Some(span);
                }
            }
            _ => {}
        }
    }
    None
}

fn output(output: &ReturnType, kind: Kind, errors: &mut Errors) -> Output {
    let ty = match output {
        ReturnType::Default => return Output::Unit,
        ReturnType::Type(_, ty) => &**ty,
    };
    if matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty()) {
        return Output::Unit;
    }
    if kind == Kind::Event {
        errors.at(
            ty,
            "an event is a notification and has no result: remove the return type (or drop #[echorpc(event)])",
        );
        return Output::Unit;
    }
    if matches!(ty, Type::ImplTrait(_)) {
        errors.at(
            ty,
            "a service method returns a concrete type, not `impl Trait`",
        );
        return Output::Unit;
    }
    if let Some(span) = borrowed_lifetime(ty.span(), &quote::ToTokens::to_token_stream(ty)) {
        errors.at_span(
            span,
            "a service method's result must be owned: only `'static` lifetimes",
        );
        return Output::Unit;
    }
    if let Type::Reference(reference) = ty {
        errors.at(
            reference,
            "a service method's result must be an owned type, not a reference",
        );
        return Output::Unit;
    }
    match fallible_ok(ty) {
        Some(ok) => Output::Fallible {
            ty: Box::new(ty.clone()),
            ok: Box::new(ok),
        },
        None => Output::Plain(Box::new(ty.clone())),
    }
}

/// `T` when `ty` is `…Result<T, …>` (any path whose last segment is `Result`).
fn fallible_ok(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty.clone()),
        _ => None,
    })
}

/// Duplicate wire names, and Rust names that would collide in generated items.
fn check_names(methods: &[MethodDef], errors: &mut Errors) {
    let mut wire: HashMap<String, &Ident> = HashMap::new();
    for method in methods {
        match wire.get(&method.wire.value()) {
            Some(first) => errors.at(
                &method.wire,
                format!(
                    "wire name `{}` is already used by `{first}`; give one of them another with #[echorpc(name = \"...\")]",
                    method.wire.value()
                ),
            ),
            None => {
                wire.insert(method.wire.value(), &method.ident);
            }
        }
        if method.ident == "new" {
            errors.at(
                &method.ident,
                "`new` would collide with the generated constructor; rename the method and keep the wire name with #[echorpc(name = \"new\")]",
            );
        }
        if method.ident == "send_batch" {
            errors.at(
                &method.ident,
                "`send_batch` would collide with the generated batch's send method; rename the method and keep the wire name with #[echorpc(name = \"send_batch\")]",
            );
        }
    }
    let events: BTreeSet<String> = methods
        .iter()
        .filter(|m| m.kind == Kind::Event)
        .map(|m| m.ident.to_string())
        .collect();
    for method in methods.iter().filter(|m| m.kind == Kind::Event) {
        for suffix in ["_to_role", "_except"] {
            let generated = format!("{}{suffix}", method.ident);
            if events.contains(&generated) {
                errors.at(
                    &method.ident,
                    format!("the generated broadcast method `{generated}` collides with the event of that name"),
                );
            }
        }
    }
}

/// Every identifier in the trait, to pick generic parameter names that shadow none of them.
fn used_idents(item: &ItemTrait) -> BTreeSet<String> {
    fn walk(tokens: TokenStream, out: &mut BTreeSet<String>) {
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => {
                    out.insert(ident.to_string());
                }
                TokenTree::Group(group) => walk(group.stream(), out),
                _ => {}
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(quote::ToTokens::to_token_stream(item), &mut out);
    out
}

/// `preferred` unless the trait uses that name, else a name it does not use.
fn fresh(preferred: &str, used: &BTreeSet<String>) -> Ident {
    let mut name = preferred.to_owned();
    while used.contains(&name) {
        name.insert_str(0, "__");
    }
    Ident::new(&name, Span::call_site())
}

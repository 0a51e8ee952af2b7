//! `#[derive(Args)]`: a kind's argument specs, read from its args struct,
//! so the struct serde checks a program against is the one declaration of
//! what the kind takes.
//!
//! Each field becomes one `ArgSpec`, named as serde names it (`rename`
//! included), documented by its `///` comment. `#[arg(...)]` says the rest:
//!
//! - `force_new`: a change replaces the resource;
//! - `secret`: never stored, planned or logged, only a digest;
//! - `holds_secrets`: may carry `secret_env(...)` values inside;
//! - `document`: a policy-like document, compared by meaning;
//! - `observed`: what a refresh reports and a program never writes (the
//!   rules on a security group no declaration accounts for);
//! - `placement = PATH`: names where the object lives (`&PATH: &Placement`);
//! - `explained = PATH`: a `fn(&Value, &Value) -> Option<String>` note for
//!   the plan;
//! - `takes = "output"`: the output a resource handle passed here stands for;
//! - `formerly = "old"`: the name the argument had before;
//! - `default = "JSON"`: the default, as the reference shows it. A field
//!   serde gives a default (`#[serde(default)]`, `#[serde(default = "f")]`)
//!   must say it, unless it is a `bool` defaulting to `false`, an `Option`
//!   or a collection; the derive adds a check (`ArgSpec::default_holds`)
//!   that the text deserializes to the value serde really gives. On an
//!   `Option` the text says what the cloud does when it is absent, and is
//!   only shown.
//!
//! On the struct itself, `#[arg(kind = "aws.ec2.vpc")]` names the kind the
//! struct is the args of: the schema's `kind` is `Args::KIND`, and the
//! struct implements `KindArgs`, through which the checks read a kind's
//! typed args without naming the kind a second time.
//!
//! The struct gets `SPECS: &'static [ArgSpec]` (`Args::SPECS`) and, with a
//! kind, `KIND: &'static str`.

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Lit, LitStr, Meta, Path, parse_macro_input};

#[proc_macro_derive(Args, attributes(arg))]
pub fn derive_args(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match specs(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn specs(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Args)] is for a kind's args struct",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Args)] needs named fields",
        ));
    };
    let mut kind: Option<LitStr> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("arg")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("kind") {
                kind = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown #[arg] key on the struct: kind = \"aws.service.kind\""))
            }
        })?;
    }
    let mut specs = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let mut name = ident.to_string();
        let mut skipped = false;
        // `#[serde(default)]` → `Some(None)`, `#[serde(default = "f")]` →
        // `Some(Some(f))`.
        let mut serde_default: Option<Option<Path>> = None;
        let mut shown_default: Option<LitStr> = None;
        let mut doc = Vec::new();
        let mut ctor = quote!(new);
        let mut placement: Option<Path> = None;
        let mut chain = Vec::new();
        for attr in &field.attrs {
            if attr.path().is_ident("doc") {
                if let Meta::NameValue(nv) = &attr.meta
                    && let Expr::Lit(lit) = &nv.value
                    && let Lit::Str(s) = &lit.lit
                {
                    doc.push(s.value().trim().to_string());
                }
            } else if attr.path().is_ident("serde") {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        name = meta.value()?.parse::<LitStr>()?.value();
                    } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing")
                    {
                        skipped = true;
                    } else if meta.path.is_ident("default") {
                        if meta.input.peek(syn::Token![=]) {
                            let f: LitStr = meta.value()?.parse()?;
                            serde_default = Some(Some(f.parse()?));
                        } else {
                            serde_default = Some(None);
                        }
                    } else if meta.input.peek(syn::Token![=]) {
                        // `deserialize_with = "..."` and the like: not ours.
                        meta.value()?.parse::<Expr>()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        meta.parse_nested_meta(|inner| {
                            if inner.input.peek(syn::Token![=]) {
                                inner.value()?.parse::<Expr>()?;
                            }
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?;
            } else if attr.path().is_ident("arg") {
                attr.parse_nested_meta(|meta| {
                    let word = meta
                        .path
                        .get_ident()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    match word.as_str() {
                        "force_new" | "secret" | "holds_secrets" | "document" => {
                            let w = syn::Ident::new(&word, meta.path.span());
                            ctor = quote!(#w);
                        }
                        "observed" => chain.push(quote!(.observed())),
                        "placement" => placement = Some(meta.value()?.parse()?),
                        "explained" => {
                            let f: Path = meta.value()?.parse()?;
                            chain.push(quote!(.explained(#f)));
                        }
                        "default" => shown_default = Some(meta.value()?.parse()?),
                        "takes" | "formerly" => {
                            let v: LitStr = meta.value()?.parse()?;
                            let w = syn::Ident::new(&word, meta.path.span());
                            chain.push(quote!(.#w(#v)));
                        }
                        _ => {
                            return Err(meta.error(
                                "unknown #[arg] key: force_new, secret, holds_secrets, document, observed, placement, explained, takes, formerly or default",
                            ));
                        }
                    }
                    Ok(())
                })?;
            }
        }
        if skipped {
            continue;
        }
        if let Some(default) = &serde_default {
            let ty = &field.ty;
            let outer = type_name(ty);
            let obvious = matches!(
                outer.as_str(),
                "Option" | "Vec" | "Tags" | "Map" | "BTreeMap" | "HashMap" | "BTreeSet"
            );
            if shown_default.is_none() && outer == "bool" && default.is_none() {
                shown_default = Some(LitStr::new("false", ident.span()));
            }
            match (&shown_default, obvious) {
                // What an absent `Option` means is the cloud's default,
                // which serde cannot show: the text is only shown.
                (Some(text), true) => chain.push(quote!(.default(#text))),
                (Some(text), false) => {
                    let actual = match default {
                        Some(f) => quote!(#f()),
                        None => quote!(<#ty as ::core::default::Default>::default()),
                    };
                    let field_name = name.clone();
                    chain.push(quote!(.default(#text).default_holds(|| {
                        let shown: #ty = ::serde_json::from_str(#text).map_err(|e| {
                            format!("`{}`: the default shown, {}, is not a value of its type: {e}", #field_name, #text)
                        })?;
                        if shown == #actual {
                            Ok(())
                        } else {
                            Err(format!("`{}`: the default shown, {}, is not the one serde gives", #field_name, #text))
                        }
                    })));
                }
                (None, true) => {}
                (None, false) => {
                    return Err(syn::Error::new_spanned(
                        ident,
                        "this field has a serde default: show it with #[arg(default = \"JSON\")]",
                    ));
                }
            }
        } else if let Some(text) = &shown_default {
            chain.push(quote!(.default(#text)));
        }
        let doc = doc.join(" ");
        let head = match placement {
            Some(p) => quote!(ArgSpec::placement(#name, &#p)),
            None => quote!(ArgSpec::#ctor(#name)),
        };
        specs.push(quote!(#head #(#chain)* .doc(#doc)));
    }
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let kind = kind.map(|kind| {
        quote! {
            impl #impl_generics #ident #ty_generics #where_clause {
                /// The kind these are the args of.
                pub const KIND: &'static str = #kind;
            }
            impl #impl_generics crate::provider::schema::KindArgs for #ident #ty_generics #where_clause {
                const KIND: &'static str = #kind;
                const SPECS: &'static [crate::provider::schema::ArgSpec] = Self::SPECS;
            }
        }
    });
    Ok(quote! {
        impl #impl_generics #ident #ty_generics #where_clause {
            /// The kind's arguments, one per field.
            pub const SPECS: &'static [crate::provider::schema::ArgSpec] = {
                use crate::provider::schema::ArgSpec;
                &[#(#specs),*]
            };
        }
        #kind
    })
}

/// The outer name of a field's type: `Option` for `Option<String>`.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

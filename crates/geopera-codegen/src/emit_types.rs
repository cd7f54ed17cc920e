//! Emits the `geopera-types` generated folder: models, schema shapes, operation descriptors.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::docs::{self, input_path, output_path};
use crate::ir::{
    is_field_type, ref_name, Api, FieldDef, OperationDef, Paging, SchemaDef, SchemaKind, Ty,
    CREDENTIAL_ANSWERS, CREDENTIAL_OUTPUTS, FIELD_TYPES, HAND_WRITTEN, HAND_WRITTEN_EXTRAS,
};
use crate::naming;
use crate::Files;

/// Emits every file of the types crate's generated folder, keyed by path relative to it.
///
/// # Errors
///
/// A schema uses a construct the emitters cannot express.
pub fn emit(api: &Api, header: &str) -> Result<Files> {
    let enums: BTreeMap<&str, &[String]> = api
        .schemas
        .iter()
        .filter_map(|s| match &s.kind {
            SchemaKind::Enum { values } => Some((s.rust.as_str(), values.as_slice())),
            _ => None,
        })
        .collect();
    let received = received(api);
    let mut files = Files::new();
    files.insert(
        "mod.rs".into(),
        format!(
            "{header}\n//! Generated from the contract; see the crate documentation.\n\n\
             pub mod models;\npub mod operations;\npub mod schemas;\n"
        ),
    );

    let mut models_mod = format!("{header}\n//! One type per schema of the contract.\n\n");
    for schema in &api.schemas {
        if let Some((_, module)) = HAND_WRITTEN.iter().find(|(wire, _)| *wire == schema.wire) {
            let _ = writeln!(models_mod, "pub use crate::{module}::{};", schema.rust);
        }
    }
    if HAND_WRITTEN.iter().any(|(_, module)| *module == "problem") {
        models_mod.push_str("pub use crate::problem::LocItem;\n");
    }
    // A module's extras only where the contract has one of its schemas or an operation whose
    // answer one of them types: a smaller contract (the generator's test fixture) builds a
    // types crate without that module.
    for (module, names) in HAND_WRITTEN_EXTRAS {
        let used = api
            .schemas
            .iter()
            .any(|schema| HAND_WRITTEN.contains(&(schema.wire.as_str(), *module)))
            || api.operations.iter().any(|op| {
                op.output_override.is_some_and(|path| {
                    names
                        .iter()
                        .any(|name| path == format!("crate::models::{name}"))
                })
            });
        if used {
            let _ = writeln!(
                models_mod,
                "pub use crate::{module}::{{{}}};",
                names.join(", ")
            );
        }
    }
    // The hand-written field types, where a schema that uses them is in the contract.
    let field_types: BTreeSet<(&str, &str)> = FIELD_TYPES
        .iter()
        .filter(|(wire, ..)| api.schemas.iter().any(|schema| schema.wire == *wire))
        .map(|(_, _, _, module, ty)| (*module, *ty))
        .collect();
    for (module, ty) in field_types {
        let _ = writeln!(models_mod, "pub use crate::{module}::{ty};");
    }
    models_mod.push('\n');
    for schema in &api.schemas {
        if matches!(schema.kind, SchemaKind::HandWritten) {
            continue;
        }
        let module = naming::type_module(&schema.rust);
        let _ = writeln!(
            models_mod,
            "mod {module};\npub use {module}::{};",
            schema.rust
        );
        let body = model(schema, api, &enums, received.contains(schema.rust.as_str()))?;
        files.insert(
            format!("models/{}.rs", naming::bare(&module)),
            format!("{header}\n{body}"),
        );
    }
    models_mod.push_str(
        "\n/// Every generated model by Rust name, with a function that decodes a JSON value into it and\n\
         /// encodes it back: lets tests and tools round-trip any model without naming its type.\n\
         #[cfg(feature = \"testing\")]\npub static CODECS: &[(&str, crate::Codec)] = &[\n",
    );
    for schema in &api.schemas {
        if schema.component && !matches!(schema.kind, SchemaKind::HandWritten) {
            let _ = writeln!(
                models_mod,
                "({:?}, crate::round_trip::<{}>),",
                schema.rust, schema.rust
            );
        }
    }
    models_mod.push_str("];\n");
    files.insert("models/mod.rs".into(), models_mod);
    files.insert("schemas.rs".into(), format!("{header}\n{}", schemas(api)?));
    files.insert(
        "operations.rs".into(),
        format!("{header}\n{}", operations(api)?),
    );
    Ok(files)
}

/// Which operations use a schema, for its doc comment.
fn used_by(api: &Api, schema: &SchemaDef) -> String {
    let mut uses = Vec::new();
    for op in &api.operations {
        if op.input_schema.as_deref() == Some(schema.wire.as_str()) {
            uses.push(format!("the input of `{}`", op.id));
        }
        if op.output_schema.as_deref() == Some(schema.wire.as_str()) {
            uses.push(format!("the output of `{}`", op.id));
        }
    }
    match uses.len() {
        0 => String::new(),
        1..=4 => format!(" It is {}.", uses.join(", ")),
        n => format!(" It is {} and {} more.", uses[..3].join(", "), n - 3),
    }
}

/// The structs an answer can contain, directly or nested: they get `#[non_exhaustive]`, so a
/// field the contract adds later breaks no caller that reads or destructures them. Models
/// that only ever travel in requests stay exhaustive; one that travels both ways is marked
/// too, since its constructor and setters build it without a struct literal.
fn received(api: &Api) -> BTreeSet<&str> {
    let by_name: BTreeMap<&str, &SchemaDef> =
        api.schemas.iter().map(|s| (s.rust.as_str(), s)).collect();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = api
        .operations
        .iter()
        .filter_map(|op| op.output.as_deref())
        .collect();
    while let Some(name) = stack.pop() {
        let Some(schema) = by_name.get(name) else {
            continue;
        };
        if !seen.insert(schema.rust.as_str()) {
            continue;
        }
        if let SchemaKind::Struct { fields, .. } = &schema.kind {
            for field in fields {
                named_in(&field.ty, &mut stack);
            }
        }
    }
    seen.retain(|name| {
        by_name
            .get(name)
            .is_some_and(|s| matches!(s.kind, SchemaKind::Struct { .. }))
    });
    seen
}

/// Pushes every model name `ty` mentions.
fn named_in<'a>(ty: &'a Ty, out: &mut Vec<&'a str>) {
    match ty {
        Ty::Named(name) => out.push(name),
        Ty::List(inner) | Ty::Map(inner) => named_in(inner, out),
        Ty::Tuple(items) => items.iter().for_each(|t| named_in(t, out)),
        Ty::Any | Ty::Bool | Ty::Int | Ty::Num | Ty::Str | Ty::Object => {}
    }
}

fn model(
    schema: &SchemaDef,
    api: &Api,
    enums: &BTreeMap<&str, &[String]>,
    received: bool,
) -> Result<String> {
    let name = &schema.rust;
    let origin = if schema.component {
        format!("Generated from the schema `{}`.", schema.wire)
    } else {
        format!("The values of the field `{}`.", schema.wire)
    };
    let uses = used_by(api, schema);
    let mut out = String::new();
    match &schema.kind {
        SchemaKind::HandWritten => bail!("{name} is written by hand"),
        SchemaKind::FreeForm => {
            let _ = write!(
                out,
                "/// A free-form object: every member the server sends is kept.\n///\n/// {origin}{uses}\n\
                 #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]\n\
                 #[serde(transparent)]\npub struct {name}(pub crate::JsonObject);\n\n\
                 crate::free_form!({name});\n"
            );
        }
        SchemaKind::Enum { values } => {
            let _ = write!(
                out,
                "/// One of a fixed set of strings; unknown values are kept in `Unknown`.\n///\n/// {origin}{uses}\n\
                 #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]\n\
                 pub enum {name} {{\n"
            );
            for value in values {
                let _ = write!(
                    out,
                    "/// The value `{value}`.\n#[serde(rename = {value:?})]\n{},\n",
                    naming::variant_name(value)
                );
            }
            let _ = write!(
                out,
                "/// A value this version of the SDK does not know.\n#[serde(untagged)]\nUnknown(String),\n}}\n\n\
                 impl {name} {{\n/// The value as sent on the wire.\npub fn as_str(&self) -> &str {{\nmatch self {{\n"
            );
            for value in values {
                let _ = writeln!(out, "Self::{} => {value:?},", naming::variant_name(value));
            }
            let _ = write!(
                out,
                "Self::Unknown(other) => other,\n}}\n}}\n}}\n\n\
                 impl std::fmt::Display for {name} {{\n\
                 fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\nf.write_str(self.as_str())\n}}\n}}\n"
            );
        }
        SchemaKind::Struct { fields, open } => {
            out.push_str(&structure(
                name, &origin, &uses, fields, *open, enums, received,
            )?);
        }
    }
    Ok(out)
}

fn structure(
    name: &str,
    origin: &str,
    uses: &str,
    fields: &[FieldDef],
    open: bool,
    enums: &BTreeMap<&str, &[String]>,
    received: bool,
) -> Result<String> {
    let required: Vec<&FieldDef> = fields.iter().filter(|f| f.required).collect();
    let required_note = if required.is_empty() {
        "Every field is optional, so it implements `Default`.".to_owned()
    } else {
        format!(
            "Build it with [`{name}::new`], which takes the required {}; optional fields have setters.",
            if required.len() == 1 { "field" } else { "fields" }
        )
    };
    let non_exhaustive = if received { "#[non_exhaustive]\n" } else { "" };
    let mut out = format!(
        "/// {origin}{uses}\n///\n/// {required_note}\n\
         #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]\n\
         {non_exhaustive}pub struct {name} {{\n"
    );
    let mut defaults = String::new();
    for field in fields {
        let rust_ty = field_type(field);
        let bare = naming::bare(&field.rust);
        let _ = writeln!(out, "/// {}", docs::field_doc(field, enums));
        let mut attrs = Vec::new();
        if bare != field.wire {
            attrs.push(format!("rename = {:?}", field.wire));
        }
        if field.is_option() {
            attrs.push("default".to_owned());
            // With a default of its own, `None` can only be an explicit `null`, which must
            // reach the server rather than turn into the default by being left out.
            if !field.required && field.default.is_none() {
                attrs.push("skip_serializing_if = \"Option::is_none\"".to_owned());
            }
        }
        if let Some(default) = &field.default {
            let fn_name = format!("default_{bare}");
            if field.is_option() {
                // `default` on its own would give `None`; the contract's default wins.
                attrs.retain(|a| a != "default");
            }
            attrs.push(format!("default = {fn_name:?}"));
            let expr = default_expr(&field.ty, default, enums)
                .with_context(|| format!("{name}.{}", field.wire))?;
            let expr = if field.is_option() {
                format!("Some({expr})")
            } else {
                expr
            };
            let _ = write!(defaults, "fn {fn_name}() -> {rust_ty} {{\n{expr}\n}}\n\n");
        }
        if holds_numbers(&field.ty) {
            // `serde_json` writes NaN and infinities as `null`, which a nullable field would
            // take as another request; written by name, the input checks refuse them.
            attrs.push("serialize_with = \"crate::finite::serialize\"".to_owned());
        }
        if !attrs.is_empty() {
            let _ = writeln!(out, "#[serde({})]", attrs.join(", "));
        }
        let _ = writeln!(out, "pub {}: {rust_ty},", field.rust);
    }
    if open {
        out.push_str(
            "/// Members the contract does not declare, kept verbatim.\n\
             #[serde(flatten)]\npub extra: crate::JsonObject,\n",
        );
    }
    out.push_str("}\n\n");

    // Constructor and setters.
    let _ = writeln!(out, "impl {name} {{");
    let params: Vec<String> = required
        .iter()
        .map(|f| format!("{}: {}", f.rust, param_type(f, true)))
        .collect();
    let _ = writeln!(
        out,
        "/// A value with the required fields given and every optional field at its default."
    );
    if params.len() > 7 {
        out.push_str(
            "#[allow(clippy::too_many_arguments, reason = \"one parameter per required field of the contract\")]\n",
        );
    }
    let _ = writeln!(out, "pub fn new({}) -> Self {{\nSelf {{", params.join(", "));
    for field in fields {
        let bare = naming::bare(&field.rust);
        let value = if field.required {
            param_conversion(field, true)
        } else if field.default.is_some() {
            format!("default_{bare}()")
        } else {
            "None".to_owned()
        };
        if value == field.rust {
            let _ = writeln!(out, "{value},");
        } else {
            let _ = writeln!(out, "{}: {value},", field.rust);
        }
    }
    if open {
        out.push_str("extra: crate::JsonObject::new(),\n");
    }
    out.push_str("}\n}\n");
    for field in fields.iter().filter(|f| !f.required) {
        let setter = setter_name(field);
        let conversion = param_conversion(field, false);
        let value = if field.is_option() {
            format!("Some({conversion})")
        } else {
            conversion
        };
        let (generics, param_ty) = setter_param(field);
        let _ = write!(
            out,
            "\n/// Sets `{wire}`.\n#[must_use]\npub fn {setter}{generics}(mut self, {rust}: {param_ty}) -> Self {{\n\
             self.{rust} = {value};\nself\n}}\n",
            wire = field.wire,
            rust = field.rust,
        );
    }
    out.push_str("}\n");
    if required.is_empty() {
        let _ = write!(
            out,
            "\nimpl Default for {name} {{\nfn default() -> Self {{\nSelf::new()\n}}\n}}\n"
        );
    }
    if !defaults.is_empty() {
        out.push('\n');
        out.push_str(defaults.trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// A setter's name: the field's, unless that would read as a conversion or a predicate.
fn setter_name(field: &FieldDef) -> String {
    let bare = naming::bare(&field.rust);
    let clashes = ["new", "default", "clone"].contains(&bare)
        || ["is_", "as_", "to_", "into_", "from_"]
            .iter()
            .any(|p| bare.starts_with(p));
    if clashes {
        format!("with_{bare}")
    } else {
        field.rust.clone()
    }
}

/// The Rust type of a value of `ty`.
pub fn rust_type(ty: &Ty) -> String {
    match ty {
        Ty::Any => "serde_json::Value".into(),
        Ty::Bool => "bool".into(),
        Ty::Int => "i64".into(),
        Ty::Num => "f64".into(),
        Ty::Str => "String".into(),
        Ty::Named(name) => format!("super::{name}"),
        Ty::List(item) => format!("Vec<{}>", rust_type(item)),
        Ty::Map(value) => format!("std::collections::BTreeMap<String, {}>", rust_type(value)),
        Ty::Object => "crate::JsonObject".into(),
        Ty::Tuple(items) => {
            format!(
                "({})",
                items.iter().map(rust_type).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// Whether a field of type `ty` holds numbers of its own, rather than inside a model that
/// writes them itself.
fn holds_numbers(ty: &Ty) -> bool {
    match ty {
        Ty::Num => true,
        Ty::List(item) | Ty::Map(item) => holds_numbers(item),
        Ty::Tuple(items) => items.iter().any(holds_numbers),
        Ty::Any | Ty::Bool | Ty::Int | Ty::Str | Ty::Named(_) | Ty::Object => false,
    }
}

fn field_type(field: &FieldDef) -> String {
    let ty = rust_type(&field.ty);
    if field.is_option() {
        format!("Option<{ty}>")
    } else {
        ty
    }
}

/// The parameter type of a constructor argument (`in_new`) or setter.
fn param_type(field: &FieldDef, in_new: bool) -> String {
    let inner = match &field.ty {
        Ty::Str => "impl Into<String>".to_owned(),
        Ty::Named(name) if is_field_type(name) => format!("impl Into<super::{name}>"),
        other => rust_type(other),
    };
    if in_new && field.nullable {
        format!("Option<{}>", rust_type(&field.ty))
    } else {
        inner
    }
}

fn setter_param(field: &FieldDef) -> (String, String) {
    match &field.ty {
        Ty::List(item) if **item == Ty::Str => (
            "<I: IntoIterator<Item = S>, S: Into<String>>".to_owned(),
            "I".to_owned(),
        ),
        _ => (String::new(), param_type(field, false)),
    }
}

fn param_conversion(field: &FieldDef, in_new: bool) -> String {
    let name = &field.rust;
    match &field.ty {
        Ty::Str if !(in_new && field.nullable) => format!("{name}.into()"),
        Ty::Named(ty) if is_field_type(ty) && !(in_new && field.nullable) => {
            format!("{name}.into()")
        }
        Ty::List(item) if **item == Ty::Str && !in_new => {
            format!("{name}.into_iter().map(Into::into).collect()")
        }
        _ => name.clone(),
    }
}

fn default_expr(ty: &Ty, value: &Value, enums: &BTreeMap<&str, &[String]>) -> Result<String> {
    Ok(match (ty, value) {
        (Ty::Bool, Value::Bool(b)) => b.to_string(),
        (Ty::Int, Value::Number(n)) if n.is_i64() => n.to_string(),
        (Ty::Num, Value::Number(n)) => float_literal(n.as_f64().unwrap_or_default()),
        (Ty::Str, Value::String(s)) => format!("String::from({s:?})"),
        (Ty::Named(name), Value::String(s)) if is_field_type(name) => {
            format!("super::{name}::from({s:?})")
        }
        (Ty::Named(name), Value::String(s)) if enums.contains_key(name.as_str()) => {
            let known = enums.get(name.as_str()).is_some_and(|vs| vs.contains(s));
            if !known {
                bail!("default {s:?} is not a value of {name}");
            }
            format!("super::{name}::{}", naming::variant_name(s))
        }
        (Ty::List(item), Value::Array(items)) => {
            let items = items
                .iter()
                .map(|v| default_expr(item, v, enums))
                .collect::<Result<Vec<_>>>()?;
            if items.is_empty() {
                "Vec::new()".to_owned()
            } else {
                format!("vec![{}]", items.join(", "))
            }
        }
        (Ty::Tuple(types), Value::Array(items)) if types.len() == items.len() => {
            let items = types
                .iter()
                .zip(items)
                .map(|(t, v)| default_expr(t, v, enums))
                .collect::<Result<Vec<_>>>()?;
            format!("({})", items.join(", "))
        }
        (Ty::Object, Value::Object(map)) if map.is_empty() => "crate::JsonObject::new()".to_owned(),
        (Ty::Map(_), Value::Object(map)) if map.is_empty() => {
            "std::collections::BTreeMap::new()".to_owned()
        }
        (Ty::Any, value) => format!("serde_json::json!({value})"),
        (ty, value) => bail!("cannot express the default {value} for {ty:?}"),
    })
}

fn float_literal(n: f64) -> String {
    let text = format!("{n:?}");
    if text.contains(['.', 'e', 'E']) || text.contains("inf") || text.contains("NaN") {
        text
    } else {
        format!("{text}.0")
    }
}

fn opt_f64(schema: &Value, key: &str) -> String {
    match schema.get(key).and_then(Value::as_f64) {
        Some(n) => format!("Some({})", float_literal(n)),
        None => "None".to_owned(),
    }
}

fn opt_u64(schema: &Value, key: &str) -> String {
    match schema.get(key).and_then(Value::as_u64) {
        Some(n) => format!("Some({n})"),
        None => "None".to_owned(),
    }
}

/// A `Shape` expression for a schema as written in the contract.
///
/// # Errors
///
/// The schema uses an unsupported type or reference.
pub fn shape_expr(schema: &Value) -> Result<String> {
    shape_in(schema, "")
}

/// [`shape_expr`] with schema statics referred to through `prefix` (e.g. `crate::schemas::`).
///
/// # Errors
///
/// As for [`shape_expr`].
pub fn shape_in(schema: &Value, prefix: &str) -> Result<String> {
    if schema.is_null() {
        return Ok("Shape::Any".to_owned());
    }
    crate::ir::refuse_unsupported(schema)?;
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let rust = naming::type_name(ref_name(reference)?);
        return Ok(format!(
            "Shape::Ref(&{prefix}{})",
            naming::schema_static(&rust)
        ));
    }
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
        let parts = alternatives
            .iter()
            .map(|s| shape_in(s, prefix))
            .collect::<Result<Vec<_>>>()?;
        return Ok(format!("Shape::AnyOf(&[{}])", parts.join(", ")));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        return Ok(format!("Shape::Enum(&[{}])", values.join(", ")));
    }
    Ok(match schema.get("type").and_then(Value::as_str) {
        None => "Shape::Any".to_owned(),
        Some("null") => "Shape::Null".to_owned(),
        Some("boolean") => "Shape::Boolean".to_owned(),
        Some(kind @ ("integer" | "number")) => {
            let variant = if kind == "integer" { "Integer" } else { "Number" };
            format!(
                "Shape::{variant}(Bounds {{ minimum: {}, maximum: {}, exclusive_minimum: {}, exclusive_maximum: {} }})",
                opt_f64(schema, "minimum"),
                opt_f64(schema, "maximum"),
                opt_f64(schema, "exclusiveMinimum"),
                opt_f64(schema, "exclusiveMaximum"),
            )
        }
        Some("string") => format!(
            "Shape::String(StringRule {{ min_length: {}, max_length: {}, pattern: {}, format: {} }})",
            opt_u64(schema, "minLength"),
            opt_u64(schema, "maxLength"),
            opt_str(schema, "pattern"),
            opt_str(schema, "format"),
        ),
        Some("array") => {
            if let Some(positions) = schema.get("prefixItems").and_then(Value::as_array) {
                let parts = positions.iter().map(|s| shape_in(s, prefix)).collect::<Result<Vec<_>>>()?;
                format!("Shape::Tuple(&[{}])", parts.join(", "))
            } else {
                let items = match schema.get("items") {
                    Some(items) => shape_in(items, prefix)?,
                    None => "Shape::Any".to_owned(),
                };
                format!(
                    "Shape::Array(ArrayRule {{ items: &{items}, min_items: {}, max_items: {} }})",
                    opt_u64(schema, "minItems"),
                    opt_u64(schema, "maxItems"),
                )
            }
        }
        Some("object") => {
            let properties = schema.get("properties").and_then(Value::as_object);
            match (properties.filter(|p| !p.is_empty()), schema.get("additionalProperties")) {
                (None, Some(ap @ Value::Object(_))) => format!("Shape::Map(&{})", shape_in(ap, prefix)?),
                (properties, additional) => {
                    let required: Vec<&str> = schema
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut fields = Vec::new();
                    for (name, prop) in properties.into_iter().flatten() {
                        fields.push(format!(
                            "Field {{ name: {name:?}, required: {}, shape: {} }}",
                            required.contains(&name.as_str()),
                            shape_in(prop, prefix)?
                        ));
                    }
                    // A model the contract declares without members (`"properties": {}`) is
                    // closed, as its Rust struct is; only an object without a `properties`
                    // key, or one allowing more (`true`, or `{}`, a schema of any value), is
                    // free-form.
                    let any_more = match additional {
                        Some(Value::Bool(allowed)) => *allowed,
                        Some(Value::Object(schema)) => schema.is_empty(),
                        _ => false,
                    };
                    let open = schema.get("properties").is_none() || any_more;
                    format!(
                        "Shape::Object(ObjectRule {{ fields: &[{}], open: {open} }})",
                        fields.join(", ")
                    )
                }
            }
        }
        Some(other) => bail!("unsupported type {other}"),
    })
}

fn opt_str(schema: &Value, key: &str) -> String {
    match schema.get(key).and_then(Value::as_str) {
        Some(s) => format!("Some({s:?})"),
        None => "None".to_owned(),
    }
}

fn schemas(api: &Api) -> Result<String> {
    let mut out = String::from(
        "/// Every component schema, sorted by Rust name.\n\
         pub static ALL: &[&Schema] = &[\n",
    );
    let components: Vec<&SchemaDef> = api.schemas.iter().filter(|s| s.component).collect();
    for schema in &components {
        let _ = writeln!(out, "&{},", naming::schema_static(&schema.rust));
    }
    out.push_str("];\n");
    for schema in components {
        let _ = write!(
            out,
            "\n/// The shape of [`{rust}`](crate::models::{rust}).\npub static {stat}: Schema = Schema {{\nname: {wire:?},\nrust_name: {rust:?},\nshape: {shape},\n}};\n",
            rust = schema.rust,
            stat = naming::schema_static(&schema.rust),
            wire = schema.wire,
            shape = shape_expr(&schema.raw).with_context(|| schema.wire.clone())?,
        );
    }
    Ok(format!(
        "//! The shape of every schema of the contract, for validation without the contract.\n\n{}\n{out}",
        shape_imports(&out, &["Schema"])
    ))
}

fn paging_name(paging: Paging) -> &'static str {
    match paging {
        Paging::None => "None",
        Paging::Cursor => "Cursor",
        Paging::Offset => "Offset",
        Paging::PageSize => "PageSize",
        Paging::LimitPage => "LimitPage",
    }
}

fn access_name(op: &OperationDef) -> Result<&'static str> {
    Ok(match op.action() {
        "read" => "Read",
        "write" => "Write",
        "process" => "Process",
        "destroy" => "Destroy",
        other => bail!("{}: unknown scope action {other}", op.id),
    })
}

fn operations(api: &Api) -> Result<String> {
    let mut out = String::from(
        "/// Every operation, sorted by id (so [`find`](crate::operations::find) can search it).\n\
         pub static ALL: &[&OperationInfo] = &[\n",
    );
    for op in &api.operations {
        let _ = writeln!(out, "&{},", naming::operation_static(&op.id));
    }
    out.push_str("];\n");
    for op in &api.operations {
        let ty = naming::operation_type(&op.id);
        let stat = naming::operation_static(&op.id);
        let errors: Vec<String> = op.errors.iter().map(u16::to_string).collect();
        let _ = write!(
            out,
            "\n/// {summary}\n///\n/// The operation `{id}` as a type; [`{stat}`] holds its facts.\n#[derive(Clone, Copy, Debug, Default)]\npub struct {ty};\n\n\
             impl Operation for {ty} {{\nconst INFO: &'static OperationInfo = &{stat};\ntype Input = {input};\ntype Output = {output};\n}}\n\n\
             /// What is known of `{id}`.\npub static {stat}: OperationInfo = OperationInfo {{\n\
             id: {id:?},\npath: {path:?},\nscope: {scope:?},\nneeds_credentials: {credentials},\naccess: Access::{access},\nsuccess_status: {success},\n\
             error_statuses: &[{errors}],\ndeclares_idempotency_key: {idem},\nbody_optional: {optional},\n\
             input: &{input_shape},\noutput: &{output_shape},\ninput_type: {input_type:?},\noutput_type: {output_type:?},\nanswers_ndjson: {ndjson},\n\
             paging: Paging::{paging},\nrate_class: RateClass::{rate:?},\nretry: RetryClass::{retry},\n\
             secret_fields: &[{secrets}],\nanswer_holds_credentials: {answer_secrets},\n}};\n",
            summary = docs::operation_summary(op),
            id = op.id,
            path = op.path,
            scope = op.scope,
            credentials = op.needs_credentials,
            access = access_name(op)?,
            success = op.success,
            errors = errors.join(", "),
            idem = op.idempotency_key,
            optional = op.body_optional,
            input = input_path(op),
            output = output_path(op),
            input_shape = shape_in(&op.input_raw, "crate::schemas::")?,
            output_shape = shape_in(&op.output_raw, "crate::schemas::")?,
            input_type = op.input.as_deref().unwrap_or("JsonObject"),
            output_type = docs::output_name(op),
            ndjson = op.ndjson,
            paging = paging_name(op.paging),
            rate = op.rate_class,
            retry = if op.is_read_only() { "Safe" } else { "NeedsIdempotencyKey" },
            secrets = secret_fields(op).join(", "),
            answer_secrets = answer_holds_credentials(op),
        );
    }
    Ok(format!(
        "//! One descriptor type per operation, and a table of all of them.\n\n{}\
         use crate::{{Access, Operation, OperationInfo, Paging, RateClass, RetryClass}};\n\n{out}",
        shape_imports(&out, &[])
    ))
}

/// The input members of `op` that [`FIELD_TYPES`] types as credentials, quoted.
fn secret_fields(op: &OperationDef) -> Vec<String> {
    FIELD_TYPES
        .iter()
        .filter(|(schema, ..)| op.input_schema.as_deref() == Some(*schema))
        .map(|(_, field, ..)| format!("{field:?}"))
        .collect()
}

/// Whether a success answer of `op` can hold a credential: its model is a contract schema with
/// a member [`FIELD_TYPES`] types as one (the rule that makes it a `SecretString`), a
/// hand-written type of [`CREDENTIAL_OUTPUTS`], or an untyped answer [`CREDENTIAL_ANSWERS`]
/// names.
fn answer_holds_credentials(op: &OperationDef) -> bool {
    let schema = op
        .output_schema
        .as_deref()
        .filter(|_| op.output_override.is_none());
    FIELD_TYPES.iter().any(|(name, ..)| schema == Some(*name))
        || CREDENTIAL_OUTPUTS.contains(&docs::output_name(op))
        || CREDENTIAL_ANSWERS.contains(&op.id.as_str())
}

/// The `use crate::shape::{..}` line naming exactly the shape types `body` mentions.
fn shape_imports(body: &str, always: &[&str]) -> String {
    let mut names: Vec<&str> = always.to_vec();
    for name in [
        "ArrayRule",
        "Bounds",
        "Field",
        "ObjectRule",
        "Shape",
        "StringRule",
    ] {
        if body.contains(&format!("{name} {{")) || body.contains(&format!("{name}::")) {
            names.push(name);
        }
    }
    names.sort_unstable();
    format!("use crate::shape::{{{}}};\n", names.join(", "))
}

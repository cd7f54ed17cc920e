//! The doc templates: sentences of our own, filled in with facts the generator derived from
//! the contract (ids, scopes, statuses, types, constraints) and never with the contract's
//! descriptions or summaries.
//!
//! A module index on docs.rs shows only the first line of each item's docs, so that line is
//! built to be scanned down a column of 227: the same facts in the same order every time.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ir::{FieldDef, OperationDef, Paging, Ty};
use crate::quirks::ANSWERED_WITH_REDIRECT;
use crate::rate::RateClass;

/// The one-line summary of an operation: what kind of call it is, how it pages, who may call
/// it, its budget, and its input and output types with the success status.
///
/// For `catalog.search`: "Reads, safe to retry · cursor paging · `catalog:read` · 600/min ·
/// `CatalogSearchInput` → 200 `CatalogSearchOutput`." (the types as links).
pub fn operation_summary(op: &OperationDef) -> String {
    let mut parts = vec![effect(op).to_owned()];
    if op.ndjson {
        parts.push("NDJSON stream".to_owned());
    } else if op.binary {
        parts.push("binary answer (image or XML)".to_owned());
    } else if let Some((kind, _)) = paging_parts(op.paging) {
        parts.push(format!("{kind} paging"));
    }
    parts.push(if op.needs_credentials {
        format!("`{}`", op.scope)
    } else {
        "no credentials".to_owned()
    });
    parts.push(budget_summary(op.rate_class));
    parts.push(if answered_with_redirect(op) {
        format!(
            "{} → 307 to the stored image, as `{{status, location}}`",
            type_link(&input_path(op))
        )
    } else {
        format!(
            "{} → {} {}",
            type_link(&input_path(op)),
            op.success,
            type_link(&output_path(op))
        )
    });
    parts.join(" · ") + "."
}

/// Whether the API answers the operation with a redirect where the contract says 200.
pub fn answered_with_redirect(op: &OperationDef) -> bool {
    ANSWERED_WITH_REDIRECT.contains(&op.id.as_str())
}

/// The scope row of the detail table: the scope a caller needs, or that none is checked.
pub fn scope_detail(op: &OperationDef) -> String {
    if op.needs_credentials {
        format!("`{}`", op.scope)
    } else {
        format!(
            "none: called without credentials, so no scope is checked (the contract names `{}`)",
            op.scope
        )
    }
}

/// The output row's note for an answer the contract does not describe as it comes.
pub fn output_note(op: &OperationDef) -> &'static str {
    if op.binary {
        ": the raw body (image or XML) and its content type; `stream_body` reads it as it arrives"
    } else if answered_with_redirect(op) {
        ": the API answers `307` with the image's address in `Location`, which `send` returns \
         as `{\"status\": 307, \"location\": ...}` unless the client follows redirects (then \
         the image's bytes are the `content` of `send_detailed`)"
    } else {
        ""
    }
}

/// What a call does to server state, and what that means for retries.
fn effect(op: &OperationDef) -> &'static str {
    match op.action() {
        "read" => "Reads, safe to retry",
        "write" => "Writes, retried under an idempotency key",
        "process" => "Starts processing, retried under an idempotency key",
        "destroy" => "Deletes, retried under an idempotency key",
        _ => "Has side effects, retried under an idempotency key",
    }
}

/// The retry row of the detail table: what is retried, and why that is safe.
pub fn retry_detail(op: &OperationDef) -> &'static str {
    if op.is_read_only() {
        "read-only: timeouts, resets and server errors are retried"
    } else {
        "side effects: sent with an `Idempotency-Key` (generated unless given), and timeouts, \
         resets and server errors are retried; where the API honours the key (its docs name \
         spend and create operations) a retry replays the first answer rather than doing the \
         work twice"
    }
}

/// A paging style's name and the input fields that carry it.
fn paging_parts(paging: Paging) -> Option<(&'static str, &'static str)> {
    match paging {
        Paging::None => None,
        Paging::Cursor => Some(("cursor", "`limit` + `next`")),
        Paging::Offset => Some(("offset", "`limit` + `offset`")),
        Paging::PageSize => Some(("page-and-size", "`page` + `size`")),
        Paging::LimitPage => Some(("page-and-limit", "`limit` + `page`")),
    }
}

/// The detail-table form, such as "cursor (`limit` + `next`)", or "none".
pub fn paging_detail(paging: Paging) -> String {
    match paging_parts(paging) {
        Some((kind, fields)) => format!("{kind} ({fields})"),
        None => "none".to_owned(),
    }
}

fn budget_name(class: RateClass) -> &'static str {
    match class {
        RateClass::Default => "default",
        RateClass::OrderPlacement => "order placement",
        RateClass::Spend => "spend",
        RateClass::Unauthenticated => "client address",
    }
}

/// The budget in the summary line: the default one by its rate, a narrower one by name too.
fn budget_summary(class: RateClass) -> String {
    let per_minute = class.documented_per_minute();
    match class {
        RateClass::Default => format!("{per_minute}/min"),
        RateClass::Unauthenticated => format!("{per_minute}/min per client address"),
        other => format!("{per_minute}/min {} budget", budget_name(other)),
    }
}

/// The detail-table form, such as "order placement budget (60/min)", or the budget of calls
/// without credentials.
pub fn budget_detail(op: &OperationDef) -> String {
    let class = op.rate_class;
    if class == RateClass::Unauthenticated {
        return format!(
            "without credentials: {}/min per client address, not the organization's",
            class.documented_per_minute()
        );
    }
    format!(
        "{} budget ({}/min)",
        budget_name(class),
        class.documented_per_minute()
    )
}

/// The output type's name for messages (`OperationInfo::output_type`).
pub fn output_name(op: &OperationDef) -> &str {
    match (op.output_override, &op.output) {
        (Some(path), _) => path.rsplit("::").next().unwrap_or(path),
        (None, Some(name)) => name,
        (None, None) => "serde_json::Value",
    }
}

/// The Rust path of an operation's input model.
pub fn input_path(op: &OperationDef) -> String {
    match &op.input {
        Some(name) => format!("crate::models::{name}"),
        None => "crate::JsonObject".to_owned(),
    }
}

/// The Rust path of an operation's output model: an override first, then the contract's.
pub fn output_path(op: &OperationDef) -> String {
    if let Some(path) = op.output_override {
        return path.to_owned();
    }
    match &op.output {
        Some(name) => format!("crate::models::{name}"),
        None => "serde_json::Value".to_owned(),
    }
}

/// A type as a doc link when it lives in the crate being documented, else as code.
pub fn type_link(path: &str) -> String {
    match path.rsplit("::").next() {
        Some(name) if path.starts_with("crate::") => format!("[`{name}`]({path})"),
        _ => format!("`{path}`"),
    }
}

/// The doc line of a model field: wire name, presence, JSON type, default and constraints.
///
/// For example: "`limit`: optional integer, default `10`; 1 ≤ value ≤ 500."
pub fn field_doc(field: &FieldDef, enums: &BTreeMap<&str, &[String]>) -> String {
    let presence = if field.required {
        "required"
    } else {
        "optional"
    };
    let mut doc = format!(
        "`{}`: {presence} {}",
        field.wire,
        json_type(&field.ty, enums)
    );
    if field.nullable {
        doc.push_str(", may be null");
    }
    if let Some(default) = &field.default {
        doc.push_str(&format!(", default `{}`", default_text(default)));
    }
    let constraints: Vec<String> = field.constraints.iter().map(|c| constraint(c)).collect();
    if !constraints.is_empty() {
        doc.push_str("; ");
        doc.push_str(&constraints.join(", "));
    }
    doc + "."
}

/// How many enum values a field doc lists before summing up the rest.
const ENUM_VALUES_SHOWN: usize = 6;

/// A value type in the words of JSON, with enum values spelled out.
fn json_type(ty: &Ty, enums: &BTreeMap<&str, &[String]>) -> String {
    match ty {
        Ty::Any => "JSON value".to_owned(),
        Ty::Bool => "boolean".to_owned(),
        Ty::Int => "integer".to_owned(),
        Ty::Num => "number".to_owned(),
        Ty::Str => "string".to_owned(),
        Ty::Named(name) => match enums.get(name.as_str()) {
            Some(values) => {
                let shown: Vec<String> = values
                    .iter()
                    .take(ENUM_VALUES_SHOWN)
                    .map(|v| format!("`{v}`"))
                    .collect();
                let rest = values.len().saturating_sub(ENUM_VALUES_SHOWN);
                if rest == 0 {
                    format!("string, one of {}", shown.join(", "))
                } else {
                    format!("string, one of {} and {rest} more", shown.join(", "))
                }
            }
            None => format!("[`{name}`](super::{name})"),
        },
        Ty::List(item) => format!("array of {}", plural(item, enums)),
        Ty::Map(value) => format!("object of {} by key", plural(value, enums)),
        Ty::Object => "object".to_owned(),
        Ty::Tuple(items) => format!(
            "array [{}]",
            items
                .iter()
                .map(|t| json_type(t, enums))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An element type after "array of": `strings`, `Order` objects, `strings, one of ...`.
fn plural(ty: &Ty, enums: &BTreeMap<&str, &[String]>) -> String {
    match ty {
        Ty::Any => "JSON values".to_owned(),
        Ty::Bool => "booleans".to_owned(),
        Ty::Int => "integers".to_owned(),
        Ty::Num => "numbers".to_owned(),
        Ty::Str => "strings".to_owned(),
        Ty::Object => "objects".to_owned(),
        Ty::Named(name) if !enums.contains_key(name.as_str()) => {
            format!("[`{name}`](super::{name}) objects")
        }
        other => format!("({})", json_type(other, enums)),
    }
}

/// A constraint as the field doc states it; formats the validator checks get their standard.
fn constraint(text: &str) -> String {
    match text {
        "format `date-time`" => "an RFC 3339 date-time".to_owned(),
        "format `date`" => "an RFC 3339 full date".to_owned(),
        other => other.to_owned(),
    }
}

/// A default as JSON, except a plain string, which reads better without its quotes.
fn default_text(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains('`') => s.clone(),
        other => other.to_string(),
    }
}

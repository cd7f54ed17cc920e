//! How contract names become Rust names.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Words Rust reserves; a field or method so named is written as a raw identifier.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Names that cannot be raw identifiers either, so they get a trailing underscore.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "extern"];

/// A schema name as a Rust type name.
///
/// Qualified names such as `src__operations__stac__reads__CollectionsListInput` keep the
/// module that disambiguates them (`StacCollectionsListInput`), and a leading underscore is
/// dropped (`_Empty` becomes `Empty`).
pub fn type_name(schema: &str) -> String {
    let parts: Vec<&str> = schema.split("__").filter(|p| !p.is_empty()).collect();
    let base = match parts.as_slice() {
        [.., module, _reads, last] if parts.len() >= 3 => {
            let prefix = module.to_upper_camel_case();
            let last = last.to_upper_camel_case();
            if last.starts_with(&prefix) {
                last
            } else {
                format!("{prefix}{last}")
            }
        }
        _ => schema.trim_start_matches('_').to_upper_camel_case(),
    };
    base
}

/// A wire field name as a Rust field name: `splitByDate` becomes `split_by_date`.
pub fn field_name(wire: &str) -> String {
    let snake = wire.to_snake_case();
    let snake = if snake.is_empty() {
        "field".to_owned()
    } else {
        snake
    };
    let snake = if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{snake}")
    } else {
        snake
    };
    ident(&snake)
}

/// Escapes a Rust keyword as a raw identifier.
pub fn ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// An identifier without its `r#` prefix, for building other names from it.
pub fn bare(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// An enum value as a variant name: `australia-southeast1` becomes `AustraliaSoutheast1`.
pub fn variant_name(value: &str) -> String {
    let name = value.to_upper_camel_case();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{name}")
    } else {
        name
    }
}

/// An operation id as a module name, as the seed does: `orders.tasking.estimate` becomes
/// `orders_tasking_estimate`.
pub fn module_name(operation_id: &str) -> String {
    ident(&operation_id.replace(['.', '-'], "_"))
}

/// An operation id as the name of its descriptor type: `OrdersTaskingEstimate`.
pub fn operation_type(operation_id: &str) -> String {
    operation_id.replace('.', "_").to_upper_camel_case()
}

/// An operation id as the name of its static descriptor: `ORDERS_TASKING_ESTIMATE`.
pub fn operation_static(operation_id: &str) -> String {
    operation_id.replace('.', "_").to_shouty_snake_case()
}

/// A Rust type name as the name of its schema static: `CATALOG_SEARCH_INPUT`.
pub fn schema_static(type_name: &str) -> String {
    type_name.to_shouty_snake_case()
}

/// A Rust type name as a file/module name: `catalog_search_input`.
pub fn type_module(type_name: &str) -> String {
    ident(&type_name.to_snake_case())
}

/// A fluent namespace path as the name of its node type: `["orders", "tasking"]` becomes
/// `OrdersTaskingApi`.
pub fn namespace_type(path: &[&str]) -> String {
    let joined = path.join("_").to_upper_camel_case();
    format!("{joined}Api")
}

#[cfg(test)]
#[path = "naming_tests.rs"]
mod tests;

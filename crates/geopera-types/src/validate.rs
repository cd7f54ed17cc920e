//! Checks a JSON request body against a [`Shape`], the way the API's validation layer does.
//!
//! [`validate`] walks the whole value and reports every failure it finds (up to
//! [`MAX_FAILURES`]), each with a FastAPI/pydantic-style location (starting at `"body"`),
//! message and error type, so a 422 answer built from the result lists all problems at once
//! rather than the first one.
//!
//! Checks are strict about JSON types: a string is never an integer and `1` is never a boolean.
//! Integral floats such as `2.0` are accepted where an integer is expected, as pydantic does,
//! when they lie strictly between -2^63 and 2^63: pydantic reads a float through a 64-bit
//! integer and refuses one beyond it (`1e20`) with `int_parsing_size`, while an integer written
//! out in full is a Python integer of any size. serde_json reads one of those beyond 64 bits
//! (`100000000000000000000`) as a float and writes it back as one (`1e20`), so a [`Value`]
//! holding one is refused here, as the API refuses what would be sent for it.
//! Members an object does not declare are ignored, never rejected; [`undeclared`] lists them,
//! for a caller to warn that the API will drop them.
//!
//! ```
//! use geopera_types::shape::{Bounds, Field, ObjectRule, Shape};
//! use geopera_types::validate::validate;
//!
//! static LIMITED: Shape = Shape::Object(ObjectRule {
//!     fields: &[Field {
//!         name: "limit",
//!         required: true,
//!         shape: Shape::Integer(Bounds {
//!             minimum: Some(1.0),
//!             maximum: Some(500.0),
//!             exclusive_minimum: None,
//!             exclusive_maximum: None,
//!         }),
//!     }],
//!     open: false,
//! });
//!
//! let errors = validate(&LIMITED, &serde_json::json!({"limit": 501}));
//! assert_eq!(errors.len(), 1);
//! assert_eq!(errors[0].r#type, "less_than_equal");
//! assert_eq!(errors[0].to_string(), "body.limit: Input should be less than or equal to 500");
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{json, Value};

use crate::problem::{LocItem, ValidationError};
use crate::rfc3339;
use crate::shape::{ArrayRule, Bounds, ObjectRule, Shape, StringRule};

/// How deep nested references are followed before a value is accepted unchecked.
///
/// Recursive schemas cannot recurse forever on finite JSON, but a cap keeps pathological
/// bodies from costing unbounded time. Code that walks a value alongside the validator (the
/// emulator's reading of big integers) stops at the same depth.
pub const MAX_DEPTH: usize = 64;

/// The most failures [`validate`] lists. Each quotes its input, so a body with a million bad
/// items would otherwise cost a million copies and a 422 larger than the body; the first ones
/// say what is wrong as well as all of them would.
pub const MAX_FAILURES: usize = 1000;

/// The most members [`undeclared`] lists: enough to show a typo or a wrong model, few enough
/// for one warning.
pub const MAX_UNDECLARED: usize = 16;

/// Where `value` (a whole request body) holds members that `shape` does not declare, as paths
/// such as `body.limt`, in the body's order, at most [`MAX_UNDECLARED`]. Objects the contract
/// leaves open are not asked.
///
/// The API ignores such members, as [`validate`] does, so a body that misspells an optional
/// field is valid and is answered as if the field were absent: callers warn with these paths,
/// since a member the API drops is input lost without a word. Of several alternatives a value
/// fits (`anyOf`), the one that declares most of its members is asked.
///
/// ```
/// use geopera_types::validate::undeclared;
///
/// let search = geopera_types::operations::find("catalog.search").expect("known");
/// let body = serde_json::json!({"host_name": "earthsearch-aws", "limt": 5});
/// assert_eq!(undeclared(search.input, &body), ["body.limt"]);
/// ```
pub fn undeclared(shape: &Shape, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    find_undeclared(shape, value, "body", &mut found, 0);
    found
}

fn find_undeclared(shape: &Shape, value: &Value, at: &str, found: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH || found.len() >= MAX_UNDECLARED {
        return;
    }
    match shape.resolve() {
        Shape::Object(rule) => {
            let Some(members) = value.as_object() else {
                return;
            };
            for (key, member) in members {
                let path = format!("{at}.{key}");
                match rule.fields.iter().find(|field| field.name == key) {
                    Some(field) => find_undeclared(&field.shape, member, &path, found, depth + 1),
                    None if !rule.open && found.len() < MAX_UNDECLARED => found.push(path),
                    None => {}
                }
            }
        }
        Shape::Map(inner) => {
            for (key, member) in value.as_object().into_iter().flatten() {
                find_undeclared(inner, member, &format!("{at}.{key}"), found, depth + 1);
            }
        }
        Shape::Array(rule) => {
            for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                find_undeclared(rule.items, item, &format!("{at}.{index}"), found, depth + 1);
            }
        }
        Shape::Tuple(shapes) => {
            let items = value.as_array().into_iter().flatten();
            for (index, (shape, item)) in shapes.iter().zip(items).enumerate() {
                find_undeclared(shape, item, &format!("{at}.{index}"), found, depth + 1);
            }
        }
        Shape::AnyOf(alternatives) => {
            // Only alternatives the value fits; of those, the one that leaves least undeclared.
            let fitting = alternatives.iter().filter(|alternative| {
                let mut loc = vec![Step::Key("body")];
                let mut errors = Vec::new();
                check(alternative, value, &mut loc, &mut errors, depth + 1);
                errors.is_empty()
            });
            let fewest = fitting
                .map(|alternative| {
                    let mut own = Vec::new();
                    find_undeclared(alternative, value, at, &mut own, depth + 1);
                    own
                })
                .min_by_key(Vec::len);
            for path in fewest.into_iter().flatten() {
                if found.len() < MAX_UNDECLARED {
                    found.push(path);
                }
            }
        }
        Shape::Any
        | Shape::Null
        | Shape::Boolean
        | Shape::Integer(_)
        | Shape::Number(_)
        | Shape::String(_)
        | Shape::Enum(_)
        | Shape::Ref(_) => {}
    }
}

/// Checks `value` (a whole request body) against `shape` and returns the failures found, in
/// body order, at most [`MAX_FAILURES`] of them.
///
/// An empty result means the body is valid. Locations start with `"body"`.
pub fn validate(shape: &Shape, value: &Value) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut loc = vec![Step::Key("body")];
    check(shape, value, &mut loc, &mut errors, 0);
    errors
}

/// The error for a required body that was not sent at all.
pub fn missing_body() -> ValidationError {
    ValidationError::new(vec![LocItem::from("body")], "Field required", "missing")
}

/// The error for a body that is not valid JSON; `position` is the byte offset of the failure.
pub fn json_invalid(position: usize, reason: &str) -> ValidationError {
    let mut error = ValidationError::new(
        vec![LocItem::from("body"), LocItem::from(position)],
        "JSON decode error",
        "json_invalid",
    );
    error.extra.insert("input".to_owned(), json!({}));
    error
        .extra
        .insert("ctx".to_owned(), json!({ "error": reason }));
    error
}

/// One step of the location being checked, borrowed from the shape or the body: locations are
/// built on every field visited but needed only for failures, so they are owned only then.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The location of a failure, as the 422 body spells it.
fn owned(loc: &[Step<'_>]) -> Vec<LocItem> {
    loc.iter()
        .map(|step| match step {
            Step::Key(key) => LocItem::from(*key),
            Step::Index(index) => LocItem::from(*index),
        })
        .collect()
}

fn push(
    errors: &mut Vec<ValidationError>,
    loc: &[Step<'_>],
    kind: &str,
    msg: String,
    input: &Value,
    ctx: Option<Value>,
) {
    if errors.len() >= MAX_FAILURES {
        return;
    }
    let mut error = ValidationError::new(owned(loc), msg, kind);
    error.extra.insert("input".to_owned(), input.clone());
    if let Some(ctx) = ctx {
        error.extra.insert("ctx".to_owned(), ctx);
    }
    errors.push(error);
}

fn check<'a>(
    shape: &Shape,
    value: &'a Value,
    loc: &mut Vec<Step<'a>>,
    errors: &mut Vec<ValidationError>,
    depth: usize,
) {
    if depth > MAX_DEPTH || errors.len() >= MAX_FAILURES {
        return;
    }
    match shape {
        Shape::Any => {}
        Shape::Null => {
            if !value.is_null() {
                push(
                    errors,
                    loc,
                    "none_required",
                    "Input should be None".to_owned(),
                    value,
                    None,
                );
            }
        }
        Shape::Boolean => {
            if !value.is_boolean() {
                push(
                    errors,
                    loc,
                    "bool_type",
                    "Input should be a valid boolean".to_owned(),
                    value,
                    None,
                );
            }
        }
        Shape::Integer(bounds) => match value.as_f64() {
            Some(number) if value.is_i64() || value.is_u64() => {
                check_bounds(bounds, Limit::Integer, number, value, loc, errors);
            }
            Some(number) if number.fract() != 0.0 => push(
                errors,
                loc,
                "int_from_float",
                "Input should be a valid integer, got a number with a fractional part".to_owned(),
                value,
                None,
            ),
            // pydantic's float-to-integer bound is strict at both ends: -2^63 itself, which an
            // `i64` holds, is refused as a float, and before any `ge`/`le` is looked at.
            Some(number) if !(-I64_BOUND < number && number < I64_BOUND) => push(
                errors,
                loc,
                "int_parsing_size",
                "Unable to parse input string as an integer, exceeded maximum size".to_owned(),
                value,
                None,
            ),
            Some(number) => check_bounds(bounds, Limit::Integer, number, value, loc, errors),
            None => push(
                errors,
                loc,
                "int_type",
                "Input should be a valid integer".to_owned(),
                value,
                None,
            ),
        },
        Shape::Number(bounds) => match value.as_f64() {
            Some(number) => check_bounds(bounds, Limit::Number, number, value, loc, errors),
            // How the models write a NaN or an infinity (see `finite`).
            None if value
                .as_str()
                .is_some_and(|text| crate::finite::NON_FINITE.contains(&text)) =>
            {
                push(
                    errors,
                    loc,
                    "finite_number",
                    "Input should be a finite number".to_owned(),
                    value,
                    None,
                );
            }
            None => push(
                errors,
                loc,
                "float_type",
                "Input should be a valid number".to_owned(),
                value,
                None,
            ),
        },
        Shape::String(rule) => match value.as_str() {
            Some(text) => check_string(rule, text, value, loc, errors),
            None => {
                let (kind, msg) = not_a_string(rule, value);
                push(errors, loc, kind, msg.to_owned(), value, None);
            }
        },
        Shape::Enum(choices) => {
            let ok = value.as_str().is_some_and(|text| choices.contains(&text));
            if !ok {
                let expected = enum_list(choices);
                push(
                    errors,
                    loc,
                    "enum",
                    format!("Input should be {expected}"),
                    value,
                    Some(json!({ "expected": expected })),
                );
            }
        }
        Shape::Array(rule) => check_array(rule, value, loc, errors, depth),
        Shape::Tuple(positions) => check_tuple(positions, value, loc, errors, depth),
        Shape::Object(rule) => check_object(rule, value, loc, errors, depth),
        Shape::Map(member) => match value.as_object() {
            Some(members) => {
                for (key, item) in members {
                    loc.push(Step::Key(key.as_str()));
                    check(member, item, loc, errors, depth + 1);
                    loc.pop();
                }
            }
            None => push(
                errors,
                loc,
                "dict_type",
                "Input should be a valid dictionary".to_owned(),
                value,
                None,
            ),
        },
        Shape::AnyOf(alternatives) => check_any_of(alternatives, value, loc, errors, depth),
        Shape::Ref(schema) => check(&schema.shape, value, loc, errors, depth + 1),
    }
}

/// The kind of field a limit bounds, which decides how its `ctx` writes the limit.
#[derive(Clone, Copy)]
enum Limit {
    Integer,
    Number,
}

impl Limit {
    /// The limit as pydantic puts it in `ctx`: an integer field's limits are integers
    /// (`{"le": 500}`), a number field's are floats (`{"gt": 0.0}`).
    fn ctx(self, limit: f64) -> Value {
        match self {
            Limit::Integer if limit.fract() == 0.0 && limit.abs() < I64_BOUND => {
                json!(limit as i64)
            }
            Limit::Integer | Limit::Number => json!(limit),
        }
    }
}

/// 2^63, beyond which a float is no `i64`.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

fn check_bounds(
    bounds: &Bounds,
    kind: Limit,
    number: f64,
    value: &Value,
    loc: &[Step<'_>],
    errors: &mut Vec<ValidationError>,
) {
    if let Some(min) = bounds.minimum {
        if number < min {
            push(
                errors,
                loc,
                "greater_than_equal",
                format!("Input should be greater than or equal to {}", show(min)),
                value,
                Some(json!({ "ge": kind.ctx(min) })),
            );
        }
    }
    if let Some(min) = bounds.exclusive_minimum {
        if number <= min {
            push(
                errors,
                loc,
                "greater_than",
                format!("Input should be greater than {}", show(min)),
                value,
                Some(json!({ "gt": kind.ctx(min) })),
            );
        }
    }
    if let Some(max) = bounds.maximum {
        if number > max {
            push(
                errors,
                loc,
                "less_than_equal",
                format!("Input should be less than or equal to {}", show(max)),
                value,
                Some(json!({ "le": kind.ctx(max) })),
            );
        }
    }
    if let Some(max) = bounds.exclusive_maximum {
        if number >= max {
            push(
                errors,
                loc,
                "less_than",
                format!("Input should be less than {}", show(max)),
                value,
                Some(json!({ "lt": kind.ctx(max) })),
            );
        }
    }
}

/// Renders a limit the way Python prints it in messages: `500`, not `500.0`.
fn show(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}

fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

/// The error type and message for a value that is no string where `rule` wants one.
///
/// A date or date-time field is a date to the API, not a string, so it names what it
/// expected as such (`null` for an expiry is "not a valid datetime"). A number is left to
/// the string error: the API reads one as a Unix timestamp, which is not modelled here.
fn not_a_string(rule: &StringRule, value: &Value) -> (&'static str, &'static str) {
    match rule.format {
        Some("date-time") if !value.is_number() => {
            ("datetime_type", "Input should be a valid datetime")
        }
        Some("date") if !value.is_number() => ("date_type", "Input should be a valid date"),
        _ => ("string_type", "Input should be a valid string"),
    }
}

/// Checks a string as pydantic does: its constraints in turn (length, format, pattern), and
/// only the first one it fails is reported, since the API answers just that one.
fn check_string(
    rule: &StringRule,
    text: &str,
    value: &Value,
    loc: &[Step<'_>],
    errors: &mut Vec<ValidationError>,
) {
    let length = text.chars().count() as u64;
    if let Some(min) = rule.min_length.filter(|min| length < *min) {
        push(
            errors,
            loc,
            "string_too_short",
            format!(
                "String should have at least {}",
                plural(min, "character", "characters")
            ),
            value,
            Some(json!({ "min_length": min })),
        );
        return;
    }
    if let Some(max) = rule.max_length.filter(|max| length > *max) {
        push(
            errors,
            loc,
            "string_too_long",
            format!(
                "String should have at most {}",
                plural(max, "character", "characters")
            ),
            value,
            Some(json!({ "max_length": max })),
        );
        return;
    }
    if let Some(error) = rule
        .format
        .and_then(|format| check_format(format, text, loc))
    {
        if errors.len() < MAX_FAILURES {
            errors.push(error);
        }
        return;
    }
    if let Some(pattern) = rule.pattern {
        if compiled(pattern).is_some_and(|regex| !regex.is_match(text)) {
            push(
                errors,
                loc,
                "string_pattern_mismatch",
                format!("String should match pattern '{pattern}'"),
                value,
                Some(json!({ "pattern": pattern })),
            );
        }
    }
}

/// A string that does not satisfy its declared `date-time` or `date` format: the API parses
/// such fields into dates, so anything else is a 422.
fn check_format(format: &str, text: &str, loc: &[Step<'_>]) -> Option<ValidationError> {
    let (refused, kind, expected) = match format {
        "date-time" => (
            date_time_refused(text),
            "datetime_parsing",
            "Input should be a valid datetime",
        ),
        "date" => (
            full_date_refused(text),
            "date_parsing",
            "Input should be a valid date in the format YYYY-MM-DD",
        ),
        _ => return None,
    };
    let msg = match refused? {
        Refused::Malformed if kind == "datetime_parsing" => {
            format!("{expected}, an RFC 3339 date-time such as 2024-06-01T12:00:00Z")
        }
        Refused::Malformed => expected.to_owned(),
        Refused::Unrepresentable(reason) => format!("{expected}, {reason}"),
    };
    let mut error = ValidationError::new(owned(loc), msg, kind);
    error
        .extra
        .insert("input".to_owned(), Value::String(text.to_owned()));
    if let Some(Refused::Unrepresentable(reason)) = refused {
        error
            .extra
            .insert("ctx".to_owned(), json!({ "error": reason }));
    }
    Some(error)
}

/// Why the API refuses a date or date-time.
#[derive(Clone, Copy)]
enum Refused {
    /// It is no RFC 3339 date at all.
    Malformed,
    /// It is one, but the API's dates cannot hold it (the API's own words say which part).
    Unrepresentable(&'static str),
}

/// Python's dates start at year 1: RFC 3339 allows year 0000, the API refuses it.
const YEAR_ZERO: Refused = Refused::Unrepresentable("year 0 is out of range");

/// Python's times have no 61st second: RFC 3339 allows a leap second (`23:59:60`), the API
/// refuses it. Named, since a bare "not RFC 3339" would send the caller looking for a typo.
const LEAP_SECOND: Refused =
    Refused::Unrepresentable("second value is outside expected range (a leap second is refused)");

/// Why `text` is no RFC 3339 `full-date` (`YYYY-MM-DD`, a day that exists in that month)
/// the API reads; `None` when it is one.
fn full_date_refused(text: &str) -> Option<Refused> {
    if rfc3339::parse_full_date(text).is_none() {
        Some(Refused::Malformed)
    } else if in_year_zero(text) {
        Some(YEAR_ZERO)
    } else {
        None
    }
}

/// Why `text` is no date-time the API reads; `None` when it is one.
///
/// The API reads more than RFC 3339 `date-time` (`full-date "T" partial-time time-offset`):
/// the looser spellings [`rfc3339::respelled`] rewrites are accepted too, so that a body the API
/// takes (a plain date, a time without offset or seconds) is not refused before it is sent.
fn date_time_refused(text: &str) -> Option<Refused> {
    let Some(text) = rfc3339::respelled(text) else {
        return Some(Refused::Malformed);
    };
    if rfc3339::parse_date_time(&text).is_none() {
        Some(Refused::Malformed)
    } else if in_year_zero(&text) {
        Some(YEAR_ZERO)
    } else if text.get(17..19) == Some("60") {
        Some(LEAP_SECOND)
    } else {
        None
    }
}

/// See [`YEAR_ZERO`].
fn in_year_zero(text: &str) -> bool {
    text.as_bytes().starts_with(b"0000")
}

/// Compiles each contract pattern once. A pattern the `regex` crate cannot express (ECMA
/// look-arounds, back-references) is skipped rather than failing every request.
fn compiled(pattern: &'static str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = match cache.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    cache
        .entry(pattern)
        .or_insert_with(|| Regex::new(pattern).ok())
        .clone()
}

fn check_length(
    count: usize,
    min: Option<u64>,
    max: Option<u64>,
    what: &str,
    value: &Value,
    loc: &[Step<'_>],
    errors: &mut Vec<ValidationError>,
) {
    let count = count as u64;
    if let Some(min) = min {
        if count < min {
            push(
                errors,
                loc,
                "too_short",
                format!(
                    "{what} should have at least {} after validation, not {count}",
                    plural(min, "item", "items")
                ),
                value,
                Some(json!({ "field_type": what, "min_length": min, "actual_length": count })),
            );
        }
    }
    if let Some(max) = max {
        if count > max {
            push(
                errors,
                loc,
                "too_long",
                format!(
                    "{what} should have at most {} after validation, not {count}",
                    plural(max, "item", "items")
                ),
                value,
                Some(json!({ "field_type": what, "max_length": max, "actual_length": count })),
            );
        }
    }
}

fn check_array<'a>(
    rule: &ArrayRule,
    value: &'a Value,
    loc: &mut Vec<Step<'a>>,
    errors: &mut Vec<ValidationError>,
    depth: usize,
) {
    let Some(items) = value.as_array() else {
        push(
            errors,
            loc,
            "list_type",
            "Input should be a valid list".to_owned(),
            value,
            None,
        );
        return;
    };
    for (index, item) in items.iter().enumerate() {
        loc.push(Step::Index(index));
        check(rule.items, item, loc, errors, depth + 1);
        loc.pop();
    }
    check_length(
        items.len(),
        rule.min_items,
        rule.max_items,
        "List",
        value,
        loc,
        errors,
    );
}

/// A fixed-size array (`prefixItems`), as pydantic checks a tuple: one too long is refused
/// as a whole, before its items are looked at; one too short lacks each position it does not
/// reach, named by its index.
fn check_tuple<'a>(
    positions: &[Shape],
    value: &'a Value,
    loc: &mut Vec<Step<'a>>,
    errors: &mut Vec<ValidationError>,
    depth: usize,
) {
    let Some(items) = value.as_array() else {
        push(
            errors,
            loc,
            "tuple_type",
            "Input should be a valid tuple".to_owned(),
            value,
            None,
        );
        return;
    };
    if items.len() > positions.len() {
        let most = Some(positions.len() as u64);
        check_length(items.len(), None, most, "Tuple", value, loc, errors);
        return;
    }
    for (index, position) in positions.iter().enumerate() {
        loc.push(Step::Index(index));
        match items.get(index) {
            Some(item) => check(position, item, loc, errors, depth + 1),
            None => push(
                errors,
                loc,
                "missing",
                "Field required".to_owned(),
                value,
                None,
            ),
        }
        loc.pop();
    }
}

fn check_object<'a>(
    rule: &ObjectRule,
    value: &'a Value,
    loc: &mut Vec<Step<'a>>,
    errors: &mut Vec<ValidationError>,
    depth: usize,
) {
    let Some(members) = value.as_object() else {
        // A free-form object is a dictionary to pydantic; a model, with members or none, is
        // read for its fields.
        if rule.open && rule.fields.is_empty() {
            push(
                errors,
                loc,
                "dict_type",
                "Input should be a valid dictionary".to_owned(),
                value,
                None,
            );
        } else {
            push(
                errors,
                loc,
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from".to_owned(),
                value,
                None,
            );
        }
        return;
    };
    for field in rule.fields {
        loc.push(Step::Key(field.name));
        match members.get(field.name) {
            Some(member) => check(&field.shape, member, loc, errors, depth + 1),
            None if field.required => push(
                errors,
                loc,
                "missing",
                "Field required".to_owned(),
                &Value::Object(members.clone()),
                None,
            ),
            None => {}
        }
        loc.pop();
    }
}

fn check_any_of<'a>(
    alternatives: &[Shape],
    value: &'a Value,
    loc: &mut Vec<Step<'a>>,
    errors: &mut Vec<ValidationError>,
    depth: usize,
) {
    // `X | null` is how the contract spells an optional value; report X's errors directly,
    // as pydantic does for nullable fields.
    let is_null = |alternative: &&Shape| matches!(alternative.resolve(), Shape::Null);
    let nullable = alternatives.iter().any(|alternative| is_null(&alternative));
    if value.is_null() && nullable {
        return;
    }
    let mut best: Option<Vec<ValidationError>> = None;
    for alternative in alternatives
        .iter()
        .filter(|alternative| !is_null(alternative))
    {
        let mut found = Vec::new();
        check(alternative, value, loc, &mut found, depth + 1);
        if found.is_empty() {
            return;
        }
        let better = match &best {
            None => true,
            Some(current) => rank(&found) < rank(current),
        };
        if better {
            best = Some(found);
        }
    }
    match best {
        Some(found) => {
            let room = MAX_FAILURES.saturating_sub(errors.len());
            errors.extend(found.into_iter().take(room));
        }
        None if nullable => push(
            errors,
            loc,
            "none_required",
            "Input should be None".to_owned(),
            value,
            None,
        ),
        None => {}
    }
}

/// Orders candidate error lists: an alternative whose JSON type matched (errors deeper down)
/// explains a failure better than one rejected at the top, then fewer errors win.
fn rank(errors: &[ValidationError]) -> (usize, usize) {
    let top_level = errors
        .iter()
        .filter(|error| error.r#type.ends_with("_type") || error.r#type == "enum")
        .count();
    (top_level, errors.len())
}

fn enum_list(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|choice| format!("'{choice}'")).collect();
    match quoted.as_slice() {
        [] => "one of no values".to_owned(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

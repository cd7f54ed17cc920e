//! Error bodies the API answers with: RFC 9457 problem details and the 422 validation body.
//!
//! These three models are written by hand rather than generated: they carry behaviour the
//! contract cannot express (the `about:blank` default, extension members, a readable
//! `Display`), and every operation shares them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media type of a [`Problem`] answer (RFC 9457, section 3), compared without its
/// parameters and case-insensitively.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem detail, the body of every `application/problem+json` answer.
///
/// Unknown members (RFC 9457 "extension members") are kept in [`Problem::extensions`], so a
/// problem survives a decode/encode round trip unchanged.
///
/// The standard members are read leniently, as RFC 9457 asks of consumers: a `null` is the
/// member's absence, text written as another JSON value (`"title": 5`) is kept as that
/// value's JSON, and a `status` that is not an HTTP status (`"404"` is read as 404) is 0. A
/// server's sloppy problem is still its problem, not an undecodable answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// A URI reference naming the problem type; `about:blank` when the server omits it.
    #[serde(
        rename = "type",
        default = "about_blank",
        deserialize_with = "lenient_type"
    )]
    pub r#type: String,
    /// A short summary of the problem type, e.g. `Unauthenticated`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub title: String,
    /// The HTTP status the server chose for this occurrence (0 when it gave none usable).
    #[serde(default, deserialize_with = "lenient_status")]
    pub status: u16,
    /// An explanation specific to this occurrence.
    #[serde(default, deserialize_with = "lenient_text")]
    pub detail: String,
    /// Members beyond the four standard ones, kept verbatim.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

/// Text, from a string; `None` for `null`; another value's JSON otherwise.
fn text_of(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn lenient_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text_of(Value::deserialize(deserializer)?).unwrap_or_default())
}

fn lenient_type<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text_of(Value::deserialize(deserializer)?).unwrap_or_else(about_blank))
}

fn lenient_status<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    let status = match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    Ok(status.filter(|code| (100..600).contains(code)).unwrap_or(0))
}

impl Problem {
    /// A problem with the given status, title and detail, of type `about:blank`.
    pub fn new(status: u16, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem {
            r#type: about_blank(),
            title: title.into(),
            status,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.title.is_empty(), self.detail.is_empty()) {
            (false, false) => write!(f, "{}: {}", self.title, self.detail),
            (false, true) => f.write_str(&self.title),
            (true, false) => f.write_str(&self.detail),
            (true, true) => write!(f, "problem of type {}", self.r#type),
        }
    }
}

/// One step of a [`ValidationError`] location: an object key or an array index.
///
/// Read leniently: a step that is neither a string nor an integer (`null`, `1.5`, `true`, a
/// nested list) is kept as a key holding its JSON text, so that one odd step does not cost
/// the whole list of failures, which says what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum LocItem {
    /// An object member name, e.g. `body` or `limit`.
    Key(String),
    /// A position in an array.
    Index(i64),
}

impl fmt::Display for LocItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocItem::Key(key) => f.write_str(key),
            LocItem::Index(index) => write!(f, "{index}"),
        }
    }
}

impl<'de> Deserialize<'de> for LocItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::String(key) => LocItem::Key(key),
            Value::Number(number) => match number.as_i64() {
                Some(index) => LocItem::Index(index),
                None => LocItem::Key(number.to_string()),
            },
            other => LocItem::Key(other.to_string()),
        })
    }
}

impl From<&str> for LocItem {
    fn from(key: &str) -> Self {
        LocItem::Key(key.to_owned())
    }
}

impl From<String> for LocItem {
    fn from(key: String) -> Self {
        LocItem::Key(key)
    }
}

impl From<usize> for LocItem {
    fn from(index: usize) -> Self {
        LocItem::Index(i64::try_from(index).unwrap_or(i64::MAX))
    }
}

/// One failed check of a request body, as listed in a 422 answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationError {
    /// Where the failure is, e.g. `["body", "limit"]`; empty when the server named none.
    #[serde(default)]
    pub loc: Vec<LocItem>,
    /// What is wrong, for people; empty when the server said nothing.
    #[serde(default)]
    pub msg: String,
    /// What is wrong, for programs, e.g. `less_than_equal`; empty when the server said
    /// nothing.
    #[serde(rename = "type", default)]
    pub r#type: String,
    /// Members the server adds beyond the three above (`input`, `ctx`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ValidationError {
    /// A validation error at `loc`.
    pub fn new(loc: Vec<LocItem>, msg: impl Into<String>, r#type: impl Into<String>) -> Self {
        ValidationError {
            loc,
            msg: msg.into(),
            r#type: r#type.into(),
            extra: Map::new(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loc.is_empty() {
            return f.write_str(&self.msg);
        }
        for (i, step) in self.loc.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{step}")?;
        }
        write!(f, ": {}", self.msg)
    }
}

/// The body of a 422 answer: every check the request body failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HttpValidationError {
    /// The failed checks, in the order the server found them. Required when reading: a 422
    /// body without it is no list of failures, and is read as a [`Problem`] instead, whose
    /// title it may carry.
    pub detail: Vec<ValidationError>,
}

impl HttpValidationError {
    /// A 422 body listing `detail`.
    pub fn new(detail: Vec<ValidationError>) -> Self {
        HttpValidationError { detail }
    }
}

impl fmt::Display for HttpValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail.as_slice() {
            [] => f.write_str("request validation failed"),
            [only] => write!(f, "{only}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more)", rest.len()),
        }
    }
}

#[cfg(test)]
#[path = "problem_tests.rs"]
mod tests;

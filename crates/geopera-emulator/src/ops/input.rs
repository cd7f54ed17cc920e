//! Turning a validated body into an operation's input model.
//!
//! The validator accepts what the API accepts, which is a little more than serde does for
//! the generated models: integral floats such as `2.0` and integers beyond `i64` where an
//! integer is expected. Those are read the way the API reads them (`2.0` is `2`), with values
//! beyond `i64` pinned to its bounds, before the model is decoded; a body that passed
//! validation therefore always decodes.

use geopera_types::{LocItem, Shape, ValidationError};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use crate::error::ApiError;

/// Nested values deeper than this are left as they are (the validator stops there too).
const MAX_DEPTH: usize = 64;

/// Decodes a body that passed validation against `shape`; an absent body reads as `{}`.
///
/// # Errors
/// 422 when the body does not fit the model after all (a mismatch between the contract's
/// shape and its generated model).
pub(crate) fn decode<T: DeserializeOwned>(shape: &Shape, body: Value) -> Result<T, ApiError> {
    let mut body = match body {
        Value::Null => Value::Object(serde_json::Map::new()),
        body => body,
    };
    whole_integers(shape, &mut body, 0);
    serde_json::from_value(body).map_err(|error| {
        ApiError::Validation(vec![ValidationError::new(
            vec![LocItem::from("body")],
            error.to_string(),
            "value_error",
        )])
    })
}

/// Rewrites every number the shape says is an integer as an `i64`.
fn whole_integers(shape: &Shape, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match (shape.resolve(), value) {
        (Shape::Integer(_), Value::Number(number)) if !number.is_i64() => {
            let whole = match (number.as_u64(), number.as_f64()) {
                (Some(_), _) => i64::MAX,
                // Saturating, as the validator let only integral values through.
                (None, Some(float)) => float as i64,
                (None, None) => return,
            };
            *number = Number::from(whole);
        }
        (Shape::Object(rule), Value::Object(members)) => {
            for field in rule.fields {
                if let Some(member) = members.get_mut(field.name) {
                    whole_integers(&field.shape, member, depth + 1);
                }
            }
        }
        (Shape::Array(rule), Value::Array(items)) => {
            for item in items {
                whole_integers(rule.items, item, depth + 1);
            }
        }
        (Shape::Tuple(positions), Value::Array(items)) => {
            for (position, item) in positions.iter().zip(items) {
                whole_integers(position, item, depth + 1);
            }
        }
        (Shape::Map(member), Value::Object(members)) => {
            for item in members.values_mut() {
                whole_integers(member, item, depth + 1);
            }
        }
        (Shape::AnyOf(alternatives), value) => {
            // The model's type for a union is its one non-null alternative (or any JSON).
            let mut concrete = alternatives
                .iter()
                .filter(|alternative| !matches!(alternative.resolve(), Shape::Null));
            if let (Some(only), None) = (concrete.next(), concrete.next()) {
                whole_integers(only, value, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;

//! Turning a validated body into an operation's input model.
//!
//! The validator accepts what the API accepts, which is a little more than serde does for
//! the generated models: integral floats such as `2.0` and integers of any size where an
//! integer is expected. Integral floats are read the way the API reads them (`2.0` is `2`)
//! before the model is decoded. The models hold an integer as an `i64`, so a value beyond it
//! is refused with a 422 at its field rather than pinned to a bound: the emulator would
//! otherwise store and answer a number other than the one sent.

use geopera_types::{LocItem, Shape, ValidationError};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use crate::error::{too_large, too_small, ApiError};

/// Nested values deeper than this are left as they are (the validator stops there too).
const MAX_DEPTH: usize = 64;

/// Decodes a body that passed validation against `shape`; an absent body reads as `{}`.
///
/// # Errors
/// 422 listing every integer beyond `i64`, each at its field; 422 when the body does not fit
/// the model after all (a mismatch between the contract's shape and its generated model).
pub(crate) fn decode<T: DeserializeOwned>(shape: &Shape, body: Value) -> Result<T, ApiError> {
    let mut body = match body {
        Value::Null => Value::Object(serde_json::Map::new()),
        body => body,
    };
    let mut beyond = Vec::new();
    let mut loc = vec![LocItem::from("body")];
    whole_integers(shape, &mut body, &mut loc, &mut beyond, 0);
    if !beyond.is_empty() {
        return Err(ApiError::Validation(beyond));
    }
    serde_json::from_value(body).map_err(|error| {
        ApiError::Validation(vec![ValidationError::new(
            vec![LocItem::from("body")],
            error.to_string(),
            "value_error",
        )])
    })
}

/// Rewrites every number the shape says is an integer as an `i64`, and records at `loc` each
/// one that does not fit.
fn whole_integers(
    shape: &Shape,
    value: &mut Value,
    loc: &mut Vec<LocItem>,
    beyond: &mut Vec<ValidationError>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match (shape.resolve(), value) {
        (Shape::Integer(_), Value::Number(number)) if !number.is_i64() => match whole(number) {
            Ok(whole) => *number = Number::from(whole),
            Err(Beyond::Above) => beyond.push(too_large(loc.clone(), i64::MAX)),
            Err(Beyond::Below) => beyond.push(too_small(loc.clone(), i64::MIN)),
        },
        (Shape::Object(rule), Value::Object(members)) => {
            for field in rule.fields {
                if let Some(member) = members.get_mut(field.name) {
                    loc.push(LocItem::from(field.name));
                    whole_integers(&field.shape, member, loc, beyond, depth + 1);
                    loc.pop();
                }
            }
        }
        (Shape::Array(rule), Value::Array(items)) => {
            for (index, item) in items.iter_mut().enumerate() {
                loc.push(LocItem::from(index));
                whole_integers(rule.items, item, loc, beyond, depth + 1);
                loc.pop();
            }
        }
        (Shape::Tuple(positions), Value::Array(items)) => {
            for (index, (position, item)) in positions.iter().zip(items).enumerate() {
                loc.push(LocItem::from(index));
                whole_integers(position, item, loc, beyond, depth + 1);
                loc.pop();
            }
        }
        (Shape::Map(member), Value::Object(members)) => {
            for (key, item) in members.iter_mut() {
                loc.push(LocItem::from(key.as_str()));
                whole_integers(member, item, loc, beyond, depth + 1);
                loc.pop();
            }
        }
        (Shape::AnyOf(alternatives), value) => {
            // The model's type for a union is its one non-null alternative (or any JSON).
            let mut concrete = alternatives
                .iter()
                .filter(|alternative| !matches!(alternative.resolve(), Shape::Null));
            if let (Some(only), None) = (concrete.next(), concrete.next()) {
                whole_integers(only, value, loc, beyond, depth + 1);
            }
        }
        _ => {}
    }
}

/// Which bound of `i64` an integer lies beyond.
enum Beyond {
    Above,
    Below,
}

/// `number` (which the validator let through as integral) as an `i64`.
fn whole(number: &Number) -> Result<i64, Beyond> {
    if number.is_u64() {
        // Not an `i64`, so above its largest.
        return Err(Beyond::Above);
    }
    // 2^63 is exact as a double; every integral double below it and at or above -2^63 fits.
    const EDGE: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        Some(float) if float >= EDGE => Err(Beyond::Above),
        Some(float) if float < -EDGE => Err(Beyond::Below),
        Some(float) => Ok(float as i64),
        // serde_json reads every number as an `i64`, a `u64` or an `f64`, so this is never
        // reached; refusing is the safe answer if it were.
        None => Err(Beyond::Above),
    }
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;

//! Turning a validated body into an operation's input model.
//!
//! The validator accepts what the API accepts, which is a little more than serde does for
//! the generated models: integral floats such as `2.0` and integers of any size where an
//! integer is expected. Integral floats are read the way the API reads them (`2.0` is `2`)
//! before the model is decoded. The models hold an integer as an `i64`. A number beyond it
//! that places or sizes a page ([`Paging::numbers`]) is read as the bound it crossed, as
//! other out-of-range paging numbers are clamped: a page past every item is empty whatever
//! its number. Any other is refused with a 422 at its field rather than pinned to a bound,
//! as the emulator would otherwise store or answer a number other than the one sent.

use geopera_types::{LocItem, OperationInfo, Paging, Shape, ValidationError};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use crate::error::{too_large, too_small, ApiError};

/// Nested values deeper than this are left as they are (the validator stops there too).
const MAX_DEPTH: usize = 64;

/// Decodes a body that passed validation against `op`'s input shape; an absent body reads
/// as `{}`.
///
/// # Errors
/// 422 listing every integer beyond `i64` outside the paging numbers, each at its field; 422
/// when the body does not fit the model after all (a mismatch between the contract's shape
/// and its generated model).
pub(crate) fn decode<T: DeserializeOwned>(op: &OperationInfo, body: Value) -> Result<T, ApiError> {
    decode_shape(op.input, op.paging, body)
}

/// [`decode`] for a body of `shape` paged as `paging` says.
fn decode_shape<T: DeserializeOwned>(
    shape: &Shape,
    paging: Paging,
    body: Value,
) -> Result<T, ApiError> {
    let mut body = match body {
        Value::Null => Value::Object(serde_json::Map::new()),
        body => body,
    };
    let mut walk = Walk {
        loc: vec![LocItem::from("body")],
        beyond: Vec::new(),
        paging: paging.numbers(),
    };
    walk.whole_integers(shape, &mut body, false, 0);
    let beyond = walk.beyond;
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

/// A walk over a body, rewriting its integers as `i64`s.
struct Walk {
    /// Where the walk is, as a 422 names it.
    loc: Vec<LocItem>,
    /// An error for each integer that does not fit and is not clamped.
    beyond: Vec<ValidationError>,
    /// The top-level members read as positions, clamped rather than refused.
    paging: &'static [&'static str],
}

impl Walk {
    /// Rewrites every number the shape says is an integer as an `i64`: one beyond it is
    /// clamped to the bound it crossed when `clamp` (a paging number), and recorded at its
    /// place otherwise.
    fn whole_integers(&mut self, shape: &Shape, value: &mut Value, clamp: bool, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match (shape.resolve(), value) {
            (Shape::Integer(_), Value::Number(number)) if !number.is_i64() => {
                match (whole(number), clamp) {
                    (Ok(whole), _) => *number = Number::from(whole),
                    (Err(Beyond::Above), true) => *number = Number::from(i64::MAX),
                    (Err(Beyond::Below), true) => *number = Number::from(i64::MIN),
                    (Err(Beyond::Above), false) => {
                        self.beyond.push(too_large(self.loc.clone(), i64::MAX));
                    }
                    (Err(Beyond::Below), false) => {
                        self.beyond.push(too_small(self.loc.clone(), i64::MIN));
                    }
                }
            }
            (Shape::Object(rule), Value::Object(members)) => {
                for field in rule.fields {
                    if let Some(member) = members.get_mut(field.name) {
                        let clamp = depth == 0 && self.paging.contains(&field.name);
                        self.loc.push(LocItem::from(field.name));
                        self.whole_integers(&field.shape, member, clamp, depth + 1);
                        self.loc.pop();
                    }
                }
            }
            (Shape::Array(rule), Value::Array(items)) => {
                for (index, item) in items.iter_mut().enumerate() {
                    self.loc.push(LocItem::from(index));
                    self.whole_integers(rule.items, item, false, depth + 1);
                    self.loc.pop();
                }
            }
            (Shape::Tuple(positions), Value::Array(items)) => {
                for (index, (position, item)) in positions.iter().zip(items).enumerate() {
                    self.loc.push(LocItem::from(index));
                    self.whole_integers(position, item, false, depth + 1);
                    self.loc.pop();
                }
            }
            (Shape::Map(member), Value::Object(members)) => {
                for (key, item) in members.iter_mut() {
                    self.loc.push(LocItem::from(key.as_str()));
                    self.whole_integers(member, item, false, depth + 1);
                    self.loc.pop();
                }
            }
            (Shape::AnyOf(alternatives), value) => {
                // The model's type for a union is its one non-null alternative (or any JSON).
                let mut concrete = alternatives
                    .iter()
                    .filter(|alternative| !matches!(alternative.resolve(), Shape::Null));
                if let (Some(only), None) = (concrete.next(), concrete.next()) {
                    self.whole_integers(only, value, clamp, depth + 1);
                }
            }
            _ => {}
        }
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

//! Turning a body into an operation's input model, reading its integers as the API does.
//!
//! The API (pydantic) reads an integer written out in full as a Python integer of any size,
//! and a float as one only strictly between -2^63 and 2^63 (`2.0` is `2`; `1e20` is a 422,
//! `int_parsing_size`, which the validator answers). serde_json reads an integer written beyond
//! 64 bits as a float, so [`validate_as_written`] finds those in the body's text and has them
//! checked as the integers they are. The models hold an integer as an `i64`. A number beyond
//! it that places or sizes a page ([`Paging::numbers`]) is read as the bound it crossed, as
//! other out-of-range paging numbers are clamped: a page past every item is empty whatever
//! its number. Any other is refused with a 422 at its field rather than pinned to a bound,
//! as the emulator would otherwise store or answer a number other than the one sent.

// Nested values deeper than the validator's depth are left as they are, as it leaves them.
use geopera_types::validate::{validate, MAX_DEPTH};
use geopera_types::{LocItem, OperationInfo, Paging, Shape, ValidationError};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use crate::error::{too_large, too_small, ApiError, INPUT_AS_WRITTEN};

/// Checks `value`, read by serde_json from `text`, against `shape` as [`validate`] does,
/// except that an integer `text` writes out in full beyond 64 bits is checked as that
/// integer: refused only by the bounds of its field, where the float serde_json read
/// (`100000000000000000000` as `1e20`) is `int_parsing_size`. `value` keeps the float, which
/// [`decode`] reads as beyond `i64`; one that passes its field's bounds is refused here as
/// [`decode`] would refuse it, so that its failure can quote it. A failure quoting one keeps
/// that float as its `input`, and the integer as `text` writes it under
/// [`INPUT_AS_WRITTEN`], which its answer echoes instead: pydantic echoes the integer it
/// read, and an `f64` cannot hold it.
///
/// No failure quotes a credential of the body (the operation's `secret_fields`, such as a
/// share link's `password`): one at or inside such a member quotes nothing, and a quoted
/// body leaves those members out, so that a 422 never hands a credential to whatever logs it.
pub(crate) fn validate_as_written(
    op: &OperationInfo,
    text: &[u8],
    value: &mut Value,
) -> Vec<ValidationError> {
    let mut errors = quoting_as_written(op, text, value);
    if !op.secret_fields.is_empty() {
        for error in &mut errors {
            leave_out_secrets(op.secret_fields, error);
        }
    }
    errors
}

/// Takes the credentials in `secrets` out of what `error` quotes.
fn leave_out_secrets(secrets: &[&str], error: &mut ValidationError) {
    // `body`, then the member of the body the failure is in, if any.
    let member = match error.loc.get(1) {
        Some(LocItem::Key(name)) => Some(name.as_str()),
        _ => None,
    };
    let quotes_the_body = match error.r#type.as_str() {
        "missing" => error.loc.len() <= 2,
        _ => error.loc.len() <= 1,
    };
    if quotes_the_body {
        if let Some(Value::Object(body)) = error.extra.get_mut("input") {
            let before = body.len();
            body.retain(|name, _| !secrets.contains(&name.as_str()));
            if body.len() != before {
                error.extra.remove(INPUT_AS_WRITTEN);
            }
        }
    } else if member.is_some_and(|member| secrets.contains(&member)) {
        error.extra.remove("input");
        error.extra.remove(INPUT_AS_WRITTEN);
    }
}

/// [`validate_as_written`] before credentials are taken out of its quotes.
fn quoting_as_written(op: &OperationInfo, text: &[u8], value: &mut Value) -> Vec<ValidationError> {
    let shape = op.input;
    let wide = wide_integers(text);
    if wide.is_empty() {
        return validate(shape, value);
    }
    // Stand-ins the validator reads as integers beyond every bound the contract sets, on the
    // side of the integer they stand for; the floats go back before anything else reads them.
    let mut floats = Vec::new();
    for (loc, token) in &wide {
        if let Some(slot) = place_mut(value, loc).filter(|slot| slot.is_f64()) {
            let stand_in = if token.starts_with('-') {
                Value::from(i64::MIN)
            } else {
                Value::from(u64::MAX)
            };
            floats.push((loc, std::mem::replace(slot, stand_in)));
        }
    }
    let mut errors = validate(shape, value);
    for (loc, float) in floats {
        if let Some(slot) = place_mut(value, loc) {
            *slot = float;
        }
    }
    if errors.is_empty() {
        errors = beyond_i64(shape, op.paging, value.clone());
    }
    // A failure quotes the value at its place, or for a missing member the object it is
    // missing from, which may hold a stand-in.
    for error in &mut errors {
        let quoted = match error.r#type.as_str() {
            "missing" => &error.loc[..error.loc.len().saturating_sub(1)],
            _ => &error.loc[..],
        };
        if wide.iter().any(|(loc, _)| loc.starts_with(quoted)) {
            if let Some(input) = place_mut(value, quoted) {
                let mut written = String::new();
                write_as_written(input, &mut quoted.to_vec(), &wide, &mut written);
                error.extra.insert("input".to_owned(), input.clone());
                error
                    .extra
                    .insert(INPUT_AS_WRITTEN.to_owned(), Value::String(written));
            }
        }
    }
    errors
}

/// `value`, which sits at `loc` in the body, as compact JSON text in which each integer of
/// `wide` is written as the body wrote it rather than as the float serde_json read.
fn write_as_written(
    value: &Value,
    loc: &mut Vec<LocItem>,
    wide: &[(Vec<LocItem>, &str)],
    out: &mut String,
) {
    match value {
        Value::Object(members) => {
            out.push('{');
            for (n, (key, member)) in members.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                loc.push(LocItem::from(key.as_str()));
                write_as_written(member, loc, wide, out);
                loc.pop();
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                loc.push(LocItem::from(index));
                write_as_written(item, loc, wide, out);
                loc.pop();
            }
            out.push(']');
        }
        Value::Number(_) => match wide.iter().find(|(at, _)| at == loc) {
            Some((_, token)) => out.push_str(token),
            None => out.push_str(&value.to_string()),
        },
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The member or item of `body` at `loc` (a location starting with `"body"`).
fn place_mut<'a>(body: &'a mut Value, loc: &[LocItem]) -> Option<&'a mut Value> {
    let mut place = body;
    for step in loc.get(1..)? {
        place = match step {
            LocItem::Key(key) => place.as_object_mut()?.get_mut(key)?,
            LocItem::Index(index) => place
                .as_array_mut()?
                .get_mut(usize::try_from(*index).ok()?)?,
        };
    }
    Some(place)
}

/// A container open at some point of a JSON text.
enum Open {
    /// An object, with whether its next string is a key and whether a key of it is in the
    /// location.
    Object {
        key_next: bool,
        keyed: bool,
    },
    Array,
}

/// Where `text` (JSON serde_json has read) writes an integer in full beyond 64 bits, as the
/// locations a 422 names, each with the integer as written. Of a member given twice only the
/// last counts, as serde_json keeps only that one.
fn wide_integers(text: &[u8]) -> Vec<(Vec<LocItem>, &str)> {
    // Each has 19 digits in a row at least; most bodies have no such run.
    if !text
        .split(|byte| !byte.is_ascii_digit())
        .any(|run| run.len() >= 19)
    {
        return Vec::new();
    }
    let mut found: Vec<(Vec<LocItem>, &str)> = Vec::new();
    let mut open = Vec::new();
    let mut loc = vec![LocItem::from("body")];
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        let start = at;
        at += 1;
        match byte {
            b'{' => open.push(Open::Object {
                key_next: true,
                keyed: false,
            }),
            b'[' => {
                open.push(Open::Array);
                loc.push(LocItem::from(0_usize));
            }
            b'}' | b']' => {
                if matches!(
                    open.pop(),
                    Some(Open::Array | Open::Object { keyed: true, .. })
                ) {
                    loc.pop();
                }
            }
            b',' => match open.last_mut() {
                Some(Open::Object { key_next, .. }) => *key_next = true,
                Some(Open::Array) => {
                    if let Some(LocItem::Index(index)) = loc.last_mut() {
                        *index += 1;
                    }
                }
                None => {}
            },
            b'"' => {
                while let Some(&byte) = text.get(at) {
                    at += if byte == b'\\' { 2 } else { 1 };
                    if byte == b'"' {
                        break;
                    }
                }
                if let Some(Open::Object { key_next, keyed }) = open.last_mut() {
                    if *key_next {
                        let key: String = text
                            .get(start..at)
                            .and_then(|token| serde_json::from_slice(token).ok())
                            .unwrap_or_default();
                        if *keyed {
                            loc.pop();
                        }
                        loc.push(LocItem::from(key));
                        (*key_next, *keyed) = (false, true);
                        found.retain(|(place, _)| !place.starts_with(&loc));
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                while text
                    .get(at)
                    .is_some_and(|byte| b"0123456789+-.eE".contains(byte))
                {
                    at += 1;
                }
                let token = text
                    .get(start..at)
                    .and_then(|token| std::str::from_utf8(token).ok())
                    .unwrap_or_default();
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    found.push((loc.clone(), token));
                }
            }
            _ => {}
        }
    }
    found
}

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

/// The failures [`decode`] finds in `body`: its integers beyond `i64` that are no paging
/// number.
fn beyond_i64(shape: &Shape, paging: Paging, mut body: Value) -> Vec<ValidationError> {
    let mut walk = Walk {
        loc: vec![LocItem::from("body")],
        beyond: Vec::new(),
        paging: paging.numbers(),
    };
    walk.whole_integers(shape, &mut body, false, 0);
    walk.beyond
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
                    (Err(beyond), false) => {
                        let mut error = match beyond {
                            Beyond::Above => too_large(self.loc.clone(), i64::MAX),
                            Beyond::Below => too_small(self.loc.clone(), i64::MIN),
                        };
                        let input = Value::Number(number.clone());
                        error.extra.insert("input".to_owned(), input);
                        self.beyond.push(error);
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
    // 2^63 is exact as a double. The validator refuses a float at or beyond ±2^63, so one
    // here was an integer written beyond `i64`, -2^63 included (`-9223372036854775809`).
    const EDGE: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        Some(float) if float >= EDGE => Err(Beyond::Above),
        Some(float) if float <= -EDGE => Err(Beyond::Below),
        Some(float) => Ok(float as i64),
        // serde_json reads every number as an `i64`, a `u64` or an `f64`, so this is never
        // reached; refusing is the safe answer if it were.
        None => Err(Beyond::Above),
    }
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;

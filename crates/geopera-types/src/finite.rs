//! How a model writes a number that JSON cannot hold.
//!
//! JSON has no NaN and no infinities, and `serde_json` writes them as `null`. For a field that
//! may be null, that is a different request, not a failed one: an auto top-up whose daily cap
//! is `f64::NAN` would be sent with no cap at all, a cloud-cover bound of `f64::INFINITY` with
//! no bound. So every generated field that holds numbers writes a non-finite one as the name
//! JSON libraries give it — the string `"NaN"`, `"Infinity"` or `"-Infinity"` — which the
//! input checks refuse as "not a finite number", naming the field, before anything is sent.
//! The API's own parser is laxer: pydantic 2.14.4 reads `"Infinity"` as a number where a field
//! sets no bound, and refuses `"NaN"` and `"-Infinity"` only by the field's bounds. So a
//! program that turns the input checks off (the SDK's `validate` feature) must keep such
//! numbers out itself.
//!
//! ```
//! use geopera_types::models::SetAutoTopupInput;
//!
//! let input = SetAutoTopupInput::new(true, 100, 1000).daily_charge_cap_aud(f64::NAN);
//! let json = serde_json::to_value(&input)?;
//! assert_eq!(json["daily_charge_cap_aud"], "NaN");
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::ser::{SerializeTuple as _, Serializer};
use serde::Serialize;

/// What JSON libraries call a number JSON cannot hold; a number field refuses each of them.
pub const NON_FINITE: [&str; 3] = ["NaN", "Infinity", "-Infinity"];

/// A value whose numbers are written as [`serialize`] says; the generator puts it on every
/// field that holds numbers.
pub trait Finite {
    /// Writes the value, a non-finite number as its name.
    ///
    /// # Errors
    ///
    /// The serializer's own.
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

/// For `#[serde(serialize_with = "...")]`: writes `value` with its non-finite numbers as the
/// strings in [`NON_FINITE`].
///
/// # Errors
///
/// The serializer's own.
pub fn serialize<T: Finite + ?Sized, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.write(serializer)
}

/// A borrowed value written through [`Finite`], for the items of a container.
struct Written<'a, T: ?Sized>(&'a T);

impl<T: Finite + ?Sized> Serialize for Written<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer)
    }
}

impl Finite for f64 {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_finite() {
            serializer.serialize_f64(*self)
        } else if self.is_nan() {
            serializer.serialize_str(NON_FINITE[0])
        } else if *self > 0.0 {
            serializer.serialize_str(NON_FINITE[1])
        } else {
            serializer.serialize_str(NON_FINITE[2])
        }
    }
}

/// Values that are never numbers are written as they are, for tuples that mix them with
/// numbers.
macro_rules! as_it_is {
    ($($ty:ty),+) => {
        $(impl Finite for $ty {
            fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.serialize(serializer)
            }
        })+
    };
}

as_it_is!(bool, i64, String, serde_json::Value);

impl<T: Finite> Finite for Option<T> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(value) => serializer.serialize_some(&Written(value)),
            None => serializer.serialize_none(),
        }
    }
}

impl<T: Finite> Finite for Vec<T> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Written))
    }
}

impl<T: Finite> Finite for BTreeMap<String, T> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, Written(value))))
    }
}

/// Tuples are fixed-size arrays in the contract (`prefixItems`), such as a pair of bounds.
macro_rules! finite_tuple {
    ($len:literal: $($name:ident . $index:tt),+) => {
        impl<$($name: Finite),+> Finite for ($($name,)+) {
            fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut tuple = serializer.serialize_tuple($len)?;
                $(tuple.serialize_element(&Written(&self.$index))?;)+
                tuple.end()
            }
        }
    };
}

finite_tuple!(2: A.0, B.1);
finite_tuple!(3: A.0, B.1, C.2);
finite_tuple!(4: A.0, B.1, C.2, D.3);

#[cfg(test)]
#[path = "finite_tests.rs"]
mod tests;

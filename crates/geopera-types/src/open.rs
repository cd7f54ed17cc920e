//! Open models: the members a client reads typed, every other member kept in `extra`.
//!
//! The contract types many answers as free-form objects although their shape is known (STAC
//! pages, orders, jobs, uploads). These models give those members fields and keep anything
//! else verbatim, so nothing the server sends is lost and a new member never breaks decoding.
//!
//! Unknown members go to `extra` through a hand-written visitor rather than
//! `#[serde(flatten)]`, which would buffer every member before matching it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A member name, borrowed from the input when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Never skips: for members that are always written.
pub(crate) fn never<T>(_: &T) -> bool {
    false
}

/// A number an answer may write in another form than its type: an integer written as a
/// float with no fraction (`11.0`) or as a numeric string (`"11"`). A member marked
/// `lenient` is read so, and one of any other form is `None`, kept in `extra` as it came:
/// the answers so typed (an upload's byte counts, an order's credits, a job's progress)
/// carry ids a caller must not lose because a count came in a form the contract never
/// fixed (it leaves these members untyped).
pub(crate) trait Loose: Sized {
    /// `value` as this number, if it is one.
    fn loose(value: &serde_json::Value) -> Option<Self>;
}

/// [`Loose::loose`] for the member's own type.
pub(crate) fn loose<T: Loose>(value: &serde_json::Value) -> Option<T> {
    T::loose(value)
}

/// A number, or a string that reads as one, as a float: what the integer kinds narrow.
fn as_number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(number) => number.as_f64(),
        serde_json::Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|number| number.is_finite())
}

/// An integer kind: exactly when the JSON integer or the string's digits fit, or through a
/// float with no fraction inside the range a float holds exactly.
macro_rules! loose_integer {
    ($($kind:ty),*) => {$(
        impl Loose for $kind {
            fn loose(value: &serde_json::Value) -> Option<Self> {
                let exact = match value {
                    serde_json::Value::Number(number) => number
                        .as_i64()
                        .and_then(|n| <$kind>::try_from(n).ok())
                        .or_else(|| number.as_u64().and_then(|n| <$kind>::try_from(n).ok())),
                    serde_json::Value::String(text) => text.trim().parse::<$kind>().ok(),
                    _ => None,
                };
                exact.or_else(|| {
                    // 2^53: past it a float no longer holds every integer.
                    const EXACT: f64 = 9_007_199_254_740_992.0;
                    let number = as_number(value)?;
                    (number.fract() == 0.0 && number.abs() <= EXACT)
                        .then(|| <$kind>::try_from(number as i64).ok())
                        .flatten()
                })
            }
        }
    )*};
}

loose_integer!(u32, u64, i64);

impl Loose for f64 {
    fn loose(value: &serde_json::Value) -> Option<Self> {
        as_number(value)
    }
}

/// Declares a model with typed members plus `extra`, and its fast `Deserialize`.
///
/// A member may list other wire names it is read from (`"orderId" | "order_id"`), for answers
/// that spell one member two ways; it is always written under the first.
macro_rules! open_model {
    // A member read as its type says: a value of another form fails the answer.
    (@read $model:ident, $map:ident, $key:ident, $field:ident) => {
        $model.$field = $map.next_value()?
    };
    // A member marked `lenient`: read by [`Loose`], and kept in `extra` as it came when it
    // does not read.
    (@read $model:ident, $map:ident, $key:ident, $field:ident lenient) => {{
        let value: serde_json::Value = $map.next_value()?;
        $model.$field = $crate::open::loose(&value);
        if $model.$field.is_none() && !value.is_null() {
            $model.extra.insert($key.clone().into_owned(), value);
        }
    }};
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty = $wire:literal $(| $alias:literal)*, skip_if $skip:literal
                    $($lenient:ident)?;
            )*
        }
    ) => {
        $(#[$meta])*
        ///
        /// Marked `#[non_exhaustive]`, as the members the contract adds become fields here:
        /// outside this crate it is built with `Default` and assignments, and destructured
        /// with `..`.
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $wire, skip_serializing_if = $skip)]
                pub $field: $ty,
            )*
            /// Members not listed above, kept verbatim.
            #[serde(flatten)]
            pub extra: $crate::JsonObject,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ModelVisitor;
                impl<'de> serde::de::Visitor<'de> for ModelVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        let mut model = $name::default();
                        while let Some($crate::open::Key(key)) =
                            map.next_key::<$crate::open::Key<'de>>()?
                        {
                            match key.as_ref() {
                                $( $wire $(| $alias)* => {
                                    $crate::open::open_model!(
                                        @read model, map, key, $field $($lenient)?
                                    );
                                } )*
                                _ => {
                                    let value: serde_json::Value = map.next_value()?;
                                    model.extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok(model)
                    }
                }
                deserializer.deserialize_map(ModelVisitor)
            }
        }
    };
}
pub(crate) use open_model;

/// Declares a string enum whose unknown values are kept: a server that adds a state must not
/// make every answer carrying it undecodable.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $variant:ident = $wire:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[doc = $doc])*
                $variant,
            )*
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $name::Other(other) => other,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $wire => $name::$variant, )*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok($name::from(text.as_ref()))
            }
        }
    };
}
pub(crate) use open_enum;

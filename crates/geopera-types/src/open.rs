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

/// Declares a model with typed members plus `extra`, and its fast `Deserialize`.
///
/// A member may list other wire names it is read from (`"orderId" | "order_id"`), for answers
/// that spell one member two ways; it is always written under the first.
macro_rules! open_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty = $wire:literal $(| $alias:literal)*, skip_if $skip:literal;
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
                                $( $wire $(| $alias)* => model.$field = map.next_value()?, )*
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

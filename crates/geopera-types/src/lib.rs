//! Typed models and operation descriptors of the Geopera API.
//!
//! Everything under [`models`], [`schemas`] and [`operations`] is generated from the Geopera
//! OpenAPI contract by `geopera-codegen`; the rest of this crate is the small hand-written
//! vocabulary the generated code is declared in. The crate depends on `serde` and
//! `serde_json` (with `bytes` for [`Binary`] answers, and `regex` for the `validate`
//! feature's pattern checks) only, so both the SDK (`geopera`) and the local emulator
//! (`geopera-emulator`) can share one definition of the wire format.
//!
//! ```
//! use geopera_types::models::CatalogSearchInput;
//!
//! let input = CatalogSearchInput::new("earthsearch-aws").limit(10);
//! let json = serde_json::to_value(&input)?;
//! assert_eq!(json["host_name"], "earthsearch-aws");
//! assert_eq!(json["limit"], 10);
//!
//! let info = geopera_types::operations::find("catalog.search").expect("known operation");
//! assert_eq!(info.scope, "catalog:read");
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Answers are `#[non_exhaustive]`, so a member the contract adds later breaks nothing:
//! read their fields, destructure them with `..`, and build one (for a test double) from
//! `Default` or its `new` and setters. A struct literal does not compile:
//!
//! ```compile_fail,E0639
//! let page = geopera_types::stac::CatalogSearchOutput {
//!     features: Vec::new(),
//!     ..Default::default()
//! };
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Gives a generated free-form model (a newtype over [`JsonObject`]) map-like access and
/// typed conversion helpers.
#[doc(hidden)]
#[macro_export]
macro_rules! free_form {
    ($name:ident) => {
        impl std::ops::Deref for $name {
            type Target = $crate::JsonObject;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl From<$crate::JsonObject> for $name {
            fn from(object: $crate::JsonObject) -> Self {
                Self(object)
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(model: $name) -> Self {
                serde_json::Value::Object(model.0)
            }
        }

        impl $name {
            /// The members as a plain JSON object.
            pub fn into_inner(self) -> $crate::JsonObject {
                self.0
            }

            /// Decodes one member into a typed value; `Ok(None)` when it is absent or null.
            ///
            /// # Errors
            ///
            /// The member is present but does not fit `T`.
            pub fn get_as<T: serde::de::DeserializeOwned>(
                &self,
                key: &str,
            ) -> Result<Option<T>, serde_json::Error> {
                match self.0.get(key) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(value) => T::deserialize(value).map(Some),
                }
            }

            /// Decodes the whole object into a typed value of the caller's choosing.
            ///
            /// # Errors
            ///
            /// The object does not fit `T`.
            pub fn to_typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
                T::deserialize(serde_json::Value::Object(self.0.clone()))
            }
        }
    };
}

mod binary;
pub mod downloads;
pub mod finite;
mod generated;
pub mod headers;
pub mod jobs;
pub mod json;
pub mod oidc;
mod open;
mod operation;
pub mod orders;
mod problem;
mod quirks;
mod rate;
#[cfg(feature = "validate")]
pub mod rfc3339;
#[cfg(feature = "testing")]
pub mod sample;
pub mod secret;
pub mod shape;
pub mod stac;
pub mod subscriptions;
pub mod uploads;
#[cfg(feature = "validate")]
pub mod validate;

pub use binary::{is_json_type, Binary, DecodeOutput, JsonOrBinary, NDJSON, OCTET_STREAM};
pub use generated::{models, schemas};
pub use operation::{Access, Operation, OperationInfo, Paging, RetryClass, TRANSIENT_STATUSES};
pub use problem::{HttpValidationError, LocItem, Problem, ValidationError, PROBLEM_JSON};
pub use quirks::redirect_answer;
pub use rate::RateClass;
pub use secret::{API_KEY_PREFIX, WEBHOOK_SECRET_PREFIX};
pub use shape::{Schema, Shape};

/// Operation descriptors: one type per operation plus a table of all of them.
pub mod operations {
    pub use crate::generated::operations::*;
    pub use crate::operation::find;
}

/// Decodes a JSON value into a model and encodes it back, so a test can push any JSON through
/// a model it names only at run time (see `models::CODECS`).
#[cfg(feature = "testing")]
pub type Codec = fn(serde_json::Value) -> Result<serde_json::Value, serde_json::Error>;

/// The [`Codec`] of `T`.
///
/// # Errors
///
/// `value` does not decode into `T`, or `T` refuses to encode.
#[cfg(feature = "testing")]
pub fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(serde_json::from_value::<T>(value)?)
}

/// A JSON object whose members are not described by the contract.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

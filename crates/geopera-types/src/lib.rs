//! Typed models and operation descriptors of the Geopera API.
//!
//! Everything under [`models`], [`schemas`] and [`operations`] is generated from the Geopera
//! OpenAPI contract by `geopera-codegen`; the rest of this crate is the small hand-written
//! vocabulary the generated code is declared in. The crate depends on `serde` only, so both the
//! SDK (`geopera`) and the local emulator (`geopera-emulator`) can share one definition of the
//! wire format.
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

extern crate self as geopera_types;

mod generated;
mod operation;
mod problem;
pub mod sample;
pub mod shape;
#[cfg(feature = "validate")]
pub mod validate;

pub use generated::{models, schemas};
pub use operation::{Access, Operation, OperationInfo, Paging, RateClass};
pub use problem::{HttpValidationError, LocItem, Problem, ValidationError};
pub use shape::{Schema, Shape};

/// Operation descriptors: one type per operation plus a table of all of them.
pub mod operations {
    pub use crate::generated::operations::*;
    pub use crate::operation::find;
}

/// A JSON object whose members are not described by the contract.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

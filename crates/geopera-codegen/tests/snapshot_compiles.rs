//! Compiles the types the generator wrote for the fixture contract, inside a stand-in for the
//! `geopera-types` crate root, and uses them.

#![allow(
    dead_code,
    missing_docs,
    reason = "generated for a fixture, only compiled"
)]

pub use geopera_types::{
    free_form, Access, Binary, JsonObject, Operation, OperationInfo, Paging, RateClass, RetryClass,
};

mod shape {
    pub use geopera_types::shape::*;
}

mod finite {
    pub use geopera_types::finite::*;
}

mod problem {
    pub use geopera_types::{HttpValidationError, LocItem, Problem, ValidationError};
}

#[path = "snapshots/mini/types/mod.rs"]
mod generated;

pub use generated::{models, schemas};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(serde_json::from_value::<T>(value)?)
}

type Codec = fn(serde_json::Value) -> Result<serde_json::Value, serde_json::Error>;

#[test]
fn fixture_models_work() {
    let input = models::StartInput::new("scan", None)
        .retry_count(3)
        .tags(["a", "b"]);
    let json = serde_json::to_value(&input).expect("serializable");
    assert_eq!(json["retryCount"], 3);
    assert_eq!(json["tier"], "gold");
    assert_eq!(json["span"], serde_json::json!([0.5, 1.0]));
    assert!(
        json["window"].is_null(),
        "a required nullable field is sent as null"
    );
    assert_eq!(generated::operations::ALL.len(), 4);
    assert!(<generated::operations::FleetTail as Operation>::INFO.answers_ndjson);
    assert_eq!(
        <generated::operations::FleetTasksRunsStart as Operation>::INFO.success_status,
        201
    );
}

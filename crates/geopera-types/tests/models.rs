//! Every generated model against sample values of its own schema.

use geopera_types::{
    jobs, models, orders, round_trip, sample::sample, schemas, subscriptions, uploads,
};
use serde_json::Value;

/// The hand-written models that type answers the contract leaves open: they must take every
/// sample of the contract's schema too.
const HAND_WRITTEN: &[(&str, geopera_types::Codec)] = &[
    (
        "ArchiveEstimateOutput",
        round_trip::<orders::ArchiveEstimateOutput>,
    ),
    (
        "TaskingEstimateOutput",
        round_trip::<orders::TaskingEstimateOutput>,
    ),
    ("UploadOutput", round_trip::<uploads::UploadOutput>),
    (
        "ProcessExecuteOutput",
        round_trip::<jobs::ProcessExecuteOutput>,
    ),
    (
        "SubscriptionOutput",
        round_trip::<subscriptions::SubscriptionOutput>,
    ),
];

/// Deserializing then serializing a sample keeps every member it had.
#[test]
fn every_schema_round_trips_its_samples_without_loss() {
    let mut checked = 0;
    for schema in schemas::ALL {
        let Some((_, codec)) = models::CODECS
            .iter()
            .chain(HAND_WRITTEN)
            .find(|(name, _)| *name == schema.rust_name)
        else {
            // The hand-written error models have their own tests.
            assert!(
                [
                    "Problem",
                    "HttpValidationError",
                    "ValidationError",
                    "CatalogSearchOutput"
                ]
                .contains(&schema.rust_name),
                "no codec for {}",
                schema.rust_name
            );
            continue;
        };
        for seed in 0..3 {
            let value = sample(&schema.shape, seed);
            let back = codec(value.clone())
                .unwrap_or_else(|e| panic!("{} rejects its own sample {value}: {e}", schema.name));
            assert_no_loss(&value, &back, schema.name);
        }
        checked += 1;
    }
    assert!(checked > 250, "only {checked} schemas were checked");
}

/// Every member of `original` is in `back` with the same value. `back` may add members the
/// model fills with defaults, but never drops or alters one.
fn assert_no_loss(original: &Value, back: &Value, schema: &str) {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => assert_no_loss(value, other, schema),
                    None if value.is_null() => {}
                    None => panic!("{schema}: member {key} was lost"),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{schema}: array length changed");
            for (x, y) in a.iter().zip(b) {
                assert_no_loss(x, y, schema);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            assert_eq!(a.as_f64(), b.as_f64(), "{schema}: number changed");
        }
        (a, b) => assert_eq!(a, b, "{schema}: value changed"),
    }
}

#[test]
fn free_form_models_keep_unknown_members() {
    let raw =
        serde_json::json!({"orderId": "ord_1", "status": "received", "x-extra": {"deep": [1, 2]}});
    let placed: models::OrderPlaceOutput = serde_json::from_value(raw.clone()).expect("free-form");
    assert_eq!(serde_json::to_value(&placed).expect("serializable"), raw);
    assert_eq!(
        placed.get_as::<String>("status").expect("a string"),
        Some("received".to_owned())
    );
}

#[test]
fn catalog_pages_are_typed_and_lossless() {
    let raw = serde_json::json!({"type": "FeatureCollection", "features": [{"id": "a", "properties": {"eo:cloud_cover": 3.5, "x": 1}}], "next": "abc", "x-extra": {"deep": [1, 2]}});
    let page: models::CatalogSearchOutput = serde_json::from_value(raw.clone()).expect("a page");
    assert_eq!(page.next.as_deref(), Some("abc"));
    assert_eq!(page.features[0].properties.cloud_cover, Some(3.5));
    assert_eq!(serde_json::to_value(&page).expect("serializable"), raw);
}

#[test]
fn spec_defaults_are_applied() {
    let input = models::CatalogSearchInput::new("earthsearch-aws");
    assert_eq!(input.limit, 100);
    let decoded: models::CatalogSearchInput =
        serde_json::from_str(r#"{"host_name":"h"}"#).expect("valid");
    assert_eq!(decoded.limit, 100);
    let project = models::ProjectCreate::new("p");
    assert_eq!(project.gcs_region.as_str(), "australia-southeast1");
}

#[test]
fn wire_names_are_kept() {
    let estimate = serde_json::json!({"captures": [], "splitByDate": true});
    let input: models::ArchiveEstimateInput = serde_json::from_value(estimate).expect("valid");
    let back = serde_json::to_value(&input).expect("serializable");
    assert_eq!(back["splitByDate"], true);
}

#[test]
fn unknown_enum_values_survive() {
    let region: models::GcsRegion = serde_json::from_str(r#""mars-north1""#).expect("kept");
    assert_eq!(region, models::GcsRegion::Unknown("mars-north1".into()));
    assert_eq!(
        serde_json::to_string(&region).expect("serializable"),
        r#""mars-north1""#
    );
}

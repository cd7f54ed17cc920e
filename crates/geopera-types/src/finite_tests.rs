//! Unit tests of `finite.rs`.
use std::collections::BTreeMap;

use serde_json::json;

use super::*;

/// `value` written through [`serialize`], as JSON.
fn written<T: Finite>(value: &T) -> serde_json::Value {
    serialize(value, serde_json::value::Serializer).expect("writes")
}

#[test]
fn finite_numbers_are_written_as_numbers() {
    assert_eq!(written(&1.5), json!(1.5));
    assert_eq!(written(&Some(-0.25)), json!(-0.25));
    assert_eq!(written(&None::<f64>), json!(null));
    assert_eq!(written(&vec![vec![1.0, 2.0]]), json!([[1.0, 2.0]]));
    assert_eq!(written(&(0.5, 1.0)), json!([0.5, 1.0]));
}

#[test]
fn non_finite_numbers_are_written_as_their_names_wherever_they_sit() {
    assert_eq!(written(&f64::NAN), json!("NaN"));
    assert_eq!(written(&Some(f64::INFINITY)), json!("Infinity"));
    assert_eq!(
        written(&vec![1.0, f64::NEG_INFINITY]),
        json!([1.0, "-Infinity"])
    );
    assert_eq!(written(&Some(vec![vec![f64::NAN]])), json!([["NaN"]]));
    assert_eq!(written(&(f64::NAN, 2.0, 3.0)), json!(["NaN", 2.0, 3.0]));
    let map: BTreeMap<String, f64> = [("w".to_owned(), f64::INFINITY)].into();
    assert_eq!(written(&map), json!({"w": "Infinity"}));
}

//! Unit tests of `input.rs`.
use geopera_types::models::{CreateAlertRuleInput, ItemsListInput, OrdersListInput};
use geopera_types::operations::{ALERTS_CREATE_RULE, ITEMS_LIST, ORDERS_LIST};
use geopera_types::shape::{ArrayRule, Bounds, Field, ObjectRule, Shape};
use serde_json::json;

use geopera_types::Paging;

use super::{decode, decode_shape};

#[test]
fn integral_floats_read_as_the_api_reads_them() {
    let input: OrdersListInput =
        decode(&ORDERS_LIST, json!({"page": 2.0, "size": -3e18})).expect("decodes");
    assert_eq!((input.page, input.size), (2, -3_000_000_000_000_000_000));
    let input: ItemsListInput = decode(
        &ITEMS_LIST,
        json!({"project_id": "p", "offset": -9223372036854775808.0, "limit": 9.2e18}),
    )
    .expect("decodes");
    assert_eq!(
        (input.offset, input.limit),
        (i64::MIN, 9_200_000_000_000_000_000)
    );
}

/// Each integer beyond `i64` is refused at its own field, with the bound it crossed, rather
/// than pinned to that bound and stored as a number the caller never sent.
#[test]
fn integers_beyond_i64_are_422_at_their_fields() {
    let body = json!({"bands": [18446744073709551615u64, -1e300]});
    let error = decode_shape::<serde_json::Value>(&BANDS, Paging::None, body)
        .expect_err("neither fits an i64");
    let reply = error.into_reply();
    assert_eq!(reply.status.as_u16(), 422);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
    let detail = body["detail"].as_array().expect("a list");
    assert_eq!(detail.len(), 2, "{body}");
    let (above, below) = (&detail[0], &detail[1]);
    assert_eq!(above["loc"], json!(["body", "bands", 0]));
    assert_eq!(above["type"], "less_than_equal");
    assert_eq!(above["ctx"]["le"], json!(i64::MAX));
    assert_eq!(
        above["msg"],
        "Input should be less than or equal to 9223372036854775807"
    );
    assert_eq!(below["loc"], json!(["body", "bands", 1]));
    assert_eq!(below["type"], "greater_than_equal");
    assert_eq!(below["ctx"]["ge"], json!(i64::MIN));

    // 2^63 is the first integral double that does not fit.
    let error = decode_shape::<serde_json::Value>(
        &BANDS,
        Paging::None,
        json!({"bands": [9223372036854775808.0]}),
    )
    .expect_err("2^63 does not fit");
    let body: serde_json::Value = serde_json::from_slice(&error.into_reply().body).expect("json");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "bands", 0]));
}

/// A paging number beyond `i64` places a page past every item (or sizes one beyond any
/// cap), as the bound it crossed does, so it is read as that bound: the contract sets no maximum on such
/// numbers, and the emulator clamps every other out-of-range paging number too. The same
/// number elsewhere in the body is still refused.
#[test]
fn paging_numbers_beyond_i64_are_read_as_its_bounds() {
    let input: ItemsListInput = decode(
        &ITEMS_LIST,
        json!({"project_id": "p", "offset": 18446744073709551615u64, "limit": -1e300}),
    )
    .expect("paging numbers are clamped");
    assert_eq!((input.offset, input.limit), (i64::MAX, i64::MIN));
    let input: OrdersListInput = decode(
        &ORDERS_LIST,
        json!({"page": 1e30, "size": 9223372036854775808.0}),
    )
    .expect("paging numbers are clamped");
    assert_eq!((input.page, input.size), (i64::MAX, i64::MAX));
    let nested = json!({"bands": [1e30]});
    assert!(decode_shape::<serde_json::Value>(&BANDS, Paging::PageSize, nested).is_err());
}

/// Locations name array indexes and map keys the way the validator's do.
#[test]
fn integers_beyond_i64_inside_lists_and_maps_are_located_there() {
    let error = decode::<CreateAlertRuleInput>(
        &ALERTS_CREATE_RULE,
        json!({"name": "n", "expression": "cloud_cover", "comparison": "gt", "threshold": 1.0,
               "band_mapping": {"red": 1, "nir": 1e19}}),
    )
    .expect_err("nir does not fit");
    let body: serde_json::Value = serde_json::from_slice(&error.into_reply().body).expect("json");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "band_mapping", "nir"])
    );
    let error =
        decode_shape::<serde_json::Value>(&BANDS, Paging::None, json!({"bands": [1, 2, -1e19]}))
            .expect_err("the third does not fit");
    let body: serde_json::Value = serde_json::from_slice(&error.into_reply().body).expect("json");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "bands", 2]));
}

/// An object with a list of unbounded integers, which no input of the contract has yet.
static BANDS: Shape = Shape::Object(ObjectRule {
    fields: &[Field {
        name: "bands",
        required: false,
        shape: Shape::Array(ArrayRule {
            items: &Shape::Integer(Bounds {
                minimum: None,
                maximum: None,
                exclusive_minimum: None,
                exclusive_maximum: None,
            }),
            min_items: None,
            max_items: None,
        }),
    }],
    open: false,
});

#[test]
fn an_absent_body_reads_as_an_empty_object_with_the_defaults() {
    let input: OrdersListInput = decode(&ORDERS_LIST, json!(null)).expect("decodes");
    assert_eq!((input.page, input.size), (0, 20));
}

#[test]
fn a_body_that_does_not_fit_the_model_is_422_at_the_body() {
    let error = decode::<ItemsListInput>(&ITEMS_LIST, json!({"limit": 5}))
        .expect_err("project_id is required");
    let reply = error.into_reply();
    assert_eq!(reply.status.as_u16(), 422);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
}

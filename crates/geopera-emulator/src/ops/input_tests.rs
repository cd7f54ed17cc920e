//! Unit tests of `input.rs`.
use geopera_types::models::{ItemsListInput, OrdersListInput};
use geopera_types::operations::{ITEMS_LIST, ORDERS_LIST};
use serde_json::json;

use super::decode;

#[test]
fn integral_floats_and_huge_integers_read_as_the_api_reads_them() {
    let input: OrdersListInput =
        decode(ORDERS_LIST.input, json!({"page": 2.0, "size": 1e30})).expect("decodes");
    assert_eq!((input.page, input.size), (2, i64::MAX));
    let input: ItemsListInput = decode(
        ITEMS_LIST.input,
        json!({"project_id": "p", "offset": 18446744073709551615u64, "limit": -1e300}),
    )
    .expect("decodes");
    assert_eq!((input.offset, input.limit), (i64::MAX, i64::MIN));
}

#[test]
fn an_absent_body_reads_as_an_empty_object_with_the_defaults() {
    let input: OrdersListInput = decode(ORDERS_LIST.input, json!(null)).expect("decodes");
    assert_eq!((input.page, input.size), (0, 20));
}

#[test]
fn a_body_that_does_not_fit_the_model_is_422_at_the_body() {
    let error = decode::<ItemsListInput>(ITEMS_LIST.input, json!({"limit": 5}))
        .expect_err("project_id is required");
    let reply = error.into_reply();
    assert_eq!(reply.status.as_u16(), 422);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
}

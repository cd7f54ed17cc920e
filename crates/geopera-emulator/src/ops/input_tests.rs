//! Unit tests of `input.rs`.
use geopera_types::models::{CreateAlertRuleInput, ItemsListInput, OrdersListInput};
use geopera_types::operations::{ALERTS_CREATE_RULE, CATALOG_SEARCH, ITEMS_LIST, ORDERS_LIST};
use geopera_types::shape::{ArrayRule, Bounds, Field, ObjectRule, Shape};
use serde_json::{json, Value};

use geopera_types::Paging;

use super::{decode, decode_shape, validate_as_written, wide_integers};

#[test]
fn integral_floats_read_as_the_api_reads_them() {
    let input: OrdersListInput =
        decode(&ORDERS_LIST, json!({"page": 2.0, "size": -3e18})).expect("decodes");
    assert_eq!((input.page, input.size), (2, -3_000_000_000_000_000_000));
    // The integral floats nearest ±2^63 that the API still reads as integers.
    let input: ItemsListInput = decode(
        &ITEMS_LIST,
        json!({"project_id": "p", "offset": -9223372036854774784.0, "limit": 9223372036854774784.0}),
    )
    .expect("decodes");
    assert_eq!(
        (input.offset, input.limit),
        (-9_223_372_036_854_774_784, 9_223_372_036_854_774_784)
    );
}

/// Locations as `body.a.0` paths, with whether the integer is negative.
fn wide_paths(text: &str) -> Vec<(String, bool)> {
    wide_integers(text.as_bytes())
        .into_iter()
        .map(|(loc, token)| {
            let steps: Vec<String> = loc.iter().map(ToString::to_string).collect();
            (steps.join("."), token.starts_with('-'))
        })
        .collect()
}

/// Only integers written without fraction or exponent count, past `u64` upwards and `i64`
/// downwards, wherever they sit; digits in strings and a member given twice do not mislead.
#[test]
fn integers_written_beyond_64_bits_are_found_where_the_text_writes_them() {
    let text = r#"{"a": 100000000000000000000, "b": [1, {"c\u0064": -9223372036854775809},
        18446744073709551616], "s": "1234567890123456789012 [\" {", "f": 100000000000000000000.0,
        "e": 1e20, "fits": [18446744073709551615, -9223372036854775808],
        "twice": 100000000000000000000, "twice": 1, "empty": [{}, [], {"x": []}],
        "after": [0, 200000000000000000000]}"#;
    assert_eq!(
        wide_paths(text),
        vec![
            ("body.a".to_owned(), false),
            ("body.b.1.cd".to_owned(), true),
            ("body.b.2".to_owned(), false),
            ("body.after.1".to_owned(), false),
        ]
    );
    assert_eq!(
        wide_paths("-100000000000000000000"),
        vec![("body".to_owned(), true)]
    );
    assert!(wide_paths(r#"{"n": 1e20, "m": 18446744073709551615}"#).is_empty());
}

/// pydantic takes `100000000000000000000` as an integer (checked against its field's bounds
/// alone) and refuses `1e20` with int_parsing_size, while serde_json reads both as `1e20`.
#[test]
fn an_integer_written_beyond_64_bits_is_checked_as_the_integer_it_is() {
    let check = |text: &str| {
        let mut value: Value = serde_json::from_str(text).expect("json");
        let errors = validate_as_written(&CATALOG_SEARCH, text.as_bytes(), &mut value);
        (errors, value)
    };
    let (errors, _) = check(r#"{"host_name": "h", "limit": 1e20}"#);
    assert_eq!(errors[0].r#type, "int_parsing_size");
    let (errors, value) = check(r#"{"host_name": "h", "limit": 100000000000000000000}"#);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].r#type, "less_than_equal");
    assert_eq!(errors[0].extra["ctx"], json!({"le": 500}));
    assert_eq!(errors[0].extra["input"], json!(1e20));
    assert_eq!(
        value["limit"],
        json!(1e20),
        "the body keeps what serde_json read"
    );
    // A failure that quotes the object holding one quotes it as read, not its stand-in.
    let (errors, value) = check(r#"{"limit": -100000000000000000000}"#);
    let input = |kind: &str| {
        let error = errors.iter().find(|error| error.r#type == kind);
        error.map(|error| error.extra["input"].clone())
    };
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(input("missing"), Some(json!({"limit": -1e20})));
    assert_eq!(input("greater_than_equal"), Some(json!(-1e20)));
    assert_eq!(value, json!({"limit": -1e20}));

    let text = r#"{"page": 100000000000000000000, "size": -100000000000000000000}"#;
    let mut value: Value = serde_json::from_str(text).expect("json");
    assert!(validate_as_written(&ORDERS_LIST, text.as_bytes(), &mut value).is_empty());
    let input: OrdersListInput = decode(&ORDERS_LIST, value).expect("paging numbers clamp");
    assert_eq!((input.page, input.size), (i64::MAX, i64::MIN));
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

    // 2^63 is the first integral double that does not fit; -2^63 is the float that
    // `-9223372036854775809` reads as, so it stands for an integer below `i64` too.
    let error = decode_shape::<serde_json::Value>(
        &BANDS,
        Paging::None,
        json!({"bands": [9223372036854775808.0, -9223372036854775808.0]}),
    )
    .expect_err("neither fits");
    let body: serde_json::Value = serde_json::from_slice(&error.into_reply().body).expect("json");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "bands", 0]));
    assert_eq!(body["detail"][1]["loc"], json!(["body", "bands", 1]));
    assert_eq!(body["detail"][1]["type"], "greater_than_equal");
}

/// A paging number beyond `i64` places a page past every item (or sizes one beyond any
/// cap), as the bound it crossed does, so it is read as that bound: the contract sets no
/// maximum on such numbers, and the emulator clamps every other out-of-range paging number
/// too. The same number elsewhere in the body is still refused. (A float here stands for an
/// integer written that large, which serde_json reads as one: the validator refuses a float
/// beyond `i64` before any body is decoded.)
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

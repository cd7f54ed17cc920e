//! Unit tests of `binary.rs`.
use super::*;

#[test]
fn binary_keeps_the_body_and_its_type_and_debug_shows_only_the_length() {
    let body = Bytes::from(vec![0u8; 1 << 20]);
    let binary = Binary::decode_output(Some("Image/PNG; x=1"), &body).expect("never fails");
    assert_eq!(binary.bytes, body);
    assert_eq!(binary.media_type(), "image/png");
    let debug = format!("{binary:?}");
    assert!(debug.len() < 100, "{debug}");
    assert!(debug.contains("1048576"));
    let untyped = Binary::decode_output(None, &Bytes::new()).expect("never fails");
    assert_eq!(untyped.content_type, OCTET_STREAM);
}

#[test]
fn json_models_parse_the_body() {
    let value =
        serde_json::Value::decode_output(Some("text/plain"), &Bytes::from_static(b"{\"a\":1}"))
            .expect("JSON");
    assert_eq!(value["a"], 1);
    assert!(serde_json::Value::decode_output(None, &Bytes::from_static(b"\x89PNG")).is_err());
}

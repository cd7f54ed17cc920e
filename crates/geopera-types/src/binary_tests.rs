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

/// An answer that may be either is read by its content type: JSON types (with parameters,
/// in any case, `+json` ones) and none at all as JSON, any other as bytes.
#[test]
fn json_or_binary_is_told_by_the_content_type() {
    let json = Bytes::from_static(br#"{"mean": 0.5}"#);
    for kind in [
        None,
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
        Some("application/problem+json"),
    ] {
        let read = JsonOrBinary::decode_output(kind, &json).expect("JSON");
        assert_eq!(
            read.json().map(|v| v["mean"].clone()),
            Some(serde_json::json!(0.5)),
            "{kind:?}"
        );
    }
    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n");
    let read = JsonOrBinary::decode_output(Some("image/png"), &png).expect("bytes");
    assert_eq!(read.binary().map(|b| b.bytes.clone()), Some(png));
    assert!(
        JsonOrBinary::decode_output(Some("application/json"), &Bytes::from_static(b"\x89PNG"))
            .is_err()
    );
}

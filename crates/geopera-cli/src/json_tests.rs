//! Unit tests of `json.rs`.
use super::*;

#[test]
fn keeps_member_order_numbers_and_escapes() {
    let raw = r#"{"z":1,"a":[1.0,2e-5,123456789012345678901234567890],"s":"a\"b,{c}: \u00fc Zürich","e":{},"l":[ ]}"#;
    let expected = "{\n  \"z\": 1,\n  \"a\": [\n    1.0,\n    2e-5,\n    123456789012345678901234567890\n  ],\n  \"s\": \"a\\\"b,{c}: \\u00fc Zürich\",\n  \"e\": {},\n  \"l\": []\n}";
    assert_eq!(reindent(raw).as_deref(), Some(expected));
}

#[test]
fn colours_by_token_kind_and_escapes_c1_controls() {
    let raw = "{\"k\" : [\"v\u{9b}\", 1.5, true, null]}";
    let coloured = indent(raw, true).expect("valid");
    let key = "\u{1b}[1m\u{1b}[34m\"k\"\u{1b}[0m";
    assert!(
        coloured.starts_with(&format!("{{\n  {key}: [")),
        "{coloured:?}"
    );
    assert!(
        coloured.contains("\u{1b}[32m\"v\\u009b\"\u{1b}[0m"),
        "{coloured:?}"
    );
    assert!(coloured.contains("\u{1b}[36m1.5\u{1b}[0m"));
    assert!(coloured.contains("\u{1b}[33mtrue\u{1b}[0m"));
    assert!(coloured.contains("\u{1b}[2mnull\u{1b}[0m"));
    let plain = reindent(raw).expect("valid");
    assert_eq!(
        plain,
        "{\n  \"k\": [\n    \"v\\u009b\",\n    1.5,\n    true,\n    null\n  ]\n}"
    );
    let back: serde_json::Value = serde_json::from_str(&plain).expect("still JSON");
    assert_eq!(back["k"][0], "v\u{9b}");
}

#[test]
fn rejects_invalid_and_compacts() {
    assert_eq!(reindent("{\"a\":"), None);
    assert_eq!(reindent("null").as_deref(), Some("null"));
    assert_eq!(
        compact("{ \"a\" : [ 1 , \"x y\" ] }").as_deref(),
        Some("{\"a\":[1,\"x y\"]}")
    );
}

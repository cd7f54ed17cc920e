//! Unit tests of `json.rs`.
use super::*;

/// The indented document, or `None` when the text is not one JSON value within the depth
/// limit.
fn indent(text: &str, colour: bool) -> Option<String> {
    Checked::new(text)
        .ok()
        .map(|checked| checked.indent(colour))
}

#[test]
fn keeps_member_order_numbers_and_escapes() {
    let raw = r#"{"z":1,"a":[1.0,2e-5,123456789012345678901234567890],"s":"a\"b,{c}: \u00fc Zürich","e":{},"l":[ ]}"#;
    let expected = "{\n  \"z\": 1,\n  \"a\": [\n    1.0,\n    2e-5,\n    123456789012345678901234567890\n  ],\n  \"s\": \"a\\\"b,{c}: \\u00fc Zürich\",\n  \"e\": {},\n  \"l\": []\n}";
    assert_eq!(indent(raw, false).as_deref(), Some(expected));
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
    let plain = indent(raw, false).expect("valid");
    assert_eq!(
        plain,
        "{\n  \"k\": [\n    \"v\\u009b\",\n    1.5,\n    true,\n    null\n  ]\n}"
    );
    let back: serde_json::Value = serde_json::from_str(&plain).expect("still JSON");
    assert_eq!(back["k"][0], "v\u{9b}");
}

#[test]
fn rejects_invalid_and_compacts() {
    assert_eq!(indent("{\"a\":", false), None);
    assert_eq!(indent("null", false).as_deref(), Some("null"));
    assert_eq!(
        compact("{ \"a\" : [ 1 , \"x y\" ] }").as_deref(),
        Some("{\"a\":[1,\"x y\"]}")
    );
}

/// `n` arrays, one inside the other.
fn nested(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn the_depth_limit_is_serde_jsons_and_strings_do_not_count() {
    let deepest = nested(DEPTH_LIMIT - 1);
    assert!(!too_deep(&deepest));
    assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
    let over = nested(DEPTH_LIMIT);
    assert!(too_deep(&over));
    assert!(serde_json::from_str::<serde_json::Value>(&over).is_err());
    assert!(too_deep(&format!(r#"{{"a":{over}}}"#)));

    let brackets = format!(
        r#"["{}\"{}", {{"k\\":"[["}}]"#,
        "[".repeat(500),
        "{".repeat(500)
    );
    assert!(!too_deep(&brackets));
    assert!(indent(&brackets, false).is_some());
    // Side by side, not nested.
    assert!(!too_deep(&nested(100).repeat(50)));
}

#[test]
fn an_answer_nested_too_deep_is_not_indented() {
    assert!(matches!(Checked::new(&nested(30_000)), Err(Unfit::TooDeep)));
    assert_eq!(check(&nested(30_000)).ok(), Some(()), "valid all the same");
    // Deep and not JSON: named for what it is not.
    let cut_off = nested(30_000);
    assert!(matches!(
        Checked::new(&cut_off[..cut_off.len() - 1]),
        Err(Unfit::NotJson(_))
    ));
}

#[test]
fn bidirectional_overrides_in_strings_are_escaped_and_mean_the_same() {
    let raw = "{\"name\":\"file \u{202e}gnp.exe\"}";
    for printed in [
        indent(raw, false).expect("valid"),
        compact(raw).expect("valid"),
        escape_controls(raw).into_owned(),
    ] {
        assert!(printed.contains("file \\u202egnp.exe"), "{printed:?}");
        let back: serde_json::Value = serde_json::from_str(&printed).expect("still JSON");
        assert_eq!(back["name"], "file \u{202e}gnp.exe");
    }
}

#[test]
fn a_body_is_refused_when_a_value_would_change_it() {
    let refused = |text: &str| parse_body(text).expect_err(text);
    assert_eq!(
        refused(r#"{"name":"a","name":"b"}"#),
        r#"the body repeats the key "name" at /"#
    );
    assert_eq!(
        refused(r#"{"a":[{"x":1},{"x/~":1,"x/~":2}]}"#),
        r#"the body repeats the key "x/~" at /a/1"#
    );
    assert_eq!(
        refused(r#"{"s":"1e-400 \" 7","big":12345678901234567890123}"#),
        "the number 12345678901234567890123 at /big cannot be sent exactly (beyond 64-bit \
         integers)"
    );
    assert_eq!(
        refused(r#"{"a":[1,-0.0,{"x/y":1e-400}]}"#),
        "the number 1e-400 at /a/2/x~1y cannot be sent exactly (too small to be told from 0)"
    );
    assert_eq!(
        refused("-99999999999999999999"),
        "the number -99999999999999999999 at / cannot be sent exactly (beyond 64-bit integers)"
    );
    assert!(refused("{} x").contains("trailing characters"));
    assert!(refused("1e400").contains("out of range"));
}

#[test]
fn a_body_that_a_value_keeps_exactly_is_parsed() {
    let text = r#"{"b":[true,null,"e1",18446744073709551615,-9223372036854775808,0.0,0e5,1.5e-300],"a":{}}"#;
    let value = parse_body(text).expect("accepted");
    assert_eq!(
        value,
        serde_json::from_str::<serde_json::Value>(text).expect("json")
    );
}

#[test]
fn numbers_and_brackets_inside_strings_are_text() {
    let text = r#"{"a1":[1,-2.5e3,"3",true],"b":"x\"4[[","c":0}"#;
    assert_eq!(number_tokens(text), ["1", "-2.5e3", "0"]);
    let nested_in_text = format!("[\"{}\"]", "[".repeat(DEPTH_LIMIT * 2));
    assert!(!too_deep(&nested_in_text));
    assert!(too_deep(&"[".repeat(DEPTH_LIMIT)));
}

/// A document nested deep with many short members comes out over a hundred times its size
/// indented: it is handed on a piece at a time, never held whole.
#[test]
fn a_deep_document_is_indented_a_piece_at_a_time() {
    let text = format!(
        "{}{}0{}",
        "[".repeat(127),
        "0,".repeat(100_000),
        "]".repeat(127)
    );
    let checked = Checked::new(&text).expect("within the depth");
    let (mut largest, mut total, mut pieces) = (0, 0, 0);
    let written: Result<(), ()> = checked.indent_into(false, |piece| {
        largest = largest.max(piece.len());
        total += piece.len();
        pieces += 1;
        Ok(())
    });
    assert!(written.is_ok());
    assert!(
        total > 100 * text.len(),
        "{total} bytes from {}",
        text.len()
    );
    assert!(pieces > 10, "{pieces} pieces");
    assert!(largest < 2 << 20, "a piece of {largest} bytes");
    assert_eq!(
        total,
        Checked::new(&text)
            .expect("within the depth")
            .indent(false)
            .len()
    );
}

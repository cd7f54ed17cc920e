use std::borrow::Cow;

use super::*;

/// A lone surrogate's escape, high or low, becomes the replacement character's, in as many
/// bytes; a pair, an escaped backslash before `u`, and text outside strings stay as written.
#[test]
fn lone_surrogates_are_replaced_and_nothing_else() {
    let cases = [
        (r#"{"t":"\udce9"}"#, r#"{"t":"\ufffd"}"#),
        (r#"{"t":"a\uD800b"}"#, r#"{"t":"a\ufffdb"}"#),
        (
            r#"["\ud83d\ude00","\ude00\ud83d"]"#,
            r#"["\ud83d\ude00","\ufffd\ufffd"]"#,
        ),
        (r#"["\\udce9","\u00e9"]"#, r#"["\\udce9","\u00e9"]"#),
        (r#"{"\udce9":1}"#, r#"{"\ufffd":1}"#),
        (r#"["\ud800"#, r#"["\ufffd"#),
        ("[1, 2.5e3]", "[1, 2.5e3]"),
    ];
    for (text, expected) in cases {
        let replaced = lone_surrogates_replaced(text.as_bytes());
        assert_eq!(replaced, expected.as_bytes(), "{text}");
        assert_eq!(replaced.len(), text.len(), "{text}");
    }
    assert!(matches!(
        lone_surrogates_replaced(br#"{"plain":"text \u00e9"}"#),
        Cow::Borrowed(_)
    ));
}

/// A model whose text holds a lone surrogate reads with U+FFFD in its place; an answer that
/// does not fit is refused for what is wrong besides the surrogates, at its place.
#[test]
fn from_slice_reads_lone_surrogates_and_keeps_real_errors() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Named {
        name: String,
        size: u32,
    }
    let named: Named = from_slice(br#"{"name":"a\udce9b","size":3}"#).expect("readable");
    assert_eq!(
        named,
        Named {
            name: "a\u{fffd}b".to_owned(),
            size: 3
        }
    );
    let paired: Named = from_slice(br#"{"name":"\ud83d\ude00","size":1}"#).expect("a pair");
    assert_eq!(paired.name, "\u{1f600}");
    let unfit =
        from_slice::<Named>(br#"{"name":"a\udce9b","size":-1}"#).expect_err("a size below zero");
    let without = serde_json::from_slice::<Named>(br#"{"name":"a\ufffdb","size":-1}"#)
        .expect_err("refused for its size alone");
    assert_eq!(unfit.to_string(), without.to_string());
    assert!(!unfit.to_string().contains("surrogate"), "{unfit}");
    assert!(from_slice::<Named>(b"not json").is_err());
}

//! Unit tests of `yaml.rs`.
use super::*;

fn parse(text: &str) -> Ordered {
    Ordered::parse(text).expect("JSON").0
}

/// Asserts that the YAML of `json`, as printed (with a final line break), reads back with a
/// YAML library as the same value.
fn reads_back(json: &str) -> String {
    let text = yaml(&parse(json));
    let back: serde_json::Value = serde_norway::from_str(&format!("{text}\n"))
        .unwrap_or_else(|e| panic!("not YAML ({e}): {json} as\n{text}"));
    let expected: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(back, expected, "{json} as\n{text}");
    text
}

#[test]
fn an_ordinary_answer_is_laid_out_as_a_yaml_library_lays_it_out() {
    let text = reads_back(
        r#"{"z":1,"a":{"b":true,"c":[1,null,{"d":"x","e":[]}]},"f":[[1,2],[3]],"g":{},"h":"x\ny","i":"x\n","l":"a: b","o":"123","p":""}"#,
    );
    assert_eq!(
        text,
        "z: 1\na:\n  b: true\n  c:\n  - 1\n  - null\n  - d: x\n    e: []\nf:\n- - 1\n  - 2\n- - 3\ng: {}\nh: |-\n  x\n  y\ni: |\n  x\nl: 'a: b'\no: '123'\np: ''"
    );
    assert_eq!(
        reads_back(r#"[{"a":1},[1,[2]],"s",{}]"#),
        "- a: 1\n- - 1\n  - - 2\n- s\n- {}"
    );
    assert_eq!(reads_back(r#""x\ny""#), "|-\n  x\n  y");
    assert_eq!(reads_back("[]"), "[]");
    assert_eq!(reads_back("null"), "null");
}

#[test]
fn numbers_are_printed_as_the_server_wrote_them_and_stay_numbers() {
    let json = r#"{"big":123456789012345678901234567890,"pi":3.14159265358979323846264338327950288,"kept":1.50,"small":2e-5,"negative":-12345678901234567890123}"#;
    let text = yaml(&parse(json));
    assert_eq!(
        text,
        "big: 123456789012345678901234567890\npi: 3.14159265358979323846264338327950288\nkept: 1.50\nsmall: 2.0e-5\nnegative: -12345678901234567890123"
    );
    // Read as numbers (a string would be refused), rounded now by the reader's own choice.
    let back: std::collections::BTreeMap<String, f64> =
        serde_norway::from_str(&text).expect("YAML numbers");
    assert_eq!(back.len(), 5);
    assert_eq!(back.get("kept"), Some(&1.5));
}

/// Whether `plain` is a number in YAML 1.1's tag resolution (as PyYAML's resolver has it):
/// an integer, or a float with a `.` in its mantissa and, if it has an exponent, a sign in it.
fn yaml_1_1_number(plain: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = plain.strip_prefix(['-', '+']).unwrap_or(plain);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let exponent_ok = exponent.is_none_or(|e| e.strip_prefix(['-', '+']).is_some_and(digits));
    match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            digits(whole) && (fraction.is_empty() || digits(fraction)) && exponent_ok
        }
        None => digits(mantissa) && exponent.is_none(),
    }
}

#[test]
fn exponents_are_spelled_so_yaml_1_1_reads_a_float_with_the_same_digits() {
    let cases = [
        // Read as strings by YAML 1.1 as the server wrote them.
        ("1e-7", "1.0e-7"),
        ("1E3", "1.0E+3"),
        ("1.5e10", "1.5e+10"),
        ("1e300", "1.0e+300"),
        ("1e400", "1.0e+400"),
        ("-2E+5", "-2.0E+5"),
        ("0e0", "0.0e+0"),
        ("12345678901234567890e-3", "12345678901234567890.0e-3"),
        // Already YAML 1.1 floats, and integers and plain decimals: as written.
        ("1.5e-10", "1.5e-10"),
        ("-3.25E+2", "-3.25E+2"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
        ("-0.000", "-0.000"),
        ("1.50", "1.50"),
        ("0", "0"),
    ];
    for (json, expected) in cases {
        assert!(!yaml_1_1_number(json) || json == expected, "{json}");
        let written = yaml(&parse(json));
        assert_eq!(written, expected, "{json}");
        assert!(yaml_1_1_number(&written), "{json} as {written}");
        // YAML 1.2 reads the same number (serde_norway takes one past `f64` for a string).
        let sent: f64 = json.parse().expect("a number");
        if sent.is_finite() {
            let back: f64 = serde_norway::from_str(&written).expect("a YAML number");
            assert_eq!(back.to_bits(), sent.to_bits(), "{json} as {written}");
        }
    }
    assert_eq!(
        yaml(&parse(r#"{"a":[1e-7,{"b":1E3}]}"#)),
        "a:\n- 1.0e-7\n- b: 1.0E+3"
    );
}

#[test]
fn strings_a_plain_scalar_would_misread_are_quoted() {
    let tricky = [
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "true",
        "Null",
        "~",
        "",
        " ",
        "123",
        "-1",
        "1.5",
        "1e3",
        "0x1f",
        "1_000",
        "1:20",
        ".inf",
        ".nan",
        "2024-01-02",
        "2024-01-02T03:04:05Z",
        "a: b",
        "a:",
        "x # y",
        "#c",
        "&a",
        "*a",
        "*",
        "&",
        "!",
        "%x",
        "@x",
        "`x`",
        "!t",
        "|",
        ">",
        "%",
        "@",
        "`",
        "[a]",
        "{a}",
        ",",
        "?",
        "? x",
        ":",
        "- x",
        "-",
        "---",
        "...",
        "'q'",
        "\"d\"",
        "a ",
        " a",
        "\tx",
        "x\t",
        "=",
        "<<",
        "a\u{1b}b",
        "\u{85}",
        "\r",
        "a\r\nb",
        " lead\nx",
        "\nlead",
        "x\n\n",
        "x\n",
        "a\n\nb",
        "é",
        "-x",
        "/a/b",
        "_x",
        "it's",
        "a\\b",
        "\u{2028}",
    ];
    for s in tricky {
        let quoted = serde_json::to_string(s).expect("JSON");
        reads_back(&quoted);
        reads_back(&format!("{{{quoted}:{quoted}}}"));
        reads_back(&format!("[{quoted},{{{quoted}:[{quoted}]}}]"));
        reads_back(&format!("{{\"k\":{{{quoted}:{{\"x\":{quoted}}}}}}}"));
    }
    assert_eq!(yaml(&parse(r#"{"a":"plain words"}"#)), "a: plain words");
    assert_eq!(yaml(&parse(r#"{"a":"yes"}"#)), "a: 'yes'");
}

#[test]
fn a_long_key_is_written_as_an_explicit_key() {
    let long = "k".repeat(200);
    let text = reads_back(&format!(r#"{{"{long}":[1,2],"b":{{"{long}":{{"x":1}}}}}}"#));
    assert!(
        text.starts_with(&format!(
            "? {long}\n:\n  - 1\n  - 2\nb:\n  ? {long}\n  :\n    x: 1"
        )),
        "{text}"
    );
}

#[test]
fn escape_sequences_are_written_as_escapes() {
    let text = reads_back(r#"{"k\u001b]0;x\u0007":"a\u001b[2Jb\u009b"}"#);
    assert_eq!(text, r#""k\u001b]0;x\u0007": "a\u001b[2Jb\u009b""#);
}

#[test]
fn bidirectional_formatting_characters_are_written_as_escapes() {
    let json = r#"{"k\u202e":"a\u202eb\u2066c\u2069\u200f","list":["x\u061cy","\u202a\u202b\u202c\u202d\u2067\u2068\u200e"],"lines":"a\u202e\nb"}"#;
    let text = reads_back(json);
    assert!(
        !text.contains(|c| crate::paint::steers(c) && c != '\n'),
        "{text:?}"
    );
    assert_eq!(
        text,
        r#""k\u202e": "a\u202eb\u2066c\u2069\u200f"
list:
- "x\u061cy"
- "\u202a\u202b\u202c\u202d\u2067\u2068\u200e"
lines: "a\u202e\nb""#
    );
}

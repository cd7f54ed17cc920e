//! Unit tests of `idempotency.rs`.
use super::fingerprint;
use serde_json::json;

#[test]
fn fingerprints_ignore_member_order_and_number_notation_but_nothing_else() {
    let a = fingerprint(&json!({"a": 1, "b": [true, null, "x"]}));
    assert_eq!(a, fingerprint(&json!({"b": [true, null, "x"], "a": 1})));
    assert_eq!(a, fingerprint(&json!({"a": 1.0, "b": [true, null, "x"]})));
    for other in [
        json!({"a": 2, "b": [true, null, "x"]}),
        json!({"a": 1, "b": [null, true, "x"]}),
        json!({"a": 1, "b": [true, null, "x"], "c": null}),
        json!({"a": "1", "b": [true, null, "x"]}),
        json!({"a": 1.5, "b": [true, null, "x"]}),
    ] {
        assert_ne!(a, fingerprint(&other), "{other}");
    }
    // Lengths are part of the input, so neighbouring strings cannot trade characters.
    assert_ne!(
        fingerprint(&json!(["ab", "c"])),
        fingerprint(&json!(["a", "bc"]))
    );
}

/// Equal numbers are one number however they are written; integers keep every digit.
#[test]
fn numbers_compare_by_value_without_rounding_integers() {
    let print = |text: &str| fingerprint(&serde_json::from_str(text).expect("JSON"));
    for (a, b) in [
        ("10", "10.0"),
        ("10", "1e1"),
        ("10", "1.0E+1"),
        ("0", "-0.0"),
        ("-7", "-7.000"),
        ("0.5", "5e-1"),
        ("18446744073709549568", "18446744073709549568.0"),
        ("-9223372036854775808", "-9223372036854775808.0"),
    ] {
        assert_eq!(print(a), print(b), "{a} and {b}");
    }
    for (a, b) in [
        // 2^53 + 1 and 2^53, which one float cannot tell apart.
        ("9007199254740993", "9007199254740992"),
        ("9007199254740993", "9007199254740992.0"),
        ("18446744073709551615", "18446744073709551615.0"),
        ("10", "10.5"),
        ("1", "-1"),
    ] {
        assert_ne!(print(a), print(b), "{a} and {b}");
    }
}

/// A claim past its day is gone where it is asked for, also between the sweeps that drop
/// such claims once a minute: the key runs again with any body.
#[test]
fn a_claim_past_its_day_is_gone_between_sweeps() {
    use super::{Begin, Claims, IDEMPOTENCY_RETENTION_MS};
    let mut claims = Claims::default();
    let slot = |key: &str| ("org_a".to_owned(), "orders.place", key.to_owned());
    let reply = crate::error::Reply {
        status: axum::http::StatusCode::OK,
        content_type: "application/json",
        headers: Vec::new(),
        body: bytes::Bytes::from_static(b"{}"),
    };
    assert!(matches!(
        claims.begin(&slot("a"), "key_1", [1; 32], 0),
        Ok(Begin::Run)
    ));
    assert!(claims.settle(&slot("a"), &reply));
    // A sweep half a minute before the claim's day ends, which keeps it.
    let swept = IDEMPOTENCY_RETENTION_MS - 30_000;
    assert!(matches!(
        claims.begin(&slot("b"), "key_1", [2; 32], swept),
        Ok(Begin::Run)
    ));
    assert!(claims.begin(&slot("a"), "key_1", [3; 32], swept).is_err());
    // Past its day, before the next sweep: another body runs.
    let after = IDEMPOTENCY_RETENTION_MS + 10_000;
    assert!(matches!(
        claims.begin(&slot("a"), "key_1", [3; 32], after),
        Ok(Begin::Run)
    ));
}

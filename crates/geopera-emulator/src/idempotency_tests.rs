//! Unit tests of `idempotency.rs`.
use super::fingerprint;
use serde_json::json;

#[test]
fn fingerprints_ignore_member_order_but_nothing_else() {
    let a = fingerprint(&json!({"a": 1, "b": [true, null, "x"]}));
    assert_eq!(a, fingerprint(&json!({"b": [true, null, "x"], "a": 1})));
    for other in [
        json!({"a": 2, "b": [true, null, "x"]}),
        json!({"a": 1, "b": [null, true, "x"]}),
        json!({"a": 1, "b": [true, null, "x"], "c": null}),
        json!({"a": "1", "b": [true, null, "x"]}),
        json!({"a": 1.0, "b": [true, null, "x"]}),
    ] {
        assert_ne!(a, fingerprint(&other), "{other}");
    }
    // Lengths are part of the input, so neighbouring strings cannot trade characters.
    assert_ne!(
        fingerprint(&json!(["ab", "c"])),
        fingerprint(&json!(["a", "bc"]))
    );
}

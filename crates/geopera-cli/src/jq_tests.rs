//! Unit tests of `jq.rs`.
use super::*;

#[test]
fn a_program_selects_and_keeps_numbers_and_order() {
    let out = run(
        "[.features[] | {id, n: .n}]",
        r#"{"features":[{"n":12345678901234567890,"id":"a"},{"id":"b","n":1.50}]}"#,
    )
    .expect("runs");
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("12345678901234567890"), "{}", out[0]);
    assert!(run(".x |", "{}").is_err());
    assert!(check("nosuchfunction(1)").is_err());
    assert!(check(".features | map(.id) | length").is_ok());
}

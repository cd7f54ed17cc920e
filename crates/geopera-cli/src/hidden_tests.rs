//! Unit tests of `hidden.rs`.
use super::*;

#[test]
fn noted_credentials_are_replaced_and_short_ones_are_not_looked_for() {
    hide("gpra_0123456789abcdef");
    hide("gpra_0123456789abcdef-longer");
    hide("short");
    assert_eq!(
        redacted("bad key gpra_0123456789abcdef-longer, was gpra_0123456789abcdef"),
        "bad key [redacted], was [redacted]"
    );
    assert_eq!(redacted("a short word"), "a short word");
    assert!(matches!(redacted("nothing here"), Cow::Borrowed(_)));
}

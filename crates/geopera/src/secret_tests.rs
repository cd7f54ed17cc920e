//! Unit tests of `secret.rs`.
use super::*;

#[test]
fn debug_never_shows_the_value() {
    let secret = Secret::new("gpra_live_abcdef".into());
    assert!(!format!("{secret:?}").contains("gpra_live"));
}

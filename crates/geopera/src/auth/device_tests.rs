//! Unit tests of `device.rs`.
use super::*;

#[test]
fn the_challenge_is_the_unpadded_base64url_sha256_of_the_verifier() {
    // SHA-256("abc") is ba7816bf…f20015ad (FIPS 180-2, appendix B.1), in base64url.
    assert_eq!(
        code_challenge("abc"),
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    );
}

#[test]
fn verifiers_are_long_and_fresh() {
    let (a, b) = (code_verifier().expect("a"), code_verifier().expect("b"));
    assert_eq!(a.len(), 43);
    assert_ne!(a, b);
}

//! Unit tests of `records.rs`.
use super::*;

#[test]
fn signatures_are_hmac_sha256_of_the_body() {
    // RFC 4231 test case 2.
    let secret = SigningSecret("Jefe".to_owned());
    assert_eq!(
        secret.sign(b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(format!("{secret:?}"), "SigningSecret([redacted])");
}

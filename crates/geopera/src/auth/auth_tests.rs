//! Unit tests of the `auth` module (`auth/mod.rs`).
use super::*;

#[test]
fn a_credential_never_shows_its_secret() {
    for credential in [
        Credential::bearer("gpra_live_secret"),
        Credential::api_key("gpra_live_secret"),
    ] {
        let shown = format!("{credential:?}");
        assert!(!shown.contains("gpra_live_secret"), "{shown}");
    }
}

#[test]
fn credentials_travel_in_their_own_header() {
    let (name, value) = Credential::api_key("gpra_k").header().expect("a header");
    assert_eq!(name, "x-api-key");
    assert!(value.is_sensitive());
    let (name, value) = Credential::bearer("tok").header().expect("a header");
    assert_eq!(name, AUTHORIZATION);
    assert_eq!(value, "Bearer tok");
    assert!(Credential::bearer("bad\nvalue").header().is_err());
}

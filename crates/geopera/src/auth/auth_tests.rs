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

#[test]
fn a_credential_with_white_space_inside_is_refused_and_a_pasted_scheme_is_named() {
    for secret in ["Bearer gpra_pasted_0123", "bearer\tgpra_pasted_0123"] {
        for credential in [Credential::bearer(secret), Credential::api_key(secret)] {
            let err = credential.header().expect_err("refused");
            assert_eq!(err.kind(), crate::ErrorKind::Config);
            let shown = err.to_string();
            assert!(shown.contains("`Bearer`: give the token alone"), "{shown}");
            assert!(!shown.contains("gpra_pasted_0123"), "{shown}");
        }
    }
    let err = Credential::bearer("gpra_one gpra_two")
        .header()
        .expect_err("refused");
    assert!(err.to_string().contains("white space inside it"), "{err}");
    // Space at the edges is left as before: a header value's edges are not part of it.
    assert!(Credential::bearer(" gpra_edges ").header().is_ok());
}

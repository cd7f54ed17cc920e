//! Unit tests of `oidc.rs`.
use super::*;

#[test]
fn endpoints_hang_off_the_realm() {
    let oidc = Oidc::for_base_url("http://127.0.0.1:8787/").expect("a provider");
    assert_eq!(oidc.issuer(), "http://127.0.0.1:8787/realms/public");
    assert_eq!(
        oidc.endpoint("token"),
        "http://127.0.0.1:8787/realms/public/protocol/openid-connect/token"
    );
    assert!(Oidc::new("ftp://example.com").is_err());
    assert!(Oidc::new("not a url").is_err());
    let err = Oidc::for_base_url("http://user:hunter2@127.0.0.1:8787").expect_err("refused");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
}

#[test]
fn a_refusal_never_repeats_the_secrets_sent() {
    let error = sign_in_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        Some("token rt_secret_1 is not active".into()),
        &["rt_secret_1"],
    );
    let text = error.to_string();
    assert!(!text.contains("rt_secret_1"), "{text}");
    assert!(text.contains("invalid_grant"), "{text}");
}

#[test]
fn a_token_set_hides_its_tokens() {
    let set = TokenSet::new(
        "at_secret",
        Some("rt_secret".into()),
        SystemTime::UNIX_EPOCH,
    );
    let shown = format!("{set:?}");
    assert!(
        !shown.contains("at_secret") && !shown.contains("rt_secret"),
        "{shown}"
    );
}

#[test]
fn a_short_secret_never_cuts_into_the_mark_of_another() {
    let error = sign_in_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        Some("refresh gpra_0123456789 with password e".into()),
        &["gpra_0123456789", "e"],
    );
    let Error::SignIn { description, .. } = error else {
        panic!("a sign-in error, not {error:?}");
    };
    assert_eq!(
        description.as_deref(),
        Some("r[redacted]fr[redacted]sh [redacted] with password [redacted]")
    );
}

//! Unit tests of the `oidc` module (`oidc/mod.rs`).
use super::*;

#[test]
fn repeated_parameters_are_refused_and_empty_ones_ignored() {
    let error = Form::parse(b"grant_type=password&grant_type=password")
        .err()
        .expect("repeat refused");
    assert_eq!(error.error, "invalid_request");
    let form = Form::parse(b"scope=&client_id=geopera-cli").expect("parsed");
    assert_eq!(form.get("scope"), None);
    assert_eq!(form.get("client_id"), Some("geopera-cli"));
}

#[test]
fn permission_scopes_narrow_and_never_widen() {
    let held = vec!["orders:*".to_owned()];
    let (scope, grants) = grant_scope(Some("openid orders:read"), &held).expect("narrowed");
    assert_eq!(scope, "openid orders:read");
    assert_eq!(grants, ["orders:read"]);
    let error = grant_scope(Some("catalog:read"), &held).expect_err("wider");
    assert_eq!(error.error, "invalid_scope");
    let (scope, grants) = grant_scope(None, &held).expect("default");
    assert_eq!(scope, DEFAULT_SCOPE);
    assert_eq!(grants, held);
}

#[test]
fn form_decoding_reads_as_the_url_standard_does_but_refuses_what_is_not_utf8() {
    for raw in [
        "a+b%20c",
        "%2B%25%26%3D",
        "100%",
        "%zz%4",
        "%e2%82%ac%E2%82%AC",
        "caf%C3%A9",
        "",
    ] {
        let standard: String = form_urlencoded::parse(format!("v={raw}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        assert_eq!(form_decode(raw.as_bytes()), Some(standard), "{raw}");
    }
    for raw in [&b"%FF"[..], b"%C3", b"\xFF", b"%E2%82", b"%ED%A0%80"] {
        assert_eq!(form_decode(raw), None, "{raw:?}");
    }
}

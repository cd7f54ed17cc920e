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

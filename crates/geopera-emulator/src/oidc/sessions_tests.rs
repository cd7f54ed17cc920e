//! Unit tests of `sessions.rs`.
use super::*;

fn user() -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: "usr_admin".to_owned(),
        name: "admin".to_owned(),
        org: "org_demo".to_owned(),
        grants: vec!["*".to_owned()],
        key_limit: None,
        inherited_limits: Vec::new(),
        key_expires_at: None,
    }
}

#[test]
fn a_replayed_refresh_token_ends_the_family() {
    let mut sessions = Sessions::default();
    let first = sessions
        .start(
            user(),
            "geopera-cli",
            "openid".into(),
            GrantKind::Password,
            true,
            0,
        )
        .expect("started");
    let old = first.refresh_token.expect("refresh token");
    let second = sessions
        .refresh(&old, "geopera-cli", None, 1_000)
        .expect("rotated");
    let error = sessions
        .refresh(&old, "geopera-cli", None, 2_000)
        .expect_err("replay refused");
    assert_eq!(error.error, "invalid_grant");
    assert!(error.tells_of_revocation);
    let newest = second.refresh_token.expect("refresh token");
    assert!(sessions
        .refresh(&newest, "geopera-cli", None, 3_000)
        .is_err());
    assert_eq!(
        sessions.authenticate(&second.access_token, 3).err(),
        Some(Rejected::Unknown)
    );
}

#[test]
fn sessions_per_principal_are_bounded() {
    let mut sessions = Sessions::default();
    for n in 0..(MAX_SESSIONS_PER_PRINCIPAL as i64 + 5) {
        sessions
            .start(
                user(),
                "geopera-cli",
                "openid".into(),
                GrantKind::Password,
                true,
                n,
            )
            .expect("started");
    }
    assert_eq!(sessions.families.len(), MAX_SESSIONS_PER_PRINCIPAL);
    assert_eq!(sessions.access.len(), MAX_SESSIONS_PER_PRINCIPAL);
}

#[test]
fn pkce_checks_the_rfc_7636_example() {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert!(pkce_matches(
        verifier,
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    ));
    assert!(!pkce_matches(
        verifier,
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
    ));
    assert!(!pkce_matches(
        "short",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    ));
}

#[test]
fn user_codes_are_read_forgivingly() {
    assert_eq!(normalize_user_code("wdjb mjht"), "WDJB-MJHT");
    assert_eq!(normalize_user_code("WDJB-MJHT"), "WDJB-MJHT");
}

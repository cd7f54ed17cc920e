//! Signing in: every grant, refresh rotation and reuse detection, lifetimes on the emulator's
//! clock, the device flow with PKCE, userinfo, logout, discovery and the control endpoints.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use geopera_emulator::{Emulator, RateLimits, User};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::common::{Api, Resp};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub(crate) const SEARCH: fn() -> Value = || json!({"host_name": "earthsearch-aws", "limit": 1});

fn realm(api: &Api, endpoint: &str) -> String {
    format!(
        "{}/realms/public/protocol/openid-connect/{endpoint}",
        api.emu.base_url()
    )
}

fn read(response: reqwest::blocking::Response) -> Resp {
    Resp::read(response).expect("answer read")
}

pub(crate) fn post_form(api: &Api, endpoint: &str, form: &[(&str, &str)]) -> Resp {
    read(
        api.http
            .post(realm(api, endpoint))
            .form(form)
            .send()
            .expect("request completes"),
    )
}

pub(crate) fn token(api: &Api, form: &[(&str, &str)]) -> Resp {
    post_form(api, "token", form)
}

/// A `client_credentials` token request for the API key `key`, as the key client.
pub(crate) fn key_token(api: &Api, key: &str) -> Resp {
    token(
        api,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "geopera"),
            ("client_secret", key),
        ],
    )
}

pub(crate) fn password_login(api: &Api, username: &str, password: &str) -> Value {
    let resp = token(
        api,
        &[
            ("grant_type", "password"),
            ("client_id", "geopera-cli"),
            ("username", username),
            ("password", password),
        ],
    );
    assert_eq!(
        resp.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    resp.json()
}

pub(crate) fn refresh(api: &Api, refresh_token: &str) -> Resp {
    token(
        api,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "geopera-cli"),
            ("refresh_token", refresh_token),
        ],
    )
}

pub(crate) fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {value}"))
}

/// An OAuth error answer: JSON (never problem+json) with this status and `error`.
fn assert_oauth_error(resp: &Resp, status: u16, error: &str) {
    assert_eq!(
        resp.status,
        status,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(resp.content_type(), "application/json");
    let body = resp.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

fn controlled() -> Api {
    Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .control(true),
    )
}

fn advance(api: &Api, secs: u64) {
    let resp = read(
        api.http
            .post(format!("{}/_emulator/clock", api.emu.base_url()))
            .json(&json!({"advance_seconds": secs}))
            .send()
            .expect("clock moves"),
    );
    assert_eq!(resp.status, 200);
}

fn control_counters(api: &Api) -> Value {
    let resp = read(
        api.http
            .get(format!("{}/_emulator/oidc/counters", api.emu.base_url()))
            .send()
            .expect("counters"),
    );
    assert_eq!(resp.status, 200);
    resp.json()
}

#[test]
fn password_grant_answers_tokens_that_act_with_the_users_scopes() {
    let api = Api::start();
    let admin = password_login(&api, "admin", "admin-password");
    assert_eq!(admin["token_type"], "Bearer");
    assert_eq!(admin["expires_in"], 300);
    assert_eq!(admin["refresh_expires_in"], 1800);
    assert_eq!(admin["scope"], "openid profile");
    let access = text(&admin, "access_token");
    assert!(!access.starts_with("gpra_"));
    assert!(text(&admin, "refresh_token").len() > 40);
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 200);
    let create = json!({"name": "from a session", "permissions": ["catalog:read"]});
    assert_eq!(
        api.call_as(access, "api_keys.create", create.clone())
            .status,
        200
    );

    let viewer = password_login(&api, "viewer", "viewer-password");
    let access = text(&viewer, "access_token");
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 200);
    let refused = api.call_as(access, "api_keys.create", create);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.content_type(), "application/problem+json");

    let wrong = token(
        &api,
        &[
            ("grant_type", "password"),
            ("client_id", "geopera-cli"),
            ("username", "admin"),
            ("password", "nope"),
        ],
    );
    assert_oauth_error(&wrong, 400, "invalid_grant");
    assert_eq!(wrong.header("cache-control"), Some("no-store"));
    assert_eq!(api.emu.oidc_counters().password_grants, 2);
}

#[test]
fn a_requested_permission_scope_narrows_the_session() {
    let api = Api::start();
    let resp = token(
        &api,
        &[
            ("grant_type", "password"),
            ("client_id", "geopera-cli"),
            ("username", "admin"),
            ("password", "admin-password"),
            ("scope", "openid orders:read"),
        ],
    );
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["scope"], "openid orders:read");
    let access = text(&body, "access_token");
    assert_eq!(api.call_as(access, "orders.list", json!({})).status, 200);
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 403);

    let wider = token(
        &api,
        &[
            ("grant_type", "password"),
            ("client_id", "geopera-cli"),
            ("username", "viewer"),
            ("password", "viewer-password"),
            ("scope", "orders:write"),
        ],
    );
    assert_oauth_error(&wider, 400, "invalid_scope");
}

#[test]
fn builder_users_sign_in_in_their_own_organization() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .users([User::new("ops", "pw-ops")
                .org("org_ops")
                .grants(&["orders:*"])]),
    );
    let resp = token(
        &api,
        &[
            ("grant_type", "password"),
            ("client_id", "geopera-cli"),
            ("username", "admin"),
            ("password", "admin-password"),
        ],
    );
    assert_oauth_error(&resp, 400, "invalid_grant");
    let ops = password_login(&api, "ops", "pw-ops");
    let info = read(
        api.http
            .get(realm(&api, "userinfo"))
            .bearer_auth(text(&ops, "access_token"))
            .send()
            .expect("userinfo"),
    );
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["sub"], "usr_ops");
    assert_eq!(info["geopera_org_id"], "org_ops");
    assert_eq!(info["geopera_principal_type"], "user");
    assert_eq!(info["preferred_username"], "ops");
}

#[test]
fn client_credentials_acts_as_the_api_key_without_a_refresh_token() {
    let api = Api::start();
    let key = api.emu.create_key(&["catalog:read"]);
    let resp = key_token(&api, &key);
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["expires_in"], 300);
    let access = text(&body, "access_token");
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 200);
    assert_eq!(api.call_as(access, "orders.list", json!({})).status, 403);
    let info = read(
        api.http
            .get(realm(&api, "userinfo"))
            .bearer_auth(access)
            .send()
            .expect("userinfo"),
    )
    .json();
    assert_eq!(info["geopera_principal_type"], "api_key");
    assert_eq!(info["geopera_org_id"], "org_demo");
    assert!(text(&info, "sub").starts_with("key_"));

    // HTTP Basic works the same.
    let basic = read(
        api.http
            .post(realm(&api, "token"))
            .basic_auth("geopera", Some(api.emu.api_key()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .expect("token"),
    );
    assert_eq!(basic.status, 200);

    let wrong = key_token(&api, "gpra_not_a_key");
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert!(wrong.header("www-authenticate").is_some());
    let public = token(
        &api,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "geopera-cli"),
        ],
    );
    assert_oauth_error(&public, 400, "unauthorized_client");
    assert_eq!(api.emu.oidc_counters().client_credentials_grants, 2);
}

/// Revoking a key ends the sessions signed in with it: its access token stops working at
/// once, so a session cannot outlive the key, let alone mint a new key after it.
#[test]
fn a_client_credentials_token_ends_when_its_key_expires() {
    let api = Api::start();
    let created = api.ok(
        "api_keys.create",
        json!({"name": "short", "permissions": ["*"], "expires_in_days": 1}),
    );
    let key = text(&created, "key").to_owned();
    api.emu
        .clock()
        .advance(std::time::Duration::from_secs(86_400 - 100));
    let resp = key_token(&api, &key);
    assert_eq!(resp.status, 200);
    let body = resp.json();
    // The token says it lives only as long as the key it stands for.
    assert_eq!(body["expires_in"], 100, "{body}");
    let access = text(&body, "access_token").to_owned();
    let userinfo = |token: &str| {
        read(
            api.http
                .get(realm(&api, "userinfo"))
                .bearer_auth(token)
                .send()
                .expect("userinfo"),
        )
        .status
    };
    assert_eq!(api.call_as(&access, "catalog.search", SEARCH()).status, 200);
    assert_eq!(userinfo(&access), 200);

    api.emu.clock().advance(std::time::Duration::from_secs(100));
    assert_eq!(api.call_as(&key, "catalog.search", SEARCH()).status, 401);
    let expired = api.call_as(&access, "catalog.search", SEARCH());
    assert_eq!(expired.status, 401, "{:?}", expired.body);
    assert_eq!(userinfo(&access), 401);
    assert_oauth_error(&key_token(&api, &key), 401, "invalid_client");
}

#[test]
fn revoking_a_key_ends_the_sessions_signed_in_with_it() {
    let api = Api::start();
    let key = api.emu.create_key(&["api_keys:*"]);
    let other = api.emu.create_key(&["api_keys:*"]);
    let sign_in = |secret: &str| {
        let resp = key_token(&api, secret);
        assert_eq!(resp.status, 200);
        text(&resp.json(), "access_token").to_owned()
    };
    let access = sign_in(&key);
    let untouched = sign_in(&other);
    let list = || json!({});
    assert_eq!(api.call_as(&access, "api_keys.list", list()).status, 200);
    let info = read(
        api.http
            .get(realm(&api, "userinfo"))
            .bearer_auth(&access)
            .send()
            .expect("userinfo"),
    )
    .json();
    let key_id = text(&info, "sub").to_owned();
    let revoked = api.call_as(
        api.emu.api_key(),
        "api_keys.revoke",
        json!({"key_id": key_id}),
    );
    assert_eq!(revoked.status, 200);
    assert_eq!(api.call_as(&access, "api_keys.list", list()).status, 401);
    let minted = api.call_as(&access, "api_keys.create", json!({"name": "escape"}));
    assert_eq!(minted.status, 401, "no key minted after the revocation");
    assert_eq!(
        api.call_as(&untouched, "api_keys.list", list()).status,
        200,
        "another key's session goes on"
    );
}

/// The family half of a refresh token is the same in every token of the session, so anyone
/// who once saw one knows it: a token made up from it is refused and ends nothing, where only
/// a token the session really rotated away, presented again, is a replay that ends it.
#[test]
fn a_made_up_refresh_token_of_a_live_session_ends_nothing() {
    let api = Api::start();
    let first = password_login(&api, "admin", "admin-password");
    let refresh_token = text(&first, "refresh_token");
    let (family, _) = refresh_token
        .split_once('.')
        .expect("a family key and a secret");
    let made_up = format!("{family}.{}", "x".repeat(43));
    assert_oauth_error(&refresh(&api, &made_up), 400, "invalid_grant");
    assert_eq!(api.emu.oidc_counters().refresh_reuse_detected, 0);
    let access = text(&first, "access_token");
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 200);
    let rotated = refresh(&api, refresh_token);
    assert_eq!(rotated.status, 200, "the session goes on");
    // The token it rotated away is a replay.
    assert_oauth_error(&refresh(&api, refresh_token), 400, "invalid_grant");
    assert_eq!(api.emu.oidc_counters().refresh_reuse_detected, 1);
    let rotated = rotated.json();
    assert_oauth_error(
        &refresh(&api, text(&rotated, "refresh_token")),
        400,
        "invalid_grant",
    );
}

#[test]
fn refresh_rotates_and_a_replayed_token_revokes_the_family() {
    let api = Api::start();
    let first = password_login(&api, "admin", "admin-password");
    let old_refresh = text(&first, "refresh_token");
    let second = refresh(&api, old_refresh);
    assert_eq!(second.status, 200);
    let second = second.json();
    let new_refresh = text(&second, "refresh_token");
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(text(&second, "access_token"), text(&first, "access_token"));
    let live = text(&second, "access_token");
    assert_eq!(api.call_as(live, "catalog.search", SEARCH()).status, 200);

    assert_oauth_error(&refresh(&api, old_refresh), 400, "invalid_grant");
    // The live descendant is gone with its family: it neither refreshes nor authenticates.
    assert_oauth_error(&refresh(&api, new_refresh), 400, "invalid_grant");
    let after = api.call_as(live, "catalog.search", SEARCH());
    assert_eq!(after.status, 401);
    assert_eq!(after.content_type(), "application/problem+json");

    let counters = api.emu.oidc_counters();
    assert_eq!(counters.refresh_grants, 1);
    assert_eq!(counters.refresh_reuse_detected, 1);
    assert_eq!(counters.token_errors, 2);

    let other_client = password_login(&api, "admin", "admin-password");
    let resp = token(
        &api,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "geopera"),
            ("refresh_token", text(&other_client, "refresh_token")),
        ],
    );
    assert_oauth_error(&resp, 400, "unauthorized_client");
    assert_oauth_error(&refresh(&api, "garbage"), 400, "invalid_grant");
}

#[test]
fn lifetimes_run_on_the_emulators_clock() {
    let api = controlled();
    let login = password_login(&api, "admin", "admin-password");
    let access = text(&login, "access_token");
    advance(&api, 299);
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 200);
    advance(&api, 1);
    let expired = api.call_as(access, "catalog.search", SEARCH());
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json()["title"], "Unauthenticated");

    let renewed = refresh(&api, text(&login, "refresh_token"));
    assert_eq!(renewed.status, 200);
    let renewed = renewed.json();
    assert_eq!(
        api.call_as(text(&renewed, "access_token"), "catalog.search", SEARCH())
            .status,
        200
    );
    // Each refresh gives the new refresh token its full 1,800 s.
    advance(&api, 1_799);
    let again = refresh(&api, text(&renewed, "refresh_token"));
    assert_eq!(again.status, 200);
    let again = again.json();
    advance(&api, 1_800);
    assert_oauth_error(
        &refresh(&api, text(&again, "refresh_token")),
        400,
        "invalid_grant",
    );

    let counters = control_counters(&api);
    assert_eq!(counters["refresh_grants"], 2);
    assert_eq!(counters["password_grants"], 1);
    let clock = read(
        api.http
            .get(format!("{}/_emulator/clock", api.emu.base_url()))
            .send()
            .expect("clock"),
    )
    .json();
    assert_eq!(
        clock["unix_seconds"],
        geopera_emulator::DEFAULT_START_UNIX_SECS + 299 + 1 + 1_799 + 1_800
    );
}

pub(crate) fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) fn start_device(api: &Api, challenge: &str) -> Value {
    let resp = post_form(
        api,
        "auth/device",
        &[
            ("client_id", "geopera-cli"),
            ("scope", "openid profile"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_eq!(
        resp.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    resp.json()
}

pub(crate) fn poll(api: &Api, device: &Value, verifier: &str) -> Resp {
    token(
        api,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", "geopera-cli"),
            ("device_code", text(device, "device_code")),
            ("code_verifier", verifier),
        ],
    )
}

#[test]
fn device_flow_waits_slows_down_and_signs_in_once_approved() {
    let api = controlled();
    let (verifier, challenge) = pkce();
    let device = start_device(&api, &challenge);
    let user_code = text(&device, "user_code");
    assert_eq!(device["interval"], 5);
    assert_eq!(device["expires_in"], 600);
    let page = text(&device, "verification_uri");
    assert_eq!(page, format!("{}/realms/public/device", api.emu.base_url()));
    assert_eq!(
        device["verification_uri_complete"],
        format!("{page}?user_code={user_code}")
    );

    assert_oauth_error(
        &poll(&api, &device, &verifier),
        400,
        "authorization_pending",
    );
    // Again at once: too fast, and the interval grows by five seconds.
    assert_oauth_error(&poll(&api, &device, &verifier), 400, "slow_down");
    // Five seconds later is still too soon for the new ten-second interval: now fifteen.
    advance(&api, 5);
    assert_oauth_error(&poll(&api, &device, &verifier), 400, "slow_down");
    advance(&api, 15);
    assert_oauth_error(
        &poll(&api, &device, &verifier),
        400,
        "authorization_pending",
    );

    let approve = read(
        api.http
            .post(format!("{}/_emulator/device/approve", api.emu.base_url()))
            .json(&json!({"user_code": user_code.to_lowercase(), "username": "viewer"}))
            .send()
            .expect("approve"),
    );
    assert_eq!(approve.status, 200);
    advance(&api, 15);
    let signed_in = poll(&api, &device, &verifier);
    assert_eq!(signed_in.status, 200);
    let signed_in = signed_in.json();
    assert_eq!(signed_in["scope"], "openid profile");
    assert!(signed_in["refresh_token"].is_string());
    let access = text(&signed_in, "access_token");
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 200);
    assert_eq!(
        api.call_as(access, "api_keys.create", json!({"name": "x"}))
            .status,
        403
    );
    // A device code signs in once.
    advance(&api, 30);
    assert_oauth_error(&poll(&api, &device, &verifier), 400, "invalid_grant");
    let counters = api.emu.oidc_counters();
    assert_eq!(counters.device_authorizations, 1);
    assert_eq!(counters.device_code_grants, 1);
}

#[test]
fn device_flow_reports_denied_expired_and_pkce_mismatch() {
    let api = Api::start();
    let (verifier, challenge) = pkce();

    let denied = start_device(&api, &challenge);
    assert!(api.emu.deny_device(text(&denied, "user_code")));
    assert_oauth_error(&poll(&api, &denied, &verifier), 400, "access_denied");

    let expired = start_device(&api, &challenge);
    api.emu.clock().advance(Duration::from_secs(600));
    assert_oauth_error(&poll(&api, &expired, &verifier), 400, "expired_token");
    assert!(!api.emu.deny_device(text(&expired, "user_code")));

    let mismatched = start_device(&api, &challenge);
    let approved = api
        .emu
        .approve_device(text(&mismatched, "user_code"), "admin")
        .expect("admin exists");
    assert!(approved);
    let wrong_verifier = URL_SAFE_NO_PAD.encode([8u8; 32]);
    assert_oauth_error(
        &poll(&api, &mismatched, &wrong_verifier),
        400,
        "invalid_grant",
    );
    // The failed verification used the device code up.
    api.emu.clock().advance(Duration::from_secs(10));
    assert_oauth_error(&poll(&api, &mismatched, &verifier), 400, "invalid_grant");
    assert!(api.emu.approve_device("BCDF-GHJK", "nobody").is_err());

    let missing = post_form(
        &api,
        "auth/device",
        &[("client_id", "geopera-cli"), ("scope", "openid")],
    );
    assert_oauth_error(&missing, 400, "invalid_request");
    let plain = post_form(
        &api,
        "auth/device",
        &[
            ("client_id", "geopera-cli"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "plain"),
        ],
    );
    assert_oauth_error(&plain, 400, "invalid_request");
    let unknown = post_form(
        &api,
        "auth/device",
        &[
            ("client_id", "someone"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_oauth_error(&unknown, 401, "invalid_client");
}

#[test]
fn the_verification_page_answers_head_as_get_without_the_body() {
    let api = Api::start();
    let page = format!(
        "{}/realms/public/device?user_code=ABCD-EFGH",
        api.emu.base_url()
    );
    let get = api.http.get(&page).send().expect("GET");
    let head = api.http.head(&page).send().expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers().get("content-type"),
        get.headers().get("content-type")
    );
    assert_eq!(
        head.headers().get("x-frame-options"),
        get.headers().get("x-frame-options")
    );
    assert!(head.bytes().expect("no body").is_empty());
    let put = api.http.put(&page).send().expect("PUT");
    assert_eq!(put.status(), 405);
    assert_eq!(
        put.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, HEAD, POST")
    );
}

/// Regression: the page read its `?user_code=` with U+FFFD in place of bytes that are not
/// UTF-8, while the form it posts refuses them; the query is read as the form is now, so such
/// a code (or one given twice) is a 400 page with nothing filled in.
#[test]
fn the_verification_page_refuses_a_user_code_that_is_not_utf8_as_its_form_does() {
    let api = Api::start();
    let page = |query: &str| {
        read(
            api.http
                .get(format!(
                    "{}/realms/public/device?{query}",
                    api.emu.base_url()
                ))
                .send()
                .expect("page"),
        )
    };
    for query in [
        "user_code=AB%FFCD",
        "user_code=ABCD-EFGH&user_code=BCDF-GHJK",
    ] {
        let refused = page(query);
        assert_eq!(refused.status, 400, "{query}");
        assert!(refused.content_type().starts_with("text/html"), "{query}");
        let body = String::from_utf8(refused.body.to_vec()).expect("the page is UTF-8");
        assert!(body.contains("user_code"), "{query}: {body}");
        assert!(body.contains("value=\"\""), "{query}: {body}");
        assert!(!body.contains('\u{fffd}'), "{query}: {body}");
    }
    let filled = page("user_code=ABCD-EFGH");
    assert_eq!(filled.status, 200);
    assert!(String::from_utf8_lossy(&filled.body).contains("value=\"ABCD-EFGH\""));
    let none = page("");
    assert_eq!(none.status, 200);
}

#[test]
fn the_verification_page_approves_after_a_password_sign_in() {
    let api = Api::start();
    let (verifier, challenge) = pkce();
    let device = start_device(&api, &challenge);
    let user_code = text(&device, "user_code");
    let page = read(
        api.http
            .get(text(&device, "verification_uri_complete"))
            .send()
            .expect("page"),
    );
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains(&format!("value=\"{user_code}\"")));

    let submit = |password: &str| {
        read(
            api.http
                .post(text(&device, "verification_uri"))
                .form(&[
                    ("user_code", user_code),
                    ("username", "admin"),
                    ("password", password),
                    ("action", "approve"),
                ])
                .send()
                .expect("submit"),
        )
    };
    assert_eq!(submit("wrong").status, 401);
    assert_eq!(submit("admin-password").status, 200);
    let signed_in = poll(&api, &device, &verifier);
    assert_eq!(signed_in.status, 200);
    let info = read(
        api.http
            .get(realm(&api, "userinfo"))
            .bearer_auth(text(&signed_in.json(), "access_token"))
            .send()
            .expect("userinfo"),
    )
    .json();
    assert_eq!(info["sub"], "usr_admin");
}

#[test]
fn userinfo_accepts_keys_and_session_tokens() {
    let api = Api::start();
    let key = api.emu.api_key();
    for request in [
        api.http.get(realm(&api, "userinfo")).bearer_auth(key),
        api.http
            .get(realm(&api, "userinfo"))
            .header("x-api-key", key),
        api.http
            .post(realm(&api, "userinfo"))
            .header("x-api-key", key),
    ] {
        let resp = read(request.send().expect("userinfo"));
        assert_eq!(resp.status, 200);
        let info = resp.json();
        assert_eq!(info["geopera_principal_type"], "api_key");
        assert_eq!(info["geopera_org_id"], "org_demo");
        assert_eq!(info["scope"], "*");
        assert_eq!(info["sub"], info["geopera_principal_id"]);
    }
    let missing = read(
        api.http
            .get(realm(&api, "userinfo"))
            .send()
            .expect("userinfo"),
    );
    assert_oauth_error(&missing, 401, "invalid_token");
    let unknown = read(
        api.http
            .get(realm(&api, "userinfo"))
            .bearer_auth("nope")
            .send()
            .expect("userinfo"),
    );
    assert_oauth_error(&unknown, 401, "invalid_token");
    assert!(unknown
        .header("www-authenticate")
        .is_some_and(|value| value.starts_with("Bearer")));
    assert_eq!(api.emu.oidc_counters().userinfo, 3);
}

#[test]
fn logout_and_revoke_end_sessions() {
    let api = Api::start();
    let login = password_login(&api, "admin", "admin-password");
    let resp = post_form(
        &api,
        "logout",
        &[
            ("client_id", "geopera-cli"),
            ("refresh_token", text(&login, "refresh_token")),
        ],
    );
    assert_eq!(resp.status, 204);
    assert_oauth_error(
        &refresh(&api, text(&login, "refresh_token")),
        400,
        "invalid_grant",
    );
    let access = text(&login, "access_token");
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 401);
    let again = post_form(
        &api,
        "logout",
        &[
            ("client_id", "geopera-cli"),
            ("refresh_token", text(&login, "refresh_token")),
        ],
    );
    assert_oauth_error(&again, 400, "invalid_grant");

    let login = password_login(&api, "admin", "admin-password");
    let access = text(&login, "access_token");
    let revoked = post_form(
        &api,
        "revoke",
        &[
            ("client_id", "geopera-cli"),
            ("token", access),
            ("token_type_hint", "access_token"),
        ],
    );
    assert_eq!(revoked.status, 200);
    assert_eq!(api.call_as(access, "catalog.search", SEARCH()).status, 401);
    // Revoking an access token leaves the session refreshable.
    assert_eq!(refresh(&api, text(&login, "refresh_token")).status, 200);
    let unknown = post_form(
        &api,
        "revoke",
        &[("client_id", "geopera-cli"), ("token", "never-issued")],
    );
    assert_eq!(unknown.status, 200);
    assert_eq!(api.emu.oidc_counters().revocations, 2);
}

#[test]
fn only_the_whole_token_and_the_client_it_was_issued_to_revoke_it() {
    let api = Api::start();
    let login = password_login(&api, "viewer", "viewer-password");
    let access = text(&login, "access_token").to_owned();
    let refresh_token = text(&login, "refresh_token").to_owned();
    let works = |token: &str| api.call_as(token, "catalog.search", SEARCH()).status == 200;

    // The family half of a refresh token with a made-up secret is no token at all.
    let (family, _) = refresh_token.split_once('.').expect("<family>.<secret>");
    let forged = format!("{family}.WRONG");
    let revoked = post_form(
        &api,
        "revoke",
        &[("client_id", "geopera-cli"), ("token", &forged)],
    );
    assert_eq!(revoked.status, 200, "invalid tokens do not cause an error");
    let logout = post_form(
        &api,
        "logout",
        &[("client_id", "geopera-cli"), ("refresh_token", &forged)],
    );
    assert_oauth_error(&logout, 400, "invalid_grant");
    assert!(works(&access));

    // The API-key client may not revoke a user's session, whatever key it holds.
    let demo_key = api.emu.api_key().to_owned();
    for token in [&access, &refresh_token] {
        let refused = post_form(
            &api,
            "revoke",
            &[
                ("client_id", "geopera"),
                ("client_secret", &demo_key),
                ("token", token),
            ],
        );
        assert_oauth_error(&refused, 400, "unauthorized_client");
    }
    assert!(works(&access));

    // A client_credentials token is revoked only by the API-key client holding its key.
    let key = api.emu.create_key(&["catalog:read"]);
    let session = key_token(&api, &key);
    let session = text(&session.json(), "access_token").to_owned();
    let by_public = post_form(
        &api,
        "revoke",
        &[("client_id", "geopera-cli"), ("token", &session)],
    );
    assert_oauth_error(&by_public, 400, "unauthorized_client");
    let by_other_key = post_form(
        &api,
        "revoke",
        &[
            ("client_id", "geopera"),
            ("client_secret", &demo_key),
            ("token", &session),
        ],
    );
    assert_oauth_error(&by_other_key, 400, "unauthorized_client");
    assert!(works(&session));
    assert_eq!(api.emu.oidc_counters().revocations, 0);
    let by_own_key = post_form(
        &api,
        "revoke",
        &[
            ("client_id", "geopera"),
            ("client_secret", &key),
            ("token", &session),
        ],
    );
    assert_eq!(by_own_key.status, 200);
    assert!(!works(&session));

    // The viewer's session went through all of it untouched.
    assert_eq!(refresh(&api, &refresh_token).status, 200);
    assert_eq!(api.emu.oidc_counters().revocations, 1);
}

#[test]
fn discovery_names_the_endpoints_at_the_requested_host() {
    let api = Api::with(Emulator::builder().allowed_host("Emulator.Test"));
    let url = format!(
        "{}/realms/public/.well-known/openid-configuration",
        api.emu.base_url()
    );
    let resp = read(api.http.get(&url).send().expect("discovery"));
    assert_eq!(resp.status, 200);
    let config = resp.json();
    let realm_url = format!("{}/realms/public", api.emu.base_url());
    assert_eq!(config["issuer"], realm_url);
    assert_eq!(
        config["token_endpoint"],
        format!("{realm_url}/protocol/openid-connect/token")
    );
    assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));
    assert!(config["grant_types_supported"]
        .as_array()
        .expect("grants")
        .contains(&json!(DEVICE_GRANT)));
    let jwks = read(
        api.http
            .get(text(&config, "jwks_uri"))
            .send()
            .expect("jwks"),
    );
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.json()["keys"], json!([]));

    let elsewhere = read(
        api.http
            .get(&url)
            .header("host", "emulator.test:9000")
            .send()
            .expect("discovery"),
    );
    assert_eq!(
        elsewhere.json()["issuer"],
        "http://emulator.test:9000/realms/public"
    );
}

#[test]
fn a_request_naming_the_emulator_by_a_name_it_was_not_given_is_refused() {
    // What a web page sees after pointing a name of its own at 127.0.0.1 (DNS rebinding): it
    // could sign in with a published demo password, or call the API with the demo key.
    let api = Api::with(Emulator::builder().allowed_host("emulator.test"));
    let token = realm(&api, "token");
    let sign_in = |host: &str| {
        read(
            api.http
                .post(&token)
                .header("host", host)
                .header("origin", format!("http://{host}"))
                .form(&[
                    ("grant_type", "password"),
                    ("client_id", "geopera-cli"),
                    ("username", "admin"),
                    ("password", "admin-password"),
                ])
                .send()
                .expect("sent"),
        )
    };
    let refused = sign_in("rebind.attacker.example:8787");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert!(
        String::from_utf8_lossy(&refused.body).contains("--allowed-host"),
        "{:?}",
        String::from_utf8_lossy(&refused.body)
    );
    let op = read(
        api.http
            .post(format!(
                "{}/v1/op/billing.credits.balance",
                api.emu.base_url()
            ))
            .header("host", "rebind.attacker.example")
            .header("x-api-key", api.emu.api_key())
            .json(&json!({}))
            .send()
            .expect("sent"),
    );
    assert_eq!(op.status, 403);
    assert!(
        api.emu.requests().iter().all(|r| r.operation_id.is_none()),
        "nothing ran"
    );
    // Addresses, localhost and the names given are answered.
    for host in ["emulator.test:9000", "localhost:8787", "127.0.0.1:8787"] {
        assert_eq!(sign_in(host).status, 200, "{host}");
    }
}

#[test]
fn malformed_token_requests_get_oauth_errors() {
    let api = Api::start();
    let get = read(api.http.get(realm(&api, "token")).send().expect("get"));
    assert_oauth_error(&get, 405, "invalid_request");
    assert_eq!(get.header("allow"), Some("POST"));
    let json_body = read(
        api.http
            .post(realm(&api, "token"))
            .json(&json!({"grant_type": "password"}))
            .send()
            .expect("json"),
    );
    assert_oauth_error(&json_body, 400, "invalid_request");
    let repeated = read(
        api.http
            .post(realm(&api, "token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&grant_type=refresh_token&client_id=geopera-cli")
            .send()
            .expect("repeated"),
    );
    assert_oauth_error(&repeated, 400, "invalid_request");
    // Just over the 16 KiB form limit, small enough to be sent whole before the answer.
    let large = "x".repeat(17 * 1024);
    let oversized = token(&api, &[("grant_type", "password"), ("padding", &large)]);
    assert_oauth_error(&oversized, 413, "invalid_request");
    let unsupported = token(
        &api,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "geopera-cli"),
        ],
    );
    assert_oauth_error(&unsupported, 400, "unsupported_grant_type");
    let no_client = token(&api, &[("grant_type", "password")]);
    assert_oauth_error(&no_client, 401, "invalid_client");
}

/// Regression: form bodies were decoded as the URL standard does, bytes that are not UTF-8
/// becoming U+FFFD, so a client's bytes were changed silently: `pa%FFss` signed in a user
/// whose password is `pa\u{FFFD}ss`. Every sign-in endpoint now answers a name or value that
/// is not UTF-8 once percent-decoded (or raw) with 400 `invalid_request`, and HTTP Basic
/// credentials of that kind with 401 `invalid_client`, as other malformed ones; U+FFFD sent
/// as its own UTF-8 bytes still signs in.
#[test]
fn form_bytes_that_are_not_utf8_are_invalid_request_not_replaced() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .user(User::new("odd", "pa\u{FFFD}ss")),
    );
    let post = |endpoint: &str, body: &[u8]| {
        read(
            api.http
                .post(realm(&api, endpoint))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.to_vec())
                .send()
                .expect("answered"),
        )
    };
    let sign_in = |password: &[u8]| {
        let mut body = b"grant_type=password&client_id=geopera-cli&username=odd&password=".to_vec();
        body.extend_from_slice(password);
        post("token", &body)
    };
    for password in [&b"pa%FFss"[..], b"pa\xFFss", b"pa%EF%BF%BDs%C3s", b"pa%C3"] {
        let refused = sign_in(password);
        assert_oauth_error(&refused, 400, "invalid_request");
        let description = text(&refused.json(), "error_description").to_owned();
        assert!(description.contains("'password'"), "{description}");
    }
    assert_eq!(
        api.emu.oidc_counters().password_grants,
        0,
        "no one signed in"
    );
    assert_eq!(sign_in(b"pa%EF%BF%BDss").status, 200, "U+FFFD itself");

    let (_, challenge) = pkce();
    let device = format!(
        "client_id=geopera-cli&code_challenge={challenge}&code_challenge_method=S256&scope=openid%FF"
    );
    for (endpoint, body) in [
        (
            "token",
            &b"%FF=1&grant_type=password&client_id=geopera-cli"[..],
        ),
        ("auth/device", device.as_bytes()),
        ("revoke", b"client_id=geopera-cli&token=x%E2%82"),
        ("logout", b"client_id=geopera-cli&refresh_token=%80"),
    ] {
        let refused = post(endpoint, body);
        assert_oauth_error(&refused, 400, "invalid_request");
    }
    // The device page reads its form the same way.
    let page = read(
        api.http
            .post(format!("{}/realms/public/device", api.emu.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(&b"user_code=ABCD-EFGH&username=odd&password=pa%FFss&action=approve"[..])
            .send()
            .expect("answered"),
    );
    assert_eq!(page.status, 400);
    assert!(page.content_type().starts_with("text/html"));

    // HTTP Basic halves are form-encoded too.
    let basic = read(
        api.http
            .post(realm(&api, "token"))
            .basic_auth("geopera", Some(format!("{}%FF", api.emu.api_key())))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .expect("answered"),
    );
    assert_oauth_error(&basic, 401, "invalid_client");
    let described = text(&basic.json(), "error_description").to_owned();
    assert!(described.contains("malformed"), "{described}");
}

#[test]
fn control_endpoints_are_off_unless_enabled() {
    let api = Api::start();
    for (method, path) in [
        (reqwest::Method::GET, "/_emulator/clock"),
        (reqwest::Method::POST, "/_emulator/clock"),
        (reqwest::Method::POST, "/_emulator/device/approve"),
        (reqwest::Method::GET, "/_emulator/oidc/counters"),
    ] {
        let resp = read(
            api.http
                .request(method, format!("{}{path}", api.emu.base_url()))
                .json(&json!({"advance_seconds": 60}))
                .send()
                .expect("request"),
        );
        assert_eq!(resp.status, 404, "{path}");
    }
    assert_eq!(
        api.emu.clock().now_secs(),
        geopera_emulator::DEFAULT_START_UNIX_SECS
    );

    let api = controlled();
    let bad = read(
        api.http
            .post(format!("{}/_emulator/clock", api.emu.base_url()))
            .json(&json!({"advance_seconds": 1, "set_unix_seconds": 5}))
            .send()
            .expect("clock"),
    );
    assert_eq!(bad.status, 422);
    let unknown = read(
        api.http
            .post(format!("{}/_emulator/device/deny", api.emu.base_url()))
            .json(&json!({"user_code": "BCDF-GHJK"}))
            .send()
            .expect("deny"),
    );
    assert_eq!(unknown.status, 404);
}

/// A web page of any site could once move the clock ten years with
/// `fetch(url, {method: "POST", mode: "no-cors", body: new Blob([json])})`: no
/// `Content-Type` was read as JSON, and the browser sends such a request without asking.
#[test]
fn control_requests_from_another_site_or_without_json_are_refused() {
    let api = controlled();
    let base = api.emu.base_url();
    let start = api.emu.clock().now_secs();
    let body = br#"{"advance_seconds": 315360000}"#.to_vec();
    let post = |path: &str, headers: &[(&str, &str)]| {
        let mut request = api.http.post(format!("{base}{path}")).body(body.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().expect("answered"))
    };
    let json = ("content-type", "application/json");
    for (path, headers, status) in [
        ("/_emulator/clock", vec![], 415),
        (
            "/_emulator/clock",
            vec![("origin", "https://evil.example")],
            403,
        ),
        (
            "/_emulator/clock",
            vec![("content-type", "text/plain")],
            415,
        ),
        (
            "/_emulator/clock",
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
        ),
        (
            "/_emulator/clock",
            vec![json, ("origin", "https://evil.example")],
            403,
        ),
        ("/_emulator/clock", vec![json, ("origin", "null")], 403),
        ("/_emulator/device/approve", vec![], 415),
        ("/_emulator/device/deny", vec![], 415),
    ] {
        let resp = post(path, &headers);
        assert_eq!(resp.status, status, "{path} {headers:?}");
        assert_eq!(resp.content_type(), "application/problem+json");
        assert_eq!(resp.json()["status"], status);
    }
    assert_eq!(api.emu.clock().now_secs(), start, "the clock did not move");
    let foreign_read = read(
        api.http
            .get(format!("{base}/_emulator/oidc/counters"))
            .header("origin", "https://evil.example")
            .send()
            .expect("answered"),
    );
    assert_eq!(foreign_read.status, 403);

    // The emulator's own origin, and clients outside a browser sending JSON, still work.
    let own = post("/_emulator/clock", &[json, ("origin", base.as_str())]);
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    assert_eq!(api.emu.clock().now_secs(), start + 315_360_000);
    let with_charset = post(
        "/_emulator/clock",
        &[("content-type", "application/json; charset=utf-8")],
    );
    assert_eq!(with_charset.status, 200);
    advance(&api, 1);
    assert_eq!(control_counters(&api)["password_grants"], 0);
}

#[test]
fn the_clock_stays_between_1970_and_the_end_of_9899() {
    let api = controlled();
    let post = |body: Value| {
        read(
            api.http
                .post(format!("{}/_emulator/clock", api.emu.base_url()))
                .json(&body)
                .send()
                .expect("clock"),
        )
    };
    let names = |resp: &Resp, field: &str| {
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        assert!(text.contains(field), "names {field}: {text}");
    };
    for at in [i64::MAX, i64::MIN, -1, 250_246_627_200, 253_402_300_799] {
        let refused = post(json!({"set_unix_seconds": at}));
        assert_eq!(refused.status, 422, "{at}");
        names(&refused, "set_unix_seconds");
    }
    assert_eq!(
        post(json!({"set_unix_seconds": 250_246_627_199_i64})).status,
        200
    );
    let past = post(json!({"advance_seconds": 1}));
    assert_eq!(past.status, 422);
    names(&past, "advance_seconds");
    assert_eq!(api.emu.clock().now_secs(), 250_246_627_199);
    // At the end of time the emulator still works: a device login adds its lifetime to it,
    // and the longest-lived key expires on a date RFC 3339 can write.
    let (_, challenge) = pkce();
    start_device(&api, &challenge);
    let key = read(
        api.http
            .post(format!("{}/v1/op/api_keys.create", api.emu.base_url()))
            .bearer_auth(api.emu.api_key())
            .json(&json!({"name": "long-lived", "expires_in_days": 3650}))
            .send()
            .expect("a key"),
    );
    assert_eq!(key.status, 200, "{}", String::from_utf8_lossy(&key.body));
    let key: Value = serde_json::from_slice(&key.body).expect("JSON");
    let expires = key["expires_at"].as_str().expect("an expiry");
    assert!(expires.starts_with("9909-12-"), "{expires}");
}

/// A client whose requests come from another loopback address than 127.0.0.1.
fn client_from(address: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().ok())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

#[test]
fn sign_in_requests_draw_from_the_client_ips_unauthenticated_budget() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits {
        unauthenticated_per_min: Some(4),
        ..RateLimits::off()
    }));
    let guess = |password: &str| {
        token(
            &api,
            &[
                ("grant_type", "password"),
                ("client_id", "geopera-cli"),
                ("username", "admin"),
                ("password", password),
            ],
        )
    };
    for _ in 0..3 {
        assert_oauth_error(&guess("wrong"), 400, "invalid_grant");
    }
    // An anonymous operation spends from the same budget.
    assert_eq!(api.call_with("webhooks.drain", &json!({}), &[]).status, 200);
    let limited = guess("admin-password");
    assert_oauth_error(&limited, 429, "temporarily_unavailable");
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|secs| secs.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (_, challenge) = pkce();
    let device = post_form(
        &api,
        "auth/device",
        &[
            ("client_id", "geopera-cli"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_oauth_error(&device, 429, "temporarily_unavailable");
    let page = read(
        api.http
            .post(format!("{}/realms/public/device", api.emu.base_url()))
            .form(&[
                ("user_code", "BCDF-GHJK"),
                ("username", "admin"),
                ("password", "guess"),
                ("action", "approve"),
            ])
            .send()
            .expect("page answers"),
    );
    assert_eq!(page.status, 429);
    assert!(page.header("retry-after").is_some());
    // Credentials are counted per organization, not per address.
    assert_eq!(api.call("billing.credits.balance", json!({})).status, 200);

    // Another address has a budget of its own.
    let elsewhere = read(
        client_from("127.0.0.2")
            .post(realm(&api, "token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "geopera-cli"),
                ("username", "admin"),
                ("password", "admin-password"),
            ])
            .send()
            .expect("token answers"),
    );
    assert_eq!(elsewhere.status, 200);

    api.emu.clock().advance(Duration::from_secs(retry_after));
    assert_eq!(guess("admin-password").status, 200);
}

#[test]
fn one_client_ip_cannot_fill_the_waiting_device_logins() {
    let api = Api::start();
    let (_, challenge) = pkce();
    let form = [
        ("client_id", "geopera-cli"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for _ in 0..geopera_emulator::MAX_PENDING_DEVICE_LOGINS_PER_CLIENT {
        start_device(&api, &challenge);
    }
    assert_oauth_error(
        &post_form(&api, "auth/device", &form),
        503,
        "temporarily_unavailable",
    );
    let elsewhere = read(
        client_from("127.0.0.2")
            .post(realm(&api, "auth/device"))
            .form(&form)
            .send()
            .expect("auth/device answers"),
    );
    assert_eq!(elsewhere.status, 200);
    // Its share frees up as its logins expire.
    api.emu.clock().advance(Duration::from_secs(600));
    start_device(&api, &challenge);
}

/// Clock advances sent at once cannot together pass the clock's last reading: the check and
/// the move were once two steps, so several could each pass the check and all move, taking
/// the clock decades past 9899-12-31 where dates have five-digit years.
#[test]
fn clock_advances_sent_at_once_never_pass_the_last_reading() {
    const LAST: i64 = 250_246_627_199;
    const TEN_YEARS: i64 = 10 * 365 * 86_400;
    // The race was a few instructions wide: eight at once, for up to 1,000 rounds, found it
    // within a few hundred rounds.
    const ROUNDS: usize = 1_000;
    const AT_ONCE: usize = 8;
    let api = controlled();
    let url = format!("{}/_emulator/clock", api.emu.base_url());
    let clock = |body: &Value| {
        read(
            api.http
                .post(&url)
                .json(body)
                .send()
                .expect("clock request"),
        )
    };
    let advance = json!({"advance_seconds": TEN_YEARS});
    for round in 0..ROUNDS {
        let set = clock(&json!({"set_unix_seconds": LAST - TEN_YEARS}));
        assert_eq!(set.status, 200);
        let start = std::sync::Barrier::new(AT_ONCE);
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let sent: Vec<_> = (0..AT_ONCE)
                .map(|_| {
                    let (start, clock, advance) = (&start, &clock, &advance);
                    scope.spawn(move || {
                        start.wait();
                        clock(advance).status
                    })
                })
                .collect();
            sent.into_iter()
                .map(|thread| thread.join().expect("thread"))
                .collect()
        });
        let moved = statuses.iter().filter(|status| **status == 200).count();
        assert_eq!(moved, 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|status| [200, 422].contains(status)));
        assert_eq!(api.emu.clock().now_secs(), LAST, "round {round}");
    }
}

/// A sign-in form posted by a web page of another site (its `Origin` is not the emulator's)
/// is refused with 403 and signs nobody in: any page open beside a running emulator could
/// otherwise sign the published demo user in over and over, ending the developer's sessions.
/// The emulator's own origin, in either scheme and any letter case, and no origin at all
/// (programs) sign in.
#[test]
fn a_sign_in_posted_from_another_sites_page_is_refused() {
    let api = Api::start();
    let form = [
        ("grant_type", "password"),
        ("client_id", "geopera-cli"),
        ("username", "admin"),
        ("password", "admin-password"),
    ];
    let posted = |origin: &str| {
        read(
            api.http
                .post(realm(&api, "token"))
                .header("origin", origin)
                .form(&form)
                .send()
                .expect("request completes"),
        )
    };
    for foreign in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        let refused = posted(foreign);
        assert_eq!(refused.status, 403, "{foreign}");
        assert_eq!(refused.json()["error"], "access_denied", "{foreign}");
        assert!(refused.json().get("access_token").is_none(), "{foreign}");
    }
    let own = api.emu.base_url();
    assert_eq!(posted(&own).status, 200);
    assert_eq!(posted(&own.to_uppercase()).status, 200);
    assert_eq!(token(&api, &form).status, 200, "no origin");
}

/// An operation posted by a web page of another site is refused with 403 before it is counted:
/// `webhooks.drain` needs no credentials, so such a page could spend the budget the machine's
/// address shares with its sign-ins, and every `geopera login` and refresh then met 429 for
/// the rest of the minute. The emulator's own origin and no origin still drain.
#[test]
fn an_operation_posted_from_another_sites_page_spends_no_budget() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits::uniform(3)));
    let drain = |origin: Option<&str>| {
        let mut request = api
            .http
            .post(format!("{}/v1/op/webhooks.drain", api.emu.base_url()))
            .header("content-type", "text/plain")
            .body("{}");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        read(request.send().expect("request completes"))
    };
    for _ in 0..5 {
        let refused = drain(Some("https://evil.example"));
        assert_eq!(refused.status, 403);
        assert_eq!(refused.content_type(), "application/problem+json");
    }
    // Recorded as any refusal is.
    let refusals = api
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some("webhooks.drain") && r.status == Some(403))
        .count();
    assert_eq!(refusals, 5);
    let own = api.emu.base_url();
    let drained = api
        .http
        .post(format!("{own}/v1/op/webhooks.drain"))
        .header("origin", own.as_str())
        .json(&json!({}))
        .send()
        .expect("request completes");
    assert_eq!(read(drained).status, 200);
    let form = [
        ("grant_type", "password"),
        ("client_id", "geopera-cli"),
        ("username", "admin"),
        ("password", "admin-password"),
    ];
    assert_eq!(
        token(&api, &form).status,
        200,
        "the sign-in budget is whole"
    );
}

/// A refused sign-in that ends nothing (a wrong password) leaves the state file as it was:
/// every `invalid_grant` was written for, a file transaction with its flushes under the lock
/// every request needs, once per guess. A grant that issues tokens is written, which shows the
/// check can see a write.
#[test]
fn a_wrong_password_does_not_write_the_state_file() {
    let file = crate::state::TempFile::new("wrong-password");
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .state_file(&file.0),
    );
    let form = |password: &'static str| {
        [
            ("grant_type", "password"),
            ("client_id", "geopera-cli"),
            ("username", "admin"),
            ("password", password),
        ]
    };
    assert_eq!(token(&api, &form("admin-password")).status, 200);
    let written = || {
        std::fs::metadata(&file.0)
            .and_then(|meta| meta.modified())
            .expect("the state file's time")
    };
    let before = written();
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..3 {
        let refused = token(&api, &form("not-the-password"));
        assert_eq!(refused.status, 400);
        assert_eq!(refused.json()["error"], "invalid_grant");
    }
    assert_eq!(
        written(),
        before,
        "a refusal that ends nothing writes nothing"
    );
    assert_eq!(token(&api, &form("admin-password")).status, 200);
    assert_ne!(written(), before, "tokens handed out are written");
}

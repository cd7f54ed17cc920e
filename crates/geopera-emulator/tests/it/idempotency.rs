//! `Idempotency-Key`: byte-identical replays without executing, 409 on a different body.

use std::time::Duration;

use geopera_emulator::DEMO_ORG;
use serde_json::json;

use crate::common::Api;

#[test]
fn identical_retry_replays_the_stored_answer_without_executing() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let before = api.emu.balance_credits(DEMO_ORG);
    let body = json!({"amount_aud": 25});
    let headers = [("authorization", key.as_str()), ("idempotency-key", "k-1")];
    let first = api.call_with("billing.topup", &body, &headers);
    assert_eq!(first.status, 201);
    let second = api.call_with("billing.topup", &body, &headers);
    assert_eq!(second.status, 201);
    assert_eq!(first.body, second.body, "byte for byte");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.emu.executed("billing.topup"), 1);
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before + 2_500);

    let different = api.call_with("billing.topup", &json!({"amount_aud": 26}), &headers);
    assert_eq!(different.status, 409);
    assert_eq!(different.content_type(), "application/problem+json");
    assert_eq!(api.emu.executed("billing.topup"), 1);

    // Another key, or the same key on another operation, is a new request.
    let other = [("authorization", key.as_str()), ("idempotency-key", "k-2")];
    assert_eq!(api.call_with("billing.topup", &body, &other).status, 201);
    assert_eq!(api.emu.executed("billing.topup"), 2);
}

/// A retry whose body another client wrote out again, with `25.0` or `2.5e1` where the first
/// sent `25`, is the same request and is replayed; it was once 409 as a key reused with
/// another body. Another value is still 409.
#[test]
fn a_retry_that_writes_a_number_another_way_is_replayed() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let send = |body: &str| {
        crate::common::Resp::read(
            api.http
                .post(api.url("billing.topup"))
                .header("authorization", &key)
                .header("idempotency-key", "written-again")
                .header("content-type", "application/json")
                .body(body.to_owned())
                .send()
                .expect("answered"),
        )
        .expect("read")
    };
    let first = send(r#"{"amount_aud": 25}"#);
    assert_eq!(first.status, 201);
    for again in [
        r#"{"amount_aud": 25.0}"#,
        r#"{"amount_aud": 2.5e1}"#,
        r#"{ "amount_aud" : 25.000 }"#,
    ] {
        let retry = send(again);
        assert_eq!(
            retry.status,
            201,
            "{again}: {}",
            String::from_utf8_lossy(&retry.body)
        );
        assert_eq!(retry.body, first.body, "{again}");
        assert_eq!(retry.header("idempotent-replayed"), Some("true"), "{again}");
    }
    assert_eq!(send(r#"{"amount_aud": 25.5}"#).status, 409);
    assert_eq!(api.emu.executed("billing.topup"), 1);
}

#[test]
fn keys_expire_after_24_hours() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let headers = [
        ("authorization", key.as_str()),
        ("idempotency-key", "daily"),
    ];
    let body = json!({"credits": 100});
    api.call_with("billing.topup", &body, &headers);
    api.emu.clock().advance(Duration::from_secs(23 * 3600));
    api.call_with("billing.topup", &body, &headers);
    assert_eq!(api.emu.executed("billing.topup"), 1);
    api.emu.clock().advance(Duration::from_secs(3600));
    api.call_with("billing.topup", &body, &headers);
    assert_eq!(api.emu.executed("billing.topup"), 2);
}

#[test]
fn a_retry_after_a_lost_answer_replays_instead_of_spending_twice() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let before = api.emu.balance_credits(DEMO_ORG);
    let body = json!({"amount_aud": 10});
    let lost = api.try_call_with(
        "billing.topup",
        &body,
        &[
            ("authorization", &key),
            ("idempotency-key", "once"),
            ("x-emulator-fault", "reset;after"),
        ],
    );
    assert!(lost.is_err(), "the answer is lost");
    assert_eq!(
        api.emu.executed("billing.topup"),
        1,
        "but the top-up happened"
    );
    let retry = api.call_with(
        "billing.topup",
        &body,
        &[("authorization", &key), ("idempotency-key", "once")],
    );
    assert_eq!(retry.status, 201);
    assert_eq!(api.emu.executed("billing.topup"), 1);
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before + 1_000);
}

#[test]
fn a_blank_long_or_non_ascii_key_is_refused_not_ignored() {
    let api = Api::start();
    let bearer = format!("Bearer {}", api.emu.api_key());
    let body = json!({"amount_aud": 25});
    let long = "k".repeat(256);
    let keys: [&[u8]; 4] = [b"", b"   ", long.as_bytes(), b"caf\xe9"];
    for key in keys {
        let value = reqwest::header::HeaderValue::from_bytes(key).expect("a header value");
        let resp = crate::common::Resp::read(
            api.http
                .post(api.url("billing.topup"))
                .header("authorization", &bearer)
                .header("idempotency-key", value)
                .json(&body)
                .send()
                .expect("answered"),
        )
        .expect("read");
        assert_eq!(resp.status, 422, "{:?}", String::from_utf8_lossy(key));
        assert_eq!(
            resp.json()["detail"][0]["loc"],
            json!(["header", "idempotency-key"])
        );
    }
    assert_eq!(api.emu.executed("billing.topup"), 0, "nothing ran");
    let longest = "k".repeat(255);
    let headers = [
        ("authorization", bearer.as_str()),
        ("idempotency-key", longest.as_str()),
    ];
    assert_eq!(api.call_with("billing.topup", &body, &headers).status, 201);
    assert_eq!(api.call_with("billing.topup", &body, &headers).status, 201);
    assert_eq!(api.emu.executed("billing.topup"), 1, "replayed");
}

/// Two different keys on one request name no one logical operation: its retry may carry
/// either, and one that carried the second would run again. Refused before anything runs; the
/// same key twice is that key.
#[test]
fn two_different_keys_on_one_request_are_refused() {
    let api = Api::start();
    let bearer = format!("Bearer {}", api.emu.api_key());
    let body = json!({"amount_aud": 25});
    let send = |keys: &[&str]| {
        let mut request = api
            .http
            .post(api.url("billing.topup"))
            .header("authorization", &bearer)
            .json(&body);
        for key in keys {
            request = request.header("idempotency-key", *key);
        }
        crate::common::Resp::read(request.send().expect("answered")).expect("read")
    };
    let refused = send(&["k-a", "k-b"]);
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.json()["detail"][0]["loc"],
        json!(["header", "idempotency-key"])
    );
    assert_eq!(api.emu.executed("billing.topup"), 0, "nothing ran");
    assert_eq!(send(&["k-a", "k-a"]).status, 201);
    let retry = send(&["k-a"]);
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.emu.executed("billing.topup"), 1);
}

#[test]
fn an_answer_kept_for_its_key_quotes_a_huge_id_in_a_bounded_message() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    // A 1 MiB id: the 404 used to quote it whole, and the answer is kept for a day.
    let huge = "k".repeat(1 << 20);
    let body = json!({ "key_id": huge });
    let headers = [
        ("authorization", key.as_str()),
        ("idempotency-key", "big-1"),
    ];
    let first = api.call_with("api_keys.revoke", &body, &headers);
    assert_eq!(first.status, 404);
    assert!(first.body.len() < 2_048, "{} bytes", first.body.len());
    let detail = first.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.starts_with("API key 'kkk"), "{detail}");
    assert!(detail.contains("bytes left out"), "{detail}");
    // Still the stored answer, replayed as it was.
    let again = api.call_with("api_keys.revoke", &body, &headers);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
}

#[test]
fn only_the_credential_that_made_a_request_is_replayed_its_answer() {
    let api = Api::start();
    let admin = api.emu.api_key().to_owned();
    let narrow = api.emu.create_key(&["api_keys:write", "catalog:read"]);
    let body = json!({"name": "ci-admin", "permissions": ["*"]});
    let keyed = |token: &str| {
        api.call_with(
            "api_keys.create",
            &body,
            &[
                ("authorization", &format!("Bearer {token}")),
                ("idempotency-key", "ci-bootstrap-1"),
            ],
        )
    };
    let first = keyed(&admin);
    assert_eq!(first.status, 200, "{:?}", first.body);
    let secret = first.json()["key"].as_str().expect("a secret").to_owned();

    // Another key of the organization, which could not mint this key itself, gets neither
    // the stored answer nor a run of its own.
    let stranger = keyed(&narrow);
    assert_eq!(stranger.status, 409, "{:?}", stranger.body);
    assert_eq!(stranger.content_type(), "application/problem+json");
    assert_eq!(stranger.header("idempotent-replayed"), None);
    let detail = stranger.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("another credential"), "{detail}");
    assert!(!String::from_utf8_lossy(&stranger.body).contains(&secret));
    // A user of the organization is another principal too.
    let user = crate::oidc::password_login(&api, "admin", "admin-password");
    let user_token = crate::oidc::text(&user, "access_token").to_owned();
    assert_eq!(keyed(&user_token).status, 409);
    assert_eq!(api.emu.executed("api_keys.create"), 1);

    // The key that made the request is replayed to, directly or through a session of its own.
    let session = crate::oidc::key_token(&api, &admin);
    assert_eq!(session.status, 200);
    let session = crate::oidc::text(&session.json(), "access_token").to_owned();
    for token in [admin.as_str(), session.as_str()] {
        let again = keyed(token);
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    assert_eq!(api.emu.executed("api_keys.create"), 1);
}

#[test]
fn a_user_is_replayed_its_answer_across_a_token_refresh() {
    let api = Api::start();
    let login = crate::oidc::password_login(&api, "admin", "admin-password");
    let body = json!({"amount_aud": 5});
    let topup = |token: &str| {
        api.call_with(
            "billing.topup",
            &body,
            &[
                ("authorization", &format!("Bearer {token}")),
                ("idempotency-key", "user-topup"),
            ],
        )
    };
    let first = topup(crate::oidc::text(&login, "access_token"));
    assert_eq!(first.status, 201, "{:?}", first.body);
    let refreshed = crate::oidc::refresh(&api, crate::oidc::text(&login, "refresh_token"));
    assert_eq!(refreshed.status, 200);
    let second = topup(crate::oidc::text(&refreshed.json(), "access_token"));
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.emu.executed("billing.topup"), 1);
    // The organization's demo key is another principal.
    let key = api.emu.api_key().to_owned();
    assert_eq!(topup(&key).status, 409);
    assert_eq!(api.emu.executed("billing.topup"), 1);
}

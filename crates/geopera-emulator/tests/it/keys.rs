//! `api_keys.*`: created keys work at once, revoked keys stop at once.

use std::time::Duration;

use geopera_emulator::{
    Emulator, ManualClock, RateLimits, MAX_KEYS_PER_ORG, MAX_KEY_RATE_LIMIT, MAX_KEY_RATE_WINDOWS,
};
use serde_json::{json, Value};

use crate::common::Api;

#[test]
fn created_key_authenticates_with_its_permissions_and_revoked_key_is_401() {
    let api = Api::start();
    let created = api.call(
        "api_keys.create",
        json!({"name": "ci", "permissions": ["catalog:read"]}),
    );
    assert_eq!(created.status, 200);
    let created = created.json();
    let secret = created["key"]
        .as_str()
        .expect("secret returned once")
        .to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(secret.starts_with("gpra_"));
    assert_eq!(created["permissions"], json!(["catalog:read"]));

    let search = json!({"host_name": "earthsearch-aws", "limit": 1});
    assert_eq!(
        api.call_as(&secret, "catalog.search", search.clone())
            .status,
        200
    );
    assert_eq!(api.call_as(&secret, "orders.list", json!({})).status, 403);

    let listed = api.call("api_keys.list", json!({})).json();
    let entry = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert!(entry.get("key").is_none(), "the secret is never listed");

    let revoked = api.call("api_keys.revoke", json!({"key_id": id}));
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.json()["ok"], true);
    let resp = api.call_as(&secret, "catalog.search", search);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["title"], "Unauthenticated");
    assert_eq!(
        api.call("api_keys.revoke", json!({"key_id": "key_unknown"}))
            .status,
        404
    );
}

/// A loop that mints keys fills its organization's room, not the emulator's memory: at the
/// bound minting is 422 until a key is revoked, and then the revoked key makes room.
#[test]
fn an_organization_holds_a_bounded_number_of_keys_and_a_revoked_one_makes_room() {
    let api = Api::start();
    let listed = |api: &Api| api.call("api_keys.list", json!({})).json();
    let held = listed(&api)["total"].as_u64().expect("total");
    let held = usize::try_from(held).expect("a count");
    for _ in held..MAX_KEYS_PER_ORG {
        api.emu.create_key(&["catalog:read"]);
    }
    let refused = api.call("api_keys.create", json!({"name": "one more"}));
    assert_eq!(refused.status, 422);
    let detail = refused.json()["detail"][0]["msg"].clone();
    assert!(
        detail
            .as_str()
            .is_some_and(|msg| msg.contains("at most 1000 API keys")),
        "{detail}"
    );

    let before = listed(&api);
    assert_eq!(before["total"], MAX_KEYS_PER_ORG);
    let revoked = before["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .rev()
        .find(|key| key["name"] == "test key")
        .and_then(|key| key["id"].as_str())
        .expect("a minted key")
        .to_owned();
    assert_eq!(
        api.call("api_keys.revoke", json!({"key_id": revoked}))
            .status,
        200
    );
    let minted = api.call("api_keys.create", json!({"name": "one more"}));
    assert_eq!(minted.status, 200);
    let minted = minted.json()["id"].clone();
    let after = listed(&api);
    assert_eq!(after["total"], MAX_KEYS_PER_ORG);
    let ids: Vec<&Value> = after["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| &key["id"])
        .collect();
    assert!(ids.contains(&&minted));
    assert!(!ids.contains(&&json!(revoked)), "the revoked key made room");
}

/// A key holding only `api_keys:write` (a provisioning script's, say) cannot revoke a key
/// that holds more than it does, such as the organization's `*` key, which would lock out
/// everyone using it; it may revoke keys within its own grants, itself included.
#[test]
fn a_key_revokes_only_keys_within_its_own_grants() {
    let api = Api::start();
    let mint = |token: &str, permissions: Value| {
        let created = api.call_as(
            token,
            "api_keys.create",
            json!({"name": "k", "permissions": permissions}),
        );
        assert_eq!(created.status, 200, "{:?}", created.json());
        let created = created.json();
        (
            created["key"].as_str().expect("secret").to_owned(),
            created["id"].as_str().expect("id").to_owned(),
        )
    };
    let (admin, admin_id) = mint(api.emu.api_key(), json!(["*"]));
    let (narrow, narrow_id) = mint(&admin, json!(["api_keys:write"]));
    let (reader, reader_id) = mint(&admin, json!(["catalog:read", "api_keys:write"]));
    let search = json!({"host_name": "earthsearch-aws", "limit": 1});

    for (target, holds) in [(&admin_id, "'*'"), (&reader_id, "'catalog:read'")] {
        let refused = api.call_as(&narrow, "api_keys.revoke", json!({"key_id": target}));
        assert_eq!(refused.status, 403, "{:?}", refused.json());
        assert_eq!(refused.content_type(), "application/problem+json");
        let detail = refused.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(holds), "{detail}");
    }
    assert_eq!(
        api.call_as(&admin, "catalog.search", search.clone()).status,
        200
    );
    assert_eq!(api.call_as(&reader, "catalog.search", search).status, 200);

    // Within its grants: a key minted under it, or itself.
    let (_, child_id) = mint(&narrow, json!(["api_keys:write"]));
    for target in [&child_id, &narrow_id] {
        let revoked = api.call_as(&narrow, "api_keys.revoke", json!({"key_id": target}));
        assert_eq!(revoked.status, 200, "{:?}", revoked.json());
    }
    assert_eq!(api.call_as(&narrow, "api_keys.list", json!({})).status, 401);
    // A wider credential still revokes a narrower one.
    let revoked = api.call_as(&admin, "api_keys.revoke", json!({"key_id": reader_id}));
    assert_eq!(revoked.status, 200);
}

#[test]
fn expired_keys_are_401() {
    let api = Api::start();
    let created = api
        .call(
            "api_keys.create",
            json!({"name": "short", "permissions": ["*"], "expires_in_days": 1}),
        )
        .json();
    let secret = created["key"].as_str().expect("secret").to_owned();
    assert_eq!(
        api.call_as(&secret, "billing.credits.balance", json!({}))
            .status,
        200
    );
    api.emu
        .clock()
        .advance(std::time::Duration::from_secs(86_400));
    assert_eq!(
        api.call_as(&secret, "billing.credits.balance", json!({}))
            .status,
        401
    );
}

fn create(api: &Api, caller: &str, body: serde_json::Value) -> crate::common::Resp {
    api.call_as(caller, "api_keys.create", body)
}

#[test]
fn a_key_grants_only_what_it_holds_itself() {
    let api = Api::start();
    let minter = api.emu.create_key(&["api_keys:write"]);
    let escalation = create(&api, &minter, json!({"name": "root", "permissions": ["*"]}));
    assert_eq!(escalation.status, 403, "{:?}", escalation.body);
    assert_eq!(escalation.content_type(), "application/problem+json");
    let detail = escalation.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("'*'"), "{detail}");
    assert_eq!(
        create(
            &api,
            &minter,
            json!({"name": "n", "permissions": ["orders:read"]})
        )
        .status,
        403
    );
    assert_eq!(
        create(
            &api,
            &minter,
            json!({"name": "n", "permissions": ["api_keys:write"]})
        )
        .status,
        200
    );

    let orders = api.emu.create_key(&["api_keys:write", "orders:*"]);
    let read_only = api.emu.create_key(&["api_keys:write", "*:read"]);
    let cases: &[(&str, &str, u16)] = &[
        (&orders, "orders:read", 200),
        (&orders, "orders:*", 200),
        (&orders, "*", 403),
        (&orders, "*:read", 403),
        (&orders, "catalog:read", 403),
        (&read_only, "orders:read", 200),
        (&read_only, "*:read", 200),
        (&read_only, "orders:*", 403),
        (&read_only, "*:write", 403),
    ];
    for (caller, wanted, expected) in cases {
        let resp = create(&api, caller, json!({"name": "n", "permissions": [wanted]}));
        assert_eq!(resp.status, *expected, "{wanted}: {:?}", resp.body);
    }

    // Without permissions the new key inherits the caller's own grants.
    let inherited = create(&api, &orders, json!({"name": "same"}));
    assert_eq!(inherited.status, 200);
    assert_eq!(
        inherited.json()["permissions"],
        json!(["api_keys:write", "orders:*"])
    );
}

#[test]
fn unknown_scopes_and_out_of_range_values_are_422_at_their_place() {
    let api = Api::start();
    let resp = api.call(
        "api_keys.create",
        json!({"name": "n", "permissions": ["orders:read", "orders:fly", "admin"]}),
    );
    assert_eq!(resp.status, 422, "{:?}", resp.body);
    assert_eq!(resp.content_type(), "application/json");
    let locs: Vec<serde_json::Value> = resp.json()["detail"]
        .as_array()
        .expect("detail")
        .iter()
        .map(|error| error["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        vec![
            json!(["body", "permissions", 1]),
            json!(["body", "permissions", 2])
        ]
    );

    let many: Vec<String> = (0..65).map(|_| "orders:read".to_owned()).collect();
    let resp = api.call("api_keys.create", json!({"name": "n", "permissions": many}));
    assert_eq!(resp.status, 422);
    assert_eq!(
        resp.json()["detail"][0]["loc"],
        json!(["body", "permissions"])
    );
    assert_eq!(resp.json()["detail"][0]["type"], "too_long");

    let long = format!("orders:{}", "r".repeat(100));
    let resp = api.call(
        "api_keys.create",
        json!({"name": "n", "permissions": [long]}),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(resp.json()["detail"][0]["type"], "string_too_long");

    let resp = api.call(
        "api_keys.create",
        json!({"name": "n", "expires_in_days": 3651}),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(
        resp.json()["detail"][0]["loc"],
        json!(["body", "expires_in_days"])
    );
    let resp = api.call(
        "api_keys.create",
        json!({"name": "n", "expires_in_days": 3650}),
    );
    assert_eq!(resp.status, 200);
    let expires = resp.json()["expires_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(expires.starts_with("2034-12-"), "{expires}");

    let resp = api.call("api_keys.create", json!({"name": "n".repeat(201)}));
    assert_eq!(resp.status, 422);
    assert_eq!(resp.json()["detail"][0]["loc"], json!(["body", "name"]));
}

#[test]
fn megabyte_permission_lists_are_refused_and_the_key_list_stays_small() {
    let api = Api::start();
    // About 1.9 MB of JSON: today's body limit lets it through to the operation.
    let huge: Vec<&str> = vec!["catalog:read"; 135_000];
    for _ in 0..3 {
        let resp = api.call(
            "api_keys.create",
            json!({"name": "big", "permissions": huge}),
        );
        assert_eq!(resp.status, 422);
        assert!(resp.body.len() < 1_000, "one error, not one per item");
    }
    let listed = api.call("api_keys.list", json!({}));
    assert_eq!(listed.status, 200);
    assert!(listed.body.len() < 10_000, "{} bytes", listed.body.len());
}

#[test]
fn a_key_mints_no_key_with_more_calls_a_minute_or_a_longer_life_than_its_own() {
    let api = Api::start();
    let parent = api.call(
        "api_keys.create",
        json!({"name": "parent", "rate_limit": 50, "expires_in_days": 2}),
    );
    assert_eq!(parent.status, 200);
    let parent = parent.json();
    let secret = parent["key"].as_str().expect("secret").to_owned();

    // Asking for more is refused, each reason named.
    let wider = create(
        &api,
        &secret,
        json!({"name": "wider", "rate_limit": 51, "expires_in_days": 3}),
    );
    assert_eq!(wider.status, 403, "{:?}", wider.body);
    let detail = wider.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("limited to 50"), "{detail}");
    assert!(detail.contains("expires at"), "{detail}");

    // Asking for nothing inherits the parent's limit and expiry; asking for less is kept.
    let child = create(&api, &secret, json!({"name": "child"}));
    assert_eq!(child.status, 200, "{:?}", child.body);
    let child = child.json();
    assert_eq!(child["rate_limit"], 50);
    assert_eq!(child["expires_at"], parent["expires_at"]);
    let narrower = create(
        &api,
        &secret,
        json!({"name": "narrower", "rate_limit": 2, "expires_in_days": 1}),
    );
    assert_eq!(narrower.status, 200);
    assert_eq!(narrower.json()["rate_limit"], 2);

    // The same through a session the key signed in with.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "geopera"),
        ("client_secret", secret.as_str()),
    ];
    let token = api
        .http
        .post(format!(
            "{}/realms/public/protocol/openid-connect/token",
            api.emu.base_url()
        ))
        .form(&form)
        .send()
        .expect("token request");
    assert_eq!(token.status().as_u16(), 200);
    let token: serde_json::Value = token.json().expect("token answer");
    let session = token["access_token"].as_str().expect("access token");
    let through_session = create(&api, session, json!({"name": "s", "rate_limit": 51}));
    assert_eq!(through_session.status, 403, "{:?}", through_session.body);
    let inherited = create(&api, session, json!({"name": "s"}));
    assert_eq!(inherited.json()["rate_limit"], 50);
    assert_eq!(inherited.json()["expires_at"], parent["expires_at"]);

    // A key without limits mints keys without them, as before.
    let free = api.call("api_keys.create", json!({"name": "free"})).json();
    assert_eq!(free["rate_limit"], json!(null));
    assert_eq!(free["expires_at"], json!(null));
}

#[test]
fn a_key_minted_with_a_rate_limit_gets_that_many_calls_per_minute() {
    let clock = ManualClock::new();
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::documented())
            .clock(clock.clone()),
    );
    let created = api.call("api_keys.create", json!({"name": "slow", "rate_limit": 3}));
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["rate_limit"], 3);
    let slow = created.json()["key"].as_str().expect("secret").to_owned();
    clock.advance(Duration::from_secs(15));
    for n in 0..3 {
        let resp = api.call_as(&slow, "billing.credits.balance", json!({}));
        assert_eq!(resp.status, 200, "call {n}");
    }
    let limited = api.call_as(&slow, "billing.credits.balance", json!({}));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.content_type(), "application/problem+json");
    assert_eq!(limited.header("retry-after"), Some("45"));
    assert_eq!(
        api.emu.executed("billing.credits.balance"),
        3,
        "429s do not execute"
    );
    // The limit is the key's own: its organization's other keys are not held back.
    assert_eq!(api.call("billing.credits.balance", json!({})).status, 200);
    clock.advance(Duration::from_secs(45));
    assert_eq!(
        api.call_as(&slow, "billing.credits.balance", json!({}))
            .status,
        200,
        "a new window"
    );
}

#[test]
fn a_key_rate_limit_adds_to_its_organizations_budgets_and_survives_rate_limits_off() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits {
        default_per_min: Some(4),
        ..RateLimits::off()
    }));
    let roomy = api
        .call(
            "api_keys.create",
            json!({"name": "roomy", "rate_limit": 100}),
        )
        .json()["key"]
        .as_str()
        .expect("secret")
        .to_owned();
    for _ in 0..2 {
        assert_eq!(api.call("billing.credits.balance", json!({})).status, 200);
    }
    // One call went to api_keys.create: the organization has one left.
    assert_eq!(
        api.call_as(&roomy, "billing.credits.balance", json!({}))
            .status,
        200
    );
    assert_eq!(
        api.call_as(&roomy, "billing.credits.balance", json!({}))
            .status,
        429,
        "the organization's budget still applies"
    );

    let unlimited = Api::start();
    let once = unlimited
        .call("api_keys.create", json!({"name": "once", "rate_limit": 1}))
        .json()["key"]
        .as_str()
        .expect("secret")
        .to_owned();
    let body = json!({});
    assert_eq!(
        unlimited
            .call_as(&once, "billing.credits.balance", body.clone())
            .status,
        200
    );
    assert_eq!(
        unlimited
            .call_as(&once, "billing.credits.balance", body)
            .status,
        429,
        "switching the emulator's budgets off leaves a limit the client asked for"
    );
}

/// The secret of a key `caller` mints with `body`.
fn minted(api: &Api, caller: &str, body: serde_json::Value) -> String {
    let resp = create(api, caller, body);
    assert_eq!(
        resp.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    resp.json()["key"].as_str().expect("secret").to_owned()
}

/// The statuses of one call after another, each by the key (or token) named.
fn statuses(api: &Api, callers: &[&str]) -> Vec<u16> {
    callers
        .iter()
        .map(|caller| {
            api.call_as(caller, "billing.credits.balance", json!({}))
                .status
        })
        .collect()
}

/// Two children of a key limited to N have N calls a minute between them, not N each; a
/// grandchild's calls count against its grandparent's window too, and so do those of a
/// session a child signs in with. The 429 says when the window that refused ends.
#[test]
fn keys_minted_under_a_limited_key_share_its_calls_a_minute() {
    let clock = ManualClock::new();
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .clock(clock.clone()),
    );
    let parent = minted(
        &api,
        api.emu.api_key(),
        json!({"name": "parent", "rate_limit": 6}),
    );
    let first = minted(&api, &parent, json!({"name": "first"}));
    let second = minted(&api, &parent, json!({"name": "second", "rate_limit": 5}));
    let grandchild = minted(&api, &first, json!({"name": "grandchild", "rate_limit": 2}));
    let token = crate::oidc::key_token(&api, &second);
    assert_eq!(token.status, 200);
    let session = token.json()["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    // The two children together: six calls, then every key of the family is refused.
    clock.advance(Duration::from_secs(75));
    let (a, b) = (first.as_str(), second.as_str());
    assert_eq!(statuses(&api, &[a, b, a, b, a, b]), [200; 6]);
    let refused = api.call_as(a, "billing.credits.balance", json!({}));
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("45"));
    assert_eq!(statuses(&api, &[b, &parent, &grandchild]), [429; 3]);

    // A grandchild with calls of its own left is refused once its grandparent's are spent.
    clock.advance(Duration::from_secs(60));
    let g = grandchild.as_str();
    assert_eq!(statuses(&api, &[parent.as_str(); 5]), [200; 5]);
    assert_eq!(statuses(&api, &[g, g]), [200, 429]);

    // A session a child signed in with counts as that child does.
    clock.advance(Duration::from_secs(60));
    assert_eq!(statuses(&api, &[parent.as_str(); 5]), [200; 5]);
    assert_eq!(statuses(&api, &[&session, &session, a]), [200, 429, 429]);

    // A new window gives the family its six calls again.
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        statuses(&api, &[g, g, g]),
        [200, 200, 429],
        "its own limit of 2"
    );
    assert_eq!(statuses(&api, &[a, a, a, a, a]), [200, 200, 200, 200, 429]);
}

/// A key's calls count against at most `MAX_KEY_RATE_WINDOWS` windows: a chain of ever lower
/// limits ends there, while a key sharing the tightest limit needs no window and is minted.
#[test]
fn a_chain_of_ever_lower_limits_is_bounded() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits::off()));
    let top = 1_000;
    let mut caller = api.emu.api_key().to_owned();
    for depth in 0..MAX_KEY_RATE_WINDOWS {
        let limit = top - depth;
        caller = minted(&api, &caller, json!({"name": "link", "rate_limit": limit}));
    }
    let tightest = top - (MAX_KEY_RATE_WINDOWS - 1);
    let lower = create(
        &api,
        &caller,
        json!({"name": "lower", "rate_limit": tightest - 1}),
    );
    assert_eq!(lower.status, 403, "{:?}", lower.body);
    let detail = lower.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains(&format!("{MAX_KEY_RATE_WINDOWS} nested limits")),
        "{detail}"
    );
    let same = minted(&api, &caller, json!({"name": "same"}));
    let again = create(
        &api,
        &same,
        json!({"name": "again", "rate_limit": tightest}),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["rate_limit"], tightest);
}

#[test]
fn rate_limits_out_of_range_are_422_at_rate_limit() {
    let api = Api::start();
    for (rate_limit, kind) in [
        (json!(0), "greater_than"),
        (json!(-5), "greater_than"),
        (json!(MAX_KEY_RATE_LIMIT + 1), "less_than_equal"),
        (json!(1_u64 << 40), "less_than_equal"),
        (json!(u64::MAX), "less_than_equal"),
        // pydantic reads a float as an integer only strictly within ±2^63, and answers one
        // beyond with int_parsing_size before any bound is looked at, though the same number
        // written out in full is an integer (above: past the cap).
        (json!(1e30), "int_parsing_size"),
        (json!(9.3e18), "int_parsing_size"),
        (json!(2.5), "int_from_float"),
        (json!("10"), "int_type"),
    ] {
        let resp = api.call(
            "api_keys.create",
            json!({"name": "n", "rate_limit": rate_limit}),
        );
        assert_eq!(resp.status, 422, "{rate_limit}");
        let detail = resp.json()["detail"][0].clone();
        assert_eq!(detail["loc"], json!(["body", "rate_limit"]), "{rate_limit}");
        assert_eq!(detail["type"], kind, "{rate_limit}");
    }
    let at_bound = api.call(
        "api_keys.create",
        json!({"name": "n", "rate_limit": MAX_KEY_RATE_LIMIT, "permissions": ["*"]}),
    );
    assert_eq!(at_bound.status, 200);
    assert_eq!(at_bound.json()["rate_limit"], MAX_KEY_RATE_LIMIT);
}

/// The seeded generator behind every id can be worked out from one of them, so a secret
/// drawn from it could be computed by another organization; two emulators of one seed,
/// asked the same things in the same order, must agree on ids and never on minted secrets.
#[test]
fn minted_key_secrets_do_not_follow_from_the_seed() {
    let mint = || {
        let api = Api::with(Emulator::builder().seed(41).rate_limits(RateLimits::off()));
        let by_handle = api.emu.create_key(&["*"]);
        let created = api.ok(
            "api_keys.create",
            json!({"name": "ci", "permissions": ["catalog:read"]}),
        );
        let listed = api.ok("api_keys.list", json!({}));
        let ids: Vec<_> = listed["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|key| key["id"].clone())
            .collect();
        let secret = created["key"].as_str().expect("secret").to_owned();
        (api.emu.api_key().to_owned(), ids, by_handle, secret)
    };
    let (demo_a, ids_a, handle_a, created_a) = mint();
    let (demo_b, ids_b, handle_b, created_b) = mint();
    assert_eq!(demo_a, demo_b, "the demo key follows from the seed");
    assert_eq!(ids_a, ids_b, "ids follow from the seed");
    assert_eq!(ids_a.len(), 3, "{ids_a:?}");
    for secret in [&handle_a, &handle_b, &created_a, &created_b] {
        assert!(
            secret.starts_with("gpra_") && secret.len() == 37,
            "{secret}"
        );
    }
    assert_ne!(handle_a, handle_b);
    assert_ne!(created_a, created_b);
}

/// Regression: the handle's `Debug` printed the emulator's whole state, so a test that
/// formatted it (`{:?}`, `dbg!`, a failed assertion's message) wrote every API key's secret,
/// the demo key, the session token and the answers kept for idempotency keys (a new key's
/// secret among them) into its output.
#[test]
fn the_handles_debug_shows_no_credential() {
    let api = Api::start();
    let created = api.call_with(
        "api_keys.create",
        &json!({"name": "printed"}),
        &[
            ("authorization", &format!("Bearer {}", api.emu.api_key())),
            ("idempotency-key", "debug-kept"),
        ],
    );
    assert_eq!(created.status, 200);
    let secret = created.json()["key"]
        .as_str()
        .expect("secret returned once")
        .to_owned();
    assert_eq!(api.call_as(&secret, "api_keys.list", json!({})).status, 200);

    let shown = format!("{:?}", api.emu);
    assert!(shown.contains(&api.emu.base_url()), "{shown}");
    for credential in [secret.as_str(), api.emu.api_key(), api.emu.session_token()] {
        assert!(
            !shown.contains(credential),
            "the handle's Debug holds a credential"
        );
    }
    // The hex part alone, as a byte string's Debug would show it.
    let hex = secret.trim_start_matches("gpra_");
    assert!(
        !shown.contains(hex),
        "the handle's Debug holds a key's secret"
    );
}

/// A key revoked while one of its calls is under way (its body still arriving) does not run
/// that call: the credential is asked again just before the operation. It was checked only
/// as the request arrived, so a stolen key kept one slow request open and minted its own
/// replacement after the revocation.
#[test]
fn a_key_revoked_while_its_call_is_under_way_does_not_run_it() {
    let api = Api::start();
    let created = api
        .call(
            "api_keys.create",
            json!({"name": "stolen", "permissions": ["api_keys:*"]}),
        )
        .json();
    let secret = created["key"].as_str().expect("a secret").to_owned();
    let answer = a_call_whose_body_is_slow(
        &api,
        "api_keys.create",
        &format!("authorization: Bearer {secret}\r\n"),
        br#"{"name":"escape"}"#,
        || {
            assert_eq!(
                api.call("api_keys.revoke", json!({"key_id": created["id"]}))
                    .status,
                200
            );
        },
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains("gpra_"), "{answer}");
    let names: Vec<Value> = api.call("api_keys.list", json!({})).json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["name"].clone())
        .collect();
    assert!(!names.contains(&json!("escape")), "{names:?}");
    assert_eq!(api.emu.executed("api_keys.create"), 1, "only the first ran");
}

/// A session that expires while its keyed call is under way is refused with 401, and its key
/// is not claimed: the same person's retry, with a renewed session and the same key, runs.
/// The 401 was kept under the key and replayed to every retry for a day.
#[test]
fn a_call_refused_mid_way_claims_no_idempotency_key() {
    let clock = ManualClock::new();
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .clock(clock.clone()),
    );
    let session = crate::oidc::password_login(&api, "admin", "admin-password");
    let access = session["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let body = br#"{"name":"kept once"}"#;
    // The access token expires while the body is still coming.
    let answer = a_call_whose_body_is_slow(
        &api,
        "projects.create",
        &format!("authorization: Bearer {access}\r\nidempotency-key: once\r\n"),
        body,
        || clock.advance(Duration::from_secs(301)),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let renewed = crate::oidc::refresh(
        &api,
        session["refresh_token"].as_str().expect("a refresh token"),
    );
    assert_eq!(renewed.status, 200);
    let bearer = format!(
        "Bearer {}",
        renewed.json()["access_token"].as_str().expect("a token")
    );
    let retried = api.call_with(
        "projects.create",
        &serde_json::from_slice(body).expect("JSON"),
        &[("authorization", &bearer), ("idempotency-key", "once")],
    );
    assert_eq!(retried.status, 200, "{:?}", retried.json());
    assert_eq!(retried.header("idempotent-replayed"), None);
}

/// Sends `op` with `headers` (each line ending in CRLF) and the first 5 bytes of `body`,
/// runs `meanwhile` once the head has been read (the call then waits for its body), sends
/// the rest, and returns the answer as text.
fn a_call_whose_body_is_slow(
    api: &Api,
    op: &str,
    headers: &str,
    body: &[u8],
    meanwhile: impl FnOnce(),
) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(api.emu.addr()).expect("connects");
    let head = format!(
        "POST /v1/op/{op} HTTP/1.1\r\nhost: {}\r\n{headers}content-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        api.emu.addr(),
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("the head");
    stream.write_all(&body[..5]).expect("a part of the body");
    stream.flush().expect("sent");
    std::thread::sleep(Duration::from_millis(200));
    meanwhile();
    stream.write_all(&body[5..]).expect("the rest");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

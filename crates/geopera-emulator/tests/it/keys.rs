//! `api_keys.*`: created keys work at once, revoked keys stop at once.

use serde_json::json;

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

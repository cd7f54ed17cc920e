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

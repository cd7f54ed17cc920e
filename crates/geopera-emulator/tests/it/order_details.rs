//! Tags, coverage and deliverables of an order: read from the order the caller placed, and
//! another organization's order is 404.

use std::time::Duration;

use serde_json::json;

use crate::common::Api;

#[test]
fn a_fulfilled_order_lists_expiring_deliverables_its_tags_and_its_coverage() {
    let api = Api::start();
    let capture = api
        .call(
            "catalog.search",
            json!({"host_name": "geopera-commercial", "limit": 1}),
        )
        .json()["features"][0]["id"]
        .as_str()
        .expect("a capture")
        .to_owned();
    let placed = api.call(
        "orders.archive.place",
        json!({"captures": [{"id": capture}]}),
    );
    assert_eq!(placed.status, 202);
    let order = placed.json()["orderId"]
        .as_str()
        .expect("orderId")
        .to_owned();

    let early = api
        .call("orders.list_assets", json!({"order_id": order}))
        .json();
    assert_eq!(
        (early["status"].clone(), early["total"].clone()),
        (json!("received"), json!(0))
    );

    api.emu.clock().advance(Duration::from_secs(331));
    let assets = api
        .call("orders.list_assets", json!({"order_id": order}))
        .json();
    assert_eq!(assets["status"], "fulfilled");
    assert_eq!(assets["assets"][0]["capture_id"], capture.as_str());
    let href = assets["assets"][0]["href"].as_str().expect("href");
    let fetched = api.http.get(href).send().expect("asset request");
    assert_eq!(fetched.status().as_u16(), 200);

    let tagged = api.call(
        "orders.update",
        json!({"order_id": order, "tags": ["flood", "2026"]}),
    );
    assert_eq!(tagged.status, 200);
    let got = api.call("orders.get", json!({"order_id": order})).json();
    assert_eq!(got["tags"], json!(["flood", "2026"]));
    let empty_tag = api.call("orders.update", json!({"order_id": order, "tags": [""]}));
    assert_eq!(empty_tag.status, 422);

    let coverage = api
        .call("orders.coverage.get", json!({"order_id": order}))
        .json();
    assert_eq!(coverage["group_count"], 1);
    assert!(
        coverage["area_km2"].as_f64().is_some_and(|a| a > 0.0),
        "{coverage}"
    );
    let groups = api
        .call("orders.coverage.groups.list", json!({"order_id": order}))
        .json();
    assert_eq!(groups["total"], 1);

    let other = api.emu.create_key_in_org("org_other_details", &["*"]);
    for op in ["orders.list_assets", "orders.coverage.get", "orders.update"] {
        let theirs = api.call_as(&other, op, json!({"order_id": order}));
        assert_eq!(theirs.status, 404, "{op}");
    }
}

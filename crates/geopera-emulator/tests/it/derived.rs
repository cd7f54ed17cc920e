//! Operations that keep nothing but answer from the request and the catalog: they must agree
//! with the operations that do keep state (an estimate is what placing charges) and answer
//! the same request the same way.

use serde_json::{json, Value};

use crate::common::{refused, Api};

fn square(size: f64) -> Value {
    json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[[0.0, 0.0], [size, 0.0], [size, size], [0.0, size], [0.0, 0.0]]]}}]})
}

#[test]
fn an_order_estimate_is_what_placing_the_order_charges() {
    let api = Api::start();
    let body = json!({"dataProduct": "optical-50cm", "featureCollection": square(0.1)});
    let estimate = api.call("orders.estimate", body.clone());
    assert_eq!(estimate.status, 200);
    let estimate = estimate.json()["totalCredits"].as_i64().expect("credits");
    let before = api.call("billing.credits.balance", json!({})).json()["credits"].as_i64();
    let mut place = body;
    place["workspaceId"] = json!("ws_1");
    let placed = api.call("orders.place", place);
    assert!(
        placed.status < 300,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let after = api.call("billing.credits.balance", json!({})).json()["credits"].as_i64();
    assert_eq!(before.zip(after).map(|(b, a)| b - a), Some(estimate));
    // 0.1° squared near the equator is about 123 km², at the 50 cm rate of A$14/km².
    assert!((150_000..=190_000).contains(&estimate), "{estimate}");
}

#[test]
fn tasking_feasibility_and_opportunities_follow_from_the_area() {
    let api = Api::start();
    let small = json!({"dataProduct": "sar-stripmap", "featureCollection": square(0.1)});
    let feasible = api
        .call("orders.tasking.feasibility_check", small.clone())
        .json();
    assert_eq!(feasible["feasible"], true);
    assert_eq!(feasible["sensors"], json!(["sar-x-band-1m"]));
    let huge = json!({"dataProduct": "optical", "featureCollection": square(5.0)});
    let too_big = api.call("orders.tasking.feasibility_check", huge).json();
    assert_eq!(too_big["feasible"], false);
    let empty = api.call(
        "orders.tasking.feasibility_check",
        json!({"dataProduct": "optical", "featureCollection": {}}),
    );
    assert_eq!(empty.status, 422);

    let first = api
        .call("orders.tasking.opportunities_list", small.clone())
        .json();
    let again = api.call("orders.tasking.opportunities_list", small).json();
    assert_eq!(first, again);
    assert_eq!(first["total"], 14, "a daily SAR pass for 14 days: {first}");
    let sensors = api.call("orders.tasking.sensors", json!({})).json();
    assert_eq!(sensors["sensors"].as_array().map(Vec::len), Some(3));
}

#[test]
fn a_federated_search_counts_matches_per_source() {
    let api = Api::start();
    let both = api
        .call("catalog.federated_search", json!({"limit": 5}))
        .json();
    assert_eq!(both["numberReturned"], 5);
    let counts: Vec<i64> = both["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["count"].as_i64())
        .collect();
    assert_eq!(counts.len(), 2);
    assert_eq!(
        counts.iter().sum::<i64>(),
        10_500,
        "the whole catalog: {counts:?}"
    );

    let one = api
        .call(
            "catalog.federated_search",
            json!({"source_ids": ["geopera-commercial", "nowhere"], "limit": 3}),
        )
        .json();
    let features = one["features"].as_array().expect("features");
    assert!(
        features
            .iter()
            .all(|f| f["collection"] == "geopera-vhr-archive"),
        "{one}"
    );
    assert_eq!(one["sources"][1]["error"], "unknown source");
    // A source named twice is reported once.
    let twice = api
        .call(
            "catalog.federated_search",
            json!({"source_ids": ["nowhere", "nowhere"], "limit": 1}),
        )
        .json();
    assert_eq!(
        twice["sources"].as_array().map(Vec::len),
        Some(1),
        "{twice}"
    );

    // `data_types` keeps the kinds named: radar is the Sentinel-1 collection alone.
    let sar = api
        .call(
            "catalog.federated_search",
            json!({"data_types": ["SAR"], "limit": 20}),
        )
        .json();
    let features = sar["features"].as_array().expect("features");
    assert!(!features.is_empty());
    assert!(
        features.iter().all(|f| f["collection"] == "sentinel-1-grd"),
        "{sar}"
    );
    let counted: i64 = sar["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["count"].as_i64())
        .sum();
    assert_eq!(counted, 2_000);
    let none = api
        .call(
            "catalog.federated_search",
            json!({"data_types": ["hyperspectral"], "limit": 5}),
        )
        .json();
    assert_eq!(none["numberReturned"], 0, "{none}");
}

/// Source ids the catalog does not know are reported one entry each, in the order named, up to
/// 100 distinct ones however often each is repeated; a search naming more is 422 at
/// `source_ids`, as an answer reporting each grew to many times the size of its request.
#[test]
fn a_federated_search_reports_up_to_a_hundred_unknown_sources() {
    let api = Api::start();
    let unknown: Vec<String> = (0..100).map(|n| format!("nowhere-{n}")).collect();
    let mut named: Vec<&str> = vec!["geopera-commercial"];
    for _ in 0..50 {
        named.extend(unknown.iter().map(String::as_str));
    }
    let answer = api.ok(
        "catalog.federated_search",
        json!({"source_ids": named, "limit": 1}),
    );
    let reported: Vec<&str> = answer["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter(|source| source["error"] == "unknown source")
        .filter_map(|source| source["source_id"].as_str())
        .collect();
    assert_eq!(reported, unknown);

    let mut too_many = unknown.clone();
    too_many.push("nowhere-else".to_owned());
    refused(
        api.call(
            "catalog.federated_search",
            json!({"source_ids": too_many, "limit": 1}),
        ),
        "source_ids",
        "catalog.federated_search",
    );
}

/// The federated search has no pages and declares no `next`: one sent along (a token of some
/// `catalog.search`, say) is ignored as any undeclared member is, not read as a page token of
/// a search it never came from and refused.
#[test]
fn a_federated_search_ignores_a_next_it_does_not_declare() {
    let api = Api::start();
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 2}),
        )
        .json();
    let token = page["next"].as_str().expect("a next page").to_owned();
    let plain = api
        .call("catalog.federated_search", json!({"limit": 5}))
        .json();
    for next in [json!(token), json!("not a token")] {
        let with_next = api.call(
            "catalog.federated_search",
            json!({"limit": 5, "next": next}),
        );
        assert_eq!(with_next.status, 200, "{next}: {:?}", with_next.body);
        assert_eq!(with_next.json()["features"], plain["features"], "{next}");
    }
}

//! Estimates, placement, status over clock time, cancellation, balances and list paging.

use std::collections::HashSet;
use std::time::Duration;

use geopera_emulator::{DEMO_ORG, HISTORICAL_ORDERS, MAX_ORDERS_PER_ORG, STARTING_CREDITS};
use serde_json::{json, Value};

use crate::common::Api;

fn first_item(api: &Api, host: &str) -> String {
    api.call("catalog.search", json!({"host_name": host, "limit": 1}))
        .json()["features"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn square(size: f64) -> Value {
    square_at(0.0, 0.0, size)
}

/// A square polygon with its south-west corner at `(x, y)`.
fn square_at(x: f64, y: f64, size: f64) -> Value {
    let (e, n) = (x + size, y + size);
    json!({"type": "Polygon", "coordinates": [[[x, y], [e, y], [e, n], [x, n], [x, y]]]})
}

/// A commercial capture's id and footprint, `[west, south, east, north]`.
fn commercial_footprint(api: &Api) -> (String, [f64; 4]) {
    let id = api.commercial_capture();
    let feature = api.ok(
        "catalog.search",
        json!({"host_name": "geopera-commercial", "limit": 1}),
    );
    let bbox = &feature["features"][0]["bbox"];
    let side = |n: usize| bbox[n].as_f64().expect("a bbox");
    (id, [side(0), side(1), side(2), side(3)])
}

fn total_credits(estimate: &Value) -> i64 {
    estimate["total_credits"].as_i64().expect("total_credits")
}

/// The orders of an organization's starting history were never charged: a clock set back
/// before they ended shows them open, but cancelling one is refused and refunds nothing.
#[test]
fn a_history_order_is_not_cancelled_or_refunded_with_the_clock_set_back() {
    let api = Api::start();
    let listed = api.ok("orders.list", json!({"size": 100}));
    let id = listed["content"][0]["orderId"]
        .as_str()
        .expect("an order of the history")
        .to_owned();
    let before = api.emu.balance_credits(DEMO_ORG);
    api.emu.clock().set(0);
    let cancelled = api.call("orders.cancel", json!({"order_id": id}));
    assert_eq!(cancelled.status, 409, "{:?}", cancelled.body);
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before);
}

#[test]
fn archive_estimate_prices_commercial_captures_by_area() {
    let api = Api::start();
    let (id, [west, south, ..]) = commercial_footprint(&api);
    let small = api
        .call(
            "orders.archive.estimate",
            json!({"captures": [{"id": id, "geometry": square_at(west, south, 0.01)}]}),
        )
        .json();
    let large = api
        .call(
            "orders.archive.estimate",
            json!({"captures": [{"id": id, "geometry": square_at(west, south, 0.1)}]}),
        )
        .json();
    let credits = |value: &Value| value["total_credits"].as_i64().expect("credits");
    assert!(credits(&large) > credits(&small), "priced from area");
    assert!(credits(&small) > 0, "the 25 km² minimum applies");
    for estimate in [&small, &large] {
        let aud = estimate["total_aud"].as_f64().expect("aud");
        assert_eq!(
            (aud * 100.0).round() as i64,
            credits(estimate),
            "100 credits = A$1"
        );
    }
    let unknown = api
        .call(
            "orders.archive.estimate",
            json!({"captures": [{"id": "nope"}]}),
        )
        .json();
    assert_eq!(unknown["errors"].as_array().map(Vec::len), Some(1));
    assert_eq!(unknown["total_credits"], 0);
}

/// A capture is bought once: listed twice, the estimate names the repeat and the order is
/// refused, instead of both pricing and charging it twice.
#[test]
fn a_capture_listed_twice_is_an_error_not_a_double_charge() {
    let api = Api::start();
    let id = first_item(&api, "geopera-commercial");
    let twice = json!({"captures": [{"id": id}, {"id": id}]});
    let estimate = api.call("orders.archive.estimate", twice.clone()).json();
    assert_eq!(estimate["errors"][0]["index"], 1, "{estimate}");
    let before = api.emu.balance_credits(DEMO_ORG);
    let placed = api.call("orders.archive.place", twice);
    assert_eq!(placed.status, 422);
    assert!(String::from_utf8_lossy(&placed.body).contains("listed twice"));
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before);
}

/// An area of interest sets an archive capture's price, so it has to be an area on the
/// capture: a point, a polygon off the globe or one elsewhere on Earth is refused at the
/// capture's `geometry` by both the estimate and the order, instead of buying the whole
/// capture at the minimum price.
#[test]
fn an_area_of_interest_that_is_not_a_polygon_on_the_capture_is_refused_at_its_geometry() {
    let api = Api::start();
    let (id, [west, south, ..]) = commercial_footprint(&api);
    // Half the world away, and as large as the minimum area near the equator.
    let elsewhere_x = if west >= 0.0 {
        west - 180.0
    } else {
        west + 180.0 - 0.045
    };
    let far_away = square_at(elsewhere_x, -south.clamp(-80.0, 80.0), 0.045);
    let off_the_globe = square_at(1e308, 1e308, 1.0);
    let point = json!({"type": "Point", "coordinates": [0, 0]});
    let page = api.ok(
        "catalog.search",
        json!({"host_name": "geopera-commercial", "limit": 2}),
    );
    let other = page["features"][1]["id"]
        .as_str()
        .expect("a second capture");
    assert_ne!(other, id);
    for (geometry, says) in [
        (point, "not a Point"),
        (
            off_the_globe,
            "longitude within -180..180, latitude within -90..90",
        ),
        (far_away, "does not overlap the footprint"),
    ] {
        let body = json!({"captures": [{"id": other}, {"id": id, "geometry": geometry}]});
        let before = api.emu.balance_credits(DEMO_ORG);
        for op in ["orders.archive.estimate", "orders.archive.place"] {
            let resp = api.call(op, body.clone());
            assert_eq!(resp.status, 422, "{op} {geometry}");
            let answer = resp.json();
            let detail = &answer["detail"];
            assert_eq!(detail.as_array().map(Vec::len), Some(1), "{op}: {answer}");
            assert_eq!(
                detail[0]["loc"],
                json!(["body", "captures", 1, "geometry"]),
                "{op}: {answer}"
            );
            assert_eq!(detail[0]["type"], "value_error", "{op}: {answer}");
            let msg = detail[0]["msg"].as_str().expect("msg");
            assert!(msg.contains(says), "{op}: {msg}");
        }
        assert_eq!(api.emu.balance_credits(DEMO_ORG), before, "nothing charged");
    }
}

/// Inside the footprint, an area of interest is priced by its own area, the same by the
/// estimate and the order; the part of one that reaches outside the footprint is not priced.
#[test]
fn an_area_of_interest_is_priced_by_its_part_inside_the_capture() {
    let api = Api::start();
    let (id, [west, south, east, north]) = commercial_footprint(&api);
    let feature = api.ok(
        "catalog.search",
        json!({"host_name": "geopera-commercial", "limit": 1}),
    );
    let price = feature["features"][0]["properties"]["geopera:price"]["aud_per_km2"]
        .as_f64()
        .expect("a price");
    let (x, y, size) = (west + 0.01, south + 0.01, 0.1);
    let inside = square_at(x, y, size);
    let estimate = api.ok(
        "orders.archive.estimate",
        json!({"captures": [{"id": id, "geometry": inside}]}),
    );
    // Its share of the footprint, of the whole capture's area as the emulator measures it.
    let mean_lat = (south + north) / 2.0;
    let whole_area =
        (east - west) * 111.32 * mean_lat.to_radians().cos() * (north - south) * 110.574;
    let area = whole_area * size * size / ((east - west) * (north - south));
    assert!(area > 25.0, "above the minimum area");
    let expected = area * price * 100.0;
    let credits = total_credits(&estimate) as f64;
    assert!((credits - expected).abs() < expected * 0.01, "{estimate}");
    let placed = api.ok(
        "orders.archive.place",
        json!({"captures": [{"id": id, "geometry": inside}]}),
    );
    assert_eq!(placed["total_credits"], estimate["total_credits"]);

    let whole = api.ok("orders.archive.estimate", json!({"captures": [{"id": id}]}));
    let beyond = square_at(
        west - 1.0,
        south - 1.0,
        (east - west).max(north - south) + 2.0,
    );
    let clipped = api.ok(
        "orders.archive.estimate",
        json!({"captures": [{"id": id, "geometry": beyond}]}),
    );
    assert_eq!(total_credits(&clipped), total_credits(&whole), "{clipped}");
    assert_eq!(
        clipped["groups"][0]["area_km2"],
        whole["groups"][0]["area_km2"]
    );
}

/// Estimates `geometry` as the area of interest of capture `id`, for its total credits.
fn priced(api: &Api, id: &str, geometry: &Value) -> i64 {
    total_credits(&api.ok(
        "orders.archive.estimate",
        json!({"captures": [{"id": id, "geometry": geometry}]}),
    ))
}

/// A commercial capture's id, footprint and price without an area of interest.
fn whole_capture(api: &Api) -> (String, [f64; 4], i64) {
    let (id, footprint) = commercial_footprint(api);
    let whole =
        total_credits(&api.ok("orders.archive.estimate", json!({"captures": [{"id": id}]})));
    (id, footprint, whole)
}

/// A closed rectangular ring.
fn ring(w: f64, s: f64, e: f64, n: f64) -> Value {
    json!([[w, s], [e, s], [e, n], [w, n], [w, s]])
}

fn polygon(rings: Value) -> Value {
    json!({"type": "Polygon", "coordinates": rings})
}

/// A ring a degree beyond the footprint on every side.
fn around([west, south, east, north]: [f64; 4]) -> Value {
    ring(west - 1.0, south - 1.0, east + 1.0, north + 1.0)
}

// An area of interest is priced by how much of the footprint it covers: holes and rings that
// cross themselves cannot cancel area, and polygons that repeat or overlap are charged once,
// so one covering the whole footprint, however it is drawn, costs what the whole capture
// does, never less and never more.

#[test]
fn an_area_of_interest_that_is_the_footprint_costs_the_whole_capture() {
    let api = Api::start();
    let (id, [west, south, east, north], whole) = whole_capture(&api);
    let footprint = polygon(json!([ring(west, south, east, north)]));
    assert_eq!(priced(&api, &id, &footprint), whole);
    let half = polygon(json!([ring(
        (west + east) / 2.0,
        south - 1.0,
        east + 1.0,
        north + 1.0
    )]));
    let half = priced(&api, &id, &half) as f64;
    let expected = whole as f64 / 2.0;
    assert!(
        (half - expected).abs() < expected * 0.01,
        "{half} of {whole}"
    );
}

#[test]
fn a_hole_of_one_polygon_takes_nothing_from_another() {
    let api = Api::start();
    let (id, footprint, whole) = whole_capture(&api);
    let [west, south, east, north] = footprint;
    let (x, y) = ((west + east) / 2.0, (south + north) / 2.0);
    let cancelling = json!({"type": "MultiPolygon", "coordinates": [
        [around(footprint)],
        [ring(x, y, x + 0.001, y + 0.001), around(footprint)],
    ]});
    assert_eq!(priced(&api, &id, &cancelling), whole);
}

#[test]
fn a_polygon_listed_five_times_is_bought_once() {
    let api = Api::start();
    let (id, footprint, whole) = whole_capture(&api);
    let five = json!({"type": "MultiPolygon", "coordinates": vec![json!([around(footprint)]); 5]});
    assert_eq!(priced(&api, &id, &five), whole);
}

#[test]
fn rings_that_go_round_twice_or_cross_themselves_cancel_nothing() {
    let api = Api::start();
    let (id, [west, south, east, north], whole) = whole_capture(&api);
    let corners = ring(west, south, east, north);
    let corners = corners.as_array().expect("a ring");
    let twice: Vec<Value> = corners.iter().chain(&corners[1..]).cloned().collect();
    assert_eq!(priced(&api, &id, &polygon(json!([twice]))), whole);
    // A figure eight covers both its loops, about half the footprint.
    let eight = json!([
        [west, south],
        [east, north],
        [east, south + 0.01],
        [west, north],
        [west, south]
    ]);
    let eight = priced(&api, &id, &polygon(json!([eight]))) as f64;
    assert!(
        (eight / whole as f64 - 0.5).abs() < 0.03,
        "{eight} of {whole}"
    );
}

/// The overlap is decided from the positions, not from the rows that measure coverage.
#[test]
fn a_sliver_of_an_overlap_is_bought_at_the_minimum() {
    let api = Api::start();
    let (id, [west, south, east, north], _) = whole_capture(&api);
    let minimum = priced(&api, &id, &square_at(west, south, 0.001));
    let sliver = polygon(json!([ring(
        west - 1.0,
        north - 1e-9,
        east + 1.0,
        north + 1.0
    )]));
    assert_eq!(priced(&api, &id, &sliver), minimum);
}

/// RFC 7946 lets a position hold more numbers than longitude, latitude and height, and lets
/// parsers accept them: the rest are ignored.
#[test]
fn an_area_of_interest_may_have_positions_of_more_than_three_numbers() {
    let api = Api::start();
    let (id, [west, south, east, north], whole) = whole_capture(&api);
    let geometry = json!({"type": "Polygon", "coordinates": [[
        [west, south, 0.0, 1.0], [east, south, 0.0, 1.0, 2.0], [east, north],
        [west, north, 0.0], [west, south, 0.0, 1.0]
    ]]});
    for op in ["orders.archive.estimate", "orders.archive.place"] {
        let answer = api.ok(op, json!({"captures": [{"id": id, "geometry": geometry}]}));
        assert_eq!(total_credits(&answer), whole, "{op}: {answer}");
    }
}

#[test]
fn tasking_estimate_answers_camel_case_totals() {
    let api = Api::start();
    let resp = api.call("orders.tasking.estimate", json!({"groups": [{"geometry": square(0.1), "product": "optical-vhr"}, {"geometry": square(0.1), "product": "sar"}]}));
    assert_eq!(resp.status, 200);
    let body = resp.json();
    let credits = body["totalCredits"].as_i64().expect("totalCredits");
    let aud = body["totalAud"].as_f64().expect("totalAud");
    assert!(credits > 0);
    assert_eq!((aud * 100.0).round() as i64, credits);
    assert_eq!(body["groups"].as_array().map(Vec::len), Some(2));
}

#[test]
fn placed_orders_advance_with_the_clock_and_fulfilled_ones_cannot_be_cancelled() {
    let api = Api::start();
    let clock = api.emu.clock().clone();
    let id = first_item(&api, "geopera-commercial");
    let estimate = api
        .call("orders.archive.estimate", json!({"captures": [{"id": id}]}))
        .json();
    let placed = api.call("orders.archive.place", json!({"captures": [{"id": id}]}));
    assert_eq!(placed.status, 202);
    let placed = placed.json();
    let order = placed["orderId"].as_str().expect("orderId").to_owned();
    assert_eq!(placed["order_id"], order.as_str());
    assert_eq!(placed["status"], "received");
    assert_eq!(placed["total_credits"], estimate["total_credits"]);
    let cost = estimate["total_credits"].as_i64().expect("credits");
    let balance = api.call("billing.credits.balance", json!({})).json();
    assert_eq!(balance["credits"].as_i64(), Some(STARTING_CREDITS - cost));

    let status =
        |api: &Api| api.call("orders.get", json!({"order_id": order})).json()["status"].clone();
    clock.advance(Duration::from_secs(31));
    assert_eq!(status(&api), "processing");
    clock.advance(Duration::from_secs(300));
    assert_eq!(status(&api), "fulfilled");
    let cancel = api.call("orders.cancel", json!({"order_id": order}));
    assert_eq!(cancel.status, 409);
    assert_eq!(cancel.content_type(), "application/problem+json");
}

#[test]
fn cancelling_refunds_and_unknown_orders_are_404() {
    let api = Api::start();
    let id = first_item(&api, "earthsearch-aws");
    let placed = api
        .call("orders.archive.place", json!({"captures": [{"id": id}]}))
        .json();
    let order = placed["orderId"].as_str().expect("orderId").to_owned();
    let cancel = api.call("orders.cancel", json!({"order_id": order}));
    assert_eq!(cancel.status, 200);
    assert_eq!(
        cancel.json(),
        json!({"orderId": order, "status": "cancelled", "refundedCredits": placed["total_credits"]})
    );
    assert_eq!(api.emu.balance_credits(DEMO_ORG), STARTING_CREDITS);
    assert_eq!(
        api.call("orders.cancel", json!({"order_id": order})).status,
        409
    );
    assert_eq!(
        api.call("orders.cancel", json!({"order_id": "ord_nope"}))
            .status,
        404
    );
    assert_eq!(
        api.call("orders.get", json!({"order_id": "ord_nope"}))
            .status,
        404
    );
    // Another organization cannot see it.
    let other = api.emu.create_key_in_org("org_other", &["*"]);
    assert_eq!(
        api.call_as(&other, "orders.get", json!({"order_id": order}))
            .status,
        404
    );
}

#[test]
fn tasking_orders_move_through_feasibility() {
    let api = Api::start();
    let placed = api.call(
        "orders.tasking.place",
        json!({"groups": [{"geometry": square(0.1)}]}),
    );
    assert_eq!(placed.status, 202);
    let order = placed.json()["orderId"]
        .as_str()
        .expect("orderId")
        .to_owned();
    let status =
        |api: &Api| api.call("orders.get", json!({"order_id": order})).json()["status"].clone();
    assert_eq!(status(&api), "received");
    api.emu.clock().advance(Duration::from_secs(61));
    assert_eq!(status(&api), "feasibility");
    api.emu.clock().advance(Duration::from_secs(600));
    assert_eq!(status(&api), "accepted");
    api.emu.clock().advance(Duration::from_secs(3600));
    assert_eq!(status(&api), "fulfilled");
}

#[test]
fn placing_beyond_the_balance_is_402_and_topups_raise_it() {
    let api = Api::start();
    let huge = json!({"groups": [{"geometry": square(0.5), "product": "vhr"}]});
    let resp = api.call("orders.tasking.place", huge.clone());
    assert_eq!(resp.status, 402);
    let cost = api.call("orders.tasking.estimate", huge.clone()).json()["totalCredits"]
        .as_i64()
        .expect("credits");
    let topup = api.call("billing.topup", json!({"credits": cost}));
    assert_eq!(topup.status, 201);
    assert_eq!(api.call("orders.tasking.place", huge).status, 202);
    assert_eq!(api.emu.balance_credits(DEMO_ORG), STARTING_CREDITS);
}

#[test]
fn orders_list_pages_by_page_and_size_until_a_short_page() {
    let api = Api::start();
    let id = first_item(&api, "earthsearch-aws");
    let placed = api
        .call("orders.archive.place", json!({"captures": [{"id": id}]}))
        .json();
    let mut seen = Vec::new();
    for page in 0..100 {
        let body = api
            .call("orders.list", json!({"page": page, "size": 20}))
            .json();
        let content = body["content"].as_array().expect("content").clone();
        seen.extend(
            content
                .iter()
                .map(|order| order["orderId"].as_str().expect("id").to_owned()),
        );
        if content.len() < 20 {
            break;
        }
    }
    assert_eq!(seen.len(), 251);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 251);
    assert_eq!(
        seen[0],
        placed["orderId"].as_str().expect("id"),
        "newest first"
    );
    let first = api.call("orders.list", json!({"size": 7})).json();
    assert_eq!(first["totalElements"], 251);
    assert_eq!(first["totalPages"], 36);
}

/// The tags `orders.place` is given are kept with the order, as `orders.update` keeps them,
/// within the same bounds; and a tasking order is found by the data product its group named.
/// Both were dropped without a word: the tags from the answer and every filter, the tasking
/// product from `dataProductIds`.
#[test]
fn an_order_keeps_its_tags_and_a_tasking_order_its_data_product() {
    let api = Api::start();
    let placed = api.ok(
        "orders.place",
        json!({"dataProduct": "optical", "workspaceId": "ws", "tags": ["flood"]}),
    );
    assert_eq!(placed["tags"], json!(["flood"]), "{placed}");
    let listed = |filter: Value| -> Vec<Value> {
        api.ok("orders.list", filter)["content"]
            .as_array()
            .expect("content")
            .iter()
            .map(|order| order["orderId"].clone())
            .collect()
    };
    assert_eq!(
        listed(json!({"tags": "flood"})),
        [placed["orderId"].clone()]
    );
    let too_many: Vec<String> = (0..51).map(|n| format!("t{n}")).collect();
    let refused = api.call(
        "orders.place",
        json!({"dataProduct": "optical", "workspaceId": "ws", "tags": too_many}),
    );
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["detail"][0]["loc"], json!(["body", "tags"]));
    let blank = api.call(
        "orders.place",
        json!({"dataProduct": "optical", "workspaceId": "ws", "tags": ["ok", ""]}),
    );
    assert_eq!(blank.json()["detail"][0]["loc"], json!(["body", "tags", 1]));

    let tasking = api.ok(
        "orders.tasking.place",
        json!({"groups": [{"dataProduct": "vhr-optical-30cm", "geometry": square(0.1)}]}),
    );
    assert_eq!(
        listed(json!({"dataProductIds": "vhr-optical-30cm"})),
        [tasking["orderId"].clone()]
    );
}

/// Every filter `orders.list` takes narrows the list: ids, tags and data products as
/// comma-separated lists (any of them), the name as a case-blind substring, the workspace
/// its body named, a sub-status no order has; and `sort` orders by the field it names.
#[test]
fn orders_list_applies_each_filter_and_sorts_by_the_field_named() {
    let api = Api::start();
    let place = |name: &str, product: &str, workspace: &str| {
        let body = json!({
            "dataProduct": product,
            "displayName": name,
            "workspaceId": workspace,
        });
        let placed = api.ok("orders.place", body);
        placed["orderId"].as_str().expect("id").to_owned()
    };
    let alpha = place("Alpha Bay survey", "optical-50cm", "ws_a");
    let beta = place("beta coast", "sar-stripmap", "ws_b");
    let gamma = place("Gamma bay", "sar-stripmap", "ws_a");
    api.ok(
        "orders.update",
        json!({"order_id": alpha, "tags": ["flood", "2026"]}),
    );
    api.ok(
        "orders.update",
        json!({"order_id": gamma, "tags": ["fire"]}),
    );
    let listed = |filter: Value| -> Vec<String> {
        let page = api.ok("orders.list", filter);
        page["content"]
            .as_array()
            .expect("content")
            .iter()
            .map(|order| order["orderId"].as_str().expect("id").to_owned())
            .collect()
    };
    let ids = format!("{alpha}, {gamma},ord_nosuchorder");
    assert_eq!(
        listed(json!({"orderIds": ids})),
        [gamma.clone(), alpha.clone()]
    );
    assert_eq!(
        listed(json!({"tags": "fire,2026"})),
        [gamma.clone(), alpha.clone()]
    );
    assert_eq!(listed(json!({"tags": "nosuchtag"})), Vec::<String>::new());
    assert_eq!(
        listed(json!({"displayName": "BAY"})),
        [gamma.clone(), alpha.clone()]
    );
    assert_eq!(listed(json!({"workspaceId": "ws_b"})), [beta.as_str()]);
    assert_eq!(
        listed(json!({"dataProductIds": "sar-stripmap"})),
        [gamma.clone(), beta.clone()]
    );
    assert_eq!(
        listed(json!({"subStatus": "anything"})),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(json!({"workspaceId": "ws_a", "dataProductIds": "sar-stripmap"})),
        [gamma.as_str()]
    );
    // Blank lists filter nothing.
    assert_eq!(listed(json!({"orderIds": " , ", "size": 300})).len(), 253);

    let mine = format!("{alpha},{beta},{gamma}");
    assert_eq!(
        listed(json!({"orderIds": mine, "sort": "displayName,asc"})),
        [alpha.clone(), beta.clone(), gamma.clone()]
    );
    assert_eq!(
        listed(json!({"orderIds": mine, "sort": "displayName,desc"})),
        [gamma.clone(), beta.clone(), alpha.clone()]
    );
    assert_eq!(
        listed(json!({"orderIds": mine, "sort": "createdAt"})),
        [alpha.clone(), beta.clone(), gamma.clone()],
        "ascending when no direction is given"
    );
    // The contract takes any text: another field sorts by `createdAt`, another direction is
    // upward.
    assert_eq!(
        listed(json!({"orderIds": mine, "sort": "nosuchfield,desc"})),
        [gamma.clone(), beta.clone(), alpha.clone()]
    );
    assert_eq!(
        listed(json!({"orderIds": mine, "sort": "displayName,sideways"})),
        [alpha.clone(), beta.clone(), gamma.clone()]
    );
}

#[test]
fn items_list_pages_by_limit_and_offset() {
    let api = Api::start();
    let project = api.emu.default_project(DEMO_ORG);
    let mut seen = Vec::new();
    let mut offset = 0;
    for _ in 0..100 {
        let body = api
            .call(
                "items.list",
                json!({"project_id": project, "limit": 64, "offset": offset}),
            )
            .json();
        let items = body["items"].as_array().expect("items").clone();
        offset += items.len();
        seen.extend(
            items
                .iter()
                .map(|item| item["id"].as_str().expect("id").to_owned()),
        );
        if items.len() < 64 {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 300);
    let uncollected = api
        .call(
            "items.list",
            json!({"project_id": project, "uncollected": true, "limit": 500}),
        )
        .json();
    assert_eq!(uncollected["total"], 75);
}

#[test]
fn out_of_range_paging_numbers_are_clamped_not_refused() {
    let api = Api::start();
    let project = api.emu.default_project(DEMO_ORG);
    let orders = api.call("orders.list", json!({"page": -3, "size": -16_777_216}));
    assert_eq!(orders.status, 200);
    let orders = orders.json();
    assert_eq!(
        (orders["page"].clone(), orders["size"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(orders["content"].as_array().map(Vec::len), Some(1));
    let huge = api.call("orders.list", json!({"size": 1_000_000})).json();
    assert_eq!(huge["size"], 1000);
    let items = api.call(
        "items.list",
        json!({"project_id": project, "limit": -959_588_174, "offset": -26_681_611_530_i64}),
    );
    assert_eq!(items.status, 200);
    let items = items.json();
    assert_eq!(
        (items["limit"].clone(), items["offset"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(items["items"].as_array().map(Vec::len), Some(1));
}

/// Integral floats within 64 bits are whole numbers, as pydantic reads them. A paging number
/// beyond 64 bits depends on how it is written: an integer written out in full is a Python
/// integer the API takes (a page past every order, clamped as other out-of-range paging
/// numbers are), while a float beyond ±2^63 is refused by pydantic itself with
/// int_parsing_size, before the API looks at pages, so it is no paging number at all.
#[test]
fn integral_floats_are_read_as_whole_numbers_and_paging_numbers_beyond_64_bits_clamped() {
    let api = Api::start();
    let project = api.emu.default_project(DEMO_ORG);
    let by_int = api
        .call("orders.list", json!({"page": 2, "size": 5}))
        .json();
    let by_float = api.call("orders.list", json!({"page": 2.0, "size": 5.0}));
    assert_eq!(by_float.status, 200);
    let by_float = by_float.json();
    assert_eq!(
        (by_float["page"].clone(), by_float["size"].clone()),
        (json!(2), json!(5))
    );
    assert_eq!(by_float["content"], by_int["content"]);
    let far = api.call(
        "items.list",
        json!({"project_id": project, "offset": 18_446_744_073_709_551_615_u64}),
    );
    assert_eq!(far.status, 200, "{:?}", far.body);
    assert_eq!(far.json()["items"], json!([]));
    let far = api.call("orders.list", json!({"page": i64::MAX, "size": 5}));
    assert_eq!(far.status, 200);
    assert_eq!(far.json()["content"], json!([]));

    let floats = api.call("orders.list", json!({"page": 1e30, "size": -9.3e18}));
    assert_eq!(floats.status, 422, "{:?}", floats.body);
    // In the contract's order of the members: `size` comes first.
    assert_eq!(
        floats.json()["detail"],
        json!([
            {"type": "int_parsing_size", "loc": ["body", "size"], "input": -9.3e18,
             "msg": "Unable to parse input string as an integer, exceeded maximum size"},
            {"type": "int_parsing_size", "loc": ["body", "page"], "input": 1e30,
             "msg": "Unable to parse input string as an integer, exceeded maximum size"},
        ])
    );
}

/// An organization holds at most `MAX_ORDERS_PER_ORG` orders. Past it a new order retires the
/// oldest that has ended (its starting history first); when none has, the order is a 409 that
/// says why, and a cancellation makes room again.
#[test]
fn past_its_order_cap_an_organization_retires_its_oldest_ended_order() {
    let api = Api::start();
    api.ok("billing.topup", json!({"credits": 1_000_000_000}));
    let capture = first_item(&api, "earthsearch-aws");
    let place = || {
        api.call(
            "orders.archive.place",
            json!({"captures": [{"id": capture}]}),
        )
    };
    let oldest_first = |size: usize| -> Vec<String> {
        let page = api.ok(
            "orders.list",
            json!({"page": 0, "size": size, "sort": "createdAt,asc"}),
        );
        page["content"]
            .as_array()
            .expect("orders")
            .iter()
            .filter_map(|order| order["orderId"].as_str().map(str::to_owned))
            .collect()
    };
    let history = oldest_first(1_000);
    assert_eq!(history.len(), HISTORICAL_ORDERS);

    let started = std::time::Instant::now();
    for n in HISTORICAL_ORDERS..MAX_ORDERS_PER_ORG {
        assert_eq!(place().status, 202, "order {n}");
        assert!(started.elapsed() < Duration::from_secs(300), "order {n}");
    }
    let total = || api.ok("orders.list", json!({"size": 1}))["totalElements"].clone();
    assert_eq!(total(), json!(MAX_ORDERS_PER_ORG));
    // Every further order retires one of the history, oldest first.
    for retired in &history {
        assert_eq!(place().status, 202);
        let gone = api.call("orders.get", json!({"order_id": retired}));
        assert_eq!(gone.status, 404, "{retired} retired");
    }
    assert_eq!(total(), json!(MAX_ORDERS_PER_ORG));

    // Now every order is in progress: nothing to retire.
    let refused = place();
    assert_eq!(refused.status, 409);
    let said = String::from_utf8_lossy(&refused.body).into_owned();
    assert!(said.contains(&MAX_ORDERS_PER_ORG.to_string()), "{said}");
    let oldest = oldest_first(1)[0].clone();
    api.ok("orders.cancel", json!({"order_id": oldest}));
    assert_eq!(place().status, 202, "the cancelled order made room");
    assert_eq!(
        api.call("orders.get", json!({"order_id": oldest})).status,
        404
    );
    assert_eq!(total(), json!(MAX_ORDERS_PER_ORG));
}

/// A polygon whose second ring lies outside its outer ring (or a ring that crosses itself) is
/// no area of the size it spans: its signed rings must not cancel each other's area, as they
/// may not for archive captures. Here the outer ring alone is a 5° square, about 300,000 km²,
/// thirty times the most one tasking request may cover.
#[test]
fn a_tasking_area_cannot_shrink_by_a_ring_outside_its_polygon() {
    let api = Api::start();
    let ring = |west: f64, east: f64| {
        json!([
            [west, 0.0],
            [east, 0.0],
            [east, 5.0],
            [west, 5.0],
            [west, 0.0]
        ])
    };
    let geometry = json!({"type": "Polygon", "coordinates": [ring(0.0, 5.0), ring(10.0, 14.9999)]});
    let check = api.ok(
        "orders.tasking.feasibility_check",
        json!({"dataProduct": "optical", "featureCollection": {"type": "FeatureCollection",
               "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}}),
    );
    assert_eq!(check["feasible"], false, "{check}");
    let placed = api.call(
        "orders.tasking.place",
        json!({"groups": [{"geometry": geometry}]}),
    );
    assert_eq!(
        placed.status,
        422,
        "a 300,000 km² polygon was ordered: {}; feasibility_check said {check}",
        String::from_utf8_lossy(&placed.body)
    );
}

/// Coordinates far off the globe measure as no number at all (their products overflow), which
/// must not be read as no area and sold at the minimum: the area is refused.
#[test]
fn an_order_area_off_the_globe_is_refused_not_priced_at_the_minimum() {
    let api = Api::start();
    let far = 1e200;
    let body = json!({"dataProduct": "optical", "featureCollection": {
        "type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[
            [-far, -far], [far, -far], [far, far], [-far, far], [-far, -far]]]}}]}});
    let estimate = api.call("orders.estimate", body.clone());
    assert_eq!(
        estimate.status,
        422,
        "{}",
        String::from_utf8_lossy(&estimate.body)
    );
    assert_eq!(
        estimate.json()["detail"][0]["loc"],
        json!(["body", "featureCollection"])
    );
    let before = api.emu.balance_credits(DEMO_ORG);
    let mut place = body;
    place["workspaceId"] = json!("ws_1");
    assert_eq!(api.call("orders.place", place).status, 422);
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before);
}

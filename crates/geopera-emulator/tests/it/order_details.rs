//! Tags, coverage and deliverables of an order: read from the order the caller placed, and
//! another organization's order is 404.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::json;

use crate::common::Api;

#[test]
fn a_fulfilled_order_lists_expiring_deliverables_its_tags_and_its_coverage() {
    let api = Api::start();
    let capture = api.commercial_capture();
    let order = api.place_archive_order(&capture);

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
    // The link is signed: without its signature, or once it has expired, it is refused.
    let bare = href.split('?').next().unwrap_or_default();
    let unsigned = api.http.get(bare).send().expect("asset request");
    assert_eq!(unsigned.status().as_u16(), 403);
    // Nor by another spelling of its path, sent as written (a URL parser would tidy them).
    let path = &bare[api.emu.base_url().len()..];
    let rest = path.strip_prefix("/assets/order/").expect("an order file");
    for alias in [
        format!("/assets//order/{rest}"),
        format!("/assets/Order/{rest}"),
        format!("/assets/x/../order/{rest}"),
        format!("/assets/x/%2e%2e/order/{rest}"),
        format!("/assets/order/./{rest}"),
        format!(
            "{}?{}",
            path.replacen("/order/", "/ORDER/", 1),
            &href[bare.len() + 1..]
        ),
    ] {
        let status = status_as_sent(api.emu.addr(), &alias);
        assert!(matches!(status, 403 | 404), "{alias}: {status}");
    }
    let expires_at = assets["assets"][0]["expires_at"].as_str().expect("expiry");
    assert_eq!(
        expires_at,
        geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 900)
    );
    api.emu.clock().advance(Duration::from_secs(901));
    let stale = api.http.get(href).send().expect("asset request");
    assert_eq!(stale.status().as_u16(), 403);

    let tagged = api.call(
        "orders.update",
        json!({"order_id": order, "tags": ["flood", "2026"]}),
    );
    assert_eq!(tagged.status, 200);
    let got = api.call("orders.get", json!({"order_id": order})).json();
    assert_eq!(got["tags"], json!(["flood", "2026"]));
    let empty_tag = api.call("orders.update", json!({"order_id": order, "tags": [""]}));
    assert_eq!(empty_tag.status, 422);
    // Tags the list's comma-separated, trimmed filter could never name are refused at their
    // place, and the order keeps the tags it had.
    for (tags, index) in [
        (json!(["ok", "eu,north"]), 1),
        (json!([" x"]), 0),
        (json!(["x "]), 0),
    ] {
        let refused = api.call("orders.update", json!({"order_id": order, "tags": tags}));
        assert_eq!(refused.status, 422, "{tags}");
        assert_eq!(
            refused.json()["detail"][0]["loc"],
            json!(["body", "tags", index]),
            "{tags}"
        );
    }
    let got = api.call("orders.get", json!({"order_id": order})).json();
    assert_eq!(got["tags"], json!(["flood", "2026"]));
    // A patch that names no tags leaves them, as a merge patch leaves what it does not name;
    // `[]` clears them.
    for untouched in [
        json!({"order_id": order}),
        json!({"order_id": order, "tags": null}),
    ] {
        assert_eq!(api.call("orders.update", untouched.clone()).status, 200);
        let got = api.call("orders.get", json!({"order_id": order})).json();
        assert_eq!(got["tags"], json!(["flood", "2026"]), "{untouched}");
    }
    assert_eq!(
        api.call("orders.update", json!({"order_id": order, "tags": []}))
            .status,
        200
    );
    let got = api.call("orders.get", json!({"order_id": order})).json();
    assert_eq!(got["tags"], json!([]));

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

/// The status of a GET of `target` exactly as written: no client library in between to
/// normalize its path.
fn status_as_sent(addr: SocketAddr, target: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("request written");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("a status line");
    let text = String::from_utf8_lossy(&head);
    text[9..12]
        .parse()
        .unwrap_or_else(|_| panic!("no status in {text:?}"))
}

fn tasking_order(api: &Api) -> String {
    let square = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1], [0.0, 0.0]]]});
    let placed = api.call(
        "orders.tasking.place",
        json!({"groups": [{"geometry": square}]}),
    );
    assert_eq!(placed.status, 202);
    placed.json()["orderId"]
        .as_str()
        .expect("orderId")
        .to_owned()
}

#[test]
fn a_tasking_order_waits_for_a_study_then_a_quotation_and_a_rejection_refunds_it() {
    let api = Api::start();
    let balance =
        |api: &Api| api.call("billing.credits.balance", json!({})).json()["credits"].as_i64();
    let kept = tasking_order(&api);
    let before = balance(&api).expect("balance");
    let dropped = tasking_order(&api);
    let cost = before - balance(&api).expect("balance");
    assert!(cost > 0);

    let pending = api
        .call("orders.tasking.decisions.pending", json!({}))
        .json();
    assert_eq!(pending["totalElements"], 2, "{pending}");
    assert_eq!(pending["content"][0]["kind"], "feasibility");
    let studies = api
        .call(
            "orders.tasking.feasibility_studies.list",
            json!({"orderId": dropped}),
        )
        .json();
    let study = studies["content"][0]["id"]
        .as_str()
        .expect("a study")
        .to_owned();
    assert_eq!(
        studies["content"][0]["options"].as_array().map(Vec::len),
        Some(2)
    );

    let unknown_option = api.call(
        "orders.tasking.feasibility_decide",
        json!({"study_id": study, "acceptedOptionId": "opt_teleport"}),
    );
    assert_eq!(unknown_option.status, 422);
    let decided = api.call(
        "orders.tasking.feasibility_decide",
        json!({"study_id": study, "acceptedOptionId": "opt_priority"}),
    );
    assert_eq!(
        decided.status,
        200,
        "{}",
        String::from_utf8_lossy(&decided.body)
    );
    assert_eq!(decided.json()["decision"], "ACCEPTED");
    let again = api.call(
        "orders.tasking.feasibility_decide",
        json!({"study_id": study, "acceptedOptionId": "opt_standard"}),
    );
    assert_eq!(again.status, 409);

    let quotes = api
        .call(
            "orders.tasking.quotations.list",
            json!({"decision": "pending"}),
        )
        .json();
    assert_eq!(quotes["totalElements"], 1, "{quotes}");
    let quote = quotes["content"][0]["id"]
        .as_str()
        .expect("a quotation")
        .to_owned();
    let only_quotes = api
        .call(
            "orders.tasking.decisions.pending",
            json!({"kinds": "quotation"}),
        )
        .json();
    assert_eq!(only_quotes["content"][0]["id"], quote.as_str());

    let other = api.emu.create_key_in_org("org_other_tasking", &["*"]);
    let theirs = api.call_as(
        &other,
        "orders.tasking.quotation_decide",
        json!({"quotation_id": quote, "decision": "REJECTED"}),
    );
    assert_eq!(theirs.status, 404);

    let rejected = api.call(
        "orders.tasking.quotation_decide",
        json!({"quotation_id": quote, "decision": "REJECTED"}),
    );
    assert_eq!(
        rejected.status,
        200,
        "{}",
        String::from_utf8_lossy(&rejected.body)
    );
    assert_eq!(rejected.json()["order"]["status"], "cancelled");
    assert_eq!(balance(&api), Some(before));
    // The decisions are the study's and the quotation's to say, not members of the order.
    let order = api.ok("orders.get", json!({"order_id": dropped}));
    assert_eq!(order["status"], "cancelled", "{order}");
    for record in ["feasibility", "quotation"] {
        assert!(order.get(record).is_none(), "{record}: {order}");
    }
    let again = api.call(
        "orders.tasking.quotation_decide",
        json!({"quotation_id": quote, "decision": "ACCEPTED"}),
    );
    assert_eq!(
        again.status,
        409,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    let status = api.call("orders.get", json!({"order_id": dropped})).json()["status"].clone();
    assert_eq!(status, "cancelled");
    let left = api
        .call("orders.tasking.decisions.pending", json!({}))
        .json();
    assert_eq!(left["totalElements"], 1);
    assert_eq!(left["content"][0]["orderId"], kept.as_str());
}

/// Accepting a dearer option with too few credits left for the difference is 402 problem+json,
/// as placing an order the balance cannot pay for is: nothing is charged and the quotation
/// is still to be decided.
#[test]
fn accepting_a_dearer_option_without_the_credits_for_it_is_402() {
    let api = Api::start();
    let balance = |api: &Api| {
        api.call("billing.credits.balance", json!({})).json()["credits"]
            .as_i64()
            .expect("balance")
    };
    let before = balance(&api);
    let order = tasking_order(&api);
    let surcharge = ((before - balance(&api)) as f64 * 0.5).round() as i64;
    let study = api.call(
        "orders.tasking.feasibility_studies.list",
        json!({"orderId": order}),
    );
    let study = study.json()["content"][0]["id"].clone();
    let decided = api.call(
        "orders.tasking.feasibility_decide",
        json!({"study_id": study, "acceptedOptionId": "opt_priority"}),
    );
    assert_eq!(decided.status, 200);
    // Spend all but less than the surcharge on an order whose square is sized to it.
    let left = balance(&api);
    let body = |side: f64| {
        let square = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [side, 0.0], [side, side], [0.0, side], [0.0, 0.0]]]});
        json!({"dataProduct": "optical", "featureCollection": {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": square}]}})
    };
    let (mut low, mut high) = (0.0_f64, 5.0_f64);
    let mut spend = None;
    for _ in 0..60 {
        let side = (low + high) / 2.0;
        let cost = api.ok("orders.estimate", body(side))["totalCredits"]
            .as_i64()
            .expect("credits");
        if cost > left {
            high = side;
        } else if cost <= left - surcharge {
            low = side;
        } else {
            spend = Some(side);
            break;
        }
    }
    let side = spend.expect("a square that leaves less than the surcharge");
    let mut placed = body(side);
    placed["workspaceId"] = json!("ws_1");
    api.ok("orders.place", placed);
    let short = balance(&api);
    assert!(short < surcharge, "{short} left, {surcharge} to pay");

    let quote = api
        .call("orders.tasking.quotations.list", json!({"orderId": order}))
        .json()["content"][0]["id"]
        .clone();
    let refused = api.call(
        "orders.tasking.quotation_decide",
        json!({"quotation_id": quote, "decision": "ACCEPTED"}),
    );
    assert_eq!(
        refused.status,
        402,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(balance(&api), short, "nothing charged");
    let pending = api
        .call("orders.tasking.quotations.list", json!({"orderId": order}))
        .json()["content"][0]["decision"]
        .clone();
    assert_eq!(pending, "PENDING");
}

/// The priority option a study offers costs half as much again as the price paid at
/// placement: accepting its quotation charges the difference, and a cancellation refunds
/// everything charged. A decision on an order that has ended is refused.
#[test]
fn accepting_a_dearer_option_charges_the_difference_and_a_cancellation_refunds_it_all() {
    let api = Api::start();
    let balance =
        |api: &Api| api.call("billing.credits.balance", json!({})).json()["credits"].as_i64();
    let before = balance(&api).expect("balance");
    let order = tasking_order(&api);
    let price = before - balance(&api).expect("balance");
    let study = api
        .call(
            "orders.tasking.feasibility_studies.list",
            json!({"orderId": order}),
        )
        .json()["content"][0]["id"]
        .as_str()
        .expect("a study")
        .to_owned();
    let decided = api.call(
        "orders.tasking.feasibility_decide",
        json!({"study_id": study, "acceptedOptionId": "opt_priority"}),
    );
    assert_eq!(decided.status, 200);
    assert_eq!(balance(&api), Some(before - price), "nothing charged yet");
    let quote = api
        .call("orders.tasking.quotations.list", json!({"orderId": order}))
        .json()["content"][0]
        .clone();
    let accepted = api.call(
        "orders.tasking.quotation_decide",
        json!({"quotation_id": quote["id"], "decision": "ACCEPTED"}),
    );
    assert_eq!(
        accepted.status,
        200,
        "{}",
        String::from_utf8_lossy(&accepted.body)
    );
    let surcharge = (price as f64 * 0.5).round() as i64;
    assert!(surcharge > 0);
    assert_eq!(balance(&api), Some(before - price - surcharge), "{quote}");
    // The surcharge is spent on the one order: counted as credits, not as a second order.
    let usage = api.ok(
        "usage.current",
        json!({"organization_id": geopera_emulator::DEMO_ORG}),
    );
    assert_eq!(usage["orders_placed"], 1, "{usage}");
    assert_eq!(usage["credits_spent"], price + surcharge, "{usage}");

    let cancelled = api.call("orders.cancel", json!({"order_id": order}));
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json()["refundedCredits"], price + surcharge);
    assert_eq!(balance(&api), Some(before));

    // The order is over: its study can no longer be decided, as its quotation cannot.
    let second = tasking_order(&api);
    let study = api
        .call(
            "orders.tasking.feasibility_studies.list",
            json!({"orderId": second}),
        )
        .json()["content"][0]["id"]
        .as_str()
        .expect("a study")
        .to_owned();
    assert_eq!(
        api.call("orders.cancel", json!({"order_id": second}))
            .status,
        200
    );
    let late = api.call(
        "orders.tasking.feasibility_decide",
        json!({"study_id": study, "acceptedOptionId": "opt_standard"}),
    );
    assert_eq!(late.status, 409, "{}", String::from_utf8_lossy(&late.body));
}

/// An area `feasibility_check` calls infeasible cannot be ordered or priced as if it could.
#[test]
fn an_area_too_large_to_task_is_refused_by_the_order_as_by_the_check() {
    let api = Api::start();
    let balance =
        |api: &Api| api.call("billing.credits.balance", json!({})).json()["credits"].as_i64();
    let before = balance(&api);
    let wide = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]]});
    let check = api
        .call(
            "orders.tasking.feasibility_check",
            json!({"dataProduct": "optical", "featureCollection": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": wide, "properties": {}}]}}),
        )
        .json();
    assert_eq!(check["feasible"], false, "{check}");
    let placed = api.call(
        "orders.tasking.place",
        json!({"groups": [{"geometry": wide}]}),
    );
    assert_eq!(
        placed.status,
        422,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let refused = String::from_utf8_lossy(&placed.body).into_owned();
    assert!(
        refused.contains("groups") && refused.contains("km²"),
        "{refused}"
    );
    let estimate = api
        .call(
            "orders.tasking.estimate",
            json!({"groups": [{"geometry": wide}]}),
        )
        .json();
    assert_eq!(estimate["errors"][0]["index"], 0, "{estimate}");
    assert_eq!(estimate["totalCredits"], 0);
    assert_eq!(balance(&api), before, "nothing charged");
}

/// An order from before the organization was first seen stays history once tagged: its
/// long-past fulfilment is no news, and a tasking order of it gets no feasibility study to
/// decide. Tagging it made it look new.
#[test]
fn a_tagged_history_order_is_still_history() {
    let api = Api::start();
    let unread =
        |api: &Api| api.ok("notifications.unread_count", json!({}))["unread_count"].clone();
    let studies = |api: &Api| {
        api.ok("orders.tasking.feasibility_studies.list", json!({}))["totalElements"].clone()
    };
    let (unread_before, studies_before) = (unread(&api), studies(&api));
    let listed = api.ok("orders.list", json!({"sort": "createdAt,asc", "size": 20}));
    let history: Vec<String> = listed["content"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|order| order["orderId"].as_str().map(str::to_owned))
        .collect();
    assert!(!history.is_empty());
    for order in &history {
        let tagged = api.ok("orders.update", json!({"order_id": order, "tags": ["old"]}));
        assert_eq!(tagged["tags"], json!(["old"]));
        assert!(tagged.get("_history").is_none(), "{tagged}");
    }
    assert_eq!(unread(&api), unread_before);
    assert_eq!(studies(&api), studies_before);
}

/// An order's `updatedAt` is when it last changed (the start of the status it has reached),
/// so `orders.list` sorted by it keeps its order between the pages of one walk; it kept up
/// with the clock until an hour after placing.
#[test]
fn an_order_is_updated_when_its_status_changes_and_not_after() {
    let api = Api::start();
    let capture = api.commercial_capture();
    let order = api.place_archive_order(&capture);
    let updated = |api: &Api| {
        let got = api.ok("orders.get", json!({"order_id": order}));
        (
            got["status"].clone(),
            got["updatedAt"].clone(),
            got["createdAt"].clone(),
        )
    };
    let (status, at, created) = updated(&api);
    assert_eq!((status, &at), (json!("received"), &created));
    api.emu.clock().advance(Duration::from_secs(600));
    let (status, fulfilled, _) = updated(&api);
    assert_eq!(status, "fulfilled");
    let created = geopera_types::rfc3339::parse_date_time(created.as_str().expect("a time"))
        .expect("a date-time");
    let fulfilled_at = geopera_types::rfc3339::parse_date_time(fulfilled.as_str().expect("a time"))
        .expect("a date-time");
    assert_eq!(fulfilled_at - created, 300, "fulfilled 300 s after placing");
    api.emu.clock().advance(Duration::from_secs(1_800));
    assert_eq!(updated(&api).1, fulfilled, "unchanged since");
}

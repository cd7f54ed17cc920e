//! Notifications and usage: read from what the organization's orders, jobs, uploads and
//! ledger say, with the read and dismissed marks kept.

use std::time::Duration;

use geopera_emulator::{Emulator, RateLimits, DEMO_ORG, JOB_FAIL_MARKER, MAX_TRANSACTIONS};
use serde_json::{json, Value};

use crate::account::reasons_of;
use crate::common::Api;
use crate::state::{start, TempFile};

fn placed_order(api: &Api) -> String {
    api.place_archive_order(&api.commercial_capture())
}

/// The id of a new order placed with `orders.place` (a data product over the minimum area),
/// which is news once it ends.
fn product_order(api: &Api) -> String {
    api.ok(
        "orders.place",
        json!({"dataProduct": "optical", "workspaceId": "ws"}),
    )["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned()
}

/// A project with one completed 1 KiB upload.
fn completed_upload(api: &Api) -> String {
    let project = api.ok("projects.create", json!({"name": "activity"}))["id"].clone();
    let upload = api.ok(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 1024}),
    )["id"]
        .as_str()
        .expect("upload id")
        .to_owned();
    let url = api.ok(
        "uploads.signed_url",
        json!({"upload_id": upload, "file_name": "a.tif", "content_type": "image/tiff"}),
    )["upload_url"]
        .as_str()
        .expect("upload_url")
        .to_owned();
    let put = api.http.put(url).body(vec![7u8; 1024]).send().expect("PUT");
    assert_eq!(put.status().as_u16(), 200);
    api.ok("uploads.complete", json!({"upload_id": upload}));
    upload
}

#[test]
fn what_happened_becomes_notifications_that_can_be_read_and_dismissed() {
    let api = Api::start();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    let empty = api.ok("notifications.unread_count", json!({}));
    assert_eq!(empty["unread_count"], 0, "history is not news");

    let fulfilled = placed_order(&api);
    let cancelled = placed_order(&api);
    api.ok("orders.cancel", json!({"order_id": cancelled}));
    let project = api.ok("projects.create", json!({"name": "jobs"}))["id"].clone();
    let job = api.ok(
        "processing.execute",
        json!({"process_id": JOB_FAIL_MARKER, "workspaceId": project}),
    )["id"]
        .clone();
    let upload = completed_upload(&api);
    api.emu.clock().advance(Duration::from_secs(301));

    let listed = api.ok("notifications.list", json!({"limit": 10}));
    let kinds: Vec<(String, String)> = listed["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap_or_default().to_owned(),
                n["entity_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for want in [
        ("order.fulfilled", fulfilled.as_str()),
        ("order.cancelled", cancelled.as_str()),
        ("processing.job.failed", job.as_str().unwrap_or_default()),
        ("upload.completed", upload.as_str()),
    ] {
        assert!(
            kinds.iter().any(|(t, e)| t == want.0 && e == want.1),
            "{want:?} in {kinds:?}"
        );
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert_eq!(
        api.ok("notifications.unread_count", json!({}))["unread_count"],
        4
    );

    let first = listed["notifications"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let read = api.ok("notifications.mark_read", json!({"notification_id": first}));
    assert_eq!(read["read"], true);
    assert_eq!(
        api.ok("notifications.unread_count", json!({}))["unread_count"],
        3
    );
    let unread = api.ok("notifications.list", json!({"unread_only": true}));
    assert_eq!(unread["total"], 3);

    let second = listed["notifications"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    api.ok("notifications.dismiss", json!({"notification_id": second}));
    assert_eq!(api.ok("notifications.list", json!({}))["total"], 3);

    let marked = api.ok("notifications.mark_all_read", json!({}));
    assert_eq!(marked["marked_count"], 2);
    assert_eq!(
        api.ok("notifications.unread_count", json!({}))["unread_count"],
        0
    );

    // The inbox is the caller's: another key of the organization has read and dismissed
    // nothing, and what it reads stays unread for the first.
    let colleague = api.emu.create_key(&["notifications:*"]);
    let unread_of = |key: &str| {
        api.call_as(key, "notifications.unread_count", json!({}))
            .json()["unread_count"]
            .clone()
    };
    assert_eq!(unread_of(&colleague), 4);
    let listed_for_colleague = api.call_as(&colleague, "notifications.list", json!({}));
    assert_eq!(listed_for_colleague.json()["total"], 4);
    let read = api.call_as(
        &colleague,
        "notifications.mark_read",
        json!({"notification_id": second}),
    );
    assert_eq!(read.json()["read"], true);
    assert_eq!(unread_of(&colleague), 3);
    assert_eq!(unread_of(api.emu.api_key()), 0);
    assert_eq!(
        api.ok("notifications.list", json!({}))["total"],
        3,
        "still dismissed"
    );

    let other = api
        .emu
        .create_key_in_org("org_other_notes", &["notifications:*"]);
    let theirs = api.call_as(
        &other,
        "notifications.mark_read",
        json!({"notification_id": first}),
    );
    assert_eq!(theirs.status, 404);
    let missing = api.call(
        "notifications.dismiss",
        json!({"notification_id": "ntf_nope"}),
    );
    assert_eq!(missing.status, 404);
}

/// `(id, read, dismissed)` of each notification `notifications.list` answers.
fn flags(api: &Api, body: Value) -> Vec<(String, bool, bool)> {
    api.ok("notifications.list", body)["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap_or_default().to_owned(),
                n["read"] == true,
                n["dismissed"] == true,
            )
        })
        .collect()
}

/// Each notification answers its own marks, whatever the others carry: reading one leaves the
/// rest unread, a dismissed one stays dismissed when read, the counts follow, and
/// `mark_all_read` marks exactly what is neither read nor dismissed.
#[test]
fn each_notification_answers_its_own_read_and_dismissed_marks() {
    let api = Api::start();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    for _ in 0..5 {
        placed_order(&api);
    }
    completed_upload(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    let ids: Vec<String> = flags(&api, json!({"limit": 100}))
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ids.len(), 6, "{ids:?}");

    let read = api.ok(
        "notifications.mark_read",
        json!({"notification_id": ids[1]}),
    );
    assert_eq!(
        (&read["id"], &read["read"], &read["dismissed"]),
        (&json!(ids[1]), &json!(true), &json!(false))
    );
    let again = api.ok(
        "notifications.mark_read",
        json!({"notification_id": ids[1]}),
    );
    assert_eq!(
        (&again["read"], &again["dismissed"]),
        (&json!(true), &json!(false))
    );
    let dismissed = api.ok("notifications.dismiss", json!({"notification_id": ids[3]}));
    assert_eq!(
        (&dismissed["read"], &dismissed["dismissed"]),
        (&json!(false), &json!(true))
    );
    api.ok("notifications.dismiss", json!({"notification_id": ids[5]}));
    let both = api.ok(
        "notifications.mark_read",
        json!({"notification_id": ids[5]}),
    );
    assert_eq!(
        (&both["read"], &both["dismissed"]),
        (&json!(true), &json!(true))
    );

    let shown = |read: &[usize]| -> Vec<(String, bool, bool)> {
        [0, 1, 2, 4]
            .into_iter()
            .map(|at| (ids[at].clone(), read.contains(&at), false))
            .collect()
    };
    assert_eq!(flags(&api, json!({"limit": 100})), shown(&[1]));
    let listed = api.ok("notifications.list", json!({"limit": 100}));
    assert_eq!(
        (&listed["total"], &listed["unread"]),
        (&json!(4), &json!(3))
    );
    let unread = api.ok(
        "notifications.list",
        json!({"unread_only": true, "limit": 100}),
    );
    assert_eq!(
        (&unread["total"], &unread["unread"]),
        (&json!(3), &json!(3))
    );
    assert_eq!(
        api.ok("notifications.unread_count", json!({}))["unread_count"],
        3
    );

    let marked = api.ok("notifications.mark_all_read", json!({}));
    assert_eq!(marked["marked_count"], 3);
    assert_eq!(flags(&api, json!({"limit": 100})), shown(&[0, 1, 2, 4]));
    assert_eq!(
        api.ok("notifications.unread_count", json!({}))["unread_count"],
        0
    );
    let none = api.ok("notifications.mark_all_read", json!({}));
    assert_eq!(none["marked_count"], 0);
}

/// How many records of one family an organization may hold (the crate docs' bound), marks of
/// notifications among them.
const RECORDS_PER_FAMILY: u64 = 10_000;

/// A notification's mark outlives what it marked (an order retired to make room for new ones,
/// an upload deleted with its project). Once such marks fill the organization's bound of
/// marks they make way for a new one, rather than refusing every new mark for good, and go
/// from the state file too. They are written into the state file here: reaching them through
/// the API takes 10,000 orders.
#[test]
fn marks_of_notifications_no_longer_there_make_room_for_new_ones() {
    let file = TempFile::new("stale-marks");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(12)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let order = {
        let api = start();
        api.ok("billing.topup", json!({"credits": 10_000_000}));
        placed_order(&api)
    };
    {
        let mut sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
        let rows = sqlite.transaction().expect("a transaction");
        for n in 0..RECORDS_PER_FAMILY {
            let record = json!({
                "family": "notification_mark",
                "id": format!("ntm_stale{n:07}"),
                "org": DEMO_ORG,
                "parent": format!("ntf_{n:016x}"),
                "seq": 1_000_000 + n,
                "created_at": 0,
                "updated_at": 0,
                "fields": {"read": true},
            });
            rows.execute(
                "INSERT INTO resources (id, record) VALUES (?1, ?2)",
                (&record["id"].as_str(), record.to_string()),
            )
            .expect("a mark written");
        }
        rows.commit().expect("committed");
    }

    let api = start();
    api.emu.clock().advance(Duration::from_secs(301));
    let unread = api.ok("notifications.list", json!({"unread_only": true}));
    assert_eq!(unread["total"], 1, "{unread}");
    assert_eq!(unread["notifications"][0]["entity_id"], order.as_str());
    let id = unread["notifications"][0]["id"].clone();
    let read = api.call("notifications.mark_read", json!({"notification_id": id}));
    assert_eq!(read.status, 200, "{}", String::from_utf8_lossy(&read.body));
    assert_eq!(read.json()["read"], true);
    assert_eq!(
        api.ok("notifications.unread_count", json!({}))["unread_count"],
        0
    );
    drop(api);

    let sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
    let marks: i64 = sqlite
        .query_row(
            "SELECT count(*) FROM resources WHERE json_extract(record, '$.family') = 'notification_mark'",
            [],
            |row| row.get(0),
        )
        .expect("counted");
    assert_eq!(marks, 1, "only the new mark is kept");
}

#[test]
fn usage_counts_this_months_spending_and_the_storage_in_use() {
    let api = Api::start();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    let kept = placed_order(&api);
    let refunded = placed_order(&api);
    api.ok("orders.cancel", json!({"order_id": refunded}));
    completed_upload(&api);
    let transactions = api.ok("billing.credits.transactions", json!({"reason": "order"}));
    let kept_cost: i64 = transactions["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .filter(|t| t["reference"] == kept.as_str())
        .filter_map(|t| t["credits"].as_i64())
        .map(|credits| -credits)
        .sum();
    assert!(kept_cost > 0);

    let usage = api.ok("usage.current", json!({"organization_id": DEMO_ORG}));
    assert_eq!(usage["period"], "2025-01");
    assert_eq!(usage["orders_placed"], 2);
    assert_eq!(usage["net_credits"], kept_cost);
    assert_eq!(usage["storage"]["used_bytes"], 1024);

    let history = api.ok(
        "usage.history",
        json!({"organization_id": DEMO_ORG, "months": 3}),
    );
    let periods: Vec<&str> = history["months"]
        .as_array()
        .expect("months")
        .iter()
        .filter_map(|m| m["period"].as_str())
        .collect();
    assert_eq!(periods, vec!["2025-01", "2024-12", "2024-11"]);
    assert_eq!(history["months"][1]["net_credits"], 0);

    let recalculated = api.ok(
        "usage.recalculate_storage",
        json!({"organization_id": DEMO_ORG}),
    );
    assert_eq!(recalculated["storage"], usage["storage"]);
    let elsewhere = api.call("usage.current", json!({"organization_id": "org_else"}));
    assert_eq!(elsewhere.status, 404);
}

/// The ledger lists only its newest entries, but what it no longer lists still counts: after
/// two orders (one cancelled) and an auto top-up, ten thousand top-ups push all of them out
/// of the list, and `usage.current` still counts both orders and the refund, and the day's
/// auto top-up still holds the next one back under a daily cap of one.
#[test]
fn usage_and_the_daily_cap_count_what_the_ledger_no_longer_lists() {
    let api = Api::start();
    let balance = || api.ok("billing.credits.balance", json!({}))["credits"].as_i64();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    let kept = placed_order(&api);
    let refunded = placed_order(&api);
    api.ok("orders.cancel", json!({"order_id": refunded}));
    let before = api.ok("usage.current", json!({"organization_id": DEMO_ORG}));
    assert_eq!(before["orders_placed"], 2, "{before}");
    let net = before["net_credits"].as_i64().expect("net credits");
    assert!(net > 0, "{before}");
    // Every balance is below the threshold; the cap allows one top-up of `amount` a day.
    let amount = 1_000;
    api.ok(
        "billing.set_auto_topup",
        json!({"enabled": true, "threshold_credits": 1_000_000_000_000_i64,
               "topup_amount_credits": amount,
               "daily_charge_cap_aud": amount as f64 * 1.5 / 100.0}),
    );
    api.ok("orders.cancel", json!({"order_id": kept}));
    let newest = api.ok("billing.credits.transactions", json!({"limit": 2}));
    assert_eq!(
        reasons_of(&newest),
        ["refund", "refund"],
        "a refund buys nothing"
    );
    let ordered = placed_order(&api);
    let bought = api.ok(
        "billing.credits.transactions",
        json!({"reason": "auto_topup"}),
    );
    assert_eq!(
        bought["total"], 1,
        "the order set off today's top-up: {bought}"
    );
    let usage = api.ok("usage.current", json!({"organization_id": DEMO_ORG}));

    for _ in 0..MAX_TRANSACTIONS {
        api.ok("billing.topup", json!({"credits": 1}));
    }
    for reason in ["order", "refund", "auto_topup"] {
        let listed = api.ok("billing.credits.transactions", json!({"reason": reason}));
        assert_eq!(listed["total"], 0, "{reason} left the ledger: {listed}");
    }
    let after = api.ok("usage.current", json!({"organization_id": DEMO_ORG}));
    for member in [
        "orders_placed",
        "credits_spent",
        "credits_refunded",
        "net_credits",
    ] {
        assert_eq!(after[member], usage[member], "{member}: {after}");
    }
    assert_eq!(after["orders_placed"], 3);

    let low = balance().expect("a balance");
    let price = api.ok("orders.get", json!({"order_id": ordered}))["totalCredits"]
        .as_i64()
        .expect("a price");
    placed_order(&api);
    assert_eq!(
        balance(),
        Some(low - price),
        "a second top-up today would pass the cap, the first no longer listed"
    );
}

/// What the dropped ledger entries added up to is kept in the state file: a month's sums
/// written there count in `usage.current` after a start, and stay through the changes to the
/// organization that rewrite its row.
#[test]
fn the_sums_of_dropped_ledger_entries_are_kept_in_the_state_file() {
    let file = TempFile::new("folded-usage");
    let api = start(0, &file);
    assert_eq!(
        api.ok("usage.current", json!({"organization_id": DEMO_ORG}))["orders_placed"],
        0
    );
    api.ok("billing.topup", json!({"credits": 100}));
    drop(api);
    let sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
    let changed = sqlite
        .execute(
            "UPDATE orgs SET folded = ?1 WHERE org = ?2",
            rusqlite::params![
                r#"{"months": {"2025-01": {"spent": 500, "refunded": 20, "orders": 3}}}"#,
                DEMO_ORG
            ],
        )
        .expect("the sums are written");
    assert_eq!(changed, 1);
    drop(sqlite);

    for round in 0..2 {
        let api = start(0, &file);
        let usage = api.ok("usage.current", json!({"organization_id": DEMO_ORG}));
        assert_eq!(usage["period"], "2025-01");
        assert_eq!(usage["orders_placed"], 3, "round {round}: {usage}");
        assert_eq!(usage["credits_spent"], 500, "round {round}: {usage}");
        assert_eq!(usage["net_credits"], 480, "round {round}: {usage}");
        // Rewrites the organization's row before the next round reads it again.
        api.ok("billing.topup", json!({"credits": 100}));
    }
}

/// An order's notification names its kind as the order's own answer does: one placed with
/// `orders.place` is an `order`, not an `archive` order.
#[test]
fn an_order_notification_names_the_kind_the_order_has() {
    let api = Api::start();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    let archive = placed_order(&api);
    let placed = product_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    let listed = api.ok("notifications.list", json!({"limit": 10}));
    let notices = listed["notifications"].as_array().expect("notifications");
    for order in [&archive, &placed] {
        let own = api.ok("orders.get", json!({"order_id": order}))["type"].clone();
        let notice = notices
            .iter()
            .find(|n| n["entity_id"] == order.as_str())
            .unwrap_or_else(|| panic!("a notification of {order}: {listed}"));
        assert_eq!(notice["data"]["type"], own, "{notice}");
    }
    let kinds: Vec<&Value> = notices.iter().map(|n| &n["data"]["type"]).collect();
    assert!(kinds.contains(&&json!("order")), "{kinds:?}");
    assert!(kinds.contains(&&json!("archive")), "{kinds:?}");
}

/// `mark_all_read` of more notifications than an organization may hold marks succeeds, for
/// one caller and then another, and leaves room for a third's single mark: it records up to
/// when the caller read, not a mark per notification. It stopped at the bound with a 422, and
/// every later mark of anyone in the organization was refused. A notification that comes
/// after still reads unread.
#[test]
fn reading_every_notification_past_the_organizations_bound_leaves_room_for_every_caller() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits::off()));
    api.ok("billing.topup", json!({"credits": 1_000_000_000}));
    // One more than an organization's marks may be: finished orders and jobs, each family
    // within its own bound.
    let bound = geopera_emulator::MAX_ORDERS_PER_ORG;
    let (orders, jobs) = (bound * 6 / 10, bound * 4 / 10 + 1);
    for _ in 0..orders {
        product_order(&api);
    }
    let project = api.ok("projects.create", json!({"name": "many jobs"}))["id"].clone();
    for _ in 0..jobs {
        api.ok(
            "processing.execute",
            json!({"process_id": "ndvi", "workspaceId": project}),
        );
    }
    let notices = orders + jobs;
    api.emu.clock().advance(Duration::from_secs(3600));
    let unread_of = |key: &str| {
        api.call_as(key, "notifications.unread_count", json!({}))
            .json()["unread_count"]
            .as_u64()
            .unwrap_or_default()
    };
    let first = api.emu.api_key().to_owned();
    assert_eq!(unread_of(&first) as usize, notices);
    let marked = api.ok("notifications.mark_all_read", json!({}));
    assert_eq!(marked["marked_count"], notices);
    assert_eq!(unread_of(&first), 0);
    let colleague = api.emu.create_key(&["notifications:*"]);
    let theirs = api.call_as(&colleague, "notifications.mark_all_read", json!({}));
    assert_eq!(theirs.status, 200, "{:?}", theirs.json());
    assert_eq!(theirs.json()["marked_count"], notices);
    assert_eq!(unread_of(&colleague), 0);
    let newest =
        api.ok("notifications.list", json!({"limit": 1}))["notifications"][0]["id"].clone();
    let third = api.emu.create_key(&["notifications:*"]);
    assert_eq!(
        unread_of(&third) as usize,
        notices,
        "the third read nothing"
    );
    let read = api.call_as(
        &third,
        "notifications.mark_read",
        json!({"notification_id": newest}),
    );
    assert_eq!(read.status, 200, "{:?}", read.json());
    assert_eq!(read.json()["read"], true);
    assert_eq!(unread_of(&third) as usize, notices - 1);
    assert_eq!(unread_of(&first), 0, "still read");
    // What happens later is news again.
    product_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(unread_of(&first), 1);
    assert_eq!(
        api.ok("notifications.mark_all_read", json!({}))["marked_count"],
        1
    );
    assert_eq!(unread_of(&first), 0);
}

/// What happens in the second `mark_all_read` read up to (on a frozen clock, the same
/// instant) after it is news: an order cancelled at that moment reads unread, while the one
/// cancelled before it stays read. Everything of that second read as read.
#[test]
fn a_notification_of_the_same_second_after_mark_all_read_is_unread() {
    let api = Api::start();
    let (first, second) = (product_order(&api), product_order(&api));
    api.ok("orders.cancel", json!({"order_id": first}));
    let unread = || api.ok("notifications.unread_count", json!({}))["unread_count"].clone();
    assert_eq!(unread(), 1);
    assert_eq!(
        api.ok("notifications.mark_all_read", json!({}))["marked_count"],
        1
    );
    assert_eq!(unread(), 0);
    api.ok("orders.cancel", json!({"order_id": second}));
    assert_eq!(unread(), 1, "the second cancellation is news");
    let listed = api.ok("notifications.list", json!({"unread_only": true}));
    assert_eq!(
        listed["notifications"][0]["entity_id"],
        second.as_str(),
        "{listed}"
    );
    assert_eq!(
        api.ok("notifications.mark_all_read", json!({}))["marked_count"],
        1
    );
    assert_eq!(unread(), 0);
}

/// A clock set back after `mark_all_read` does not make what happens next read: the caller's
/// record covers only what came before the clock's reading then. An order cancelled after the
/// set-back read as read, its time before the moment the record held.
#[test]
fn a_clock_set_back_after_mark_all_read_leaves_what_comes_next_unread() {
    let api = Api::start();
    let start = api.emu.clock().now_secs();
    let place_and_cancel = || {
        let order = product_order(&api);
        api.ok("orders.cancel", json!({"order_id": order}));
    };
    let unread = || api.ok("notifications.unread_count", json!({}))["unread_count"].clone();
    api.emu.clock().advance(Duration::from_secs(3600));
    place_and_cancel();
    assert_eq!(
        api.ok("notifications.mark_all_read", json!({}))["marked_count"],
        1
    );
    assert_eq!(unread(), 0);
    api.emu.clock().set(start);
    place_and_cancel();
    assert_eq!(unread(), 1, "cancelled after the clock was set back");
    // Still news as the clock moves on, past the moment the record held too.
    api.emu.clock().advance(Duration::from_secs(1));
    assert_eq!(unread(), 1);
    api.emu.clock().advance(Duration::from_secs(3601));
    assert_eq!(unread(), 1);
    assert_eq!(
        api.ok("notifications.mark_all_read", json!({}))["marked_count"],
        1
    );
    assert_eq!(unread(), 0);

    // An upload that ended after the reading the clock is then set back to is read by
    // `mark_all_read` all the same.
    completed_upload(&api);
    api.emu
        .clock()
        .set(api.emu.clock().now_secs().saturating_sub(100));
    assert_eq!(unread(), 1);
    assert_eq!(
        api.ok("notifications.mark_all_read", json!({}))["marked_count"],
        1
    );
    assert_eq!(
        unread(),
        0,
        "the upload ended in the clock's future is read too"
    );
}

//! Share links, tasking templates, payment methods, credit approvals and the automatic top-up:
//! each kept per organization, another organization's id answered 404, and all of it kept in
//! the state file.

use std::time::Duration;

use geopera_emulator::{Emulator, RateLimits, DEMO_ORG};
use serde_json::{json, Value};

use crate::common::{Api, Resp};
use crate::oidc::{key_token, password_login, text};
use crate::state::TempFile;

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// The `reason` of each transaction of a `billing.credits.transactions` answer, in its order.
pub(crate) fn reasons_of(answer: &Value) -> Vec<&str> {
    answer["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .filter_map(|t| t["reason"].as_str())
        .collect()
}

/// A project with one collection, as share links need a target.
fn collection(api: &Api) -> (String, String) {
    let project = id(&api.ok("projects.create", json!({"name": "shared things"})));
    let collection = id(&api.ok(
        "collections.create",
        json!({"project_id": project, "name": "flood extent"}),
    ));
    (project, collection)
}

#[test]
fn a_share_link_opens_with_its_password_until_revoked_or_expired() {
    let api = Api::start();
    let (project, collection) = collection(&api);
    let in_a_day = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
    let link = api.ok(
        "share.link.create",
        json!({"target_type": "collection", "target_id": collection, "permission": "view",
               "password": "correct horse", "expires_at": in_a_day}),
    );
    let token = link["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("shr_") && token.len() > 40, "{token}");
    assert!(link.get("password_sha256").is_none(), "{link}");
    assert_eq!(link["access_count"], 0);

    let opened = api.ok(
        "share.link.validate",
        json!({"token": token, "password": "correct horse"}),
    );
    assert_eq!(opened["permission"], "view");
    // The target as `collections.get` answers it.
    let as_got = api.ok(
        "collections.get",
        json!({"project_id": project, "collection_id": collection}),
    );
    assert_eq!(opened["target"], as_got);

    let wrong = api.call(
        "share.link.validate",
        json!({"token": token, "password": "wrong horse"}),
    );
    assert_eq!(wrong.status, 404);
    let tilejson = api.ok(
        "share.tilejson",
        json!({"token": token, "password": "correct horse"}),
    );
    let tiles = tilejson["tiles"][0].as_str().expect("a tile URL");
    // Named by a key the password leads to, not by the token passed around without it.
    assert!(tiles.contains("/assets/share/shrt_"), "{tiles}");
    assert!(!tiles.contains(&token), "{tiles}");

    // Another organization can open a link (that is what links are for) but not revoke it.
    let other = api.emu.create_key_in_org("org_other_share", &["shares:*"]);
    let revoke = api.call_as(&other, "share.link.revoke", json!({"link_id": id(&link)}));
    assert_eq!(revoke.status, 404);
    api.ok("share.link.revoke", json!({"link_id": id(&link)}));
    let revoked = api.call(
        "share.link.validate",
        json!({"token": token, "password": "correct horse"}),
    );
    assert_eq!(revoked.status, 404);

    // A second link, outlived on the emulator's clock.
    let soon = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 60);
    let short = api.ok(
        "share.link.create",
        json!({"target_type": "collection", "target_id": collection, "permission": "download",
               "password": "correct horse", "expires_at": soon}),
    );
    api.emu.clock().advance(Duration::from_secs(61));
    let expired = api.call(
        "share.link.validate",
        json!({"token": short["token"], "password": "correct horse"}),
    );
    assert_eq!(expired.status, 404);

    let past = api.call(
        "share.link.create",
        json!({"target_type": "collection", "target_id": collection, "permission": "view",
               "password": "correct horse", "expires_at": "2001-01-01T00:00:00Z"}),
    );
    assert_eq!(past.status, 422);
    assert!(String::from_utf8_lossy(&past.body).contains("expires_at"));
}

/// No operation deletes a share link, so once an organization holds the most it may (10,000),
/// the oldest that can open nothing again (revoked, expired, or sharing what is gone) makes
/// room for a new one; every create was refused for good. A live link is never the one to go.
/// The settled links are written into the state file: reaching them through the API takes
/// 10,000 creates.
#[test]
fn a_settled_share_link_makes_room_once_an_organization_holds_the_most() {
    const LINKS_PER_ORG: usize = 10_000;
    let file = TempFile::new("settled-links");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(21)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let (collection, live_token) = {
        let api = start();
        let (_, collection) = collection(&api);
        let in_a_day =
            geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
        let live = api.ok(
            "share.link.create",
            json!({"target_type": "collection", "target_id": collection, "permission": "view",
                   "password": "correct horse", "expires_at": in_a_day}),
        );
        (
            collection,
            live["token"].as_str().expect("token").to_owned(),
        )
    };
    let settled_id = |n: usize| format!("shr_settled{n:07}");
    {
        let mut sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
        let rows = sqlite.transaction().expect("a transaction");
        for n in 0..LINKS_PER_ORG - 1 {
            let record = json!({
                "family": "share_link",
                "id": settled_id(n),
                "org": DEMO_ORG,
                "parent": null,
                "seq": 1_000_000 + n,
                "created_at": 0,
                "updated_at": 0,
                "fields": {"target_type": "collection", "target_id": collection,
                           "expires_at": "2999-01-01T00:00:00Z",
                           "revoked_at": "2000-01-01T00:00:00Z",
                           "token_sha256": format!("{n:064x}")},
            });
            rows.execute(
                "INSERT INTO resources (id, record) VALUES (?1, ?2)",
                (&record["id"].as_str(), record.to_string()),
            )
            .expect("a link written");
        }
        rows.commit().expect("committed");
    }

    let api = start();
    let in_a_day = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
    let made = api.call(
        "share.link.create",
        json!({"target_type": "collection", "target_id": collection, "permission": "view",
               "password": "battery staple", "expires_at": in_a_day}),
    );
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    // The live link still opens; the oldest revoked one made the room.
    api.ok(
        "share.link.validate",
        json!({"token": live_token, "password": "correct horse"}),
    );
    drop(api);
    let sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
    let kept = |id: &str| -> i64 {
        sqlite
            .query_row(
                "SELECT count(*) FROM resources WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .expect("counted")
    };
    assert_eq!(kept(&settled_id(0)), 0, "the oldest settled link went");
    assert_eq!(kept(&settled_id(1)), 1, "one went, no more");
}

/// A link's expiry written as the API also reads a date-time (no offset, a space before the
/// time, no seconds) passes the input check, and so is read as that instant, not refused as
/// "not in the future": the input check and the operation once read date-times differently.
#[test]
fn a_share_link_expiry_written_without_offset_or_seconds_is_read_as_written() {
    let api = Api::start();
    let (_, collection) = collection(&api);
    let tomorrow = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
    let as_utc = tomorrow.trim_end_matches('Z').to_owned();
    let spaced = as_utc.replacen('T', " ", 1);
    let minutes = as_utc.get(..16).expect("a minute").to_owned();
    for written in [as_utc, spaced, minutes] {
        let link = api.ok(
            "share.link.create",
            json!({"target_type": "collection", "target_id": collection, "permission": "view",
                   "password": "correct horse", "expires_at": written}),
        );
        let kept = link["expires_at"].as_str().expect("an expiry");
        assert_eq!(kept.get(..16), tomorrow.get(..16), "{written}: {link}");
    }
}

#[test]
fn tasking_templates_are_saved_listed_and_deleted_per_organization() {
    let api = Api::start();
    let template = json!({"name": "weekly optical", "capture_asap": false, "resolution": "50cm",
        "sensor": "optical", "capture_frequency": "weekly", "datum": "WGS84",
        "file_format": "GeoTIFF", "has_control": false, "max_cloud_coverage": 20,
        "max_nadir_angle": 25});
    let saved: Vec<String> = (0..3)
        .map(|_| id(&api.ok("orders.tasking.templates.save", template.clone())))
        .collect();
    let listed = api.ok("orders.tasking.templates.list", json!({}));
    let ids: Vec<&str> = listed["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, saved.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(listed["templates"][0]["max_cloud_coverage"], 20);

    let other = api.emu.create_key_in_org("org_other_tpl", &["orders:*"]);
    let theirs = api.call_as(&other, "orders.tasking.templates.list", json!({}));
    assert_eq!(theirs.json()["templates"], json!([]));
    let steal = api.call_as(
        &other,
        "orders.tasking.templates.delete",
        json!({"template_id": saved[0]}),
    );
    assert_eq!(steal.status, 404);

    let deleted = api.ok(
        "orders.tasking.templates.delete",
        json!({"template_id": saved[0]}),
    );
    assert_eq!(deleted["deleted"], true);
    let again = api.call(
        "orders.tasking.templates.delete",
        json!({"template_id": saved[0]}),
    );
    assert_eq!(again.status, 404);
}

#[test]
fn one_payment_method_is_the_default_at_a_time() {
    let api = Api::start();
    detach_every_card(&api);
    let first = api.ok(
        "payment_methods.attach",
        json!({"payment_method_id": "pm_one"}),
    );
    let second = api.ok(
        "payment_methods.attach",
        json!({"payment_method_id": "pm_two"}),
    );
    assert_eq!(
        (first["isDefault"].clone(), second["isDefault"].clone()),
        (json!(true), json!(false))
    );
    let twice = api.call(
        "payment_methods.attach",
        json!({"payment_method_id": "pm_two"}),
    );
    assert_eq!(twice.status, 409);

    api.ok(
        "payment_methods.set_default",
        json!({"payment_method_row_id": id(&second)}),
    );
    let listed = api.ok("payment_methods.list", json!({}));
    let defaults: Vec<(&str, bool)> = listed["payment_methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| {
            (
                m["payment_method_id"].as_str().unwrap_or(""),
                m["isDefault"] == true,
            )
        })
        .collect();
    assert_eq!(defaults, vec![("pm_one", false), ("pm_two", true)]);

    api.ok(
        "payment_methods.detach",
        json!({"payment_method_row_id": id(&first)}),
    );
    let listed = api.ok("payment_methods.list", json!({}));
    assert_eq!(listed["payment_methods"].as_array().map(Vec::len), Some(1));
}

/// Detaches every payment method of the demo organization, the card it starts with too, so
/// the test begins as a new customer does: with no card to charge.
fn detach_every_card(api: &Api) {
    let listed = api.ok("payment_methods.list", json!({}));
    for method in listed["payment_methods"].as_array().expect("methods") {
        api.ok(
            "payment_methods.detach",
            json!({"payment_method_row_id": id(method)}),
        );
    }
    let left = api.ok("payment_methods.list", json!({}));
    assert_eq!(left["payment_methods"], json!([]));
}

/// The row id of the demo organization's default card.
fn default_card(api: &Api) -> String {
    let listed = api.ok("payment_methods.list", json!({}));
    let default = listed["payment_methods"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|method| method["isDefault"] == true)
        .map(id);
    default.expect("a default card")
}

/// The balance of the demo organization.
fn balance(api: &Api) -> i64 {
    api.ok("billing.credits.balance", json!({}))["credits"]
        .as_i64()
        .expect("a balance")
}

/// Asserts that `answer` is the 402 of a charge to a default card the organization does not
/// have, whose detail says to attach one; `what` names the case in messages.
fn refused_for_want_of_a_card(answer: &Resp, what: &str) {
    assert_eq!(answer.status, 402, "{what}: {:?}", answer.body);
    assert_eq!(answer.content_type(), "application/problem+json", "{what}");
    let detail = answer.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.starts_with("attach a payment method first: ")
            && detail.contains("default card")
            && detail.contains("payment_methods.attach"),
        "{what}: {detail}"
    );
}

/// Attaches a card, the organization's default when it has none, which approving a credit
/// purchase charges.
fn attach_card(api: &Api, payment_method_id: &str) -> Value {
    api.ok(
        "payment_methods.attach",
        json!({"payment_method_id": payment_method_id}),
    )
}

/// Approves a credit request as a person: with the demo session token, a user's.
fn approve(api: &Api, approval_id: &str) -> Resp {
    api.call_as(
        api.emu.session_token(),
        "billing.approvals.approve",
        json!({"approval_id": approval_id}),
    )
}

#[test]
fn an_approved_credit_request_tops_up_once_and_a_late_one_expires() {
    let api = Api::start();
    attach_card(&api, "pm_card");
    let balance = |api: &Api| api.ok("billing.credits.balance", json!({}))["credits"].as_i64();
    let before = balance(&api).expect("a balance");

    let approval = api.ok("billing.approvals.request", json!({"credits": 12_345}));
    assert_eq!(approval["status"], "pending");
    let approved = approve(&api, &id(&approval));
    assert_eq!(approved.status, 200);
    assert_eq!(approved.json()["status"], "approved");
    assert_eq!(balance(&api), Some(before + 12_345));
    let twice = approve(&api, &id(&approval));
    // A state conflict, 409 as the API answers them (API-FACTS); it was 422 once.
    assert_eq!(twice.status, 409);
    assert_eq!(balance(&api), Some(before + 12_345));

    let rejected = api.ok("billing.approvals.request", json!({"credits": 5}));
    api.ok(
        "billing.approvals.reject",
        json!({"approval_id": id(&rejected), "reason": "not this month"}),
    );
    let late = api.ok(
        "billing.approvals.request",
        json!({"credits": 7, "expiry_hours": 1}),
    );
    api.emu.clock().advance(Duration::from_secs(3601));
    let expired = api.ok("billing.approvals.get", json!({"approval_id": id(&late)}));
    assert_eq!(expired["status"], "expired");
    let refused = approve(&api, &id(&late));
    assert_eq!(
        refused.status, 410,
        "expired: gone, as the API answers what expired"
    );

    let pending = api.ok("billing.approvals.list", json!({"status": "rejected"}));
    assert_eq!(pending["total"], 1);
    assert_eq!(pending["approvals"][0]["reason"], "not this month");

    let other = api
        .emu
        .create_key_in_org("org_other_approvals", &["billing:*"]);
    let theirs = api.call_as(
        &other,
        "billing.approvals.get",
        json!({"approval_id": id(&approval)}),
    );
    assert_eq!(theirs.status, 404);
    let huge = api.call(
        "billing.approvals.request",
        json!({"credits": 2_000_000_000_i64}),
    );
    assert_eq!(huge.status, 422);
}

/// Regression: approving a credit purchase added its credits with no card on file, though
/// approving charges the organization's saved card and a payment the API cannot take is 402.
/// With no default payment method it is 402 now and the approval waits; once one is chosen it
/// is approved.
#[test]
fn approving_a_credit_purchase_needs_a_default_card_to_charge() {
    let api = Api::start();
    detach_every_card(&api);
    let balance = |api: &Api| api.ok("billing.credits.balance", json!({}))["credits"].as_i64();
    let before = balance(&api).expect("a balance");
    let approval = id(&api.ok("billing.approvals.request", json!({"credits": 1_000})));
    let refused_without = |what: &str| {
        let refused = approve(&api, &approval);
        assert_eq!(refused.status, 402, "{what}: {:?}", refused.json());
        assert_eq!(refused.content_type(), "application/problem+json", "{what}");
        assert!(
            refused.json()["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("default card")),
            "{what}: {:?}",
            refused.json()
        );
        assert_eq!(balance(&api), Some(before), "{what}: nothing charged");
        let waiting = api.ok("billing.approvals.get", json!({"approval_id": approval}));
        assert_eq!(waiting["status"], "pending", "{what}");
    };
    refused_without("no card");
    let first = attach_card(&api, "pm_first");
    let second = attach_card(&api, "pm_second");
    api.ok(
        "payment_methods.detach",
        json!({"payment_method_row_id": id(&first)}),
    );
    refused_without("a card that is not the default");
    api.ok(
        "payment_methods.set_default",
        json!({"payment_method_row_id": id(&second)}),
    );
    let approved = approve(&api, &approval);
    assert_eq!(approved.status, 200, "{:?}", approved.json());
    assert_eq!(balance(&api), Some(before + 1_000));
}

/// The API reserves approving a credit purchase for a human approver: a key is automation,
/// and one that could approve would let a script request credits and grant them itself.
#[test]
fn only_a_person_approves_a_credit_purchase() {
    let api = Api::start();
    attach_card(&api, "pm_card");
    let balance = |api: &Api| api.ok("billing.credits.balance", json!({}))["credits"].as_i64();
    let before = balance(&api).expect("a balance");
    let bot = api.emu.create_key(&["billing:*"]);
    let approval = api.call_as(&bot, "billing.approvals.request", json!({"credits": 1_000}));
    assert_eq!(approval.status, 200, "a key may ask");
    let approval = id(&approval.json());

    let by_key_session = key_token(&api, &bot).json();
    for (who, token) in [
        ("the key that asked", bot.as_str()),
        ("the demo key", api.emu.api_key()),
        (
            "a session started with the key",
            text(&by_key_session, "access_token"),
        ),
    ] {
        let refused = api.call_as(
            token,
            "billing.approvals.approve",
            json!({"approval_id": approval}),
        );
        assert_eq!(refused.status, 403, "{who}: {:?}", refused.json());
        assert_eq!(refused.content_type(), "application/problem+json", "{who}");
        assert!(
            refused.json()["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("person")),
            "{who}: {:?}",
            refused.json()
        );
    }
    assert_eq!(balance(&api), Some(before), "no credits without a person");
    let pending = api.ok("billing.approvals.get", json!({"approval_id": approval}));
    assert_eq!(pending["status"], "pending");

    let admin = password_login(&api, "admin", "admin-password");
    let approved = api.call_as(
        text(&admin, "access_token"),
        "billing.approvals.approve",
        json!({"approval_id": approval}),
    );
    assert_eq!(approved.status, 200, "{:?}", approved.json());
    assert_eq!(balance(&api), Some(before + 1_000));
    // Rejecting stays open to keys: it grants nothing.
    let unwanted = id(&api.ok("billing.approvals.request", json!({"credits": 5})));
    let rejected = api.call_as(
        &bot,
        "billing.approvals.reject",
        json!({"approval_id": unwanted}),
    );
    assert_eq!(rejected.status, 200);
}

#[test]
fn account_records_survive_a_restart() {
    let file = TempFile::new("account");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(11)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let (template, approval, link_token) = {
        let api = start();
        let off = api.ok("billing.auto_topup.get", json!({}));
        assert_eq!(off["enabled"], false);
        api.ok(
            "billing.set_auto_topup",
            json!({"enabled": true, "threshold_credits": 1000, "topup_amount_credits": 50_000}),
        );
        let template = id(&api.ok(
            "orders.tasking.templates.save",
            json!({"name": "kept", "capture_asap": true, "resolution": "30cm", "sensor": "optical",
                   "capture_frequency": "once", "datum": "WGS84", "file_format": "GeoTIFF",
                   "has_control": false, "max_cloud_coverage": 10, "max_nadir_angle": 20}),
        ));
        let approval = id(&api.ok("billing.approvals.request", json!({"credits": 99})));
        let (_, collection) = collection(&api);
        let later = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
        let link = api.ok(
            "share.link.create",
            json!({"target_type": "collection", "target_id": collection, "permission": "view",
                   "password": "kept password", "expires_at": later}),
        );
        (
            template,
            approval,
            link["token"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let api = start();
    let setting = api.ok("billing.auto_topup.get", json!({}));
    assert_eq!(
        (
            setting["enabled"].clone(),
            setting["topup_amount_credits"].clone()
        ),
        (json!(true), json!(50_000))
    );
    let templates = api.ok("orders.tasking.templates.list", json!({}));
    assert_eq!(templates["templates"][0]["id"], template.as_str());
    let kept = api.ok("billing.approvals.get", json!({"approval_id": approval}));
    assert_eq!(kept["credits"], 99);
    let opened = api.call(
        "share.link.validate",
        json!({"token": link_token, "password": "kept password"}),
    );
    assert_eq!(
        opened.status,
        200,
        "{}",
        String::from_utf8_lossy(&opened.body)
    );
}

#[test]
fn licence_answers_are_kept_per_organization_and_the_list_pages() {
    let api = Api::start();
    let first = api.ok("eulas.list", json!({"page": 0, "size": 2}));
    let second = api.ok("eulas.list", json!({"page": 1, "size": 2}));
    assert_eq!(
        (first["totalElements"].clone(), first["totalPages"].clone()),
        (json!(3), json!(2))
    );
    let mut ids: Vec<String> = first["content"]
        .as_array()
        .into_iter()
        .chain(second["content"].as_array())
        .flatten()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);

    // Newest first by default; the direction read as Spring reads it.
    let first = |sort: Option<&str>| {
        let mut body = json!({"eula_id": "eula_open_data"});
        if let Some(sort) = sort {
            body["sort"] = json!(sort);
        }
        api.ok("eulas.documents.list", body)["content"][0]["id"].clone()
    };
    let newest = first(None);
    assert_ne!(newest, first(Some("validFrom,asc")));
    for sort in ["validFrom,ASC", "validFrom, asc", "validFrom"] {
        assert_eq!(first(Some(sort)), first(Some("validFrom,asc")), "{sort}");
    }
    for sort in ["validFrom,DESC", "validFrom, desc"] {
        assert_eq!(first(Some(sort)), newest, "{sort}");
    }
    let docs = api.ok("eulas.documents.list", json!({"eula_id": "eula_open_data"}));
    let doc = docs["content"][0]["id"]
        .as_str()
        .expect("a document")
        .to_owned();
    assert_eq!(docs["content"][0]["is_accepted"], false);
    let accepted = api.ok(
        "eulas.document.accept",
        json!({"eula_id": "eula_open_data", "document_id": doc, "is_accepted": true}),
    );
    assert_eq!(accepted["is_accepted"], true);
    let read = api.ok(
        "eulas.document.get",
        json!({"eula_id": "eula_open_data", "document_id": doc}),
    );
    assert_eq!(read["is_accepted"], true);

    let other = api.emu.create_key_in_org("org_other_eula", &["eulas:*"]);
    let theirs = api.call_as(
        &other,
        "eulas.document.get",
        json!({"eula_id": "eula_open_data", "document_id": doc}),
    );
    assert_eq!(theirs.json()["is_accepted"], false);

    // The licence answers for its current document: the one accepted above is it.
    let licence = api.ok("eulas.get", json!({"eula_id": "eula_open_data"}));
    assert_eq!(licence["current_document_id"], doc.as_str());
    assert_eq!(licence["is_accepted"], true);
    assert_eq!(licence["accepted_document_id"], doc.as_str());
    let theirs = api.call_as(&other, "eulas.get", json!({"eula_id": "eula_open_data"}));
    assert_eq!(theirs.json()["is_accepted"], false);
    assert_eq!(theirs.json()["accepted_document_id"], Value::Null);

    // The list sorts by the field named, either way; another field is 422.
    let created = |sort: &str| -> Vec<String> {
        let page = api.ok("eulas.list", json!({"sort": sort}));
        page["content"]
            .as_array()
            .expect("content")
            .iter()
            .map(|e| e["createdAt"].as_str().expect("a date").to_owned())
            .collect()
    };
    let up = created("createdAt,asc");
    let mut sorted = up.clone();
    sorted.sort();
    assert_eq!(up, sorted);
    let down = created("createdAt,desc");
    assert_eq!(down, up.iter().rev().cloned().collect::<Vec<_>>());
    let names = api.ok("eulas.list", json!({"sort": "name"}))["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|e| e["name"].as_str().expect("a name").to_owned())
        .collect::<Vec<_>>();
    assert_eq!(names[0], "Commercial archive licence");
    // Any text is a sort in the contract: an unknown field sorts by `createdAt`.
    assert_eq!(created("bogus,desc"), down);
    let missing = api.call(
        "eulas.document.accept",
        json!({"eula_id": "eula_open_data", "document_id": "doc_nope", "is_accepted": true}),
    );
    assert_eq!(missing.status, 404);
}

#[test]
fn a_new_organization_gets_a_slug_from_its_name() {
    let api = Api::start();
    let made = api.ok(
        "organizations.create",
        json!({"name": "Flood Watch — QLD", "enterprise_billing": true}),
    );
    assert_eq!(made["slug"], "flood-watch-qld");
    assert_eq!(made["enterprise_billing"], true);
    assert!(made["id"].as_str().is_some_and(|id| id.starts_with("org_")));
    let nameless = api.call("organizations.create", json!({"name": "!!!"}));
    assert_eq!(nameless.status, 422);
    // Letters outside ASCII are letters: such names were once refused as having none.
    for (name, slug) in [("日本", "日本"), ("Éco Île", "éco-île"), ("é", "é")] {
        let made = api.ok("organizations.create", json!({ "name": name }));
        assert_eq!(made["slug"], slug, "{name}");
    }
}

#[test]
fn a_slug_keeps_combining_marks_in_their_word() {
    let api = Api::start();
    let slug = |name: &str| {
        let made = api.ok("organizations.create", json!({ "name": name }));
        made["slug"].as_str().map(str::to_owned)
    };
    // The same name typed precomposed and decomposed (e + U+0301) is one name to its reader.
    let precomposed = slug("Caf\u{e9} \u{c9}t\u{e9}");
    assert_eq!(precomposed.as_deref(), Some("caf\u{e9}-\u{e9}t\u{e9}"));
    assert_eq!(slug("Cafe\u{301} E\u{301}te\u{301}"), precomposed);
    // A virama (Mn) and vowel signs (Mc) belong to the Devanagari word they are written in.
    assert_eq!(slug("हिन्दी").as_deref(), Some("हिन्दी"));
    assert_eq!(slug("नमस्ते दुनिया").as_deref(), Some("नमस्ते-दुनिया"));
    // A zero-width non-joiner or joiner inside a word is part of it; at a word's end, or
    // with no word before it, it joins nothing and goes with the separator.
    assert_eq!(
        slug("\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}").as_deref(),
        Some("\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}")
    );
    assert_eq!(
        slug("\u{915}\u{94d}\u{200d}\u{937}").as_deref(),
        Some("\u{915}\u{94d}\u{200d}\u{937}")
    );
    assert_eq!(
        slug("ab\u{200d} \u{200c}cd\u{200c}").as_deref(),
        Some("ab-cd")
    );
    // Between ASCII letters one draws nothing, so the slug shows what the reader sees; a run
    // of them is one.
    assert_eq!(slug("ac\u{200d}me").as_deref(), Some("acme"));
    assert_eq!(
        slug("\u{645}\u{6cc}\u{200c}\u{200c}\u{200c}\u{62e}").as_deref(),
        Some("\u{645}\u{6cc}\u{200c}\u{62e}")
    );
    // A mark with no letter before it in its word has nothing to join, and is no letter itself.
    assert_eq!(slug("- \u{301}ab").as_deref(), Some("ab"));
    let marks_only = api.call("organizations.create", json!({"name": "\u{301}\u{94d}"}));
    assert_eq!(marks_only.status, 422);
}

#[test]
fn every_balance_change_is_a_transaction_and_purchases_are_invoiced() {
    let api = Api::start();
    let order = api.place_archive_order(&api.commercial_capture());
    api.ok("orders.cancel", json!({"order_id": order}));
    api.ok("billing.topup", json!({"credits": 500}));
    attach_card(&api, "pm_card");
    let approval = id(&api.ok("billing.approvals.request", json!({"credits": 700})));
    assert_eq!(approve(&api, &approval).status, 200);

    let all = api.ok("billing.credits.transactions", json!({"limit": 10}));
    let reasons = reasons_of(&all);
    assert_eq!(reasons, vec!["approval", "topup", "refund", "order"]);
    let spent = all["transactions"][3]["credits"].as_i64().expect("credits");
    let refunded = all["transactions"][2]["credits"].as_i64().expect("credits");
    assert!(spent < 0 && refunded == -spent, "{all}");
    let balance = api.ok("billing.credits.balance", json!({}))["credits"].clone();
    assert_eq!(all["transactions"][0]["balance_after_credits"], balance);

    let second = api.ok(
        "billing.credits.transactions",
        json!({"limit": 1, "offset": 1}),
    );
    assert_eq!(
        (
            second["total"].clone(),
            second["transactions"][0]["reason"].clone()
        ),
        (json!(4), json!("topup"))
    );
    let refunds = api.ok("billing.credits.transactions", json!({"reason": "refund"}));
    assert_eq!(refunds["total"], 1);

    let invoices = api.ok("billing.invoices.list", json!({"limit": 10}));
    let amounts: Vec<f64> = invoices["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .filter_map(|i| i["amount_aud"].as_f64())
        .collect();
    assert_eq!(amounts, vec![7.0, 5.0]);

    let status = api.ok(
        "billing.status.get",
        json!({"organization_id": geopera_emulator::DEMO_ORG}),
    );
    assert_eq!(status["balance_credits"], balance);
    let elsewhere = api.call(
        "billing.status.get",
        json!({"organization_id": "org_someone"}),
    );
    assert_eq!(elsewhere.status, 404);
}

/// A top-up says its amount once, as a whole number of credits or an amount in A$.
#[test]
fn a_top_up_with_two_amounts_or_fractional_credits_is_refused_naming_the_field() {
    let api = Api::start();
    for (body, field) in [
        (json!({"credits": 5, "amount_aud": -1}), "amount_aud"),
        (json!({"credits": 100.5}), "credits"),
        (json!({"amount_aud": "ten"}), "amount_aud"),
    ] {
        let refused = api.call("billing.topup", body.clone());
        assert_eq!(refused.status, 422, "{body}");
        let detail = refused.json()["detail"][0].clone();
        assert_eq!(detail["loc"][1], field, "{body}: {detail}");
    }
    assert_eq!(
        api.call("billing.topup", json!({"amount_aud": 12.5}))
            .status,
        201
    );
    // A whole number written as a float is that number of credits, as Python writes one.
    let before = api.emu.balance_credits(DEMO_ORG);
    let topup = api.call_text("billing.topup", r#"{"credits": 1000.0}"#);
    assert_eq!(topup.status, 201, "{:?}", topup.json());
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before + 1000);
}

/// A charge that leaves the balance below the auto top-up threshold buys the top-up amount at
/// once (an `auto_topup` transaction, invoiced); a charge that leaves it above buys nothing,
/// and once another top-up would take the day's past `daily_charge_cap_aud`, the balance is
/// left low.
#[test]
fn auto_topup_buys_credits_when_a_charge_leaves_the_balance_low_within_the_daily_cap() {
    let api = Api::start();
    let balance = || api.ok("billing.credits.balance", json!({}))["credits"].as_i64();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    let capture = api.commercial_capture();
    let place = || {
        let order = api.ok(
            "orders.archive.place",
            json!({"captures": [{"id": capture}]}),
        );
        order["totalCredits"].as_i64().expect("a price")
    };
    // One order of the capture tells its price, before any auto top-up is set.
    let cost = place();
    assert!(cost > 0, "{cost}");
    let start = balance().expect("a balance");
    // Below the threshold after one more order, above it after a top-up of twice the price; the
    // cap allows one top-up a day.
    let amount = 2 * cost;
    api.ok(
        "billing.set_auto_topup",
        json!({"enabled": true, "threshold_credits": start - cost / 2,
               "topup_amount_credits": amount,
               "daily_charge_cap_aud": amount as f64 * 1.5 / 100.0}),
    );
    place();
    assert_eq!(balance(), Some(start - cost + amount), "topped up");
    place();
    assert_eq!(
        balance(),
        Some(start),
        "above the threshold: nothing bought"
    );
    place();
    assert_eq!(
        balance(),
        Some(start - cost),
        "a second top-up today would pass the cap"
    );

    let all = api.ok("billing.credits.transactions", json!({"limit": 10}));
    let reasons = reasons_of(&all);
    assert_eq!(
        reasons,
        vec!["order", "order", "auto_topup", "order", "order", "topup"]
    );
    let invoices = api.ok("billing.invoices.list", json!({"limit": 10}));
    assert_eq!(invoices["invoices"][0]["credits"], amount);
    assert_eq!(
        api.ok("billing.status.get", json!({"organization_id": "org_demo"}))["low_balance"],
        true
    );

    // A new day (UTC) has a cap of its own: the next charge tops up again.
    api.emu.clock().advance(Duration::from_secs(86_400));
    place();
    assert_eq!(balance(), Some(start - 2 * cost + amount));
}

/// The demo organization starts with a default card, so top-ups and auto top-up work from the
/// first request; any other organization starts with none, as a new customer does. The card
/// is made once: a restart with the state file finds the same one.
#[test]
fn the_demo_organization_starts_with_a_default_card_and_others_with_none() {
    let file = TempFile::new("demo-card");
    let cards = |api: &Api| api.ok("payment_methods.list", json!({}))["payment_methods"].clone();
    let first = {
        let api = crate::state::start(5, &file);
        let cards = cards(&api);
        assert_eq!(cards.as_array().map(Vec::len), Some(1), "{cards}");
        assert_eq!(
            (
                cards[0]["payment_method_id"].clone(),
                cards[0]["isDefault"].clone()
            ),
            (json!("pm_demo_visa"), json!(true))
        );
        api.ok("billing.topup", json!({"credits": 100}));
        let other = api.emu.create_key_in_org("org_new_customer", &["*"]);
        let theirs = api.call_as(&other, "payment_methods.list", json!({}));
        assert_eq!(theirs.json()["payment_methods"], json!([]));
        cards
    };
    let api = crate::state::start(5, &file);
    assert_eq!(cards(&api), first, "the same card, not a second one");
}

/// Regression: `billing.topup` added credits to an organization with no card on file, though
/// a top-up is a payment and one the API cannot take is 402. Without a default card it is 402
/// problem+json saying to attach one, after the amount is checked (422 first), and nothing
/// is charged, recorded or invoiced; a keyed retry is answered the 402 again, never a
/// success. A card that is not the default is not charged; once one is, the top-up goes
/// through.
#[test]
fn a_top_up_without_a_default_card_is_402_and_charges_nothing() {
    let api = Api::start();
    detach_every_card(&api);
    let before = balance(&api);
    let ledger = |api: &Api| {
        let transactions = api.ok("billing.credits.transactions", json!({"limit": 1}));
        let invoices = api.ok("billing.invoices.list", json!({"limit": 100}));
        (transactions["total"].clone(), invoices["invoices"].clone())
    };
    let recorded = ledger(&api);

    let no_amount = api.call("billing.topup", json!({}));
    assert_eq!(no_amount.status, 422, "the input is checked first");
    refused_for_want_of_a_card(
        &api.call("billing.topup", json!({"credits": 500})),
        "no card",
    );
    let bearer = format!("Bearer {}", api.emu.api_key());
    let body = json!({"amount_aud": 5});
    let keyed = |key: &str| {
        let headers = [("authorization", bearer.as_str()), ("idempotency-key", key)];
        api.call_with("billing.topup", &body, &headers)
    };
    for attempt in ["keyed", "keyed retry"] {
        refused_for_want_of_a_card(&keyed("no-card-topup"), attempt);
    }
    let first = attach_card(&api, "pm_first");
    attach_card(&api, "pm_second");
    api.ok(
        "payment_methods.detach",
        json!({"payment_method_row_id": id(&first)}),
    );
    refused_for_want_of_a_card(
        &api.call("billing.topup", json!({"credits": 500})),
        "a card that is not the default",
    );
    assert_eq!(balance(&api), before, "nothing charged");
    assert_eq!(ledger(&api), recorded, "nothing recorded or invoiced");

    api.ok(
        "payment_methods.set_default",
        json!({"payment_method_row_id": only_card(&api)}),
    );
    let topped = keyed("with-a-card");
    assert_eq!(topped.status, 201, "{:?}", topped.body);
    assert_eq!(balance(&api), before + 500);
}

/// The row id of the organization's only payment method.
fn only_card(api: &Api) -> String {
    let listed = api.ok("payment_methods.list", json!({}));
    assert_eq!(listed["payment_methods"].as_array().map(Vec::len), Some(1));
    id(&listed["payment_methods"][0])
}

/// Regression: auto top-up could be turned on with no card to charge. Turning it on needs a
/// default card (402 otherwise, the old setting kept); turning it off never does.
#[test]
fn turning_auto_top_up_on_needs_a_default_card_and_turning_it_off_does_not() {
    let api = Api::start();
    detach_every_card(&api);
    let setting = |enabled: bool| json!({"enabled": enabled, "threshold_credits": 1000, "topup_amount_credits": 50_000});
    let enabled = |api: &Api| api.ok("billing.auto_topup.get", json!({}))["enabled"].clone();
    refused_for_want_of_a_card(
        &api.call("billing.set_auto_topup", setting(true)),
        "no card",
    );
    assert_eq!(enabled(&api), false, "nothing recorded");
    api.ok("billing.set_auto_topup", setting(false));

    let card = attach_card(&api, "pm_card");
    api.ok("billing.set_auto_topup", setting(true));
    assert_eq!(enabled(&api), true);
    api.ok(
        "payment_methods.detach",
        json!({"payment_method_row_id": id(&card)}),
    );
    refused_for_want_of_a_card(
        &api.call("billing.set_auto_topup", setting(true)),
        "the card detached",
    );
    api.ok("billing.set_auto_topup", setting(false));
    assert_eq!(enabled(&api), false, "off with no card");
}

/// Detaching the default card while auto top-up is on is allowed (a card is its owner's to
/// take away): the setting stays on, but a charge that leaves the balance low buys nothing
/// until the organization has a default card again.
#[test]
fn with_its_default_card_detached_auto_top_up_buys_nothing() {
    let api = Api::start();
    api.ok("billing.topup", json!({"credits": 10_000_000}));
    let capture = api.commercial_capture();
    let place = || {
        let order = api.ok(
            "orders.archive.place",
            json!({"captures": [{"id": capture}]}),
        );
        order["totalCredits"].as_i64().expect("a price")
    };
    let cost = place();
    let amount = 2 * cost;
    // Every charge leaves the balance below this threshold.
    api.ok(
        "billing.set_auto_topup",
        json!({"enabled": true, "threshold_credits": 1_000_000_000,
               "topup_amount_credits": amount}),
    );
    let start = balance(&api);
    place();
    assert_eq!(balance(&api), start - cost + amount, "bought with the card");

    api.ok(
        "payment_methods.detach",
        json!({"payment_method_row_id": default_card(&api)}),
    );
    let setting = api.ok("billing.auto_topup.get", json!({}));
    assert_eq!(setting["enabled"], true, "the setting stays as set");
    let before = balance(&api);
    place();
    assert_eq!(balance(&api), before - cost, "no card: nothing bought");
    let newest = api.ok("billing.credits.transactions", json!({"limit": 1}));
    assert_eq!(reasons_of(&newest), vec!["order"]);

    attach_card(&api, "pm_new");
    let before = balance(&api);
    place();
    assert_eq!(
        balance(&api),
        before - cost + amount,
        "a default card again"
    );
}

/// Payment methods are kept in the state file: a detached card stays detached across a
/// restart, and so top-ups stay refused until one is attached.
#[test]
fn a_detached_card_stays_detached_across_a_restart() {
    let file = TempFile::new("detached-card");
    {
        let api = crate::state::start(6, &file);
        detach_every_card(&api);
        attach_card(&api, "pm_kept");
    }
    {
        let api = crate::state::start(6, &file);
        let card = only_card(&api);
        api.ok("billing.topup", json!({"credits": 100}));
        api.ok(
            "payment_methods.detach",
            json!({"payment_method_row_id": card}),
        );
    }
    let api = crate::state::start(6, &file);
    let left = api.ok("payment_methods.list", json!({}));
    assert_eq!(left["payment_methods"], json!([]));
    refused_for_want_of_a_card(
        &api.call("billing.topup", json!({"credits": 100})),
        "after a restart",
    );
}

/// A setup intent's client secret confirms it with the payment provider; the intent's id
/// follows from the seed, as every id does, but its secret must not.
#[test]
fn a_setup_intents_client_secret_does_not_follow_from_the_seed() {
    let intent = || {
        let api = Api::with(Emulator::builder().seed(43).rate_limits(RateLimits::off()));
        api.ok("payment_methods.create_setup_intent", json!({}))
    };
    let (first, second) = (intent(), intent());
    let intent_id = first["setup_intent_id"].as_str().expect("an intent id");
    assert_eq!(first["setup_intent_id"], second["setup_intent_id"]);
    let secret = first["client_secret"].as_str().expect("a client secret");
    assert!(
        secret.starts_with(&format!("{intent_id}_secret_")),
        "{secret}"
    );
    assert_ne!(first["client_secret"], second["client_secret"]);
}

/// Operations that answer a sample still keep to the caller's organization when they name
/// one: another organization is 404, as for every kept record. Geopera's own back-office
/// operations (`admin:` scopes) reach across organizations. Once, any id was answered 200.
#[test]
fn sample_operations_naming_another_organization_are_404() {
    let api = Api::start();
    for (op, body) in [
        (
            "billing.run_monthly_for_org",
            json!({"organization_id": "org_someone_else"}),
        ),
        (
            "organizations.commitments.statement",
            json!({"organization_id": "org_someone_else", "period": "2025-01"}),
        ),
    ] {
        let refused = api.call(op, body.clone());
        assert_eq!(refused.status, 404, "{op}");
        assert!(
            String::from_utf8_lossy(&refused.body).contains("org_someone_else"),
            "{op}"
        );
        let mut own = body;
        own["organization_id"] = json!("org_demo");
        assert_eq!(api.call(op, own).status, 200, "{op}");
    }
    let admin = api.emu.create_key_in_org("org_demo", &["admin:*"]);
    let across = api.call_as(
        &admin,
        "billing.enterprise.accrual",
        json!({"organization_id": "org_someone_else"}),
    );
    assert_eq!(across.status, 200);
}

/// The tile URL `share.tilejson` hands out is the link's, so it stops working with the link:
/// revoked, expired (or never issued), its tiles are not served. It names the link by a key
/// that takes the password to learn, not by the token.
#[test]
fn a_share_links_tiles_stop_when_it_is_revoked() {
    let api = Api::start();
    let (_, collection) = collection(&api);
    let in_a_day = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
    let share = || {
        let link = api.ok(
            "share.link.create",
            json!({"target_type": "collection", "target_id": collection, "permission": "view",
                   "password": "correct horse", "expires_at": in_a_day}),
        );
        let tilejson = api.ok(
            "share.tilejson",
            json!({"token": link["token"], "password": "correct horse"}),
        );
        let tile = tilejson["tiles"][0]
            .as_str()
            .expect("a tile URL")
            .replace("{z}/{x}/{y}", "3/2/1");
        (link, tile)
    };
    let get = |url: &str| api.http.get(url).send().expect("tile").status().as_u16();
    let (revoked, revoked_tile) = share();
    let (expiring, expiring_tile) = share();
    // The token alone, which is passed around with the password apart, opens no tile.
    let token = expiring["token"].as_str().expect("a token");
    assert!(!expiring_tile.contains(token), "{expiring_tile}");
    let by_token = format!("{}/assets/share/{token}/3/2/1.png", api.emu.base_url());
    assert_eq!(get(&by_token), 404, "a tile served for the token alone");
    assert_eq!(get(&revoked_tile), 200, "{revoked_tile}");
    assert_eq!(get(&expiring_tile), 200, "{expiring_tile}");
    api.ok("share.link.revoke", json!({"link_id": id(&revoked)}));
    assert_eq!(
        get(&revoked_tile),
        404,
        "a revoked link's tile is still served: {revoked_tile}"
    );
    assert_eq!(get(&expiring_tile), 200, "another link's tiles go on");
    api.emu
        .clock()
        .advance(std::time::Duration::from_secs(86_400));
    assert_eq!(
        get(&expiring_tile),
        404,
        "an expired link's tile is still served: {expiring_tile}"
    );
    let forged = format!(
        "{}/assets/share/shr_{}/3/2/1.png",
        api.emu.base_url(),
        "0".repeat(48)
    );
    assert_eq!(
        get(&forged),
        404,
        "a tile of a token never issued is served"
    );
}

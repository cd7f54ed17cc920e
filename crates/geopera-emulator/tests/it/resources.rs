//! The records users create — projects, collections, items, band formulas, alert rules and
//! events, visualization profiles — over real HTTP: each is created, read, listed (walking
//! the pages where the contract pages), changed and deleted; another organization's ids are
//! "not found"; and they survive a restart with a state file.

use std::collections::HashSet;
use std::time::Duration;

use geopera_emulator::{Emulator, RateLimits, DEMO_ORG, STARTER_ITEMS};
use serde_json::{json, Value};

use crate::common::{Api, Resp};
use crate::state::TempFile;

/// The body of a 200 answer, failing the test with the answer otherwise.
fn ok(resp: Resp) -> Value {
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    resp.json()
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn new_project(api: &Api, name: &str) -> String {
    id(&ok(api.call("projects.create", json!({"name": name}))))
}

fn collection(api: &Api, project: &str, name: &str) -> String {
    id(&ok(api.call(
        "collections.create",
        json!({"project_id": project, "name": name}),
    )))
}

fn item(api: &Api, project: &str, collection: Option<&str>, name: &str) -> String {
    let mut body = json!({"project_id": project, "name": name, "type": "user_raster"});
    if let Some(collection) = collection {
        body["collection_id"] = json!(collection);
    }
    id(&ok(api.call("items.create", body)))
}

/// Walks an offset-paged list `per_page` at a time; every id in order, checked unique.
fn walk(api: &Api, op: &str, body: &Value, key: &str, per_page: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..1000 {
        let mut page_body = body.clone();
        page_body["limit"] = json!(per_page);
        page_body["offset"] = json!(seen.len());
        let page = ok(api.call(op, page_body));
        let rows = page[key].as_array().expect("a page").clone();
        assert!(rows.len() <= per_page, "{op}: a page larger than asked");
        seen.extend(rows.iter().map(id));
        if rows.len() < per_page {
            break;
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "{op}: an id twice");
    seen
}

/// Another organization's key with every scope.
fn stranger(api: &Api) -> String {
    api.emu.create_key_in_org("org_stranger", &["*"])
}

#[test]
fn items_are_created_read_paged_changed_and_deleted() {
    let api = Api::start();
    let project = new_project(&api, "Field work");
    let optical = collection(&api, &project, "Optical");
    let mut made = Vec::new();
    for n in 0..7 {
        let into = (n % 2 == 0).then_some(optical.as_str());
        made.push(item(&api, &project, into, &format!("scene {n}")));
    }
    let got = ok(api.call("items.get", json!({"item_id": made[0]})));
    assert_eq!(got["item"]["name"], "scene 0");
    assert_eq!(got["item"]["project_id"], project.as_str());
    assert_eq!(got["item"]["collection_id"], optical.as_str());
    assert_eq!(got["item"]["type"], "user_raster");
    assert_eq!(got["item"]["stac_id"], made[0].as_str());
    assert_eq!(got["item"]["lifecycle_state"], "active");

    let all = walk(
        &api,
        "items.list",
        &json!({"project_id": project}),
        "items",
        3,
    );
    assert_eq!(all, made, "every item once, oldest first");
    let only = json!({"project_id": project, "collection_id": optical});
    assert_eq!(walk(&api, "items.list", &only, "items", 2).len(), 4);
    let none = json!({"project_id": project, "uncollected": true});
    assert_eq!(walk(&api, "items.list", &none, "items", 2).len(), 3);
    let by = json!({"collection_id": optical});
    assert_eq!(
        walk(&api, "items.list_by_collection", &by, "items", 3).len(),
        4
    );
    let counted = ok(api.call(
        "collections.get",
        json!({"project_id": project, "collection_id": optical}),
    ));
    assert_eq!(counted["item_count"], 4);

    let changed = ok(api.call(
        "items.update",
        json!({"item_id": made[1], "name": "renamed", "collection_id": optical, "cloud_cover": 12.5}),
    ));
    assert_eq!(changed["name"], "renamed");
    assert_eq!(changed["collection_id"], optical.as_str());
    assert_eq!(changed["cloud_cover"], 12.5);

    let stac = api.call("items.get_stac", json!({"item_id": made[1]}));
    assert_eq!(stac.status, 200);
    assert!(stac.content_type().starts_with("application/geo+json"));
    let stac = stac.json();
    assert_eq!(stac["type"], "Feature");
    assert_eq!(stac["stac_version"], "1.0.0");
    assert_eq!(stac["id"], made[1].as_str());
    assert_eq!(stac["collection"], optical.as_str());
    assert_eq!(stac["properties"]["title"], "renamed");
    assert_eq!(stac["properties"]["eo:cloud_cover"], 12.5);

    assert_eq!(
        ok(api.call("items.delete", json!({"item_id": made[1]})))["id"],
        made[1].as_str()
    );
    for (op, body) in [
        ("items.get", json!({"item_id": made[1]})),
        ("items.update", json!({"item_id": made[1], "name": "x"})),
        ("items.delete", json!({"item_id": made[1]})),
        ("items.get_stac", json!({"item_id": made[1]})),
    ] {
        assert_eq!(api.call(op, body).status, 404, "{op} after delete");
    }
}

#[test]
fn items_name_a_project_and_collection_of_the_callers_own() {
    let api = Api::start();
    let project = new_project(&api, "Mine");
    let other_project = new_project(&api, "Other");
    let elsewhere = collection(&api, &other_project, "Elsewhere");
    let unknown = api.call(
        "items.create",
        json!({"project_id": "prj_nope", "name": "x", "type": "clip"}),
    );
    assert_eq!(unknown.status, 404);
    let wrong = api.call(
        "items.create",
        json!({"project_id": project, "collection_id": elsewhere, "name": "x", "type": "clip"}),
    );
    assert_eq!(wrong.status, 404, "a collection of another project");
    let empty = api.call(
        "items.create",
        json!({"project_id": project, "name": "   ", "type": "clip"}),
    );
    assert_eq!(empty.status, 422);

    let mine = item(&api, &project, None, "mine");
    let key = stranger(&api);
    for (op, body) in [
        ("items.get", json!({"item_id": mine})),
        ("items.update", json!({"item_id": mine, "name": "theirs"})),
        ("items.delete", json!({"item_id": mine})),
        ("items.get_stac", json!({"item_id": mine})),
        ("items.list_assets", json!({"item_id": mine})),
        ("items.duplicate", json!({"item_id": mine})),
        ("items.list", json!({"project_id": project})),
        (
            "items.list_by_collection",
            json!({"collection_id": elsewhere}),
        ),
        (
            "items.create",
            json!({"project_id": project, "name": "x", "type": "clip"}),
        ),
    ] {
        assert_eq!(api.call_as(&key, op, body).status, 404, "{op}");
    }
    assert_eq!(
        ok(api.call("items.get", json!({"item_id": mine})))["item"]["name"],
        "mine"
    );
}

#[test]
fn every_organization_starts_with_a_default_project_to_page_through() {
    let api = Api::start();
    let default = api.emu.default_project(DEMO_ORG);
    let all = walk(
        &api,
        "items.list",
        &json!({"project_id": default}),
        "items",
        64,
    );
    assert_eq!(all.len(), STARTER_ITEMS);
    let none = ok(api.call(
        "items.list",
        json!({"project_id": default, "uncollected": true, "limit": 1}),
    ));
    assert_eq!(none["total"], 75);
    let listed = ok(api.call("collections.list", json!({"project_id": default})));
    assert_eq!(listed["total"], 3);
    let counts: Vec<u64> = listed["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| c["item_count"].as_u64().expect("a count"))
        .collect();
    assert_eq!(counts, vec![75, 75, 75]);
    let first = id(&listed["collections"][0]);
    let by = json!({"collection_id": first});
    assert_eq!(
        walk(&api, "items.list_by_collection", &by, "items", 40).len(),
        75
    );

    // Another organization has its own, with other ids, and cannot see this one.
    let key = stranger(&api);
    let theirs = api.emu.default_project("org_stranger");
    assert_ne!(theirs, default);
    let listed = api.call_as(
        &key,
        "items.list",
        json!({"project_id": theirs, "limit": 5}),
    );
    assert_eq!(ok(listed)["total"], STARTER_ITEMS);
    let peek = api.call_as(&key, "items.list", json!({"project_id": default}));
    assert_eq!(peek.status, 404);

    // The same seed gives the same ids on another emulator.
    let again = Api::start();
    assert_eq!(again.emu.default_project(DEMO_ORG), default);
    let page = ok(again.call("items.list", json!({"project_id": default, "limit": 3})));
    let ids: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, all[..3].to_vec());
}

#[test]
fn collections_and_projects_take_their_items_along_as_documented() {
    let api = Api::start();
    let project = new_project(&api, "Doomed");
    let grouping = collection(&api, &project, "Grouping");
    let kept = item(&api, &project, Some(&grouping), "kept");
    ok(api.call(
        "collections.delete",
        json!({"project_id": project, "collection_id": grouping}),
    ));
    let got = ok(api.call("items.get", json!({"item_id": kept})));
    assert_eq!(got["item"]["collection_id"], Value::Null, "uncollected");
    let none = ok(api.call(
        "items.list",
        json!({"project_id": project, "uncollected": true}),
    ));
    assert_eq!(none["total"], 1);

    let profile = ok(api.call(
        "visualization.profile.create",
        json!({"item_id": kept, "name": "rgb", "type": "rgb", "config": {}}),
    ));
    let job = api.ok(
        "processing.create",
        json!({"project_id": project, "process_id": "ndvi", "inputs": {"item": kept}}),
    );
    let clip = api.ok(
        "clip.create_from_item",
        json!({"item_id": "S2A_1", "project_id": project}),
    );
    let elsewhere = api.ok("clip.create_from_item", json!({"item_id": "S2A_1"}));
    ok(api.call("projects.delete", json!({"project_id": project})));
    assert_eq!(api.call("items.get", json!({"item_id": kept})).status, 404);
    // Its jobs go with it; a clip job naming no project stays.
    assert_eq!(
        api.call("processing.job.get", json!({"job_id": id(&job)}))
            .status,
        404
    );
    let listed = ok(api.call("processing.jobs.list", json!({"workspaceId": project})));
    assert_eq!(listed["total"], 0, "{listed}");
    assert_eq!(
        api.call("clip.job.get", json!({"job_id": clip["job"]["id"]}))
            .status,
        404
    );
    assert_eq!(
        api.call("clip.job.get", json!({"job_id": elsewhere["job"]["id"]}))
            .status,
        200
    );
    let gone = api.call(
        "visualization.profile.get",
        json!({"item_id": kept, "profile_id": id(&profile)}),
    );
    assert_eq!(gone.status, 404);
}

#[test]
fn items_are_duplicated_traced_and_their_asset_named() {
    let api = Api::start();
    let project = new_project(&api, "Copies");
    let source = item(&api, &project, None, "source");
    let copy = ok(api.call("items.duplicate", json!({"item_id": source})));
    assert_eq!(copy["name"], "source (copy)");
    assert_eq!(copy["duplicated_from_id"], source.as_str());
    assert_ne!(id(&copy), source);
    let copy_of_copy = ok(api.call(
        "items.duplicate",
        json!({"item_id": id(&copy), "new_name": "third"}),
    ));
    let lineage = ok(api.call("items.lineage", json!({"item_id": id(&copy_of_copy)})));
    let ancestors: Vec<String> = lineage["ancestors"]
        .as_array()
        .expect("ancestors")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ancestors, vec![id(&copy), source.clone()]);
    let lineage = ok(api.call("items.lineage", json!({"item_id": source})));
    assert_eq!(lineage["descendants"][0]["id"], id(&copy).as_str());

    let assets = ok(api.call("items.list_assets", json!({"item_id": source})));
    let asset = assets["assets"][0].clone();
    assert_eq!(asset["key"], "data");
    let named = ok(api.call(
        "items.set_asset_band_names",
        json!({"item_id": source, "asset_id": asset["id"], "band_names": ["red", "green", "blue"]}),
    ));
    assert_eq!(named["band_names"], json!(["red", "green", "blue"]));
    let assets = ok(api.call("items.list_assets", json!({"item_id": source})));
    assert_eq!(
        assets["assets"][0]["band_names"],
        json!(["red", "green", "blue"])
    );
    let wrong = api.call(
        "items.set_asset_band_names",
        json!({"item_id": source, "asset_id": "ast_nope", "band_names": ["a"]}),
    );
    assert_eq!(wrong.status, 404);

    // A copy takes its source's asset band names and visualization profiles with it.
    let profile = ok(api.call(
        "visualization.profile.create",
        json!({"item_id": source, "name": "true colour", "layer": "user", "type": "rgb", "config": {"bands": [1, 2, 3]}, "is_default": true}),
    ));
    let copy = id(&ok(api.call("items.duplicate", json!({"item_id": source}))));
    let assets = ok(api.call("items.list_assets", json!({"item_id": copy})));
    assert_eq!(
        assets["assets"][0]["band_names"],
        json!(["red", "green", "blue"])
    );
    let profiles = ok(api.call("visualization.profiles.list", json!({"item_id": copy})));
    assert_eq!(profiles["total"], 1, "{profiles}");
    let copied = &profiles["profiles"][0];
    assert_eq!(copied["name"], "true colour");
    assert_eq!(copied["config"], profile["config"]);
    assert_eq!(copied["is_default"], true);
    assert_eq!(copied["item_id"], copy.as_str());
    assert_ne!(copied["id"], profile["id"]);
}

/// A person's role in a project holds them to what the contract allows it: a viewer changes
/// nothing there, an editor changes its contents (an upload's too) but deletes no collection
/// and changes no metadata of the project's own, an admin may. Keys, and people who are no
/// members of the project, keep the organization's access.
#[test]
fn a_project_role_holds_a_person_to_what_it_allows() {
    let api = Api::start();
    let project = new_project(&api, "Roles");
    let existing = item(&api, &project, None, "existing");
    let kept = collection(&api, &project, "kept");
    let session = crate::oidc::password_login(&api, "admin", "admin-password");
    let token = session["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let in_a_day = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 86_400);
    // An upload a key started, which the person's role then decides they may change or not.
    let upload = ok(api.call(
        "uploads.initiate",
        json!({"project_id": project, "transfer_method": "browser", "file_count": 1, "total_bytes": 10}),
    ))["id"]
        .as_str()
        .expect("an upload id")
        .to_owned();
    let role = |role: &str, adding: bool| {
        let op = if adding {
            "projects.add_member"
        } else {
            "projects.update_member"
        };
        ok(api.call(
            op,
            json!({"project_id": project, "user_id": "usr_admin", "role": role}),
        ));
    };
    let changes = |name: &str| {
        [
            (
                "items.create",
                json!({"project_id": project, "name": name, "type": "satellite_capture"}),
            ),
            (
                "items.update",
                json!({"item_id": existing, "name": format!("{name} renamed")}),
            ),
            (
                "collections.create",
                json!({"project_id": project, "name": name}),
            ),
            (
                "uploads.initiate",
                json!({"project_id": project, "transfer_method": "browser", "file_count": 1, "total_bytes": 10}),
            ),
            (
                "visualization.profile.create",
                json!({"item_id": existing, "name": name, "layer": "user", "type": "rgb", "config": {}}),
            ),
            (
                "share.link.create",
                json!({"target_type": "item", "target_id": existing, "permission": "view",
                       "password": "correct horse", "expires_at": in_a_day}),
            ),
            (
                "uploads.signed_url",
                json!({"upload_id": upload, "file_name": "scene.tif", "content_type": "image/tiff"}),
            ),
            (
                "uploads.progress",
                json!({"upload_id": upload, "bytes_uploaded": name.len() % 10}),
            ),
        ]
    };
    let fail_upload = json!({"upload_id": upload, "error_message": "given up"});
    // No member yet: the organization's access.
    for (op, body) in changes("before") {
        assert_eq!(api.call_as(&token, op, body).status, 200, "{op}");
    }
    role("viewer", true);
    // Naming an asset's bands takes "project member access", the contract says: a viewer's.
    let named = api.call_as(
        &token,
        "items.set_asset_band_names",
        json!({"item_id": existing, "asset_id": format!("ast_{}", &existing[4..]), "band_names": ["red"]}),
    );
    assert_eq!(named.status, 200, "{:?}", named.json());
    for (op, body) in changes("as viewer") {
        let refused = api.call_as(&token, op, body);
        assert_eq!(refused.status, 403, "{op}: {:?}", refused.json());
        assert!(
            refused.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains("yours is viewer")),
            "{op}: {:?}",
            refused.json()
        );
    }
    // Nor does a viewer say who holds which role, change the project's own metadata, or end
    // the project or an upload.
    let admins = || {
        [
            (
                "projects.update_member",
                json!({"project_id": project, "user_id": "usr_admin", "role": "admin"}),
            ),
            (
                "projects.update",
                json!({"project_id": project, "description": "renamed"}),
            ),
            ("projects.archive", json!({"project_id": project})),
        ]
    };
    let refused = api.call_as(&token, "uploads.fail", fail_upload.clone());
    assert_eq!(refused.status, 403, "{:?}", refused.json());
    let ends = [
        (
            "projects.remove_member",
            json!({"project_id": project, "user_id": "usr_admin"}),
        ),
        ("projects.delete", json!({"project_id": project})),
    ];
    for (op, body) in admins().into_iter().chain(ends) {
        let refused = api.call_as(&token, op, body);
        assert_eq!(refused.status, 403, "{op}: {:?}", refused.json());
    }
    // A key is no member: its scopes decide.
    for (op, body) in changes("by key") {
        assert_eq!(api.call(op, body).status, 200, "{op}");
    }
    role("editor", false);
    for (op, body) in changes("as editor") {
        assert_eq!(api.call_as(&token, op, body).status, 200, "{op}");
    }
    let delete = json!({"project_id": project, "collection_id": kept});
    let refused = api.call_as(&token, "collections.delete", delete.clone());
    assert_eq!(refused.status, 403, "deleting a collection needs an admin");
    for (op, body) in admins() {
        let refused = api.call_as(&token, op, body);
        assert_eq!(refused.status, 403, "an editor: {op}: {:?}", refused.json());
        assert!(
            refused.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains("needs the role admin")),
            "{op}: {:?}",
            refused.json()
        );
    }
    let failed = api.call_as(&token, "uploads.fail", fail_upload);
    assert_eq!(
        failed.status,
        200,
        "an editor ends an upload: {:?}",
        failed.json()
    );
    role("admin", false);
    assert_eq!(
        api.call_as(&token, "collections.delete", delete).status,
        200
    );
    for (op, body) in admins() {
        assert_eq!(api.call_as(&token, op, body).status, 200, "an admin: {op}");
    }
    let ended = api.call_as(&token, "projects.delete", json!({"project_id": project}));
    assert_eq!(ended.status, 200, "{:?}", ended.json());
}

fn rule(api: &Api, body: Value) -> Value {
    ok(api.call("alerts.create_rule", body))["alert_rule"].clone()
}

#[test]
fn alert_rules_are_created_read_listed_changed_and_deleted() {
    let api = Api::start();
    let project = new_project(&api, "Watch");
    let watched = collection(&api, &project, "Watched");
    let base = json!({"name": "cloudy", "expression": "cloud_cover", "comparison": "gt", "threshold": 30.0});
    for (change, field) in [
        (json!({"comparison": "above"}), "comparison"),
        (json!({"comparison": "between"}), "threshold_upper"),
        (
            json!({"comparison": "between", "threshold_upper": 10.0}),
            "threshold_upper",
        ),
        (json!({"expression": " "}), "expression"),
        (json!({"cooldown_minutes": -1}), "cooldown_minutes"),
    ] {
        let mut body = base.clone();
        for (k, v) in change.as_object().expect("an object") {
            body[k] = v.clone();
        }
        let refused = api.call("alerts.create_rule", body);
        assert_eq!(refused.status, 422, "{change}");
        assert_eq!(refused.json()["detail"][0]["loc"][1], field);
    }
    // The contract leaves a rule's name unbounded: one is kept up to the emulator's own bound
    // of 500 characters, as long as an item's may be.
    let mut long = base.clone();
    long["name"] = json!("r".repeat(500));
    let kept = rule(&api, long);
    assert_eq!(kept["name"], "r".repeat(500));
    ok(api.call("alerts.delete_rule", json!({"rule_id": id(&kept)})));
    let mut too_long = base.clone();
    too_long["name"] = json!("r".repeat(501));
    let failure = crate::common::refused(
        api.call("alerts.create_rule", too_long),
        "name",
        "501 characters",
    );
    assert_eq!(
        failure["msg"],
        "Value error, name must be at most 500 characters"
    );
    let mut within = base.clone();
    within["collection_id"] = json!(watched);
    let first = rule(&api, within);
    assert_eq!(first["active"], true);
    assert_eq!(first["comparison"], "gt");
    assert_eq!(first["asset_key"], "data");
    assert_eq!(first["cooldown_minutes"], 60);
    let mut between = base.clone();
    between["comparison"] = json!("between");
    between["threshold_upper"] = json!(80.0);
    let second = rule(&api, between);

    let got = ok(api.call("alerts.rule.get", json!({"rule_id": id(&first)})));
    assert_eq!(got["alert_rule"], first);
    let listed = ok(api.call("alerts.rules.list", json!({})));
    let ids: Vec<String> = listed["alert_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, vec![id(&first), id(&second)]);
    let in_watched = ok(api.call("alerts.rules.list", json!({"collection_id": watched})));
    assert_eq!(in_watched["total"], 1);

    let paused = ok(api.call(
        "alerts.update_rule",
        json!({"rule_id": id(&second), "active": false, "threshold": 40.0}),
    ));
    assert_eq!(paused["alert_rule"]["active"], false);
    assert_eq!(paused["alert_rule"]["threshold"], 40.0);
    let too_high = api.call(
        "alerts.update_rule",
        json!({"rule_id": id(&second), "threshold": 90.0}),
    );
    assert_eq!(too_high.status, 422, "between with the upper bound below");
    let active = ok(api.call("alerts.rules.list", json!({"active": true})));
    assert_eq!(active["total"], 1);

    let key = stranger(&api);
    for (op, body) in [
        ("alerts.rule.get", json!({"rule_id": id(&first)})),
        (
            "alerts.update_rule",
            json!({"rule_id": id(&first), "name": "x"}),
        ),
        ("alerts.delete_rule", json!({"rule_id": id(&first)})),
    ] {
        assert_eq!(api.call_as(&key, op, body).status, 404, "{op}");
    }
    assert_eq!(
        ok(api.call_as(&key, "alerts.rules.list", json!({})))["total"],
        0
    );

    assert_eq!(
        ok(api.call("alerts.delete_rule", json!({"rule_id": id(&first)})))["deleted"],
        true
    );
    assert_eq!(
        api.call("alerts.rule.get", json!({"rule_id": id(&first)}))
            .status,
        404
    );
    assert_eq!(
        api.call("alerts.delete_rule", json!({"rule_id": id(&first)}))
            .status,
        404
    );
}

#[test]
fn testing_a_rule_records_events_to_page_through_and_acknowledge() {
    let api = Api::start();
    let project = new_project(&api, "Alerts");
    let cloudy = id(&ok(api.call(
        "items.create",
        json!({"project_id": project, "name": "cloudy", "type": "satellite_capture", "cloud_cover": 55.0}),
    )));
    let clear = id(&ok(api.call(
        "items.create",
        json!({"project_id": project, "name": "clear", "type": "satellite_capture", "cloud_cover": 5.0}),
    )));
    let noisy = id(&rule(
        &api,
        json!({"name": "noisy", "expression": "cloud_cover", "comparison": "gte", "threshold": 50.0, "cooldown_minutes": 0}),
    ));
    let calm = id(&rule(
        &api,
        json!({"name": "calm", "expression": "cloud_cover", "comparison": "gte", "threshold": 50.0}),
    ));

    let tested = ok(api.call(
        "alerts.test_rule",
        json!({"rule_id": noisy, "item_id": clear}),
    ));
    assert_eq!(tested["would_trigger"], false);
    assert_eq!(tested["computed_value"], 5.0);
    assert_eq!(tested["alert_event_id"], Value::Null);
    for _ in 0..7 {
        let tested = ok(api.call(
            "alerts.test_rule",
            json!({"rule_id": noisy, "item_id": cloudy}),
        ));
        assert_eq!(tested["would_trigger"], true);
        assert_eq!(tested["comparison"], "gte");
        assert!(tested["alert_event_id"].is_string());
    }
    // A 60-minute cooldown: one event, then none until it has run out.
    let body = json!({"rule_id": calm, "item_id": cloudy});
    assert!(ok(api.call("alerts.test_rule", body.clone()))["alert_event_id"].is_string());
    assert!(ok(api.call("alerts.test_rule", body.clone()))["alert_event_id"].is_null());
    api.emu.clock().advance(Duration::from_secs(61 * 60));
    assert!(ok(api.call("alerts.test_rule", body.clone()))["alert_event_id"].is_string());
    // Turned off, a rule still says it would trigger, and records nothing.
    ok(api.call(
        "alerts.update_rule",
        json!({"rule_id": noisy, "active": false}),
    ));
    let off = ok(api.call(
        "alerts.test_rule",
        json!({"rule_id": noisy, "item_id": cloudy}),
    ));
    assert_eq!(off["would_trigger"], true);
    assert!(off["alert_event_id"].is_null(), "{off}");

    let all = walk(&api, "alerts.events.list", &json!({}), "alert_events", 3);
    assert_eq!(all.len(), 9);
    let of_noisy = walk(
        &api,
        "alerts.events.list",
        &json!({"rule_id": noisy}),
        "alert_events",
        2,
    );
    assert_eq!(of_noisy.len(), 7);
    let newest = ok(api.call("alerts.events.list", json!({"limit": 1})));
    assert_eq!(
        newest["alert_events"][0]["rule_id"],
        calm.as_str(),
        "newest first"
    );

    let acknowledged = ok(api.call("alerts.acknowledge_event", json!({"event_id": of_noisy[0]})));
    assert_eq!(acknowledged["alert_event"]["acknowledged"], true);
    assert!(acknowledged["alert_event"]["acknowledged_at"].is_string());
    let open = ok(api.call("alerts.events.list", json!({"acknowledged": false})));
    assert_eq!(open["total"], 8);
    let done = ok(api.call("alerts.events.list", json!({"acknowledged": true})));
    assert_eq!(done["total"], 1);

    let key = stranger(&api);
    let theirs = api.call_as(
        &key,
        "alerts.acknowledge_event",
        json!({"event_id": of_noisy[1]}),
    );
    assert_eq!(theirs.status, 404);
    let theirs = api.call_as(
        &key,
        "alerts.test_rule",
        json!({"rule_id": noisy, "item_id": cloudy}),
    );
    assert_eq!(theirs.status, 404);
    assert_eq!(
        ok(api.call_as(&key, "alerts.events.list", json!({})))["total"],
        0
    );

    ok(api.call("alerts.delete_rule", json!({"rule_id": noisy})));
    let left = ok(api.call("alerts.events.list", json!({})));
    assert_eq!(left["total"], 2, "a rule's events go with it");
}

/// Events a test records are a side effect of a read (`alerts:read`): at the bound the
/// oldest gives way, and the test is answered as ever. A 422 there failed a read-only key's
/// valid test once the organization held the bound's events.
#[test]
fn a_test_at_the_events_bound_drops_the_oldest_event_and_is_answered() {
    use geopera_emulator::MAX_ALERT_EVENTS;
    let api = Api::start();
    let project = new_project(&api, "Alerts");
    let cloudy = id(&ok(api.call(
        "items.create",
        json!({"project_id": project, "name": "cloudy", "type": "satellite_capture", "cloud_cover": 55.0}),
    )));
    let noisy = id(&rule(
        &api,
        json!({"name": "noisy", "expression": "cloud_cover", "comparison": "gte", "threshold": 50.0, "cooldown_minutes": 0}),
    ));
    let calm = id(&rule(
        &api,
        json!({"name": "calm", "expression": "cloud_cover", "comparison": "gte", "threshold": 50.0, "cooldown_minutes": 60}),
    ));
    let reader = api.emu.create_key_in_org(DEMO_ORG, &["alerts:read"]);
    let calm_body = json!({"rule_id": calm, "item_id": cloudy});
    let raised = ok(api.call_as(&reader, "alerts.test_rule", calm_body.clone()));
    assert!(raised["alert_event_id"].is_string(), "{raised}");
    let body = json!({"rule_id": noisy, "item_id": cloudy});
    let mut first = None;
    for _ in 0..MAX_ALERT_EVENTS {
        let tested = ok(api.call_as(&reader, "alerts.test_rule", body.clone()));
        first.get_or_insert(tested["alert_event_id"].clone());
    }
    let tested = ok(api.call_as(&reader, "alerts.test_rule", body));
    let newest = tested["alert_event_id"].clone();
    assert!(newest.is_string(), "{tested}");
    let listed = ok(api.call("alerts.events.list", json!({"limit": 1})));
    assert_eq!(listed["total"], MAX_ALERT_EVENTS);
    assert_eq!(listed["alert_events"][0]["id"], newest, "newest first");
    let oldest = ok(api.call(
        "alerts.events.list",
        json!({"limit": 1, "offset": MAX_ALERT_EVENTS - 1}),
    ));
    assert_ne!(
        Some(&oldest["alert_events"][0]["id"]),
        first.as_ref(),
        "the first event gave way"
    );
    // The calm rule's one event gave way too, and its cooldown still runs.
    let calm_events = ok(api.call("alerts.events.list", json!({"rule_id": calm})));
    assert_eq!(calm_events["total"], 0);
    let cooling = ok(api.call_as(&reader, "alerts.test_rule", calm_body));
    assert_eq!(cooling["would_trigger"], true);
    assert!(cooling["alert_event_id"].is_null(), "{cooling}");
}

fn profile(api: &Api, item: &str, name: &str, sort_order: i64, is_default: bool) -> Value {
    ok(api.call(
        "visualization.profile.create",
        json!({"item_id": item, "name": name, "type": "singleband", "config": {"band": 1},
               "sort_order": sort_order, "is_default": is_default}),
    ))
}

fn defaults(api: &Api, item: &str) -> Vec<String> {
    ok(api.call("visualization.profiles.list", json!({"item_id": item})))["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .filter(|p| p["is_default"] == true)
        .map(id)
        .collect()
}

#[test]
fn visualization_profiles_belong_to_an_item_with_one_default() {
    let api = Api::start();
    let project = new_project(&api, "Looks");
    let shown = item(&api, &project, None, "shown");
    let other = item(&api, &project, None, "other");
    let missing = api.call(
        "visualization.profile.create",
        json!({"item_id": "itm_nope", "name": "x", "type": "rgb", "config": {}}),
    );
    assert_eq!(missing.status, 404);

    let late = profile(&api, &shown, "late", 5, true);
    let early = profile(&api, &shown, "early", 1, false);
    let middle = profile(&api, &shown, "middle", 3, true);
    assert_eq!(middle["version"], 1);
    assert_eq!(middle["layer"], "user");
    assert_eq!(
        defaults(&api, &shown),
        vec![id(&middle)],
        "the newest default wins"
    );

    let listed = ok(api.call("visualization.profiles.list", json!({"item_id": shown})));
    let order: Vec<String> = listed["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .map(id)
        .collect();
    assert_eq!(
        order,
        vec![id(&early), id(&middle), id(&late)],
        "by sort_order"
    );

    let got = ok(api.call(
        "visualization.profile.get",
        json!({"item_id": shown, "profile_id": id(&early)}),
    ));
    assert_eq!(got["name"], "early");
    let through_other = api.call(
        "visualization.profile.get",
        json!({"item_id": other, "profile_id": id(&early)}),
    );
    assert_eq!(through_other.status, 404, "only through its own item");

    let set = ok(api.call(
        "visualization.profile.set_default",
        json!({"item_id": shown, "profile_id": id(&early)}),
    ));
    assert_eq!(set["is_default"], true);
    assert_eq!(defaults(&api, &shown), vec![id(&early)]);

    let updated = ok(api.call(
        "visualization.profile.update",
        json!({"item_id": shown, "profile_id": id(&late), "name": "later", "is_default": true, "config": {"band": 2}}),
    ));
    assert_eq!(updated["name"], "later");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["config"], json!({"band": 2}));
    assert_eq!(defaults(&api, &shown), vec![id(&late)]);

    let key = stranger(&api);
    for (op, body) in [
        (
            "visualization.profile.get",
            json!({"item_id": shown, "profile_id": id(&late)}),
        ),
        (
            "visualization.profile.delete",
            json!({"item_id": shown, "profile_id": id(&late)}),
        ),
        (
            "visualization.profile.set_default",
            json!({"item_id": shown, "profile_id": id(&late)}),
        ),
        ("visualization.profiles.list", json!({"item_id": shown})),
    ] {
        assert_eq!(api.call_as(&key, op, body).status, 404, "{op}");
    }

    let deleted = ok(api.call(
        "visualization.profile.delete",
        json!({"item_id": shown, "profile_id": id(&late)}),
    ));
    assert_eq!(deleted["id"], id(&late).as_str());
    let gone = api.call(
        "visualization.profile.get",
        json!({"item_id": shown, "profile_id": id(&late)}),
    );
    assert_eq!(gone.status, 404);
    ok(api.call("items.delete", json!({"item_id": shown})));
    let listed = api.call("visualization.profiles.list", json!({"item_id": shown}));
    assert_eq!(listed.status, 404);
}

#[test]
fn projects_are_changed_archived_given_members_and_deleted_with_their_collections() {
    let api = Api::start();
    let created = ok(api.call(
        "projects.create",
        json!({"name": "Survey", "description": "coast"}),
    ));
    let project = id(&created);
    assert_eq!(created["name"], "Survey");
    assert_eq!(created["is_archived"], false);
    assert_eq!(created["organization_id"], DEMO_ORG);
    assert!(created.get("members").is_none());
    assert_eq!(api.call("projects.create", json!({"name": ""})).status, 422);

    let updated = ok(api.call(
        "projects.update",
        json!({"project_id": project, "name": "Survey 2"}),
    ));
    assert_eq!(updated["name"], "Survey 2");
    assert_eq!(updated["description"], "coast");
    let archived = ok(api.call("projects.archive", json!({"project_id": project})));
    assert_eq!(archived["is_archived"], true);

    let member = json!({"project_id": project, "user_id": "usr_1", "role": "viewer"});
    assert_eq!(
        ok(api.call("projects.add_member", member.clone()))["role"],
        "viewer"
    );
    // A state conflict: 409, as the API answers them, though the contract lists only 422.
    assert_eq!(api.call("projects.add_member", member).status, 409);
    let bad = json!({"project_id": project, "user_id": "usr_2", "role": "owner"});
    assert_eq!(api.call("projects.add_member", bad).status, 422);
    let promoted = ok(api.call(
        "projects.update_member",
        json!({"project_id": project, "user_id": "usr_1", "role": "admin"}),
    ));
    assert_eq!(promoted["role"], "admin");
    let stranger_member = json!({"project_id": project, "user_id": "usr_9", "role": "admin"});
    assert_eq!(
        api.call("projects.update_member", stranger_member).status,
        404
    );
    let remove = json!({"project_id": project, "user_id": "usr_1"});
    ok(api.call("projects.remove_member", remove.clone()));
    assert_eq!(api.call("projects.remove_member", remove).status, 404);

    let key = stranger(&api);
    for (op, body) in [
        (
            "projects.update",
            json!({"project_id": project, "name": "x"}),
        ),
        ("projects.archive", json!({"project_id": project})),
        ("projects.delete", json!({"project_id": project})),
        (
            "projects.add_member",
            json!({"project_id": project, "user_id": "u", "role": "viewer"}),
        ),
        ("collections.list", json!({"project_id": project})),
    ] {
        assert_eq!(api.call_as(&key, op, body).status, 404, "{op}");
    }

    let inside = collection(&api, &project, "Inside");
    let deleted = ok(api.call("projects.delete", json!({"project_id": project})));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        api.call(
            "collections.get",
            json!({"project_id": project, "collection_id": inside})
        )
        .status,
        404
    );
    assert_eq!(
        api.call("collections.list", json!({"project_id": project}))
            .status,
        404
    );
    assert_eq!(
        api.call(
            "projects.update",
            json!({"project_id": project, "name": "x"})
        )
        .status,
        404
    );
}

#[test]
fn collections_are_created_read_listed_changed_and_deleted() {
    let api = Api::start();
    let project = new_project(&api, "Shelves");
    let made: Vec<String> = (0..4)
        .map(|n| collection(&api, &project, &format!("shelf {n}")))
        .collect();
    let got = ok(api.call(
        "collections.get",
        json!({"project_id": project, "collection_id": made[0]}),
    ));
    assert_eq!(got["name"], "shelf 0");
    assert_eq!(got["item_count"], 0);
    let listed = ok(api.call("collections.list", json!({"project_id": project})));
    let ids: Vec<String> = listed["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, made);
    let updated = ok(api.call(
        "collections.update",
        json!({"project_id": project, "collection_id": made[1], "name": "renamed", "color": "#ff0000"}),
    ));
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["color"], "#ff0000");
    let other = new_project(&api, "Other");
    let crossed = api.call(
        "collections.get",
        json!({"project_id": other, "collection_id": made[0]}),
    );
    assert_eq!(crossed.status, 404, "only through its own project");
    let key = stranger(&api);
    let theirs = api.call_as(
        &key,
        "collections.get",
        json!({"project_id": project, "collection_id": made[0]}),
    );
    assert_eq!(theirs.status, 404);
    ok(api.call(
        "collections.delete",
        json!({"project_id": project, "collection_id": made[0]}),
    ));
    let gone = api.call(
        "collections.get",
        json!({"project_id": project, "collection_id": made[0]}),
    );
    assert_eq!(gone.status, 404);
    assert_eq!(
        ok(api.call("collections.list", json!({"project_id": project})))["total"],
        3
    );
}

#[test]
fn band_formulas_are_kept_beside_templates_that_cannot_change() {
    let api = Api::start();
    let created = ok(api.call(
        "band_formulas.create",
        json!({"name": "ndre", "formula": "(nir - rededge) / (nir + rededge)", "category": "vegetation", "value_range": [-1.0, 1.0]}),
    ));
    let formula = id(&created);
    assert_eq!(created["required_bands"], json!(["nir", "rededge"]));
    assert_eq!(created["is_template"], false);
    let bad = api.call(
        "band_formulas.create",
        json!({"name": "reversed", "formula": "a + b", "value_range": [1.0, -1.0]}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["detail"][0]["loc"][1], "value_range");
    let got = ok(api.call("band_formulas.get", json!({"formula_id": formula})));
    assert_eq!(got, created);

    let with = ok(api.call("band_formulas.list", json!({})));
    assert_eq!(with["total"], 4, "three templates by default, and ours");
    let without = ok(api.call("band_formulas.list", json!({"include_templates": false})));
    assert_eq!(without["total"], 1);
    assert_eq!(without["formulas"][0]["id"], formula.as_str());
    let vegetation = ok(api.call("band_formulas.list", json!({"category": "vegetation"})));
    assert_eq!(vegetation["total"], 2);

    let updated = ok(api.call(
        "band_formulas.update",
        json!({"formula_id": formula, "formula": "(nir - red) / (nir + red + 0.5)"}),
    ));
    assert_eq!(updated["required_bands"], json!(["nir", "red"]));
    // A function it calls is no band.
    let called = ok(api.call(
        "band_formulas.update",
        json!({"formula_id": formula, "formula": "sqrt(B8) + abs (B4) - log10(B8)"}),
    ));
    assert_eq!(called["required_bands"], json!(["B8", "B4"]));
    // A blank name lists as nothing: refused, as an item's or a rule's is.
    for (op, body) in [
        (
            "band_formulas.create",
            json!({"name": "  ", "formula": "a + b"}),
        ),
        (
            "band_formulas.update",
            json!({"formula_id": formula, "name": " "}),
        ),
    ] {
        crate::common::refused(api.call(op, body), "name", op);
    }
    // Two spaces pass the contract's own bounds (2 to 50 characters); the refusal says what
    // is wrong with them rather than a bound.
    let blank = crate::common::refused(
        api.call(
            "band_formulas.create",
            json!({"name": "  ", "formula": "a + b"}),
        ),
        "name",
        "two spaces",
    );
    assert_eq!(blank["msg"], "Value error, name must not be blank");
    assert_eq!(updated["name"], "ndre");
    let template = ok(api.call(
        "band_formulas.get",
        json!({"formula_id": "bf_template_ndvi"}),
    ));
    assert_eq!(template["is_template"], true);
    for op in ["band_formulas.update", "band_formulas.delete"] {
        let refused = api.call(
            op,
            json!({"formula_id": "bf_template_ndvi", "name": "mine"}),
        );
        assert_eq!(refused.status, 403, "{op}");
    }

    let key = stranger(&api);
    for (op, body) in [
        ("band_formulas.get", json!({"formula_id": formula})),
        (
            "band_formulas.update",
            json!({"formula_id": formula, "name": "xy"}),
        ),
        ("band_formulas.delete", json!({"formula_id": formula})),
    ] {
        assert_eq!(api.call_as(&key, op, body).status, 404, "{op}");
    }
    let theirs = ok(api.call_as(
        &key,
        "band_formulas.list",
        json!({"include_templates": false}),
    ));
    assert_eq!(theirs["total"], 0);

    ok(api.call("band_formulas.delete", json!({"formula_id": formula})));
    assert_eq!(
        api.call("band_formulas.get", json!({"formula_id": formula}))
            .status,
        404
    );
}

fn start_with(file: &TempFile) -> Api {
    Api::with(
        Emulator::builder()
            .seed(11)
            .rate_limits(RateLimits::off())
            .state_file(&file.0),
    )
}

#[test]
fn kept_records_survive_a_restart() {
    let file = TempFile::new("resources");
    let (project, shelf, thing, rule_id, event, look, formula, default) = {
        let api = start_with(&file);
        let project = new_project(&api, "Kept");
        let shelf = collection(&api, &project, "Shelf");
        let thing = item(&api, &project, Some(&shelf), "thing");
        let rule_id = id(&rule(
            &api,
            json!({"name": "any", "expression": "ndvi", "comparison": "between", "threshold": -1.0, "threshold_upper": 1.0}),
        ));
        let tested = ok(api.call(
            "alerts.test_rule",
            json!({"rule_id": rule_id, "item_id": thing}),
        ));
        let event = tested["alert_event_id"]
            .as_str()
            .expect("an event")
            .to_owned();
        let look = id(&profile(&api, &thing, "look", 0, true));
        let formula = id(&ok(api.call(
            "band_formulas.create",
            json!({"name": "kept", "formula": "a + b"}),
        )));
        let default = api.emu.default_project(DEMO_ORG);
        ok(api.call(
            "items.update",
            json!({"item_id": thing, "description": "after the event"}),
        ));
        (
            project, shelf, thing, rule_id, event, look, formula, default,
        )
    };
    let api = start_with(&file);
    let got = ok(api.call("items.get", json!({"item_id": thing})));
    assert_eq!(got["item"]["collection_id"], shelf.as_str());
    assert_eq!(got["item"]["description"], "after the event");
    ok(api.call(
        "collections.get",
        json!({"project_id": project, "collection_id": shelf}),
    ));
    ok(api.call("projects.update", json!({"project_id": project})));
    ok(api.call("alerts.rule.get", json!({"rule_id": rule_id})));
    let events = ok(api.call("alerts.events.list", json!({"rule_id": rule_id})));
    assert_eq!(events["alert_events"][0]["id"], event.as_str());
    let profile = ok(api.call(
        "visualization.profile.get",
        json!({"item_id": thing, "profile_id": look}),
    ));
    assert_eq!(profile["is_default"], true);
    ok(api.call("band_formulas.get", json!({"formula_id": formula})));
    let seeded = ok(api.call("items.list", json!({"project_id": default, "limit": 1})));
    assert_eq!(seeded["total"], STARTER_ITEMS, "seeded once, not again");
    // New ids do not collide with kept ones.
    let fresh = item(&api, &project, None, "fresh");
    assert_ne!(fresh, thing);
}

/// The state file is written by the rows that changed: what one run removes stays removed,
/// and what a later run leaves alone is still there after the next restart.
#[test]
fn removals_and_untouched_records_survive_restarts() {
    let file = TempFile::new("resources-changes");
    let (kept_project, shelf, kept, gone, dropped_project, orphan) = {
        let api = start_with(&file);
        let kept_project = new_project(&api, "Kept");
        let shelf = collection(&api, &kept_project, "Shelf");
        let kept = item(&api, &kept_project, Some(&shelf), "kept");
        let gone = item(&api, &kept_project, Some(&shelf), "gone");
        let dropped_project = new_project(&api, "Dropped");
        let orphan = item(&api, &dropped_project, None, "orphan");
        ok(api.call("items.delete", json!({"item_id": gone})));
        (kept_project, shelf, kept, gone, dropped_project, orphan)
    };
    {
        let api = start_with(&file);
        assert_eq!(api.call("items.get", json!({"item_id": gone})).status, 404);
        ok(api.call("items.get", json!({"item_id": kept})));
        // The project goes with its items.
        ok(api.call("projects.delete", json!({"project_id": dropped_project})));
        ok(api.call(
            "items.update",
            json!({"item_id": kept, "description": "second run"}),
        ));
    }
    let api = start_with(&file);
    let got = ok(api.call("items.get", json!({"item_id": kept})));
    assert_eq!(got["item"]["description"], "second run");
    assert_eq!(got["item"]["collection_id"], shelf.as_str());
    ok(api.call(
        "collections.get",
        json!({"project_id": kept_project, "collection_id": shelf}),
    ));
    let listed = ok(api.call("items.list", json!({"project_id": kept_project})));
    assert_eq!(listed["total"], 1, "{listed}");
    for (op, body) in [
        ("items.get", json!({"item_id": gone})),
        ("items.get", json!({"item_id": orphan})),
        ("projects.get", json!({"project_id": dropped_project})),
    ] {
        assert_eq!(api.call(op, body.clone()).status, 404, "{op} {body}");
    }
}

#[test]
fn an_alert_event_is_kept_even_when_only_a_test_recorded_it() {
    let file = TempFile::new("alert-event");
    let (rule_id, event) = {
        let api = start_with(&file);
        let default = api.emu.default_project(DEMO_ORG);
        let page = ok(api.call("items.list", json!({"project_id": default, "limit": 1})));
        let first = id(&page["items"][0]);
        let rule_id = id(&rule(
            &api,
            json!({"name": "any", "expression": "x", "comparison": "gte", "threshold": -5.0}),
        ));
        let tested = ok(api.call(
            "alerts.test_rule",
            json!({"rule_id": rule_id, "item_id": first}),
        ));
        (
            rule_id,
            tested["alert_event_id"]
                .as_str()
                .expect("an event")
                .to_owned(),
        )
    };
    let api = start_with(&file);
    let events = ok(api.call("alerts.events.list", json!({"rule_id": rule_id})));
    assert_eq!(events["alert_events"][0]["id"], event.as_str());
}

#[test]
fn an_organization_stores_up_to_its_byte_budget_then_may_read_and_delete() {
    use geopera_emulator::MAX_STORED_BYTES_PER_ORG;
    let api = Api::start();
    // Formulas of 1.5 MB each: the family's count cap (10,000) would allow 15 GB of them.
    let description = "d".repeat(1_500_000);
    let create = |n: usize| {
        api.call(
            "band_formulas.create",
            json!({"name": format!("f{n}"), "formula": "a + b", "description": description}),
        )
    };
    let mut created = Vec::new();
    let refused = loop {
        let resp = create(created.len());
        if resp.status != 200 {
            break resp;
        }
        created.push(id(&resp.json()));
        assert!(
            created.len() * description.len() <= MAX_STORED_BYTES_PER_ORG + 2 * description.len(),
            "{} formulas stored past the budget",
            created.len()
        );
    };
    assert_eq!(
        refused.status,
        409,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(
        created.len() * description.len() >= MAX_STORED_BYTES_PER_ORG - 2 * description.len(),
        "refused after only {} formulas",
        created.len()
    );
    let detail = refused.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("more than the emulator keeps"), "{detail}");

    // Reading, deleting and small changes go on past the budget, and a deletion makes room.
    let small = api.call(
        "band_formulas.update",
        json!({"formula_id": created[1], "description": "short"}),
    );
    assert_eq!(
        small.status,
        200,
        "{}",
        String::from_utf8_lossy(&small.body)
    );
    ok(api.call("band_formulas.get", json!({"formula_id": created[0]})));
    for formula in created.drain(..3) {
        ok(api.call("band_formulas.delete", json!({"formula_id": formula})));
    }
    // Measured again once something changed and a second has passed since the last measure.
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(create(999).status, 200);
    // Another organization's budget is its own.
    let other = api.emu.create_key_in_org("org_other_budget", &["*"]);
    let theirs = api.call_as(
        &other,
        "band_formulas.create",
        json!({"name": "theirs", "formula": "a + b", "description": description}),
    );
    assert_eq!(theirs.status, 200);
}

/// `items.duplicate` sends a few bytes but stores a copy as large as its item, so it is held
/// to the byte budget as a request of the copy's size: copies of a 1.5 MB item once went on
/// past the budget, up to the 10,000 items an organization may hold (15 GB).
#[test]
fn duplicating_a_large_item_stops_at_the_byte_budget_while_deleting_goes_on() {
    use geopera_emulator::MAX_STORED_BYTES_PER_ORG;
    let api = Api::start();
    let project = new_project(&api, "copies");
    let blob = "b".repeat(1_500_000);
    let source = id(&ok(api.call(
        "items.create",
        json!({"project_id": project, "name": "large", "type": "user_raster",
               "properties": {"blob": blob}}),
    )));
    let allowed = MAX_STORED_BYTES_PER_ORG / blob.len() + 2;
    let mut copies = Vec::new();
    let refused = loop {
        let resp = api.call("items.duplicate", json!({"item_id": source}));
        if resp.status != 200 {
            break resp;
        }
        copies.push(id(&resp.json()));
        assert!(
            copies.len() <= allowed,
            "{} copies of {} bytes stored past the budget of {MAX_STORED_BYTES_PER_ORG}",
            copies.len(),
            blob.len()
        );
    };
    assert_eq!(
        refused.status,
        409,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(refused.content_type(), "application/problem+json");
    assert!(
        copies.len() + 4 >= allowed,
        "refused after only {} copies",
        copies.len()
    );
    // Past the budget, deleting a copy and a small change still run.
    ok(api.call("items.delete", json!({"item_id": copies[0]})));
    ok(api.call(
        "items.update",
        json!({"item_id": source, "description": "kept"}),
    ));
}

/// A keyed request that ran and pushed its organization past the byte budget is replayed its
/// answer when its client sends it again (the first answer lost on the way), as API-FACTS has
/// keyed retries replayed; the budget is asked only of a request about to run, so the retry
/// was a 409 saying the organization stores too much, as if the request had never run.
#[test]
fn a_keyed_retry_past_the_byte_budget_is_replayed_not_refused() {
    let api = Api::start();
    let description = "d".repeat(1_500_000);
    let bearer = format!("Bearer {}", api.emu.api_key());
    let create = |n: usize| {
        let key = format!("formula-{n}");
        let body = json!({"name": format!("f{n}"), "formula": "a + b", "description": description});
        api.call_with(
            "band_formulas.create",
            &body,
            &[("authorization", &bearer), ("idempotency-key", &key)],
        )
    };
    let mut replayed = 0;
    for n in 0.. {
        let first = create(n);
        if first.status == 409 {
            break;
        }
        assert_eq!(
            first.status,
            200,
            "{}",
            String::from_utf8_lossy(&first.body)
        );
        let again = create(n);
        assert_eq!(
            again.status,
            200,
            "the retry of request {n}: {}",
            String::from_utf8_lossy(&again.body)
        );
        assert_eq!(first.body, again.body, "replayed byte for byte");
        replayed += 1;
        assert!(replayed < 100, "the budget never refused a request");
    }
    assert!(
        replayed > 10,
        "{replayed} requests ran before the budget refused one"
    );
}

/// A keyed request with a small body can ask for a large answer (an update of a large item
/// answers the item), and each answer is kept a day for replays: past the byte budget such an
/// answer is no longer kept whole, and a retry under its key is told that the request ran
/// (410), not run again. Kept whatever their size, 100 such answers once grew the emulator's
/// memory by 190 MB.
#[test]
fn large_answers_kept_for_replays_stop_at_the_byte_budget() {
    use geopera_emulator::MAX_STORED_BYTES_PER_ORG;
    let api = Api::start();
    let project = new_project(&api, "answers");
    let blob = "b".repeat(1_500_000);
    let item = id(&ok(api.call(
        "items.create",
        json!({"project_id": project, "name": "large", "type": "user_raster",
               "properties": {"blob": blob}}),
    )));
    let bearer = format!("Bearer {}", api.emu.api_key());
    let update = |n: usize| {
        let key = format!("update-{n}");
        let body = json!({"item_id": item, "description": format!("d{n}")});
        api.call_with(
            "items.update",
            &body,
            &[("authorization", &bearer), ("idempotency-key", &key)],
        )
    };
    let allowed = MAX_STORED_BYTES_PER_ORG / blob.len() + 2;
    let mut updates = 0;
    let not_kept = loop {
        assert!(
            updates <= allowed,
            "{updates} answers of {} bytes kept past the budget of {MAX_STORED_BYTES_PER_ORG}",
            blob.len()
        );
        let first = update(updates);
        assert_eq!(
            first.status,
            200,
            "{}",
            String::from_utf8_lossy(&first.body)
        );
        let again = update(updates);
        updates += 1;
        if again.status != 200 {
            break again;
        }
        assert_eq!(first.body, again.body, "replayed byte for byte");
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    };
    assert_eq!(
        not_kept.status,
        410,
        "{}",
        String::from_utf8_lossy(&not_kept.body)
    );
    assert_eq!(not_kept.content_type(), "application/problem+json");
    let detail = not_kept.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("ran, but its answer is not kept"),
        "{detail}"
    );
    assert!(
        updates + 4 >= allowed,
        "not kept after only {updates} answers"
    );
    assert_eq!(
        api.emu.executed("items.update"),
        updates as u64,
        "a retry is never run again"
    );
}

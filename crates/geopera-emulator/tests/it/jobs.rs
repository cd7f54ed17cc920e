//! Processing and clip jobs: their status follows the emulator's clock, results exist only
//! once they succeed, lists page without gaps, other organizations see nothing, the state
//! file keeps them, and finishing sends one webhook event.

use std::collections::HashSet;
use std::time::Duration;

use geopera_emulator::{Emulator, RateLimits, DEMO_ORG, JOB_FAIL_MARKER, JOB_QUEUED_SECS};
use serde_json::{json, Value};

use crate::common::{refused, Api, Resp};
use crate::state::TempFile;
use crate::webhooks::{drain, local, subscribe, Receiver};

fn project(api: &Api) -> String {
    let created = api.call("projects.create", json!({"name": "jobs"}));
    assert_eq!(created.status, 200, "{:?}", created.body);
    created.json()["id"].as_str().expect("id").to_owned()
}

fn advance(api: &Api, secs: u64) {
    api.emu.clock().advance(Duration::from_secs(secs));
}

/// The id of a new processing job of `process` in `project`.
fn executed(api: &Api, process: &str, project: &str) -> String {
    api.ok(
        "processing.execute",
        json!({"process_id": process, "workspaceId": project}),
    )["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn status(api: &Api, op: &str, job: &str) -> Value {
    api.ok(op, json!({"job_id": job}))["status"].clone()
}

/// A one-degree square from `west`, `south`: an area a clip can keep.
pub(crate) fn square(west: f64, south: f64) -> Value {
    let (east, north) = (west + 1.0, south + 1.0);
    json!({"type": "Polygon", "coordinates":
        [[[west, south], [east, south], [east, north], [west, north], [west, south]]]})
}

/// Objects that are no area a clip can keep, each with what is wrong with it.
pub(crate) fn not_areas() -> Vec<(&'static str, Value)> {
    vec![
        ("no geometry", json!({"name": "harbour", "radius_km": 3})),
        (
            "a point",
            json!({"type": "Point", "coordinates": [10.0, 10.0]}),
        ),
        (
            "a latitude of 91",
            json!({"type": "Polygon", "coordinates":
                [[[10.0, 90.0], [11.0, 90.0], [11.0, 91.0], [10.0, 91.0], [10.0, 90.0]]]}),
        ),
        (
            "an open ring",
            json!({"type": "Polygon", "coordinates":
                [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0]]]}),
        ),
    ]
}

/// Asserts that `answer` is a 422 whose first failure is at the body's `field` and names it
/// in its message; `what` names the case in messages.
pub(crate) fn refused_area(answer: Resp, field: &str, what: &str) {
    let failure = refused(answer, field, what);
    assert!(
        failure["msg"]
            .as_str()
            .is_some_and(|msg| msg.contains(field)),
        "{what}: {failure}"
    );
}

#[test]
fn a_processing_job_waits_for_dispatch_then_runs_and_succeeds_on_the_clock() {
    let api = Api::start();
    let project = project(&api);
    let created = api.ok(
        "processing.create",
        json!({"project_id": project, "process_id": "ndvi", "inputs": {"item": "x"}}),
    );
    let job = created["id"].as_str().expect("id").to_owned();
    assert!(job.starts_with("pjob_"));
    assert_eq!(created["status"], "pending");
    advance(&api, 600);
    assert_eq!(
        status(&api, "processing.job.get", &job),
        "pending",
        "not dispatched"
    );
    let tiles = api.call("processing.job.tile_info", json!({"job_id": job}));
    assert_eq!(tiles.status, 409);
    assert!(String::from_utf8_lossy(&tiles.body).contains("pending"));

    let dispatched = api.ok("processing.dispatch", json!({"job_id": job}));
    assert_eq!(dispatched["job"]["id"], job.as_str());
    assert_eq!(dispatched["dispatch"]["version"], "1.0");
    assert_eq!(
        api.call("processing.dispatch", json!({"job_id": job}))
            .status,
        409
    );
    advance(&api, JOB_QUEUED_SECS as u64);
    assert_eq!(status(&api, "processing.job.get", &job), "running");
    assert_eq!(
        api.call("processing.job.register", json!({"job_id": job}))
            .status,
        409
    );
    advance(&api, 60);
    let done = api.ok("processing.project_job.get", json!({"job_id": job}));
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["progress"], 100);
    assert!(done["finished_at"].is_string());
    let tiles = api.ok("processing.job.tile_info", json!({"job_id": job}));
    assert!(tiles["tiles_url"]
        .as_str()
        .is_some_and(|url| url.starts_with(api.emu.base_url().as_str())));
    let registered = api.ok("processing.job.register", json!({"job_id": job}));
    assert_eq!(registered["registered"], true);
    // Once: again is a conflict, the outputs handed out kept.
    let again = api.call(
        "processing.job.register",
        json!({"job_id": job, "outputs": [{"href": "https://example.com/other.tif"}]}),
    );
    assert_eq!(again.status, 409, "{:?}", again.json());
    let kept = api.ok("processing.job.get", json!({"job_id": job}));
    assert_eq!(kept["outputs"], registered["outputs"]);

    let deleted = api.ok("processing.job.delete", json!({"job_id": job}));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        api.call("processing.job.get", json!({"job_id": job}))
            .status,
        404
    );
}

#[test]
fn a_job_naming_the_fail_marker_ends_failed() {
    let api = Api::start();
    let project = project(&api);
    let job = executed(&api, JOB_FAIL_MARKER, &project);
    let clip = api.ok(
        "clip.create_from_area",
        json!({"area": JOB_FAIL_MARKER, "mosaic_types": ["rgb"],
               "aoi_geometry": square(0.0, 0.0), "organization_id": DEMO_ORG}),
    )["job"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    advance(&api, 61);
    let failed = api.ok("processing.job.get", json!({"job_id": job}));
    assert_eq!(failed["status"], "failed");
    assert!(failed["error_message"]
        .as_str()
        .is_some_and(|m| m.contains(JOB_FAIL_MARKER)));
    assert_eq!(status(&api, "clip.job.get", &clip), "failed");
    let downloads = api.call("clip.job.downloads", json!({"job_id": clip}));
    assert_eq!(downloads.status, 409);
    assert!(String::from_utf8_lossy(&downloads.body).contains("failed"));
}

/// `processing.jobs.list`'s `ids` is read as `orders.list` reads its lists: members trimmed,
/// each job listed once however often named, and a filter naming nothing (blank, or only
/// commas) is no filter; a blank one listed no job at all.
#[test]
fn jobs_listed_by_ids_read_the_list_as_orders_do() {
    let api = Api::start();
    let project = project(&api);
    let made: Vec<String> = (0..3).map(|_| executed(&api, "ndvi", &project)).collect();
    let listed = |ids: &str| -> Vec<String> {
        api.ok(
            "processing.jobs.list",
            json!({"workspaceId": project, "ids": ids, "limit": 50}),
        )["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|job| job["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let named = format!(" {} ,{},{}, ,", made[2], made[0], made[2]);
    // Newest first, the list's default order.
    assert_eq!(listed(&named), vec![made[2].clone(), made[0].clone()]);
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(listed(""), newest_first);
    assert_eq!(listed(" , ,"), newest_first);
    assert_eq!(listed("job_unknown"), Vec::<String>::new());
}

/// `processing.create_and_dispatch` reads its dispatch version before it makes the job: a
/// refused one leaves no job behind to be retried into a second, and a good one is the
/// version the job keeps.
#[test]
fn a_refused_dispatch_version_makes_no_job_and_a_good_one_is_kept() {
    let api = Api::start();
    let project = project(&api);
    let listed = |api: &Api| {
        api.ok(
            "processing.jobs.list",
            json!({"workspaceId": project, "limit": 50}),
        )["total"]
            .clone()
    };
    for version in [json!(5), json!("v".repeat(300)), json!("  ")] {
        let refused = api.call(
            "processing.create_and_dispatch",
            json!({"project_id": project, "process_id": "ndvi", "version": version}),
        );
        assert_eq!(refused.status, 422, "{version}");
        assert_eq!(
            refused.json()["detail"][0]["loc"],
            json!(["body", "version"])
        );
    }
    assert_eq!(listed(&api), 0, "no job made by a refused call");

    let made = api.ok(
        "processing.create_and_dispatch",
        json!({"project_id": project, "process_id": "ndvi", "version": "2.0"}),
    );
    assert_eq!(made["job"]["dispatch_version"], "2.0");
    assert_eq!(made["dispatch"]["version"], "2.0");
    let job = made["job"]["id"].clone();
    let got = api.ok("processing.job.get", json!({"job_id": job}));
    assert_eq!(got["dispatch_version"], "2.0");
    assert_eq!(listed(&api), 1);
}

#[test]
fn processing_lists_page_without_gaps_or_repeats() {
    let api = Api::start();
    let project = project(&api);
    let other = self::project(&api);
    let mut made = Vec::new();
    for n in 0..23 {
        let job = api.ok(
            "processing.create_and_dispatch",
            json!({"project_id": project, "job_type_name": format!("type{}", n % 2)}),
        );
        made.push(job["job"]["id"].as_str().expect("id").to_owned());
    }
    api.ok(
        "processing.create",
        json!({"project_id": other, "process_id": "elsewhere"}),
    );

    let mut seen = Vec::new();
    for page in 0..10 {
        let answer = api.ok(
            "processing.jobs.list",
            json!({"workspaceId": project, "page": page, "limit": 5}),
        );
        assert_eq!(answer["total"], 23);
        let jobs = answer["jobs"].as_array().expect("jobs").clone();
        seen.extend(
            jobs.iter()
                .map(|j| j["id"].as_str().expect("id").to_owned()),
        );
        if jobs.len() < 5 {
            break;
        }
    }
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first, "newest first, each once");
    // `sort` is any text, read as a Spring sort: upward without a direction or with another
    // than `desc` (in any case); a 422 would fail input the contract accepts.
    let ids = |sort: &str| -> Vec<String> {
        let answer = api.ok(
            "processing.jobs.list",
            json!({"workspaceId": project, "limit": 100, "sort": sort}),
        );
        answer["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|j| j["id"].as_str().expect("id").to_owned())
            .collect()
    };
    for sort in ["created,DESC", "created, desc", "anything,desc"] {
        assert_eq!(ids(sort), newest_first, "{sort}");
    }
    for sort in ["created", "created,asc", "-created", "", "created,sideways"] {
        assert_eq!(ids(sort), made, "{sort:?}");
    }

    let mut offset = 0;
    let mut walked = Vec::new();
    loop {
        let answer = api.ok(
            "processing.project_jobs.list",
            json!({"project_id": project, "limit": 4, "offset": offset}),
        );
        let jobs = answer["jobs"].as_array().expect("jobs").clone();
        walked.extend(
            jobs.iter()
                .map(|j| j["id"].as_str().expect("id").to_owned()),
        );
        offset += 4;
        if jobs.len() < 4 || offset > 100 {
            break;
        }
    }
    assert_eq!(walked, made);
    let typed = api.ok(
        "processing.project_jobs.list",
        json!({"project_id": project, "job_type_name": "type1"}),
    );
    assert_eq!(typed["total"], 11);
    advance(&api, 10);
    let running = api.ok(
        "processing.jobs.list",
        json!({"status": "running", "limit": 100}),
    );
    assert_eq!(running["total"], 23, "the undispatched one is pending");
}

#[test]
fn clip_jobs_answer_the_creation_summary_and_downloads_once_succeeded() {
    let api = Api::start();
    let created = api.ok("clip.create_from_item", json!({"item_id": "S2A_1"}));
    let job = created["job"]["id"].as_str().expect("id").to_owned();
    assert!(job.starts_with("job_"));
    assert_eq!(
        created,
        json!({"job": {"id": job, "status": "pending"}, "assets_to_clip": 1, "asset_keys": ["data"]})
    );
    let early = api.call(
        "clip.job.download",
        json!({"job_id": job, "mosaic_type": "data"}),
    );
    assert_eq!(early.status, 409);
    assert!(String::from_utf8_lossy(&early.body).contains("pending"));
    advance(&api, 61);
    let downloads = api.ok("clip.job.downloads", json!({"job_id": job}));
    let first = &downloads["downloads"][0];
    assert_eq!(first["asset_key"], "data");
    let url = first["url"].as_str().expect("url");
    assert!(url.starts_with(api.emu.base_url().as_str()) && url.contains("expires="));
    let fetched = api.http.get(url).send().expect("download");
    assert_eq!(fetched.status().as_u16(), 200);
    let one = api.ok(
        "clip.job.download",
        json!({"job_id": job, "mosaic_type": "data"}),
    );
    assert_eq!(one["asset_key"], "data");
    assert_eq!(
        api.call(
            "clip.job.download",
            json!({"job_id": job, "mosaic_type": "nir"})
        )
        .status,
        404
    );
    assert!(api.ok("clip.job.tile_info", json!({"job_id": job}))["tiles_url"].is_string());
    let got = api.ok("clip.job.get", json!({"job_id": job}));
    assert_eq!(got["status"], "succeeded");
    assert_eq!(got["item_id"], "S2A_1");
    api.ok("clip.job.delete", json!({"job_id": job}));
    assert_eq!(api.call("clip.job.get", json!({"job_id": job})).status, 404);
    // Its download link, still within its 15 minutes, leads nowhere now.
    let gone = api.http.get(url).send().expect("download");
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(
        api.call("clip.job.delete", json!({"job_id": job})).status,
        404
    );
}

/// The status a plain `GET` of `url` answers, with no credentials: a download link carries
/// its own authority.
fn status_of(api: &Api, url: &str) -> u16 {
    api.http
        .get(url)
        .send()
        .expect("an answer")
        .status()
        .as_u16()
}

/// A finished job's download link works as given until it expires, 15 minutes on the
/// emulator's clock; a changed signature, expiry or path is refused with 403.
#[test]
fn download_links_are_signed_and_expire() {
    let api = Api::start();
    let created = api.ok("clip.create_from_item", json!({"item_id": "S2A_1"}));
    let job = created["job"]["id"].as_str().expect("id").to_owned();
    advance(&api, 61);
    let link = api.ok(
        "clip.job.download",
        json!({"job_id": job, "mosaic_type": "data"}),
    );
    let url = link["url"].as_str().expect("url").to_owned();
    let get = |url: &str| status_of(&api, url);
    assert_eq!(get(&url), 200);

    let parsed = reqwest::Url::parse(&url).expect("a URL");
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let with = |name: &str, value: &str| {
        let mut changed = parsed.clone();
        changed.query_pairs_mut().clear().extend_pairs(
            pairs
                .iter()
                .map(|(n, v)| (n.as_str(), if n == name { value } else { v.as_str() })),
        );
        changed.to_string()
    };
    assert_eq!(get(&with("signature", &"0".repeat(64))), 403);
    assert_eq!(
        get(&with("expires", "99999999999")),
        403,
        "a longer life is not granted"
    );
    assert_eq!(
        get(&url.replace("/data.tif", "/nir.tif")),
        403,
        "another file"
    );
    assert_eq!(
        get(parsed.as_str().split('?').next().unwrap_or_default()),
        403,
        "unsigned"
    );

    advance(&api, 15 * 60);
    let expired = api.http.get(&url).send().expect("an answer");
    assert_eq!(expired.status().as_u16(), 403);
    assert!(expired.text().unwrap_or_default().contains("expired"));
}

/// A registered processing job's own result is a signed download link, as a clip job's is:
/// it serves as given, not unsigned, altered or past its 15 minutes, and each answer about
/// the job hands out a fresh one.
#[test]
fn a_registered_jobs_result_link_is_signed_and_expires() {
    let api = Api::start();
    let project = project(&api);
    let created = api.ok(
        "processing.create_and_dispatch",
        json!({"project_id": project, "process_id": "ndvi"}),
    );
    let job = created["job"]["id"].as_str().expect("id").to_owned();
    advance(&api, 61);
    let registered = api.ok("processing.job.register", json!({"job_id": job}));
    let url = registered["outputs"][0]["href"]
        .as_str()
        .expect("an output href")
        .to_owned();
    let get = |url: &str| status_of(&api, url);
    assert_eq!(get(&url), 200, "{url}");
    let unsigned = url.split('?').next().unwrap_or_default().to_owned();
    assert!(unsigned.ends_with(&format!("/assets/jobs/{job}/result.tif")));
    assert_eq!(get(&unsigned), 403, "unsigned");
    let parsed = reqwest::Url::parse(&url).expect("a URL");
    let mut tampered = parsed.clone();
    tampered
        .query_pairs_mut()
        .clear()
        .extend_pairs(parsed.query_pairs().map(|(n, v)| {
            (
                n.clone(),
                if n == "signature" {
                    "0".repeat(64).into()
                } else {
                    v
                },
            )
        }));
    assert_eq!(get(tampered.as_str()), 403, "a forged signature");
    assert_eq!(
        get(&url.replace("/result.tif", "/other.tif")),
        403,
        "another file"
    );

    advance(&api, 15 * 60);
    assert_eq!(get(&url), 403, "expired");
    let again = api.ok("processing.job.get", json!({"job_id": job}));
    let fresh = again["outputs"][0]["href"]
        .as_str()
        .expect("an output href");
    assert_ne!(fresh, url);
    assert_eq!(get(fresh), 200, "the link of a later answer");

    api.ok("processing.job.delete", json!({"job_id": job}));
    assert_eq!(get(fresh), 404, "the job is gone");
}

#[test]
fn clip_lists_page_by_offset_and_other_organizations_see_nothing() {
    let api = Api::start();
    let mut made = Vec::new();
    for n in 0..17 {
        let job = api.ok(
            "clip.create_from_area",
            json!({"area": format!("area{n}"), "mosaic_types": ["rgb", "nir", "rgb"],
                   "aoi_geometry": square(0.0, 0.0),
                   "organization_id": DEMO_ORG}),
        );
        assert_eq!(job["assets_to_clip"], 2);
        made.push(job["job"]["id"].as_str().expect("id").to_owned());
    }
    let mut seen = Vec::new();
    let mut offset = 0;
    while offset <= 100 {
        let answer = api.ok(
            "clip.jobs.list",
            json!({"organization_id": DEMO_ORG, "limit": 5, "offset": offset}),
        );
        assert_eq!(answer["total"], 17);
        let jobs = answer["jobs"].as_array().expect("jobs").clone();
        seen.extend(
            jobs.iter()
                .map(|j| j["id"].as_str().expect("id").to_owned()),
        );
        if jobs.len() < 5 {
            break;
        }
        offset += 5;
    }
    assert_eq!(seen, made);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 17);

    let other = api.emu.create_key_in_org("org_other", &["*"]);
    for op in ["clip.job.get", "clip.job.downloads", "clip.job.delete"] {
        let answer = api.call_as(&other, op, json!({"job_id": made[0]}));
        assert_eq!(answer.status, 404, "{op}");
    }
    let theirs = api.call_as(
        &other,
        "clip.jobs.list",
        json!({"organization_id": "org_other"}),
    );
    assert_eq!(theirs.json()["total"], 0);
    let ours = api.call_as(
        &other,
        "clip.jobs.list",
        json!({"organization_id": DEMO_ORG}),
    );
    assert_eq!(ours.status, 404);
    let project = project(&api);
    let job = executed(&api, "ndvi", &project);
    for op in [
        "processing.job.get",
        "processing.job.delete",
        "processing.dispatch",
    ] {
        assert_eq!(
            api.call_as(&other, op, json!({"job_id": job})).status,
            404,
            "{op}"
        );
    }
    let foreign = api.call_as(&other, "processing.create", json!({"project_id": project}));
    assert_eq!(foreign.status, 404, "another organization's project");
}

/// Regression: a clip's `aoi_geometry` was kept as any object, so a clip of an area or of an
/// item could be cut to a point, to a place off the globe or to an object that is no GeoJSON
/// at all. It is the area the clip keeps, held to the rule of an area to order.
#[test]
fn a_clips_aoi_geometry_is_an_area_on_the_globe_else_422_at_aoi_geometry() {
    let api = Api::start();
    let of_item = |aoi: Value| json!({"item_id": "S2A_1", "aoi_geometry": aoi});
    let of_area = |aoi: Value| {
        json!({"area": "coast", "mosaic_types": ["rgb"], "aoi_geometry": aoi,
               "organization_id": DEMO_ORG})
    };
    let feature = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": square(20.0, -5.0)},
    ]});
    let bodies: [(&str, &dyn Fn(Value) -> Value); 2] = [
        ("clip.create_from_item", &of_item),
        ("clip.create_from_area", &of_area),
    ];
    for (op, body) in bodies {
        for aoi in [square(10.0, 10.0), feature.clone()] {
            let created = api.ok(op, body(aoi.clone()));
            let job = created["job"]["id"].as_str().expect("id");
            let kept = api.ok("clip.job.get", json!({"job_id": job}));
            assert_eq!(kept["aoi_geometry"], aoi, "{op}: kept as sent");
        }
        for (what, aoi) in not_areas() {
            refused_area(
                api.call(op, body(aoi)),
                "aoi_geometry",
                &format!("{op}: {what}"),
            );
        }
    }
    // A clip of an item may leave its area out, or send null; what it sends is an object.
    api.ok("clip.create_from_item", json!({"item_id": "S2A_1"}));
    api.ok("clip.create_from_item", of_item(Value::Null));
    refused_area(
        api.call(
            "clip.create_from_item",
            of_item(json!("POLYGON ((10 10, 11 10, 11 11, 10 10))")),
        ),
        "aoi_geometry",
        "well-known text",
    );
}

#[test]
fn jobs_survive_a_restart_and_keep_advancing() {
    let file = TempFile::new("jobs");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(5)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let (processing, clip) = {
        let api = start();
        let project = project(&api);
        let processing = executed(&api, "ndvi", &project);
        let clip = api.ok("clip.create_from_item", json!({"item_id": "i"}))["job"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        (processing, clip)
    };
    let api = start();
    assert_eq!(status(&api, "processing.job.get", &processing), "pending");
    advance(&api, 30);
    assert_eq!(status(&api, "processing.job.get", &processing), "running");
    advance(&api, 31);
    assert_eq!(status(&api, "processing.job.get", &processing), "succeeded");
    assert_eq!(status(&api, "clip.job.get", &clip), "succeeded");
}

#[test]
fn a_finished_job_sends_one_event_to_its_subscriber() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    subscribe(&api, "processing.job.completed", &receiver.url);
    subscribe(&api, "clip.job.failed", &receiver.url);
    let project = project(&api);
    let job = executed(&api, "ndvi", &project);
    let clip =
        api.ok("clip.create_from_item", json!({"item_id": JOB_FAIL_MARKER}))["job"]["id"].clone();
    advance(&api, 30);
    assert_eq!(drain(&api)["drained"], 0, "still running");
    advance(&api, 31);
    assert_eq!(drain(&api)["drained"], 2);
    advance(&api, 600);
    assert_eq!(drain(&api)["drained"], 0, "once");
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    let completed = got
        .iter()
        .find(|d| d.header("x-geopera-event") == "processing.job.completed")
        .expect("completed event");
    assert_eq!(completed.json()["entity_id"], job);
    assert_eq!(completed.json()["data"]["status"], "succeeded");
    let failed = got
        .iter()
        .find(|d| d.header("x-geopera-event") == "clip.job.failed")
        .expect("failed event");
    assert_eq!(failed.json()["entity_id"], clip);
}

/// A job deleted once it finished, before anything swept for events (a drain, a ticking
/// clock's second), still sends its event, whether deleted by itself or with its project: the
/// sweep finds events only in the jobs still kept, so the event was never sent.
#[test]
fn a_job_deleted_after_it_finished_still_sends_its_event() {
    for with_its_project in [false, true] {
        let api = Api::with(local());
        let receiver = Receiver::start(&[]);
        subscribe(&api, "processing.job.completed", &receiver.url);
        let project = project(&api);
        let job = executed(&api, "ndvi", &project);
        advance(&api, 61);
        if with_its_project {
            api.ok("projects.delete", json!({"project_id": project}));
        } else {
            api.ok("processing.job.delete", json!({"job_id": job}));
        }
        assert_eq!(
            drain(&api)["drained"],
            1,
            "with its project: {with_its_project}"
        );
        let sent: Vec<Value> = receiver
            .got()
            .iter()
            .map(|delivery| delivery.json()["entity_id"].clone())
            .collect();
        assert_eq!(sent, [job], "with its project: {with_its_project}");
    }
}

#[test]
fn a_frozen_clock_resumes_where_the_state_file_left_it() {
    let file = TempFile::new("jobs-clock");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(6)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let job = {
        let api = start();
        let project = project(&api);
        let job = executed(&api, "ndvi", &project);
        // Time moves without a request, then the emulator stops.
        advance(&api, 61);
        job
    };
    let api = start();
    assert_eq!(status(&api, "processing.job.get", &job), "succeeded");
}

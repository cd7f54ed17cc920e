//! Processing and clip jobs: their status follows the emulator's clock, results exist only
//! once they succeed, lists page without gaps, other organizations see nothing, the state
//! file keeps them, and finishing sends one webhook event.

use std::collections::HashSet;
use std::time::Duration;

use geopera_emulator::{Emulator, RateLimits, DEMO_ORG, JOB_FAIL_MARKER, JOB_QUEUED_SECS};
use serde_json::{json, Value};

use crate::common::Api;
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

fn status(api: &Api, op: &str, job: &str) -> Value {
    api.ok(op, json!({"job_id": job}))["status"].clone()
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
    let job = api.ok(
        "processing.execute",
        json!({"process_id": JOB_FAIL_MARKER, "workspaceId": project}),
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let clip = api.ok(
        "clip.create_from_area",
        json!({"area": JOB_FAIL_MARKER, "mosaic_types": ["rgb"], "aoi_geometry": {},
               "organization_id": DEMO_ORG}),
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
    let get = |url: &str| {
        api.http
            .get(url)
            .send()
            .expect("an answer")
            .status()
            .as_u16()
    };
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

#[test]
fn clip_lists_page_by_offset_and_other_organizations_see_nothing() {
    let api = Api::start();
    let mut made = Vec::new();
    for n in 0..17 {
        let job = api.ok(
            "clip.create_from_area",
            json!({"area": format!("area{n}"), "mosaic_types": ["rgb", "nir", "rgb"],
                   "aoi_geometry": {"type": "Point", "coordinates": [0, 0]},
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
    let job = api.ok(
        "processing.execute",
        json!({"process_id": "ndvi", "workspaceId": project}),
    )["id"]
        .clone();
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
        let processing = api.ok(
            "processing.execute",
            json!({"process_id": "ndvi", "workspaceId": project}),
        )["id"]
            .as_str()
            .expect("id")
            .to_owned();
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
    let job = api.ok(
        "processing.execute",
        json!({"process_id": "ndvi", "workspaceId": project}),
    )["id"]
        .clone();
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
        let job = api.ok(
            "processing.execute",
            json!({"process_id": "ndvi", "workspaceId": project}),
        )["id"]
            .as_str()
            .expect("id")
            .to_owned();
        // Time moves without a request, then the emulator stops.
        advance(&api, 61);
        job
    };
    let api = start();
    assert_eq!(status(&api, "processing.job.get", &job), "succeeded");
}

//! The typed forms of answers the contract leaves open: members typed, spellings accepted,
//! unknown members and states kept, secrets never printed.

use geopera_types::jobs::{ClipJobCreated, Job, JobStatus};
use geopera_types::orders::{Order, OrderStatus, TaskingEstimateOutput};
use geopera_types::subscriptions::SubscriptionOutput;
use geopera_types::uploads::{UploadOutput, UploadStatus};
use serde_json::json;

#[test]
fn an_order_reads_either_spelling_of_its_id_and_keeps_what_it_does_not_type() {
    let placed: Order = serde_json::from_value(json!({
        "order_id": "ord_1", "status": "received", "total_credits": 250, "groups": [{"a": 1}]
    }))
    .expect("a placed order");
    assert_eq!(placed.id, "ord_1");
    assert_eq!(placed.status, Some(OrderStatus::Received));
    assert_eq!(placed.total_credits, Some(250));
    assert_eq!(placed.extra["groups"], json!([{"a": 1}]));
    assert!(!placed.is_final());

    let fetched: Order = serde_json::from_value(json!({"orderId": "ord_2", "status": "fulfilled"}))
        .expect("a fetched order");
    assert_eq!(fetched.id, "ord_2");
    assert!(fetched.is_final());
}

#[test]
fn a_state_this_version_does_not_know_is_kept_and_is_not_final() {
    let order: Order =
        serde_json::from_value(json!({"orderId": "o", "status": "on_hold"})).expect("an order");
    assert_eq!(order.status, Some(OrderStatus::Other("on_hold".into())));
    assert!(!order.is_final());
    let again = serde_json::to_value(&order).expect("encodes");
    assert_eq!(again["status"], "on_hold", "written back as received");

    let job: Job =
        serde_json::from_value(json!({"id": "j", "status": "failed", "error_message": "no"}))
            .expect("a job");
    assert_eq!(job.status, Some(JobStatus::Failed));
    assert!(job.is_final());
    assert_eq!(job.error_message.as_deref(), Some("no"));
}

#[test]
fn a_new_clip_job_and_an_upload_decode_as_the_api_answers_them() {
    let created: ClipJobCreated = serde_json::from_value(json!({
        "job": {"id": "job_1", "status": "pending"}, "assets_to_clip": 1, "asset_keys": ["data"]
    }))
    .expect("a new clip job");
    assert_eq!(created.job.id, "job_1");
    assert_eq!(created.asset_keys, Some(vec!["data".to_owned()]));

    let upload: UploadOutput = serde_json::from_value(json!({
        "id": "u_1", "status": "completed", "bytes_received": 10,
        "files": [{"file_name": "a.tif", "size": 10, "sha256": "ab"}],
        "storage": {"used_bytes": 10}
    }))
    .expect("an upload");
    assert_eq!(upload.status, Some(UploadStatus::Completed));
    assert!(upload.is_final());
    let files = upload.files.as_deref().unwrap_or_default();
    assert_eq!(files[0].size, Some(10));
    assert_eq!(upload.extra["storage"]["used_bytes"], 10);
}

#[test]
fn tasking_estimate_groups_are_typed() {
    let estimate: TaskingEstimateOutput = serde_json::from_value(json!({
        "groups": [{"index": 0, "product": "optical", "areaKm2": 12.5, "billedAreaKm2": 25.0,
                    "totalAud": 10.0, "totalCredits": 1000, "sensor": "x"}],
        "errors": [], "totalAud": 10.0, "totalCredits": 1000
    }))
    .expect("an estimate");
    let group = &estimate.groups[0];
    assert_eq!(group.billed_area_km2, Some(25.0));
    assert_eq!(group.extra["sensor"], "x");
    assert_eq!(estimate.total_credits, 1000);
}

#[test]
fn a_subscription_secret_never_prints() {
    let secret = "whsec_0123456789abcdef";
    let created: SubscriptionOutput = serde_json::from_value(json!({
        "id": "sub_1", "event_type": "order.fulfilled", "secret": secret
    }))
    .expect("a subscription");
    assert_eq!(created.secret.as_ref().map(|s| s.expose()), Some(secret));
    let shown = format!(
        "{created:?} {}",
        created
            .secret
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(!shown.contains(secret), "{shown}");
    assert_eq!(
        serde_json::to_value(&created).expect("encodes")["secret"],
        secret
    );
}

#[test]
fn a_mistyped_member_is_an_error_not_a_silent_default() {
    let wrong = serde_json::from_value::<Order>(json!({"orderId": 5}));
    assert!(wrong.is_err(), "{wrong:?}");
}
